"""A small Keras 3 transformer-block classifier of the 8x8 digits read as sequences of 8 rows,
fed by a ``keras.utils.PyDataset`` subclass, in the layout of the Keras example "Text
classification with Transformer" (a ``TransformerBlock`` of ``MultiHeadAttention``, a
feed-forward pair of Dense layers, residual additions and ``LayerNormalization``, then
``GlobalAveragePooling1D``) and of the ``PyDataset`` documentation (``__len__``,
``__getitem__`` returning one batch, ``on_epoch_end`` reshuffling).

Data: scikit-learn's digits; each image is a sequence of its 8 rows of 8 pixels, divided by
16. A stratified fifth is held out for validation (a second ``PyDataset`` that does not
shuffle). The rows are kept in the order a per-class export lists them (every 0, then every
1...), and the training ``PyDataset`` draws a new permutation in ``on_epoch_end`` (and in its
constructor). The model (functional API): ``Dense`` ``embed`` (``--dim``) of each row, a
learned position embedding added by ``AddPosition`` (``pos``), one ``TransformerBlock``
(``block``: ``MultiHeadAttention`` with ``--heads`` heads, ``Dense`` ``--ff`` ReLU and
``Dense`` ``--dim``, two ``LayerNormalization``, dropout 0.1), ``GlobalAveragePooling1D``,
``Dense`` ``head`` (10, softmax), ``sparse_categorical_crossentropy``, ``--optimizer`` at
``--lr``. The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--ff", type=int, default=64)
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "adamw", "sgd"))
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("batch-index", "no-epoch-shuffle"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers, ops

    class DigitRows(keras.utils.PyDataset):
        """Batches of (rows, label); shuffled every epoch when ``shuffle``."""

        def __init__(self, x, y, batch_size, shuffle, seed, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size
            self.shuffle = shuffle
            self.rng = np.random.default_rng(seed)
            self.order = np.arange(len(x))
            # BUG (no-epoch-shuffle): the shuffling is left out of the constructor and of
            # on_epoch_end, and the rows come sorted by digit: every epoch is a block of 0s,
            # then 1s...
            self.on_epoch_end()

        def __len__(self):
            return -(-len(self.x) // self.batch_size)

        def __getitem__(self, idx):
            lo, hi = idx * self.batch_size, (idx + 1) * self.batch_size
            rows = self.order[lo:hi]
            if args.bug == "batch-index":
                # BUG (batch-index): the labels are sliced with the batch number instead of
                # the batch's first row: batch idx gets the labels of rows idx..idx+31.
                labels = self.order[idx:idx + len(rows)]
                return self.x[rows], self.y[labels]
            return self.x[rows], self.y[rows]

        def on_epoch_end(self):
            if self.shuffle and args.bug != "no-epoch-shuffle":
                self.order = self.rng.permutation(len(self.x))

    class AddPosition(layers.Layer):
        def build(self, input_shape):
            self.table = self.add_weight(shape=(input_shape[1], input_shape[2]),
                                         initializer="random_normal", name="table")

        def call(self, x):
            return x + self.table

    class TransformerBlock(layers.Layer):
        def __init__(self, dim, heads, ff, rate=0.1, **kwargs):
            super().__init__(**kwargs)
            self.att = layers.MultiHeadAttention(num_heads=heads, key_dim=dim // heads)
            self.ffn = keras.Sequential([layers.Dense(ff, activation="relu"),
                                         layers.Dense(dim)])
            self.norm1 = layers.LayerNormalization(epsilon=1e-6)
            self.norm2 = layers.LayerNormalization(epsilon=1e-6)
            self.drop1 = layers.Dropout(rate)
            self.drop2 = layers.Dropout(rate)

        def call(self, inputs, training=False):
            att = self.att(inputs, inputs)
            out1 = self.norm1(inputs + self.drop1(att, training=training))
            ffn = self.ffn(out1)
            return self.norm2(out1 + self.drop2(ffn, training=training))

    x, y = common.load("digits")
    rows = (x / 16.0).reshape(-1, 8, 8).astype("float32")
    x_tr, x_val, y_tr, y_val = common.split(rows, y, seed=args.seed)
    by_class = np.argsort(y_tr, kind="stable")
    x_tr, y_tr = x_tr[by_class], y_tr[by_class]
    train = DigitRows(x_tr, y_tr, args.batch_size, shuffle=True, seed=args.seed)
    val = DigitRows(x_val, y_val, 256, shuffle=False, seed=args.seed)

    inputs = keras.Input(shape=(8, 8), name="rows")
    h = layers.Dense(args.dim, name="embed")(inputs)
    h = AddPosition(name="pos")(h)
    h = TransformerBlock(args.dim, args.heads, args.ff, name="block")(h)
    h = layers.GlobalAveragePooling1D()(h)
    h = layers.Dropout(0.1)(h)
    outputs = layers.Dense(10, activation="softmax", name="head")(h)
    model = keras.Model(inputs, outputs, name="row_transformer")

    loss = keras.losses.SparseCategoricalCrossentropy()
    optimizer = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
                 "adamw": keras.optimizers.AdamW,
                 "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9)
                 }[args.optimizer](learning_rate=args.lr)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=args.epochs, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = len(train) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kpyds-labels-sliced-by-batch-number", "split": "dev", "architecture": "transformer",
     "origin": "DeepLocalize benchmark (Stack Overflow): a keras.utils.Sequence whose "
               "__getitem__ slices the labels with a different index than the inputs, 'accuracy "
               "stays at 10%'; Humbatova et al. 2020: wrong labels (training data)",
     "bug": "__getitem__ takes the rows of batch idx from self.order[idx * 32:(idx + 1) * 32] "
            "but their labels from self.order[idx:idx + 32]: the labels belong to other images, "
            "the loss only goes from 2.339 to 2.288, the training accuracy ends at 0.15 and the "
            "validation accuracy at 0.13 of ten classes against 0.975",
     "fix": "labels = self.y[rows]",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug batch-index --seed 1 --record-every 2",
          "fixed": "--seed 1 --record-every 2"},
     ]},
    {"family": "kpyds-sorted-no-epoch-shuffle", "split": "dev", "architecture": "transformer",
     "origin": "DeepLocalize benchmark (Stack Overflow): a Sequence/PyDataset without "
               "on_epoch_end shuffling over data sorted by class (model.fit's shuffle does not "
               "apply to it); Humbatova et al. 2020: training data not shuffled",
     "bug": "the PyDataset never permutes its rows, which come sorted by digit: every epoch is "
            "a block of 0s, then 1s..., the first epoch's training accuracy is 0.06, and the "
            "run ends at a training accuracy of 0.71 and a validation accuracy of 0.82 against "
            "0.95 with a permutation per epoch",
     "fix": "self.order = self.rng.permutation(len(self.x)) in __init__ and on_epoch_end",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug no-epoch-shuffle --seed 2 --record-every 2",
          "fixed": "--seed 2 --record-every 2"},
     ]},
    {"family": "kpyds-adam-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "AUTOTRAINER: oscillating loss; DeepFD / DeepDiagnosis fault type: learning "
               "rate too high (Adam(0.05) on a transformer block)",
     "bug": "Adam(learning_rate=0.05) without warmup: after the second epoch the loss goes "
            "1.26, 1.26, 1.11, 1.03, 1.05, 1.12, 1.10, 0.99, the validation accuracy jumps "
            "between 0.49 and 0.67 and ends at 0.67 against 0.95 at 2e-3",
     "fix": "Adam(learning_rate=2e-3)",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--lr 0.05 --seed 3 --record-every 2",
          "fixed": "--seed 3 --record-every 2"},
     ]},
    {"family": "healthy-kpyds", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a transformer-block classifier of digit rows fed by a PyDataset that "
                    "trains well",
     "healthy": [
         {"id": "adamw-seed4",
          "args": "--optimizer adamw --lr 3e-3 --seed 4 --record-every 2",
          "description": "AdamW 3e-3"},
         {"id": "rmsprop-dim64-heads4-seed5",
          "args": "--optimizer rmsprop --lr 1e-3 --dim 64 --heads 4 --ff 128 --seed 5 --record-every 2",
          "description": "RMSprop 1e-3, width 64, four heads, feed-forward 128"},
         {"id": "bs16-lr1e-3-seed6",
          "args": "--batch-size 16 --lr 1e-3 --seed 6 --record-every 2",
          "description": "batches of 16, Adam 1e-3"},
     ]},
]


if __name__ == "__main__":
    main()
