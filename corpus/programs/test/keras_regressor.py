"""Keras regression on tabular data (diabetes, Friedman #1, waves, make_regression).

A Sequential of Dense layers with a linear output, StandardScaler on the features and on the
target (unless ``--raw-target``), MSE loss, ``validation_split=0.2``, optional EarlyStopping.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--dataset", default="friedman")
    p.add_argument("--units", default="64,32")
    p.add_argument("--activation", default="relu", help="a Keras activation, or linear")
    p.add_argument("--output-activation", default="linear")
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--raw-target", action="store_true")
    p.add_argument("--loss", default="mse")
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--early-stopping", action="store_true")
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.preprocessing import StandardScaler

    x, y = common.load(args.dataset, seed=args.seed)
    order = common.np.random.default_rng(args.seed).permutation(len(x))
    x, y = x[order], y[order].reshape(-1, 1)
    x = StandardScaler().fit_transform(x)
    if not args.raw_target:
        y = StandardScaler().fit_transform(y)

    reg = keras.regularizers.l2(args.l2) if args.l2 else None
    model = keras.Sequential([keras.Input(shape=(x.shape[1],))] + [
        layers.Dense(u, activation=args.activation, kernel_regularizer=reg)
        for u in common.ints(args.units)] + [
        layers.Dense(1, activation=args.output_activation, kernel_regularizer=reg)])
    opt = {"sgd": lambda: keras.optimizers.SGD(args.lr),
           "momentum": lambda: keras.optimizers.SGD(args.lr, momentum=0.9),
           "adam": lambda: keras.optimizers.Adam(args.lr),
           "rmsprop": lambda: keras.optimizers.RMSprop(args.lr),
           "adagrad": lambda: keras.optimizers.Adagrad(args.lr)}[args.optimizer]()
    model.compile(optimizer=opt, loss=args.loss, metrics=["mae"])
    callbacks = []
    if args.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True))
    history = model.fit(x, y, validation_split=0.2, epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=callbacks + common.recording.keras_callbacks(args.out))
    n_train = len(x) - int(len(x) * 0.2)
    steps = -(-n_train // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "regressor-unscaled-target", "split": "test", "architecture": "regression",
     "origin": "Humbatova et al. 2020: missing normalization of the target; Stack Overflow "
               "52800582 (DeepLocalize benchmark) had unscaled regression data",
     "bug": "the diabetes target kept in its units (25..346) with SGD: the squared errors are "
            "in the tens of thousands, the first updates explode and the loss becomes NaN",
     "fix": "the target standardized",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "diabetes-sgd", "buggy": "--dataset diabetes --raw-target --optimizer sgd --lr 0.01",
          "fixed": "--dataset diabetes --optimizer sgd --lr 0.01"},
     ]},
    {"family": "healthy-regressor", "split": "test", "architecture": "regression",
     "origin": "healthy run",
     "description": "a Keras MLP regression that trains well",
     "healthy": [
         {"id": "friedman-adam", "args": ""},
         {"id": "waves-rmsprop", "args": "--dataset waves --optimizer rmsprop --lr 0.002"},
         {"id": "diabetes-early-stopping", "args": "--dataset diabetes --early-stopping --epochs 21 --batch-size 16",
          "description": "EarlyStopping(patience=3) ends the run when the validation loss stops improving"},
         {"id": "regression-huber-l2", "args": "--dataset regression --loss huber --l2 1e-4 --optimizer adagrad --lr 0.1"},
     ]},
]


if __name__ == "__main__":
    main()
