"""A Keras 3 Conv1D text classifier on top of frozen "pre-trained" word vectors, written the
way the keras.io example "Using pre-trained word embeddings" is: a dict ``embeddings_index``
from word to vector, a ``word_index`` from the training texts, an ``embedding_matrix`` filled
row by row (printing "Converted N words (M misses)"), and ``Embedding(num_tokens, dim,
embeddings_initializer=keras.initializers.Constant(embedding_matrix), trainable=False)`` (a
deliberate freeze: the vectors are kept as they are).

The data are generated here: 900 product reviews of 12 to 24 words in four departments
(garden, kitchen, audio, toys), each written from its department's words, shared words and
filler words, with a tenth of the department words swapped for another department's. The
"pre-trained" vectors (``--dim`` dimensions) are generated too, as a word-vector file would hold
them: the words of a department lie around a common direction, the other words around zero.
The word_index (0 padding, 1 unknown) holds the training words; the reviews are padded with
zeros at the end to 24 ids. The last 20% are the validation set.

The model (functional API): ``Embedding`` (``embedding``, frozen), ``Conv1D(--filters, 5,
relu)`` (``conv1d``), ``GlobalMaxPooling1D``, ``Dense(--units, relu)`` (``dense``), ``Dropout``
and a 4-way softmax (``dense_1``), under ``sparse_categorical_crossentropy`` and ``Adam(--lr)``.
The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
MAXLEN = 24
DEPARTMENTS = ("garden", "kitchen", "audio", "toys")


def make_words(rng, n, syllables):
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(syllables, size=rng.integers(2, 4))))
    return sorted(words)


def make_reviews(n, seed):
    rng = np.random.default_rng(1000 + seed)
    syl = np.array(["ka", "lo", "mi", "te", "ru", "san", "bo", "ne", "vi", "da", "po", "sh",
                    "el", "tor", "gu", "fa", "ri", "zo"])
    vocab = make_words(rng, 4 * 20 + 30 + 40, syl)
    rng.shuffle(vocab)
    dept_words = [vocab[20 * d:20 * (d + 1)] for d in range(4)]
    shared = vocab[80:110]
    filler = vocab[110:150]
    texts, labels = [], []
    for _ in range(n):
        d = int(rng.integers(0, 4))
        length = int(rng.integers(12, MAXLEN + 1))
        words = []
        for _ in range(length):
            u = rng.random()
            if u < 0.3:
                src = d if rng.random() > 0.1 else int(rng.integers(0, 4))
                words.append(rng.choice(dept_words[src]))
            elif u < 0.55:
                words.append(rng.choice(shared))
            else:
                words.append(rng.choice(filler))
        texts.append(" ".join(words))
        labels.append(d)
    return texts, np.array(labels), dept_words, vocab


def pretrained_vectors(dept_words, vocab, dim, seed):
    """What a word-vector file would give: word -> vector of ``dim`` floats."""
    rng = np.random.default_rng(2000 + seed)
    centres = rng.normal(0, 1.0, (4, dim))
    index = {}
    for word in vocab:
        index[word] = rng.normal(0, 0.35, dim)
    for d, words in enumerate(dept_words):
        for word in words:
            index[word] = centres[d] + rng.normal(0, 0.35, dim)
    return index


def main():
    p = common.parser(__doc__)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("bytes-vocab", "binary-head"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    texts, labels, dept_words, vocab = make_reviews(900, args.seed)
    embeddings_index = pretrained_vectors(dept_words, vocab, args.dim, args.seed)
    print("Found %s word vectors." % len(embeddings_index))

    n_val = int(0.2 * len(texts))
    train_texts, val_texts = texts[:-n_val], texts[-n_val:]
    train_labels, val_labels = labels[:-n_val], labels[-n_val:]

    word_index = {}
    for text in train_texts:
        for w in text.split():
            if w not in word_index:
                word_index[w] = len(word_index) + 2
    # BUG (bytes-vocab): the vocabulary comes back as bytes (as from a tf.string tensor's
    # .numpy()) and none of them is a key of embeddings_index.
    if args.bug == "bytes-vocab":
        lookup = {w.encode("utf-8"): i for w, i in word_index.items()}
    else:
        lookup = word_index

    def vectorize(batch):
        out = np.zeros((len(batch), MAXLEN), dtype="int64")
        for r, text in enumerate(batch):
            ids = [word_index.get(w, 1) for w in text.split()][:MAXLEN]
            out[r, :len(ids)] = ids
        return out

    x_train, x_val = vectorize(train_texts), vectorize(val_texts)
    y_train, y_val = train_labels, val_labels

    num_tokens = len(word_index) + 2
    embedding_dim = args.dim
    hits, misses = 0, 0
    embedding_matrix = np.zeros((num_tokens, embedding_dim))
    for word, i in lookup.items():
        embedding_vector = embeddings_index.get(word)
        if embedding_vector is not None:
            # words not found in the index stay all zeros
            embedding_matrix[i] = embedding_vector
            hits += 1
        else:
            misses += 1
    print("Converted %d words (%d misses)" % (hits, misses))

    embedding_layer = layers.Embedding(
        num_tokens, embedding_dim,
        embeddings_initializer=keras.initializers.Constant(embedding_matrix),
        trainable=False, name="embedding")

    int_sequences_input = keras.Input(shape=(MAXLEN,), dtype="int64")
    embedded_sequences = embedding_layer(int_sequences_input)
    x = layers.Conv1D(args.filters, 5, activation="relu", name="conv1d")(embedded_sequences)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(args.units, activation="relu", name="dense")(x)
    x = layers.Dropout(0.3)(x)
    if args.bug == "binary-head":
        # BUG (binary-head): the head and loss of a binary sentiment example (one sigmoid
        # unit, binary_crossentropy) kept for the four departments, labels 0..3.
        preds = layers.Dense(1, activation="sigmoid", name="dense_1")(x)
    else:
        preds = layers.Dense(len(DEPARTMENTS), activation="softmax", name="dense_1")(x)
    model = keras.Model(int_sequences_input, preds)
    model.summary(print_fn=lambda *a, **k: None)

    if args.bug == "binary-head":
        loss = "binary_crossentropy"
        y_train, y_val = y_train.astype("float32"), y_val.astype("float32")
        metrics = []
    else:
        loss = "sparse_categorical_crossentropy"
        metrics = ["accuracy"]
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(learning_rate=args.lr),
                  metrics=metrics)
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_val, y_val), verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    extra = {}
    if args.bug == "binary-head":
        pred = np.round(model.predict(x_val, verbose=0)[:, 0])
        extra["val_accuracy"] = float((pred == val_labels).mean())
    for e in range(len(history.history["loss"])):
        print("epoch %d: loss %.4f val loss %.4f%s" % (
            e + 1, history.history["loss"][e], history.history["val_loss"][e],
            " val acc %.3f" % history.history["val_accuracy"][e]
            if "val_accuracy" in history.history else ""))
    steps = -(-len(x_train) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      **extra))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kglovecnn-bytes-vocab-zero-matrix", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 taxonomy: wrong initialization of a pre-trained "
               "embedding (keras.io 'Using pre-trained word embeddings' questions: "
               "'Converted 0 words'); DeepFD: bad weight initialization",
     "bug": "the vocabulary is looked up as bytes, no word is found in embeddings_index "
            "('Converted 0 words (150 misses)'), the embedding matrix stays all zeros and the "
            "Embedding is frozen: the Conv1D sees zeros, its ReLU units never open, the loss "
            "stays at 1.386 (ln 4) from the first to the last of 8 epochs and the validation "
            "accuracy is 0.26",
     "fix": "look the words up as str (150 words converted)",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "unchanged_values"],
     "root_cause": {"layer_name": "embedding", "layer_index": 0},
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug bytes-vocab --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kglovecnn-binary-head-four-classes", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): binary_crossentropy and one sigmoid "
               "unit for a multi-class problem; Humbatova et al. 2020: wrong loss function",
     "bug": "the head of a binary sentiment example (Dense(1, sigmoid), binary_crossentropy) "
            "kept for four departments with labels 0..3: the loss is unbounded below for the "
            "labels 2 and 3 and falls from -0.79 in the first epoch to -211 in the eighth "
            "while the rounded output gets 0.34 of the validation reviews right",
     "fix": "Dense(4, softmax) and sparse_categorical_crossentropy",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug binary-head --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kglovecnn-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate far too high (Adam(learning_rate="
               "0.3))",
     "bug": "Adam(learning_rate=0.3) in batches of 16: the first epoch's loss is 4.7, then the "
            "loss sits at 1.43 (about ln 4) and the validation accuracy at 0.26 after 8 epochs",
     "fix": "Adam(learning_rate=1e-3)",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "bs16-seed1",
          "buggy": "--lr 0.3 --batch-size 16 --seed 1 --record-every 4",
          "fixed": "--lr 1e-3 --batch-size 16 --seed 1 --record-every 4"},
     ]},
    {"family": "kglovecnn-adam-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low (Adam(learning_rate="
               "1e-5))",
     "bug": "Adam(learning_rate=1e-5): in 8 epochs the loss falls only from 1.51 to 1.44 and "
            "the validation accuracy is 0.39 (the fixed twin: 0.99)",
     "fix": "Adam(learning_rate=1e-3)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--lr 1e-5 --seed 2 --record-every 4",
          "fixed": "--lr 1e-3 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kglovecnn", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Conv1D text classifier on frozen pre-trained word vectors that trains "
                    "well",
     "healthy": [
         {"id": "lr3e-3-bs64-f16-seed3",
          "args": "--lr 3e-3 --batch-size 64 --filters 16 --seed 3 --record-every 4",
          "description": "Adam(3e-3), batches of 64, 16 filters"},
         {"id": "lr5e-4-dim24-u64-seed4",
          "args": "--lr 5e-4 --units 64 --dim 24 --seed 4 --record-every 4",
          "description": "Adam(5e-4), 24-dimensional vectors, a Dense layer of 64"},
     ]},
]


if __name__ == "__main__":
    main()
