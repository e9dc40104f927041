"""A Keras 3 classifier built from its own ``keras.layers.Layer`` subclasses and trained with its
own loss function passed to ``compile``, the way the Keras guide "Making new layers and models
via subclassing" writes them.

Layers: ``Linear`` (a kernel and a bias made with ``add_weight`` in ``build()``, the activation
kept as ``self.activation`` and applied in ``call()``) and ``Scale`` (a learned per-feature gain
and shift, ``add_weight`` of ones and zeros, put after every hidden ``Linear`` with
``--scale``). The model is a ``keras.Sequential`` of them: ``--depth`` hidden ``Linear`` layers
of ``--width`` units (``hidden1``, ``hidden2``...; ``--activation``, ReLU by default) and an
output ``Linear`` (``out``) with a softmax. The loss is the program's own function,
``smoothed_crossentropy(y_true, y_pred)``: the integer labels one-hot encoded with
``ops.one_hot``, label smoothing ``--smoothing``, the cross-entropy of the clipped softmax
output, averaged over the batch; the accuracy metric is Keras' ``sparse_categorical_accuracy``.

Data (``--data``): ``quantiles`` (scikit-learn's make_gaussian_quantiles: 1500 points in 6
dimensions, three classes by their distance from the centre, so no linear boundary exists) or
``wine``; standardized with the training part's mean and deviation, a stratified fifth held out
for validation (``validation_data``). Optimizer ``--optimizer`` (adam, sgd, momentum, rmsprop,
nadam) at ``--lr``. The mistakes of the families in CASES are selected with ``--bug`` or show in
a setting (``--init-std``, ``--activation``, ``--depth``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--data", default="quantiles", choices=("quantiles", "wine"))
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--activation", default="relu")
    p.add_argument("--init-std", type=float, default=0.0,
                   help="kernels drawn from N(0, std) (0: glorot_uniform)")
    p.add_argument("--scale", action="store_true", help="a Scale layer after every hidden layer")
    p.add_argument("--smoothing", type=float, default=0.05)
    p.add_argument("--optimizer", default="adam",
                   choices=("adam", "sgd", "momentum", "rmsprop", "nadam"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--bug", default=None,
                   choices=("activation-not-applied", "label-column", "kernel-not-trainable"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import ops

    class Linear(keras.layers.Layer):
        """y = activation(x @ w + b)."""

        def __init__(self, units, activation=None, init_std=0.0, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.activation = keras.activations.get(activation)
            self.init_std = init_std

        def build(self, input_shape):
            init = (keras.initializers.RandomNormal(stddev=self.init_std) if self.init_std
                    else "glorot_uniform")
            # BUG (kernel-not-trainable): trainable=False copied from the guide's example of a
            # non-trainable weight (a running total): no kernel is ever updated.
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer=init,
                                     trainable=args.bug != "kernel-not-trainable",
                                     name="kernel")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True,
                                     name="bias")

        def call(self, inputs):
            if args.bug == "activation-not-applied" and self.name != "out":
                # BUG: the activation is stored in __init__ but never applied in call().
                return ops.matmul(inputs, self.w) + self.b
            return self.activation(ops.matmul(inputs, self.w) + self.b)

    class Scale(keras.layers.Layer):
        """A learned per-feature gain and shift."""

        def build(self, input_shape):
            self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                         name="gamma")
            self.beta = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                        name="beta")

        def call(self, inputs):
            return inputs * self.gamma + self.beta

    if args.data == "quantiles":
        from sklearn.datasets import make_gaussian_quantiles
        x, y = make_gaussian_quantiles(n_samples=1500, n_features=6, n_classes=3,
                                       random_state=args.seed)
    else:
        x, y = common.load("wine")
    classes = int(y.max()) + 1
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    x_tr, x_val = [a.astype("float32") for a in common.standardize(x_tr, x_val)]
    y_tr, y_val = y_tr.astype("int32"), y_val.astype("int32")
    if args.bug == "label-column":
        # BUG: the labels are made a column "to match the model's 2-D output".
        y_tr, y_val = y_tr.reshape(-1, 1), y_val.reshape(-1, 1)

    def smoothed_crossentropy(y_true, y_pred):
        target = ops.one_hot(ops.cast(y_true, "int32"), classes)
        # with (batch, 1) labels the one-hot target is (batch, 1, classes): the product below
        # broadcasts to (batch, batch, classes), every row against every label of the batch
        target = target * (1.0 - args.smoothing) + args.smoothing / classes
        y_pred = ops.clip(y_pred, 1e-7, 1.0)
        return -ops.mean(ops.sum(target * ops.log(y_pred), axis=-1))

    model = keras.Sequential(name="custom_mlp")
    model.add(keras.Input(shape=(x_tr.shape[1],)))
    for k in range(args.depth):
        model.add(Linear(args.width, args.activation, args.init_std, name="hidden%d" % (k + 1)))
        if args.scale:
            model.add(Scale(name="scale%d" % (k + 1)))
    model.add(Linear(classes, "softmax", args.init_std, name="out"))

    optimizer = {"adam": lambda: keras.optimizers.Adam(args.lr),
                 "sgd": lambda: keras.optimizers.SGD(args.lr),
                 "momentum": lambda: keras.optimizers.SGD(args.lr, momentum=0.9),
                 "rmsprop": lambda: keras.optimizers.RMSprop(args.lr),
                 "nadam": lambda: keras.optimizers.Nadam(args.lr)}[args.optimizer]()
    model.compile(optimizer=optimizer, loss=smoothed_crossentropy,
                  metrics=["sparse_categorical_accuracy"])
    history = model.fit(x_tr, y_tr, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_val, y_val), verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["sparse_categorical_accuracy"][e], h["val_loss"][e],
            h["val_sparse_categorical_accuracy"][e]))
    h["accuracy"] = h["sparse_categorical_accuracy"]
    h["val_accuracy"] = h["val_sparse_categorical_accuracy"]
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "klayer-activation-not-applied", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing activation function; DeepLocalize benchmark "
               "(Stack Overflow): a network that 'behaves like a linear model'",
     "bug": "Linear.call() returns x @ w + b without the activation it stored in __init__: "
            "the hidden layers compose to one linear map, no linear boundary separates the "
            "quantile classes, and the loss stays at 1.15 to 1.10 with validation accuracy "
            "0.33 (chance) against 0.94",
     "fix": "return self.activation(x @ w + b)",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "quantiles-adam",
          "buggy": "--bug activation-not-applied --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "klayer-label-column", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow): a custom loss whose labels and "
               "predictions broadcast instead of matching; Humbatova et al. 2020: wrong "
               "tensor shape / loss function",
     "bug": "the labels are reshaped to a column: ops.one_hot gives (batch, 1, 3), the custom "
            "loss broadcasts it against the (batch, 3) predictions and scores every row against "
            "every label of the batch; the loss stays at ln 3 (1.108 to 1.097) and the "
            "validation accuracy ends at 0.45 against 0.92",
     "fix": "keep the labels 1-D",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "quantiles-adam-seed1",
          "buggy": "--bug label-column --seed 1 --record-every 2",
          "fixed": "--seed 1 --record-every 2"},
     ]},
    {"family": "klayer-init-std-large", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: bad weight initialization "
               "(RandomNormal(stddev=1.0) in add_weight); AUTOTRAINER: saturated activations",
     "bug": "the kernels are drawn from N(0, 1) in build() under tanh: the 64-unit layers' "
            "pre-activations are about 8 wide, the tanh units sit at +-1, the first-epoch loss "
            "is 3.88 and the validation accuracy ends at 0.43 (training 0.70) against 0.83",
     "fix": "glorot_uniform kernels",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "quantiles-tanh-seed3",
          "buggy": "--activation tanh --init-std 1.0 --seed 3 --record-every 2",
          "fixed": "--activation tanh --seed 3 --record-every 2"},
     ]},
    {"family": "klayer-deep-sigmoid-vanishing", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: vanishing gradient (six stacked sigmoid layers)",
     "bug": "six hidden Linear layers with a sigmoid under SGD 0.1: the gradient shrinks "
            "through the stacked sigmoids, the loss stays at 1.118 to 1.112 and the "
            "validation accuracy at 0.33 (chance) against 0.92 with ReLU",
     "fix": "activation='relu'",
     "symptom": "vanishing_gradient",
     "acceptable_symptoms": ["not_learning", "saturation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "quantiles-sgd-depth6-seed4",
          "buggy": "--depth 6 --activation sigmoid --optimizer sgd --lr 0.1 --seed 4 --record-every 2",
          "fixed": "--depth 6 --optimizer sgd --lr 0.1 --seed 4 --record-every 2"},
     ]},
    {"family": "klayer-kernel-not-trainable", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: layers frozen by mistake (trainable flag); the Keras "
               "guide's non-trainable weight example copied into a layer's kernel",
     "bug": "add_weight(..., trainable=False) for every Linear kernel: only the biases train, "
            "the loss falls only from 1.09 to 1.03 and the validation accuracy ends at 0.58 "
            "against 0.89",
     "fix": "add_weight(..., trainable=True)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "quantiles-adam-seed5",
          "buggy": "--bug kernel-not-trainable --seed 5 --record-every 2",
          "fixed": "--seed 5 --record-every 2"},
     ]},
    {"family": "healthy-klayer", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a model of custom Layer subclasses with its own loss function that trains "
                    "well",
     "healthy": [
         {"id": "rmsprop-scale-seed6",
          "args": "--optimizer rmsprop --lr 2e-3 --scale --seed 6 --record-every 2",
          "description": "RMSprop 2e-3, a Scale layer after each hidden layer"},
         {"id": "nadam-width32-depth3-seed7",
          "args": "--optimizer nadam --lr 2e-3 --width 32 --depth 3 --seed 7 --record-every 2",
          "description": "Nadam 2e-3, three hidden layers of 32"},
         {"id": "wine-adam-seed8",
          "args": "--data wine --epochs 30 --seed 8 --record-every 2",
          "description": "wine, Adam 3e-3, 30 epochs"},
         {"id": "momentum-bs64-nosmooth-seed9",
          "args": "--optimizer momentum --lr 0.05 --batch-size 64 --smoothing 0 --seed 9 --record-every 2",
          "description": "SGD momentum 0.05, batches of 64, no label smoothing"},
         {"id": "elu-bs16-seed10",
          "args": "--activation elu --batch-size 16 --lr 1e-3 --seed 10 --record-every 2",
          "description": "ELU, Adam 1e-3, batches of 16"},
     ]},
]


if __name__ == "__main__":
    main()
