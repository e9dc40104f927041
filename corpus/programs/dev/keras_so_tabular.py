"""Keras 3 ``Sequential`` Dense stacks on tabular data, written the way Stack Overflow questions
write them: ``model.add(Dense(...))`` lines, ``StandardScaler``, ``model.fit(X, y,
validation_split=0.2)``, the optimizer given as a string (``'adam'``, ``'sgd'``, ``'rmsprop'``)
or as an object (``SGD(learning_rate=...)``).

Data (``--data``): ``cancer`` (scikit-learn's breast_cancer, binary: a sigmoid output and
``binary_crossentropy``) or ``houses`` (generated here: 2000 houses with 8 features (area in
square feet, rooms, age in years, distance to the centre in km, a quality grade, lot size...)
and a price in dollars, a non-linear function of them plus noise: a linear output and
``--loss`` ``mae``, ``huber`` or ``mse``; the program divides the prices by 100000). The
features are scaled with ``StandardScaler`` fitted on the training part. ``--hidden`` lists the
widths of the Dense layers (``dense``, ``dense_1``... ReLU unless ``--activation``), the output
layer is the last. The mistakes of the families in CASES are selected with ``--bug`` or show in
a setting (``--optimizer``, ``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def houses(n, seed):
    rng = np.random.default_rng(seed)
    area = rng.uniform(600, 4000, n)
    rooms = np.round(area / 500 + rng.normal(0, 1, n)).clip(1, 9)
    age = rng.uniform(0, 80, n)
    dist = rng.gamma(2.0, 6.0, n)
    grade = rng.integers(1, 11, n).astype(float)
    lot = area * rng.uniform(1.5, 6.0, n)
    garage = rng.integers(0, 3, n).astype(float)
    school = rng.uniform(0, 10, n)
    price = (60000 + 95 * area + 9000 * grade * np.exp(-dist / 15) * grade / 3
             - 1500 * age + 12000 * np.sin(school / 2) + 8 * np.sqrt(lot) * 10
             + 5000 * garage + rng.normal(0, 15000, n))
    x = np.stack([area, rooms, age, dist, grade, lot, garage, school], axis=1)
    return x, price


def main():
    p = common.parser(__doc__)
    p.add_argument("--data", default="cancer", choices=("cancer", "houses"))
    p.add_argument("--hidden", default="32,16")
    p.add_argument("--activation", default="relu")
    p.add_argument("--optimizer", default="adam", help="a Keras optimizer string")
    p.add_argument("--lr", type=float, default=None,
                   help="build the optimizer object with this learning rate")
    p.add_argument("--loss", default=None, help="regression loss: mae, huber, mse")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None,
                   choices=("unscaled-price", "no-activation", "categorical-one-unit"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras.layers import Dense, Input
    from keras.models import Sequential
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if args.data == "cancer":
        from sklearn.datasets import load_breast_cancer
        X, y = load_breast_cancer(return_X_y=True)
    else:
        X, y = houses(2000, args.seed)
        # BUG (unscaled-price): the prices go in as dollars (about 100000 to 600000).
        if args.bug != "unscaled-price":
            y = y / 100000.0
    # the held-out test part is not used for training or validation
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.15,
                                                        random_state=args.seed)
    sc = StandardScaler()
    X_train = sc.fit_transform(X_train)
    X_test = sc.transform(X_test)
    # validation_split takes the last 20%: shuffle once here so that it is a random fifth
    order = np.random.default_rng(args.seed).permutation(len(X_train))
    X_train, y_train = X_train[order].astype("float32"), y_train[order].astype("float32")

    act = None if args.bug == "no-activation" else args.activation
    model = Sequential()
    model.add(Input(shape=(X_train.shape[1],)))
    for width in common.ints(args.hidden):
        # BUG (no-activation): Dense(width) without activation= in every hidden layer.
        model.add(Dense(width, activation=act))
    if args.data == "cancer":
        model.add(Dense(1, activation="sigmoid"))
        # BUG (categorical-one-unit): categorical_crossentropy on the one sigmoid unit.
        loss = "categorical_crossentropy" if args.bug == "categorical-one-unit" \
            else "binary_crossentropy"
        metrics = ["accuracy"]
    else:
        model.add(Dense(1))
        loss = {"mae": "mae", "huber": keras.losses.Huber(), "mse": "mse"}[args.loss or "mae"]
        metrics = []
    if args.lr is None:
        optimizer = args.optimizer
    else:
        optimizer = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
                     "rmsprop": keras.optimizers.RMSprop, "adamax": keras.optimizers.Adamax,
                     "nadam": keras.optimizers.Nadam}[args.optimizer](learning_rate=args.lr)
    model.compile(loss=loss, optimizer=optimizer, metrics=metrics)
    history = model.fit(X_train, y_train, validation_split=0.2, epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    for e, vl in enumerate(history.history["val_loss"]):
        print("epoch %d: loss %.4g val loss %.4g%s" % (
            e + 1, history.history["loss"][e], vl,
            " val acc %.3f" % history.history["val_accuracy"][e]
            if "val_accuracy" in history.history else ""))
    n_fit = int(np.ceil(len(X_train) * 0.8))
    steps = -(-n_fit // args.batch_size) * len(history.history["loss"])
    extra = {}
    if args.data == "houses":
        # R^2 of the validation fifth, in the units the model was trained on
        n_val = len(X_train) - n_fit
        pred = model.predict(X_train[-n_val:], verbose=0)[:, 0]
        truth = y_train[-n_val:]
        extra["val_r2"] = float(1 - np.mean((pred - truth) ** 2) / np.var(truth))
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      **extra))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "sotab-unscaled-price-mae", "split": "dev", "architecture": "regression",
     "origin": "DeepLocalize benchmark (Stack Overflow): regression on house prices in dollars "
               "with a mean-absolute-error loss that 'does not decrease' (targets not scaled); "
               "Humbatova et al. 2020: missing target normalization",
     "bug": "the prices go in as dollars (about 100000 to 600000) under MAE with 'adam' "
            "(learning rate 0.001): the MAE's gradient does not grow with the error, the "
            "output moves by about the learning rate per step and in 20 epochs the MAE falls "
            "only from 290400 to 288000 (validation R^2 -5.4)",
     "fix": "divide the prices by 100000",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "houses-adam",
          "buggy": "--data houses --bug unscaled-price --record-every 2",
          "fixed": "--data houses --record-every 2"},
     ]},
    {"family": "sotab-categorical-one-sigmoid", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow): loss='categorical_crossentropy' with "
               "Dense(1, activation='sigmoid') on binary labels, 'the loss is always 0'",
     "bug": "categorical_crossentropy on one sigmoid unit: Keras normalizes the outputs over "
            "the last axis (one unit: always 1), the loss is 0 from the first step, nothing is "
            "learned and the validation accuracy stays at 0.69 (the share of one class)",
     "fix": "loss='binary_crossentropy'",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["unchanged_values", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "cancer-adam",
          "buggy": "--bug categorical-one-unit --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "sotab-sgd-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow): SGD(learning_rate=...) set far too "
               "high, 'accuracy goes down while training'; AUTOTRAINER: oscillating loss",
     "bug": "SGD(learning_rate=3.0) on standardized breast_cancer features: the loss jumps "
            "around, rises from 0.28 in the first epoch to 0.66 in the last and the validation "
            "accuracy falls to 0.62",
     "fix": "SGD(learning_rate=0.05)",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "cancer-sgd",
          "buggy": "--optimizer sgd --lr 3.0 --record-every 2",
          "fixed": "--optimizer sgd --lr 0.05 --record-every 2"},
     ]},
    {"family": "sotab-sgd-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low (SGD(learning_rate="
               "1e-4))",
     "bug": "SGD(learning_rate=1e-4): in 20 epochs the loss falls only from 0.64 to 0.61 and "
            "the validation accuracy is 0.59",
     "fix": "SGD(learning_rate=0.05)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "cancer-sgd-seed1",
          "buggy": "--optimizer sgd --lr 1e-4 --seed 1 --record-every 2",
          "fixed": "--optimizer sgd --lr 0.05 --seed 1 --record-every 2"},
     ]},
    {"family": "sotab-deep-sigmoid-vanishing", "split": "dev", "architecture": "regression",
     "origin": "AUTOTRAINER: vanishing gradient (five stacked sigmoid Dense layers)",
     "bug": "activation='sigmoid' in five Dense layers of 64 under SGD 0.01: the gradient "
            "shrinks through the stacked sigmoids, the model predicts about the mean price and "
            "the validation MSE stays at 1.52 (the variance of the scaled prices)",
     "fix": "activation='relu'",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning", "saturation",
                                                             "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "houses-sgd-depth5",
          "buggy": "--data houses --hidden 64,64,64,64,64 --activation sigmoid --optimizer sgd --lr 0.01 --loss mse --record-every 2",
          "fixed": "--data houses --hidden 64,64,64,64,64 --optimizer sgd --lr 0.01 --loss mse --record-every 2"},
     ]},
    {"family": "healthy-sotab", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a Stack-Overflow-style Sequential Dense stack on tabular data that trains well",
     "healthy": [
         {"id": "cancer-rmsprop-string-seed2",
          "args": "--optimizer rmsprop --seed 2 --record-every 2",
          "description": "optimizer='rmsprop' as a string"},
         {"id": "cancer-nadam-deep-seed3",
          "args": "--optimizer nadam --lr 1e-3 --hidden 64,32,16 --seed 3 --record-every 2",
          "description": "Nadam(1e-3), three hidden layers"},
         {"id": "houses-huber-adam",
          "args": "--data houses --loss huber --record-every 2",
          "description": "house prices / 100000 under the Huber loss, 'adam'",
          "architecture": "regression"},
         {"id": "houses-rmsprop-mse-bs64-seed1",
          "args": "--data houses --optimizer rmsprop --loss mse --batch-size 64 --seed 1 --record-every 2",
          "description": "house prices under MSE, 'rmsprop', batches of 64",
          "architecture": "regression"},
         {"id": "houses-adamax-mae-seed4",
          "args": "--data houses --optimizer adamax --lr 3e-3 --seed 4 --record-every 2",
          "description": "house prices under MAE, Adamax(3e-3)",
          "architecture": "regression"},
     ]},
]


if __name__ == "__main__":
    main()
