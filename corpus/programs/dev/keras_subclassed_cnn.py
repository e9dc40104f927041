"""A digits classifier written as a Keras 3 ``keras.Model`` subclass with its own ``call()``.

The network (``DigitsNet``) keeps its layers as attributes and wires them in ``call``: an
optional BatchNormalization on the input (``bn_in``), two 3x3 convolutions (``conv1``,
``conv2``) with a max-pooling between, a Flatten, a Dense hidden layer
(``hidden``), dropout and a Dense layer of 10 logits (``logits``); the loss is
``SparseCategoricalCrossentropy(from_logits=True)`` (``--probabilities``: a softmax in ``call``
and ``from_logits=False``). It is trained with ``model.fit`` on
scikit-learn's 8x8 digits (pixels 0..16), scaled to [0, 1] unless ``--scale raw``. The mistakes
of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``, ``--l2``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def build_model_class(keras):
    from keras import layers, ops

    class DigitsNet(keras.Model):
        def __init__(self, filters=16, hidden=64, classes=10, input_bn=False, dropout=0.0,
                     l2=0.0, probabilities=False, hidden_bias=0.0, bug=None):
            super().__init__(name="digits_net")
            reg = keras.regularizers.L2(l2) if l2 else None
            self.bug = bug
            self.probabilities = probabilities
            self.bn_in = layers.BatchNormalization(name="bn_in") if input_bn else None
            self.conv1 = layers.Conv2D(filters, 3, padding="same", activation="relu",
                                       kernel_regularizer=reg, name="conv1")
            self.pool = layers.MaxPooling2D(2, name="pool")
            self.conv2 = layers.Conv2D(2 * filters, 3, padding="same", activation="relu",
                                       kernel_regularizer=reg, name="conv2")
            self.flatten = layers.Flatten(name="flatten")
            self.hidden = layers.Dense(hidden, activation="relu", kernel_regularizer=reg,
                                       bias_initializer=keras.initializers.Constant(hidden_bias),
                                       name="hidden")
            self.drop = layers.Dropout(dropout, name="dropout") if dropout else None
            self.logits = layers.Dense(classes, kernel_regularizer=reg, name="logits")

        def call(self, x, training=False):
            if self.bn_in is not None:
                if self.bug == "bn-inference":
                    # BUG: training=False hard-coded (copied from the evaluation code): the
                    # layer normalizes with its initial moving statistics (mean 0, variance
                    # 1), i.e. not at all, and never updates them.
                    x = self.bn_in(x, training=False)
                else:
                    x = self.bn_in(x, training=training)
            h = self.pool(self.conv1(x))
            h = self.flatten(self.conv2(h))
            h = self.hidden(h)
            if self.drop is not None:
                h = self.drop(h, training=training)
            out = self.logits(h)
            return ops.softmax(out) if self.probabilities else out

    return DigitsNet


def main():
    p = common.parser(__doc__)
    p.add_argument("--scale", default="unit", choices=("unit", "raw"),
                   help="pixels / 16 (unit) or the raw 0..16")
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--input-bn", action="store_true", help="BatchNormalization on the input")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--l2", type=float, default=0.0, help="L2 factor on every kernel")
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "momentum", "rmsprop"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--hidden-bias", type=float, default=0.0,
                   help="initial bias of the hidden Dense layer")
    p.add_argument("--probabilities", action="store_true",
                   help="call() returns softmax probabilities (the loss then from_logits=False)")
    p.add_argument("--bug", default=None, choices=("mse-class-index", "bn-inference"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)

    x, y = common.load("digits")
    x = x.reshape(-1, 8, 8, 1).astype("float32")
    if args.scale == "unit":
        x = x / 16.0
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    # The labels as a column (n, 1), the way they come out of a table.
    y_tr, y_val = y_tr.reshape(-1, 1), y_val.reshape(-1, 1)

    DigitsNet = build_model_class(keras)
    model = DigitsNet(args.filters, args.hidden, 10, args.input_bn, args.dropout, args.l2,
                      args.probabilities, args.hidden_bias, args.bug)
    # A subclassed model has no weights until it is first called. When this program was
    # written, the trace recorder refused such a model when fit() started, so one call on a
    # batch builds every layer first (model.build() would not: DigitsNet has no build()). The
    # recorder now builds it from the first batch itself; the call stays so that the corpus's
    # runs of this program are recorded exactly as they were scored.
    model(x_tr[:1])
    optimizer = {"adam": lambda: keras.optimizers.Adam(args.lr),
                 "sgd": lambda: keras.optimizers.SGD(args.lr),
                 "momentum": lambda: keras.optimizers.SGD(args.lr, momentum=0.9),
                 "rmsprop": lambda: keras.optimizers.RMSprop(args.lr)}[args.optimizer]()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not args.probabilities)
    if args.bug == "mse-class-index":
        # BUG: mean squared error between the class index (0..9, a column) and the ten
        # probabilities: the label column broadcasts against every output unit, no error.
        loss = keras.losses.MeanSquaredError()
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    steps_per_epoch = -(-len(x_tr) // args.batch_size)
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    # The layers that own weights, in the order call() runs them (the recorder's order).
    order = [l for l in (model.bn_in, model.conv1, model.conv2, model.hidden, model.logits)
             if l is not None]
    common.report(common.keras_result(history, steps_per_epoch * args.epochs,
                                      layers=[l.name for l in order]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "subcnn-mse-class-index", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: wrong loss function; Humbatova et al. 2020: "
               "labels that do not match the output (mean squared error between a class-index "
               "column and softmax probabilities)",
     "bug": "loss MeanSquaredError() with the labels as a column of class indices 0..9: the "
            "column broadcasts against the ten softmax outputs without an error, every output "
            "is pulled towards the class index, the loss stays near 27 and the accuracy at "
            "chance",
     "fix": "SparseCategoricalCrossentropy (from_logits=False on the probabilities)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-probabilities",
          "buggy": "--probabilities --bug mse-class-index --record-every 2",
          "fixed": "--probabilities --record-every 2"},
     ]},
    {"family": "subcnn-bn-inference-raw-pixels", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: BatchNorm layer in inference mode during training (a "
               "hard-coded training=False in a subclassed model's call)",
     "bug": "call() runs the input BatchNormalization with training=False on the raw pixels "
            "0..16: it uses its initial moving statistics (mean 0, variance 1), so the "
            "network sees the unnormalized pixels, and with SGD momentum 0.05 the run "
            "collapses to chance",
     "fix": "bn_in(x, training=training)",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": {"layer_name": "bn_in", "layer_index": 0},
     "pairs": [
         {"id": "momentum",
          "buggy": "--scale raw --input-bn --optimizer momentum --lr 0.05 --bug bn-inference --record-every 2",
          "fixed": "--scale raw --input-bn --optimizer momentum --lr 0.05 --record-every 2"},
     ]},
    {"family": "subcnn-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "SGD with momentum 0.9 and learning rate 1.0: the first updates overshoot, the "
            "loss rises above ln 10 and the accuracy ends at chance",
     "fix": "learning rate 0.05",
     "symptom": "oscillation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "exploding_gradient",
                             "numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum",
          "buggy": "--optimizer momentum --lr 1.0 --record-every 2",
          "fixed": "--optimizer momentum --lr 0.05 --record-every 2"},
     ]},
    {"family": "subcnn-dying-relu-hidden-bias", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: dying ReLU (a layer's bias initialized to a large negative value)",
     "bug": "the hidden Dense layer's bias initialized to -10 (meant +0.1): every hidden ReLU "
            "outputs 0 for every image, the logits see a zero vector and no gradient reaches "
            "the layers below",
     "fix": "the hidden layer's bias initialized to +0.1",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "vanishing_gradient", "unchanged_values"],
     "root_cause": {"layer_name": "hidden", "layer_index": 2},
     "pairs": [
         {"id": "adam",
          "buggy": "--hidden-bias -10 --record-every 2",
          "fixed": "--hidden-bias 0.1 --record-every 2"},
     ]},
    {"family": "subcnn-huge-l2", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: regularization too strong (an L2 term dominates the loss)",
     "bug": "an L2 factor of 0.5 on every kernel: the penalty (about 20 at the start) dominates "
            "the cross-entropy, the kernels are driven to zero and the accuracy stays at "
            "chance",
     "fix": "L2 factor 1e-4",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--l2 0.5 --record-every 2",
          "fixed": "--l2 1e-4 --record-every 2"},
     ]},
    {"family": "healthy-subcnn", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a subclassed Keras CNN on the 8x8 digits that trains well",
     "healthy": [
         {"id": "momentum-dropout-seed1",
          "args": "--optimizer momentum --lr 0.05 --dropout 0.2 --seed 1 --record-every 2"},
         {"id": "rmsprop-bs64-filters8",
          "args": "--optimizer rmsprop --lr 1e-3 --batch-size 64 --epochs 6 --filters 8 --record-every 2"},
         {"id": "adam-raw-input-bn-seed2",
          "args": "--scale raw --input-bn --seed 2 --record-every 2"},
     ]},
    {"family": "healthy-raw-pixels", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "the digits as scikit-learn ships them (grey levels 0..16) or as 0..255, fed without scaling, train as well as scaled ones: unnormalized inputs are not a fault on their own",
     "healthy": [
         {"id": "subcnn-adam", "args": "--scale raw --record-every 2"},
         {"id": "subcnn-momentum-seed1", "args": "--scale raw --optimizer momentum --lr 0.01 --seed 1 --record-every 2"},
     ]},
]


if __name__ == "__main__":
    main()
