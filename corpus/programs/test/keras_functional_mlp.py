"""A classifier for tabular data with the Keras functional API, named layers and callbacks.

``Input -> Dense(hidden_1) -> ... -> Dense(out)`` with one activation for the hidden layers,
``validation_split=0.2``, an optional ReduceLROnPlateau. The mistakes of the families in CASES
are selected with ``--bug`` or show in a setting (initializer, scaling, activation).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--dataset", default="classification")
    p.add_argument("--units", default="48,24")
    p.add_argument("--activation", default="relu")
    p.add_argument("--initializer", default="glorot_uniform")
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=7)
    p.add_argument("--raw-features", action="store_true")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--reduce-on-plateau", action="store_true")
    p.add_argument("--class-weight", action="store_true")
    p.add_argument("--bug", default=None, choices=(
        "mse-softmax", "softmax-one-unit", "relu-output", "shuffled-labels", "scaled-labels",
        "multilabel-softmax"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    np = common.np

    if args.bug == "multilabel-softmax" or args.dataset == "multilabel":
        from sklearn.datasets import make_multilabel_classification
        x, y = make_multilabel_classification(n_samples=1200, n_features=20, n_classes=6,
                                              n_labels=2, random_state=args.seed)
        x = x.astype("float32")
        multilabel = True
    else:
        x, y = common.load(args.dataset, seed=args.seed)
        multilabel = False
    if not args.raw_features:
        x = (x - x.mean(0)) / np.where(x.std(0) == 0, 1, x.std(0))
    if args.bug == "shuffled-labels":
        # BUG: x and y shuffled with two different permutations before the split
        rng = np.random.default_rng(args.seed)
        x, y = x[rng.permutation(len(x))], y[rng.permutation(len(y))]
    else:
        order = np.random.default_rng(args.seed).permutation(len(x))
        x, y = x[order], y[order]

    inputs = keras.Input(shape=(x.shape[1],), name="features")
    h = inputs
    for i, units in enumerate(common.ints(args.units), start=1):
        h = layers.Dense(units, activation=args.activation, kernel_initializer=args.initializer,
                         name="hidden_%d" % i)(h)
        if args.dropout:
            h = layers.Dropout(args.dropout, name="dropout_%d" % i)(h)
    metrics = ["accuracy"]
    if multilabel:
        n_out = y.shape[1]
        if args.bug == "multilabel-softmax":
            # BUG (SO 44164749): several labels per sample, but softmax + categorical
            # cross-entropy, which assume exactly one
            out_act, loss = "softmax", "categorical_crossentropy"
        else:
            out_act, loss = "sigmoid", "binary_crossentropy"
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy")]
    else:
        classes = int(y.max() + 1)
        if args.bug == "softmax-one-unit":
            # BUG (SO 45442843): one output unit with softmax (always 1), MAE loss
            n_out, out_act, loss = 1, "softmax", "mean_absolute_error"
        elif args.bug == "relu-output":
            # BUG (SO 44066044): a ReLU output unit under binary cross-entropy
            n_out, out_act, loss = 1, "relu", "binary_crossentropy"
        elif classes == 2:
            n_out, out_act, loss = 1, "sigmoid", "binary_crossentropy"
        elif args.bug == "mse-softmax":
            # BUG: mean squared error on the softmax probabilities and one-hot labels
            n_out, out_act, loss = classes, "softmax", "mse"
            y = np.eye(classes)[y]
        else:
            n_out, out_act, loss = classes, "softmax", "sparse_categorical_crossentropy"
        if args.bug == "scaled-labels":
            # BUG: the label column went through the same MinMax scaling as the features
            # (the labels become 0, 0.11, ..., 1 and the loss casts them to class 0 or 1)
            y = y / y.max()
    outputs = layers.Dense(n_out, activation=out_act, kernel_initializer=args.initializer,
                           name="output")(h)
    model = keras.Model(inputs, outputs, name="tabular_classifier")
    opt = {"sgd": lambda: keras.optimizers.SGD(args.lr),
           "momentum": lambda: keras.optimizers.SGD(args.lr, momentum=0.9),
           "nesterov": lambda: keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True),
           "adam": lambda: keras.optimizers.Adam(args.lr),
           "adamw": lambda: keras.optimizers.AdamW(args.lr),
           "rmsprop": lambda: keras.optimizers.RMSprop(args.lr),
           "adagrad": lambda: keras.optimizers.Adagrad(args.lr)}[args.optimizer]()
    model.compile(optimizer=opt, loss=loss, metrics=metrics)
    callbacks = []
    if args.reduce_on_plateau:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5,
                                                           patience=1))
    fit_kw = {}
    if args.class_weight and not multilabel:
        counts = np.bincount(y.astype(int))
        fit_kw["class_weight"] = {i: len(y) / (len(counts) * c) for i, c in enumerate(counts)}
    n_train = len(x) - int(len(x) * 0.2)
    history = model.fit(x, y, validation_split=0.2, epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=callbacks + common.recording.keras_callbacks(args.out), **fit_kw)
    common.report(common.keras_result(history, -(-n_train // args.batch_size) * args.epochs,
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "tabular-deep-tanh-vanishing", "split": "test", "architecture": "mlp",
     "origin": "AUTOTRAINER: vanishing gradient (a deep tanh network with a small initialization)",
     "bug": "eight tanh layers with kernel_initializer='random_normal' (stddev 0.05): the "
            "signal shrinks layer by layer, the gradients of the first layers vanish and the "
            "loss stays at ln 3",
     "fix": "glorot_uniform initialization",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-sgd",
          "buggy": "--units 32,32,32,32,32,32,32,32 --activation tanh --initializer random_normal "
                   "--optimizer momentum --lr 0.01",
          "fixed": "--units 32,32,32,32,32,32,32,32 --activation tanh --initializer glorot_uniform "
                   "--optimizer momentum --lr 0.01"},
     ]},
    {"family": "tabular-shuffled-labels", "split": "test", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong labels (inputs and labels shuffled with two "
               "different permutations)",
     "bug": "x and y shuffled separately before the split: the labels no longer belong to "
            "their rows, the validation accuracy stays at chance",
     "fix": "one permutation applied to both",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "blobs-adam", "buggy": "--dataset blobs --bug shuffled-labels",
          "fixed": "--dataset blobs"},
     ]},
    {"family": "tabular-softmax-one-unit", "split": "test", "architecture": "mlp",
     "origin": "Stack Overflow 45442843 (DeepLocalize benchmark), new port: breast cancer data",
     "benchmark": "DeepLocalize SO 45442843",
     "bug": "Dense(1, activation='softmax') with mean absolute error and RMSprop: the output "
            "is always 1, its gradient is 0 and nothing trains",
     "fix": "Dense(1, activation='sigmoid') with binary_crossentropy (the accepted answer)",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["unchanged_values", "not_learning"],
     "root_cause": {"layer_name": "output", "layer_index": 2},
     "pairs": [
         {"id": "breast-cancer-rmsprop",
          "buggy": "--dataset breast_cancer --bug softmax-one-unit --optimizer rmsprop",
          "fixed": "--dataset breast_cancer --optimizer rmsprop"},
     ]},
    {"family": "tabular-mse-softmax", "split": "test", "architecture": "mlp",
     "origin": "DeepFD fault type: loss function (MSE on a softmax output)",
     "bug": "loss='mse' on softmax probabilities and one-hot labels with SGD: small gradients, "
            "slow learning",
     "fix": "sparse_categorical_crossentropy",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-sgd", "buggy": "--bug mse-softmax --optimizer sgd --lr 0.05",
          "fixed": "--optimizer sgd --lr 0.05"},
     ]},
    {"family": "tabular-multilabel-softmax", "split": "test", "architecture": "mlp",
     "origin": "Stack Overflow 44164749 (DeepLocalize benchmark), new port: "
               "make_multilabel_classification",
     "benchmark": "DeepLocalize SO 44164749",
     "bug": "several labels per sample (multi-hot targets) with softmax and "
            "categorical_crossentropy, which assume exactly one: the loss stays above 2.7 and "
            "the per-label accuracy is that of predicting 'absent' everywhere",
     "fix": "sigmoid outputs with binary_crossentropy (the accepted answer)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "multilabel-adam", "buggy": "--bug multilabel-softmax",
          "fixed": "--dataset multilabel"},
     ]},
    {"family": "healthy-tabular-classifier", "split": "test", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a Keras functional-API classifier that trains well",
     "healthy": [
         {"id": "classification-adam", "args": ""},
         {"id": "classification-dropout-plateau", "args": "--dropout 0.3 --reduce-on-plateau --epochs 8",
          "description": "dropout and ReduceLROnPlateau"},
         {"id": "imbalanced-class-weight", "args": "--dataset imbalanced --class-weight"},
         {"id": "digits-nesterov", "args": "--dataset digits --units 64 --optimizer nesterov --lr 0.02 --epochs 4"},
         {"id": "wine-adagrad-bs4", "args": "--dataset wine --optimizer adagrad --lr 0.05 --batch-size 4 --epochs 6"},
         {"id": "noisy-rmsprop", "args": "--dataset noisy --optimizer rmsprop --lr 0.001",
          "description": "25% of the labels flipped"},
     ]},
]


if __name__ == "__main__":
    main()
