"""FNet text classification in Keras 3, written the way the keras.io FNet example is (Lee-Thorp et
al. 2021, "FNet: Mixing Tokens with Fourier Transforms"): a ``TextVectorization`` layer adapted
to the training sentences, a ``PositionalEmbedding`` layer (a token ``Embedding`` plus a
position ``Embedding``), ``FNetEncoder`` blocks whose mixing layer is the real part of a 2-D FFT
over the sequence and embedding axes (``tf.math.real(tf.signal.fft2d(...))``) instead of
attention, then ``LayerNormalization`` of the residual sum, a feed-forward block
(``Dense(relu)``, ``Dense``) and a second residual ``LayerNormalization``; a
``GlobalAveragePooling1D``, ``Dropout`` and a softmax ``Dense`` head, compiled with ``Adam``
and ``sparse_categorical_crossentropy`` and trained with ``fit``.

The data are generated here: 2400 short product reviews of a small grammar ("after two weeks
the blender was really not great and the box was red"), labelled positive, negative or neutral
by the opinion word and by whether ``not`` comes before it (``not great`` is negative, ``not
bad`` positive, ``not special`` neutral); an optional opening clause moves the opinion word to
positions 3 to 9. 2000 train, 400 validate.

The model (functional): ``TextVectorization`` runs before the model (the example's
``vectorize_text``); ``positional_embedding`` (``token_embeddings``, ``position_embeddings``,
--embed-dim wide), --blocks ``fnet_encoder`` blocks (``fnet_encoder/dense_proj/dense`` of
--dense-dim with ReLU, ``fnet_encoder/dense_proj/dense_1`` back to --embed-dim,
``fnet_encoder/layernorm_1``, ``fnet_encoder/layernorm_2``; the next ones ``fnet_encoder_1``
...), ``GlobalAveragePooling1D``, ``Dropout(0.2)`` and ``Dense(3, softmax)`` (``output``). The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``,
``--max-length``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

NOUNS = ["blender", "kettle", "toaster", "lamp", "chair", "phone", "jacket", "printer",
         "camera", "speaker", "backpack", "heater"]
POSITIVE = ["great", "excellent", "good", "reliable", "sturdy", "perfect"]
NEGATIVE = ["bad", "awful", "flimsy", "broken", "useless", "terrible"]
NEUTRAL = ["ordinary", "average", "special", "standard", "typical", "plain"]
OPENERS = ["after two weeks", "to be honest", "for the price", "as a gift for my mother",
           "when it arrived on monday", "in my small kitchen"]
VERBS = ["was", "is", "seemed", "felt"]
ADVERBS = ["really", "quite", "rather", "very"]
TAILS = ["and the box was red", "and delivery took three days", "but i kept it anyway",
         "and my brother has one too", "so i wrote this review", "and it came with a manual"]


def make_reviews(n, seed):
    rng = np.random.default_rng(5000 + seed)
    texts, labels = [], []
    for _ in range(n):
        kind = int(rng.integers(0, 3))          # which list the opinion word comes from
        negated = bool(rng.integers(0, 2))
        word = [POSITIVE, NEGATIVE, NEUTRAL][kind][int(rng.integers(0, 6))]
        label = kind if not negated or kind == 2 else 1 - kind
        words = []
        if rng.random() < 0.6:
            words += OPENERS[int(rng.integers(0, len(OPENERS)))].split()
        words += ["the", NOUNS[int(rng.integers(0, len(NOUNS)))],
                  VERBS[int(rng.integers(0, len(VERBS)))]]
        if rng.random() < 0.5:
            words.append(ADVERBS[int(rng.integers(0, len(ADVERBS)))])
        if negated:
            words.append("not")
        words.append(word)
        if rng.random() < 0.7:
            words += TAILS[int(rng.integers(0, len(TAILS)))].split()
        texts.append(" ".join(words))
        labels.append(label)
    return np.array(texts), np.array(labels, dtype="int64")


def main():
    p = common.parser(__doc__)
    p.add_argument("--embed-dim", type=int, default=32)
    p.add_argument("--dense-dim", type=int, default=64)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--max-length", type=int, default=24)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("unpaired-shuffle", "no-fft-residual"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    texts, labels = make_reviews(2400, args.seed)
    train_texts, val_texts = texts[:2000], texts[2000:]
    train_labels, val_labels = labels[:2000], labels[2000:]

    # Shuffle the training set once (the reviews were generated in order).
    rng = np.random.default_rng(args.seed)
    # BUG (unpaired-shuffle): the texts and the labels are shuffled by two different
    # permutations, so that each review gets another review's label.
    perm = rng.permutation(len(train_texts))
    train_texts = train_texts[perm]
    if args.bug == "unpaired-shuffle":
        perm = rng.permutation(len(train_labels))
    train_labels = train_labels[perm]

    vocab_size = 200
    max_length = args.max_length
    vectorizer = layers.TextVectorization(max_tokens=vocab_size, output_mode="int",
                                          output_sequence_length=max_length)
    vectorizer.adapt(train_texts)
    x_train = np.asarray(vectorizer(train_texts))
    x_val = np.asarray(vectorizer(val_texts))

    class FNetEncoder(layers.Layer):
        def __init__(self, embed_dim, dense_dim, **kwargs):
            super().__init__(**kwargs)
            self.embed_dim = embed_dim
            self.dense_dim = dense_dim
            self.dense_proj = keras.Sequential(
                [layers.Dense(dense_dim, activation="relu", name="dense"),
                 layers.Dense(embed_dim, name="dense_1")], name="dense_proj")
            self.layernorm_1 = layers.LayerNormalization(name="layernorm_1")
            self.layernorm_2 = layers.LayerNormalization(name="layernorm_2")

        def call(self, inputs):
            # Casting the inputs to complex64
            inp_complex = tf.cast(inputs, tf.complex64)
            # Projecting the inputs to the frequency domain using FFT2D and
            # extracting the real part of the output
            fft = tf.math.real(tf.signal.fft2d(inp_complex))
            # BUG (no-fft-residual): the residual connection around the Fourier mixing left
            # out, the layer normalization applied to the FFT output alone.
            if args.bug == "no-fft-residual":
                proj_input = self.layernorm_1(fft)
            else:
                proj_input = self.layernorm_1(inputs + fft)
            proj_output = self.dense_proj(proj_input)
            return self.layernorm_2(proj_input + proj_output)

    class PositionalEmbedding(layers.Layer):
        def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_embeddings = layers.Embedding(
                input_dim=vocab_size, output_dim=embed_dim, name="token_embeddings")
            self.position_embeddings = layers.Embedding(
                input_dim=sequence_length, output_dim=embed_dim, name="position_embeddings")
            self.sequence_length = sequence_length

        def call(self, inputs):
            length = keras.ops.shape(inputs)[-1]
            positions = keras.ops.arange(0, length, 1)
            embedded_tokens = self.token_embeddings(inputs)
            embedded_positions = self.position_embeddings(positions)
            return embedded_tokens + embedded_positions

    inputs = keras.Input(shape=(max_length,), dtype="int64", name="inputs")
    x = PositionalEmbedding(max_length, vocab_size, args.embed_dim,
                            name="positional_embedding")(inputs)
    for i in range(args.blocks):
        x = FNetEncoder(args.embed_dim, args.dense_dim,
                        name="fnet_encoder" + ("_%d" % i if i else ""))(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(3, activation="softmax", name="output")(x)
    fnet = keras.Model(inputs, outputs, name="fnet")

    fnet.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr),
                 loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = fnet.fit(x_train, train_labels, validation_data=(x_val, val_labels),
                       epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                       callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = -(-len(x_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(fnet)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "fnet-unpaired-shuffle", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: training data quality / wrong labels (inputs and labels "
               "shuffled separately); Stack Overflow: 'model accuracy stuck at chance after I "
               "shuffled my data' with two calls to np.random.permutation",
     "bug": "the training texts and labels shuffled by two different permutations "
            "(rng.permutation called once for each), so every review carries another review's "
            "label: the training loss goes from 1.127 to 1.036 only by memorizing, the "
            "validation accuracy stays at chance (0.365 after 10 epochs; the fixed twin: 1.000)",
     "fix": "one permutation applied to both the texts and the labels",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug unpaired-shuffle --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "fnet-truncated-sequences", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: preprocessing of training data (wrong input length: "
               "TextVectorization output_sequence_length too short, the informative words cut "
               "off)",
     "bug": "TextVectorization(output_sequence_length=5) while the reviews are 6 to 19 words "
            "long with the opinion word at positions 3 to 9: most reviews lose their opinion "
            "word or its 'not', the loss stalls at 0.77 and the validation accuracy at 0.53 "
            "(the fixed twin, 24 tokens: 1.000)",
     "fix": "output_sequence_length=24 (the default --max-length)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "len5-seed2",
          "buggy": "--max-length 5 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "fnet-adam-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate too high; DeepLocalize benchmark "
               "(Stack Overflow): 'accuracy stuck' with Adam at a learning rate far above "
               "its default",
     "bug": "Adam(learning_rate=0.05): the first epoch's loss is 1.25, after which the model "
            "settles on a partial rule (the negation ignored) and the validation accuracy "
            "stays near 0.67 for the last epochs (0.668 after 10; the fixed twin at 1e-3: "
            "1.000)",
     "fix": "Adam(learning_rate=1e-3)",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "lr0.05-seed3",
          "buggy": "--lr 0.05 --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-fnet", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "an FNet text classifier (real part of a 2-D FFT as the token mixing) on "
                    "generated product reviews that trains well",
     "healthy": [
         {"id": "e48-d96-lr2e-3-bs64-seed4",
          "args": "--embed-dim 48 --dense-dim 96 --lr 2e-3 --batch-size 64 --epochs 8 --seed 4 "
                  "--record-every 4",
          "description": "embeddings of 48, a feed-forward block of 96, Adam(2e-3), batches "
                         "of 64, 8 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
