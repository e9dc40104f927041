"""A Keras functional-API ConvNet for the 8x8 digits.

Conv2D(16, 3) [BatchNorm] ReLU - MaxPooling2D - Conv2D(32, 3) [BatchNorm] ReLU -
GlobalAveragePooling2D - Dropout - Dense(10). One-hot labels with categorical cross-entropy,
or sparse labels, as chosen. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--pixels", default="unit", choices=("unit", "raw255", "standard"))
    p.add_argument("--batchnorm", action="store_true")
    p.add_argument("--initializer", default="he_normal")
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--decay-steps", type=int, default=None,
                   help="exponential decay of the learning rate: x0.5 every N steps")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--labels", default="sparse", choices=("sparse", "onehot"))
    p.add_argument("--bug", default=None, choices=(
        "no-softmax", "bce-class-index", "bn-inference", "conv2-negative-bias"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    np = common.np

    x, y = common.load("digits")
    x = x.reshape(-1, 8, 8, 1).astype("float32")
    if args.pixels == "unit":
        x = x / 16.0
    elif args.pixels == "raw255":
        x = x * (255.0 / 16.0)
    else:
        x = (x - x.mean()) / x.std()
    x_train, x_test, y_train, y_test = common.split(x, y, val=0.25, seed=args.seed)
    reg = keras.regularizers.l2(args.l2) if args.l2 else None

    inputs = keras.Input(shape=(8, 8, 1))
    h = inputs
    for i, filters in enumerate((16, 32), start=1):
        bias = "zeros"
        if args.bug == "conv2-negative-bias" and i == 2:
            # BUG: bias initializer meant as a small positive constant, written as -3
            bias = keras.initializers.Constant(-3.0)
        h = layers.Conv2D(filters, 3, padding="same", kernel_initializer=args.initializer,
                          bias_initializer=bias, kernel_regularizer=reg, name="conv%d" % i)(h)
        if args.batchnorm:
            h = layers.BatchNormalization(name="bn%d" % i)(h)
        h = layers.Activation("relu", name="relu%d" % i)(h)
        if i == 1:
            h = layers.MaxPooling2D(name="pool")(h)
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    h = layers.Dropout(0.2, name="dropout")(h)
    if args.bug == "bce-class-index":
        # BUG: one sigmoid unit and binary cross-entropy on the class index 0..9
        outputs = layers.Dense(1, activation="sigmoid", kernel_regularizer=reg, name="logits")(h)
        loss = "binary_crossentropy"
        metrics = ["accuracy"]
    else:
        # BUG (no-softmax): the last layer has no activation, but the loss expects
        # probabilities (from_logits defaults to False)
        act = None if args.bug == "no-softmax" else "softmax"
        outputs = layers.Dense(10, activation=act, kernel_regularizer=reg, name="logits")(h)
        loss = "categorical_crossentropy" if args.labels == "onehot" else \
            "sparse_categorical_crossentropy"
        metrics = ["accuracy"]
        if args.labels == "onehot":
            y_train, y_test = np.eye(10)[y_train], np.eye(10)[y_test]
    model = keras.Model(inputs, outputs)
    if args.bug == "bn-inference":
        # BUG: the BatchNormalization layers are set non-trainable (a fine-tuning recipe
        # applied to a model trained from scratch); in Keras that also runs them in inference
        # mode, normalizing with the initial moving statistics instead of the batch's
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False

    lr = args.lr
    if args.decay_steps:
        lr = keras.optimizers.schedules.ExponentialDecay(args.lr, args.decay_steps, 0.5)
    opt = {"sgd": lambda: keras.optimizers.SGD(lr),
           "momentum": lambda: keras.optimizers.SGD(lr, momentum=0.9),
           "adam": lambda: keras.optimizers.Adam(lr),
           "rmsprop": lambda: keras.optimizers.RMSprop(lr)}[args.optimizer]()
    model.compile(optimizer=opt, loss=loss, metrics=metrics)
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_test, y_test), verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    steps = -(-len(x_train) // args.batch_size) * args.epochs
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "convnet-bce-class-index", "split": "test", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: wrong loss function; Humbatova et al. "
               "2020: binary cross-entropy for a multi-class label",
     "bug": "one sigmoid unit and binary_crossentropy on the digit 0..9: targets above 1 make "
            "the loss negative and unbounded, the sigmoid saturates at 1",
     "fix": "Dense(10, softmax) and sparse_categorical_crossentropy",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam", "buggy": "--bug bce-class-index --lr 0.002", "fixed": "--lr 0.002"},
     ]},
    {"family": "convnet-lr-decay-per-batch", "split": "test", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (ExponentialDecay counts "
               "optimizer steps, not epochs)",
     "bug": "ExponentialDecay(lr, decay_steps=2, decay_rate=0.5), meant as 'halve every 2 "
            "epochs': decay_steps counts optimizer steps, the learning rate halves every 2 "
            "batches and is ~0 after 60 steps",
     "fix": "decay_steps=86 (two epochs of 43 batches)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum-exp",
          "buggy": "--optimizer momentum --lr 0.05 --decay-steps 2",
          "fixed": "--optimizer momentum --lr 0.05 --decay-steps 86"},
     ]},
    {"family": "convnet-dying-relu-negative-bias", "split": "test", "architecture": "cnn",
     "origin": "AUTOTRAINER: dying ReLU (a layer's bias initialized to a large negative value)",
     "bug": "conv2's bias_initializer Constant(-3) (meant as a small positive constant): "
            "every conv2 ReLU unit is dead from the first step",
     "fix": "the default zero bias",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "vanishing_gradient", "unchanged_values"],
     "root_cause": {"layer_name": "conv2", "layer_index": 1},
     "pairs": [
         {"id": "adam-seed1", "buggy": "--bug conv2-negative-bias --seed 1", "fixed": "--seed 1"},
     ]},
    {"family": "convnet-bn-frozen", "split": "test", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: BatchNorm layer in inference mode during training",
     "bug": "the BatchNormalization layers set trainable=False (a fine-tuning recipe applied "
            "to a model trained from scratch): Keras then runs them in inference mode with "
            "their initial moving statistics, the 0..255 pixels are not normalized, the first "
            "loss is near 80 and the ReLU units die",
     "fix": "trainable BatchNormalization layers",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": {"layer_name": "bn1", "layer_index": 1},
     "pairs": [
         {"id": "raw-pixels-momentum",
          "buggy": "--pixels raw255 --batchnorm --optimizer momentum --lr 0.01 --bug bn-inference",
          "fixed": "--pixels raw255 --batchnorm --optimizer momentum --lr 0.01"},
     ]},
    {"family": "convnet-huge-l2", "split": "test", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: regularization too strong (an L2 term dominates the loss)",
     "bug": "kernel_regularizer=l2(0.5) on every layer: the penalty dominates the loss, the "
            "kernels shrink towards zero and the accuracy stays at chance",
     "fix": "l2(1e-4)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam", "buggy": "--l2 0.5", "fixed": "--l2 1e-4"},
     ]},
    {"family": "convnet-logits-without-softmax", "split": "test", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss configuration (a linear output under "
               "sparse_categorical_crossentropy with from_logits=False)",
     "bug": "the last Dense layer has no activation, the loss expects probabilities: the "
            "scores are clipped to [1e-7, 1] and the network stays at chance",
     "fix": "activation='softmax' on the last layer",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop", "buggy": "--bug no-softmax --optimizer rmsprop --lr 0.005",
          "fixed": "--optimizer rmsprop --lr 0.005"},
     ]},
    {"family": "healthy-convnet-digits", "split": "test", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Keras ConvNet on the 8x8 digits that trains well",
     "healthy": [
         {"id": "adam", "args": ""},
         {"id": "batchnorm-momentum", "args": "--batchnorm --optimizer momentum --lr 0.02"},
         {"id": "onehot-rmsprop", "args": "--labels onehot --optimizer rmsprop --lr 0.003"},
         {"id": "adam-bs8", "args": "--batch-size 8 --lr 0.003 --epochs 2"},
         {"id": "momentum-decay", "args": "--optimizer momentum --lr 0.05 --decay-steps 200",
          "description": "exponential decay, halving every 200 steps"},
     ]},
]


if __name__ == "__main__":
    main()
