"""A Keras 3 regression model whose first layer is ``keras.layers.Normalization``, adapted on the
training data with ``norm.adapt(x_train)`` (the Keras tutorial "Basic regression"), trained
with the Huber loss and ``model.fit`` on a scikit-learn regression set.

Data: ``make_friedman1`` (1000 rows of ten features, five of them used, noise 0.5), its
features put in the units a plant logger writes them in (each column of [0, 1] mapped onto
its own range: pressures in Pa around 1e5, temperatures in K, flows, speeds in rpm...). The
target (about 0 to 30) is standardized with the training part's mean and standard deviation
(the predictions are mapped back for the validation R^2). A fifth is held out for
validation.

The model is a ``keras.Sequential`` list: the ``Normalization`` layer (``norm``), ``--depth``
Dense layers of ``--width`` units (``hidden_1``, ``hidden_2``..., ``--activation``) and a linear
``Dense(1)`` (``output``). Compiled with
``keras.losses.Huber(delta=1.0)`` and an MAE metric. The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--optimizer``, ``--lr``, ``--bias-init``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "rmsprop", "nadam"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--activation", default="relu")
    p.add_argument("--bias-init", type=float, default=0.0,
                   help="constant initial bias of the first hidden layer")
    p.add_argument("--bug", default=None,
                   choices=("not-adapted", "no-activation"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.datasets import make_friedman1
    from sklearn.model_selection import train_test_split

    X, y = make_friedman1(n_samples=1000, noise=0.5, random_state=args.seed)
    low = np.array([9.5e4, 280.0, 0.0, 600.0, 2.0, 0.0, 1.0e3, 300.0, 10.0, 0.0])
    span = np.array([1.0e4, 60.0, 250.0, 2400.0, 8.0, 1.0, 4.0e3, 40.0, 90.0, 5.0e3])
    X = (low + span * X).astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(X, y, test_size=0.2,
                                                      random_state=args.seed)
    y_mean, y_std = float(y_train.mean()), float(y_train.std())
    t_train = ((y_train - y_mean) / y_std).astype("float32")
    t_val = ((y_val - y_mean) / y_std).astype("float32")

    norm = layers.Normalization(axis=-1, name="norm")
    # BUG (not-adapted): norm.adapt(x_train) is missing: the layer keeps mean 0 and variance
    # 1 and passes the features in their own units.
    if args.bug != "not-adapted":
        norm.adapt(x_train)
    # BUG (no-activation): Dense layers without activation=, the model is linear.
    act = None if args.bug == "no-activation" else args.activation
    stack = [keras.Input(shape=(X.shape[1],)), norm]
    for i in range(args.depth):
        bias = keras.initializers.Constant(args.bias_init) if i == 0 else "zeros"
        stack.append(layers.Dense(args.width, activation=act, bias_initializer=bias,
                                  name="hidden_%d" % (i + 1)))
    stack.append(layers.Dense(1, name="output"))
    model = keras.Sequential(stack, name="norm_huber")

    optimizer = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
                 "rmsprop": keras.optimizers.RMSprop,
                 "nadam": keras.optimizers.Nadam}[args.optimizer](learning_rate=args.lr)
    model.compile(optimizer=optimizer, loss=keras.losses.Huber(delta=1.0), metrics=["mae"])
    history = model.fit(x_train, t_train, validation_data=(x_val, t_val),
                        batch_size=args.batch_size, epochs=args.epochs, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(0, len(h["loss"]), 5):
        print("epoch %d: loss %.4g val loss %.4g val mae %.4g" % (
            e + 1, h["loss"][e], h["val_loss"][e], h["val_mae"][e]))
    pred = model.predict(x_val, verbose=0)[:, 0] * y_std + y_mean
    r2 = 1.0 - float(np.mean((pred - y_val) ** 2) / np.var(y_val))
    print("final: loss %.4g val loss %.4g val R^2 %.3f" % (h["loss"][-1], h["val_loss"][-1], r2))
    steps = -(-len(x_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_r2=r2))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "normhub-normalization-not-adapted", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020 taxonomy: missing input normalization (a Normalization "
               "layer whose adapt() is never called); DeepLocalize benchmark (Stack Overflow): "
               "regression on unscaled features whose loss 'is huge and does not go down'",
     "bug": "norm.adapt(x_train) is missing: the layer keeps mean 0 and variance 1 and passes "
            "pressures around 1e5 Pa and speeds in the thousands; the Huber loss starts at "
            "1381 on standardized targets, is still 167 after 20 epochs and the validation "
            "R^2 is -27000",
     "fix": "norm.adapt(x_train) before compiling",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "exploding_gradient",
                                                     "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug not-adapted --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "normhub-no-activation", "split": "dev", "architecture": "regression",
     "origin": "DeepFD / DeepDiagnosis fault type: missing activation (Dense layers without "
               "activation=); Humbatova et al. 2020: missing activation function",
     "bug": "Dense(32) layers without activation=: the model is a linear regression of the "
            "normalized features and cannot fit Friedman's sine and square terms; the loss "
            "ends at 0.117 against 0.0097, the validation R^2 at 0.754 against 0.949",
     "fix": "activation='relu'",
     "symptom": "missing_activation", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug no-activation --seed 0 --record-every 2",
          "fixed": "--seed 0 --record-every 2"},
     ]},
    {"family": "normhub-dying-relu-bias", "split": "dev", "architecture": "regression",
     "origin": "AUTOTRAINER: dying ReLU; DeepLocalize benchmark (Stack Overflow): a "
               "regression 'always predicts the same value'",
     "bug": "the first hidden layer's bias initialized to -6 (bias_initializer=Constant(-6)) "
            "on normalized inputs: every unit of hidden_1 is negative for every row, its ReLU "
            "outputs 0 and passes no gradient; the model predicts the mean, the loss stays at "
            "0.436 and the validation R^2 is -0.01",
     "fix": "the default zero bias",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["not_learning",
                                                       "vanishing_gradient"],
     "root_cause": {"layer_name": "hidden_1", "layer_index": 1},
     "pairs": [
         {"id": "adam-seed0-bias",
          "buggy": "--bias-init -6 --seed 0 --record-every 2",
          "fixed": "--bias-init 0 --seed 0 --record-every 2"},
     ]},
    {"family": "healthy-normhub", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "an adapted Normalization layer and a Dense stack under the Huber loss that "
                    "trains well",
     "healthy": [
         {"id": "rmsprop-width64-bs16-seed2",
          "args": "--optimizer rmsprop --lr 1e-3 --width 64 --batch-size 16 --seed 2 --record-every 2",
          "description": "RMSprop 1e-3, width 64, batches of 16"},
         {"id": "nadam-depth3-seed4",
          "args": "--optimizer nadam --lr 2e-3 --depth 3 --seed 4 --record-every 2",
          "description": "Nadam 2e-3, three hidden layers"},
         {"id": "tanh-seed5",
          "args": "--activation tanh --seed 5 --record-every 2",
          "description": "tanh hidden layers, Adam 3e-3"},
     ]},
]


if __name__ == "__main__":
    main()
