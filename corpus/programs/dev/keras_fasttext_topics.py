"""A fastText-style Keras 3 text classifier (``Embedding`` + ``GlobalAveragePooling1D`` +
``Dense``) of generated news headlines, tokenized in the program with a hand-built vocabulary
and padded in numpy, trained with ``RMSprop`` and per-sample weights (``fit(...,
sample_weight=...)``) that balance the classes.

The data are generated here: 2400 headlines of 5 to 14 words about four topics (sport, weather,
markets, science; 50%, 25%, 15% and 10% of them), each written from a topic's words, a few
shared words and filler words, with a tenth of the topic words swapped for another topic's.
The text is lower-cased and split on spaces; the vocabulary (id 0 padding, 1 unknown) holds the
training words seen at least twice; each headline becomes its ids, cut or padded with zeros at
the end to ``--maxlen`` in numpy. The last 20% (in generation order, already random) are the
validation set. Every training headline gets the weight ``n / (4 * n_topic)``.

The model (``Sequential``): ``Embedding(vocab, --dim)`` (``embedding``),
``GlobalAveragePooling1D``, ``Dense(4, softmax)`` (``topic``), under
``sparse_categorical_crossentropy``. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

TOPICS = {
    "sport": "match goal team coach league season striker keeper cup final score win draw "
             "stadium fans transfer injury derby title referee",
    "weather": "rain storm wind snow forecast cloud sunny heat frost flood warning temperature "
               "humid thunder fog showers gale drought degrees",
    "markets": "shares stocks bond index profit loss investors bank rate inflation dividend "
               "trading earnings currency oil prices rally slump",
    "science": "study researchers cells planet telescope species genome climate experiment "
               "physics quantum fossil vaccine neurons orbit molecule laboratory",
}
SHARED = "new big record high low week year report says after first".split()
FILLER = "the a of in on for to with at as and by from is are was".split()


def headlines(n, seed):
    rng = np.random.default_rng(seed)
    words = {k: v.split() for k, v in TOPICS.items()}
    names = list(TOPICS)
    y = rng.choice(4, size=n, p=[0.5, 0.25, 0.15, 0.1])
    texts = []
    for label in y:
        length = int(rng.integers(5, 15))
        out = []
        for _ in range(length):
            r = rng.random()
            if r < 0.45:
                topic = names[label] if rng.random() > 0.1 else names[rng.integers(4)]
                out.append(str(rng.choice(words[topic])))
            elif r < 0.6:
                out.append(str(rng.choice(SHARED)))
            else:
                out.append(str(rng.choice(FILLER)))
        texts.append(" ".join(out).capitalize())
    return texts, y


def main():
    p = common.parser(__doc__)
    p.add_argument("--maxlen", type=int, default=16)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None,
                   choices=("frozen-embedding", "no-shuffle"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    texts, y = headlines(2400, args.seed)
    n_val = len(texts) // 5
    train_texts, val_texts = texts[:-n_val], texts[-n_val:]
    y_train, y_val = y[:-n_val], y[-n_val:]

    counts = {}
    for t in train_texts:
        for w in t.lower().split():
            counts[w] = counts.get(w, 0) + 1
    vocab = {w: i + 2 for i, w in enumerate(sorted(w for w, c in counts.items() if c >= 2))}

    def encode(batch):
        ids = np.zeros((len(batch), args.maxlen), dtype="int32")
        for i, t in enumerate(batch):
            seq = [vocab.get(w, 1) for w in t.lower().split()][:args.maxlen]
            ids[i, :len(seq)] = seq
        return ids

    x_train, x_val = encode(train_texts), encode(val_texts)
    # the headlines were collected topic by topic: the training set is kept in that order
    order = np.argsort(y_train, kind="stable")
    x_train, y_train = x_train[order], y_train[order]
    per_class = np.bincount(y_train, minlength=4)
    weights = (len(y_train) / (4.0 * per_class))[y_train].astype("float32")

    model = keras.Sequential([
        keras.Input(shape=(args.maxlen,), dtype="int32"),
        # BUG (frozen-embedding): trainable=False copied from a pretrained-vectors recipe, but no
        # vectors are loaded: the embedding stays at its random initialization.
        layers.Embedding(len(vocab) + 2, args.dim, name="embedding",
                         trainable=args.bug != "frozen-embedding"),
        layers.GlobalAveragePooling1D(),
        layers.Dense(4, activation="softmax", name="topic"),
    ])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=args.lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # BUG (no-shuffle): the training headlines are in topic order and shuffle=False keeps
    # them so: every batch holds one topic, sport for the first half of each epoch.
    history = model.fit(x_train, y_train, sample_weight=weights,
                        validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, shuffle=args.bug != "no-shuffle",
                        verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    for e, vl in enumerate(history.history["val_loss"]):
        print("epoch %d: loss %.4g acc %.3f val loss %.4g val acc %.3f" % (
            e + 1, history.history["loss"][e], history.history["accuracy"][e], vl,
            history.history["val_accuracy"][e]))
    steps = -(-len(x_train) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      vocab=len(vocab) + 2))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kfasttext-frozen-random-embedding", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: a layer frozen by mistake (Embedding(..., trainable=False) "
               "from a pretrained-vectors recipe with no vectors loaded); DeepLocalize benchmark "
               "(Stack Overflow): 'text classifier accuracy stuck'",
     "bug": "the embedding is frozen at its random initialization, only the 4-way softmax on "
            "the averaged random vectors trains: in 12 epochs the loss goes from 1.386 to 1.342 "
            "and the validation accuracy ends at 0.538 (the twin: loss 0.87 -> 0.029, "
            "validation accuracy 0.956)",
     "fix": "Embedding(..., trainable=True) (the default)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": {"layer_name": "embedding", "layer_index": 0},
     "pairs": [
         {"id": "rmsprop-lr0.01",
          "buggy": "--bug frozen-embedding --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kfasttext-topic-ordered-no-shuffle", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: training data not shuffled (fit(..., shuffle=False) on "
               "data sorted by class); DeepFD fault type: data",
     "bug": "the training headlines stay in topic order under shuffle=False, every batch holds "
            "one topic and each epoch ends on science: the validation accuracy is 0.098 after "
            "the first epoch and 0.788 after 12, validation loss 2.82 -> 0.62 (the shuffled "
            "twin: 0.954 after the first epoch, validation loss 0.155)",
     "fix": "fit(..., shuffle=True)",
     "symptom": "oscillation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop-lr0.01",
          "buggy": "--bug no-shuffle --record-every 4",
          "fixed": "--lr 0.01 --record-every 4"},
     ]},
    {"family": "kfasttext-rmsprop-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow): RMSprop(lr=...) set far too high, 'loss "
               "in the hundreds'; AUTOTRAINER: oscillating loss",
     "bug": "RMSprop(learning_rate=5.0): the embedding and the logits grow huge, the weighted "
            "loss is 814 in the first epoch and still 86 in the last, the validation loss jumps "
            "456 -> 52 -> 75 -> 125 while the accuracy is 0.965 from overconfident logits (the "
            "twin with 0.01: loss 0.029, validation loss 0.155)",
     "fix": "RMSprop(learning_rate=0.01)",
     "symptom": "oscillation", "acceptable_symptoms": ["exploding_gradient", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "lr5-seed0",
          "buggy": "--lr 5.0 --record-every 4",
          "fixed": "--lr 0.01 --seed 0 --record-every 4"},
     ]},
    {"family": "healthy-kfasttext", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a fastText-style averaged-embedding headline classifier with balancing "
                    "sample weights that trains well",
     "healthy": [
         {"id": "dim32-bs64-seed1",
          "args": "--dim 32 --batch-size 64 --seed 1 --record-every 4",
          "description": "32-dimensional embedding, batches of 64, RMSprop(0.01)"},
         {"id": "maxlen12-dim8-lr0.005-seed2",
          "args": "--maxlen 12 --dim 8 --lr 0.005 --seed 2 --record-every 4",
          "description": "headlines cut to 12 ids, 8-dimensional embedding, RMSprop(0.005)"},
     ]},
]


if __name__ == "__main__":
    main()
