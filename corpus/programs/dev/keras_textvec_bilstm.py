"""End-to-end binary sentiment classification of short generated reviews in Keras 3, written the
way the Keras example "Text classification from scratch" (fchollet) writes it: raw strings, a
``TextVectorization`` layer (``standardize="lower_and_strip_punctuation"``, ``max_tokens``,
``output_sequence_length``) adapted on the training texts and applied to the strings before
training (the example's "option 2": the model sees integer sequences), an ``Embedding``, a
``Bidirectional(LSTM)``, ``Dense`` with ``Dropout`` and a sigmoid output under binary
cross-entropy, Adam; validation accuracy once per epoch.

Data (generated here): 2000 reviews of 6 to 20 words from templates: an opening of two words
("this movie", "the film", "i thought", ...), neutral filler ("the", "plot", "acting",
"really", ...) and one or two sentiment phrases placed after the opening: a positive phrase
("good", "a great cast", ...), a negative one ("boring", "an awful script", ...), or a negated
one ("not good", "never boring") which counts for the other side; two phrases always agree.
Labels: 1 positive, 0 negative, balanced. 1600 reviews for training, 400 held out.

Model (functional): ``Embedding(--max-tokens, --embed)`` (``embedding``),
``Bidirectional(LSTM(--units))`` (``bidirectional``), ``Dense(--hidden, relu)`` (``dense``),
``Dropout(0.5)``, ``Dense(1, sigmoid)`` (``dense_1``); ``binary_crossentropy``,
Adam(``--lr``). The mistakes of the families in CASES are selected with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

OPENINGS = ["this movie", "the film", "i thought", "honestly this", "my friends",
            "overall the", "in short", "we found"]
FILLER = ("the plot acting story music scene ending cast it was is and a this really quite "
          "very of with to at its for by on").split()
POSITIVE = ["good", "great", "excellent", "wonderful", "a great cast", "brilliant acting",
            "enjoyable", "a fine script", "moving", "superb"]
NEGATIVE = ["bad", "awful", "boring", "terrible", "an awful script", "dull acting", "poor",
            "a weak cast", "tedious", "lifeless"]
NEGATE = ["not", "never", "hardly"]
ONE_WORD_POS = ["good", "great", "excellent", "wonderful", "enjoyable", "moving", "superb"]
ONE_WORD_NEG = ["bad", "awful", "boring", "terrible", "poor", "tedious", "lifeless"]


def phrase(rng, label):
    """A sentiment phrase for ``label``: direct, or the other side negated."""
    if rng.random() < 0.3:
        other = ONE_WORD_NEG if label == 1 else ONE_WORD_POS
        return "%s %s" % (NEGATE[rng.integers(len(NEGATE))], other[rng.integers(len(other))])
    own = POSITIVE if label == 1 else NEGATIVE
    return own[rng.integers(len(own))]


def reviews(n, seed):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(0, 2))
        length = int(rng.integers(6, 21))
        words = OPENINGS[rng.integers(len(OPENINGS))].split()
        phrases = [phrase(rng, label) for _ in range(int(rng.integers(1, 3)))]
        body = [FILLER[rng.integers(len(FILLER))]
                for _ in range(max(0, length - 2 - sum(len(p.split()) for p in phrases)))]
        for p in phrases:
            body.insert(int(rng.integers(0, len(body) + 1)), p)
        text = " ".join(words + body)
        if rng.random() < 0.5:
            text = text.capitalize() + rng.choice([".", "!", "..."])
        texts.append(text)
        labels.append(label)
    return np.array(texts), np.array(labels, dtype="float32")


def main():
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--max-tokens", type=int, default=200)
    p.add_argument("--seq-len", type=int, default=20, help="output_sequence_length")
    p.add_argument("--embed", type=int, default=16)
    p.add_argument("--units", type=int, default=16)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None, choices=("truncated-to-two", "labels-shuffled"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    texts, labels = reviews(args.samples, args.seed)
    n_val = args.samples // 5
    x_tr_text, y_tr = texts[n_val:], labels[n_val:]
    x_val_text, y_val = texts[:n_val], labels[:n_val]
    if args.bug == "labels-shuffled":
        # BUG (labels-shuffled): texts and labels shuffled each with its own permutation
        # ("to mix the classes") instead of one permutation for both.
        rng = np.random.default_rng(args.seed)
        x_tr_text = x_tr_text[rng.permutation(len(x_tr_text))]
        y_tr = y_tr[rng.permutation(len(y_tr))]

    # BUG (truncated-to-two): output_sequence_length=2 keeps the opening words only.
    seq_len = 2 if args.bug == "truncated-to-two" else args.seq_len
    vectorize = layers.TextVectorization(standardize="lower_and_strip_punctuation",
                                         max_tokens=args.max_tokens, output_mode="int",
                                         output_sequence_length=seq_len)
    vectorize.adapt(x_tr_text)
    x_tr = vectorize(x_tr_text).numpy().astype("int32")
    x_val = vectorize(x_val_text).numpy().astype("int32")

    inputs = keras.Input(shape=(seq_len,), dtype="int32")
    x = layers.Embedding(args.max_tokens, args.embed, name="embedding")(inputs)
    x = layers.Bidirectional(layers.LSTM(args.units), name="bidirectional")(x)
    x = layers.Dense(args.hidden, activation="relu", name="dense")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="dense_1")(x)
    model = keras.Model(inputs, outputs, name="textvec_bilstm")
    opt = keras.optimizers.Adam(learning_rate=args.lr)
    model.compile(optimizer=opt, loss="binary_crossentropy", metrics=["accuracy"])

    steps_per_epoch = -(-len(x_tr) // args.batch_size)
    callbacks = common.recording.keras_callbacks(
        args.out, optimizer=opt, task="classification", loss_name="binary_crossentropy",
        num_classes=2, batch_size=args.batch_size)
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    common.report(common.keras_result(history, steps_per_epoch * len(h["loss"]),
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ktextvec-truncated-to-two", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: preprocessing of training data (wrong input length: "
               "TextVectorization output_sequence_length too short, the sentiment words cut "
               "off)",
     "bug": "TextVectorization(output_sequence_length=2): only the two opening words of every "
            "review are kept, never a sentiment phrase; the loss stays at 0.69 and the "
            "validation accuracy ends at 0.540 after 12 epochs (the fixed twin, 20 tokens: "
            "0.913)",
     "fix": "output_sequence_length=20 (the default --seq-len)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug truncated-to-two --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "ktextvec-labels-shuffled", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: training data (labels misaligned with the inputs: texts "
               "and labels shuffled with two different permutations)",
     "bug": "the training texts and labels shuffled each with its own permutation: the labels "
            "are noise, the training loss falls only to 0.65 by memorizing (accuracy 0.614) "
            "and the validation accuracy ends at 0.512 after 12 epochs (the fixed twin: 1.000)",
     "fix": "one permutation for texts and labels (or none)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--bug labels-shuffled --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-ktextvec", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "an end-to-end TextVectorization + Bidirectional(LSTM) sentiment "
                    "classifier of generated reviews, that trains well",
     "healthy": [
         {"id": "units24-seed1",
          "args": "--units 24 --seed 1 --record-every 4",
          "description": "24 LSTM units each way"},
     ]},
]


if __name__ == "__main__":
    main()
