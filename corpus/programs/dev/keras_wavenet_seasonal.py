"""A WaveNet-style Keras 3 forecaster of generated seasonal series: a functional stack of
causal, dilated ``Conv1D`` layers with residual connections, trained with ``SGD`` with momentum
and a ``keras.callbacks.LearningRateScheduler`` step-decay function.

The data are generated here: ``--series`` monthly-and-weekly seasonal series of 720 daily
readings of a shop's sales in units sold (a base level of 200 to 800, a 7-day cycle, a 30-day
cycle, a slow trend and noise). Every series is scaled by its own training mean and standard
deviation (``--bug unscaled``: left in units sold); windows of ``--window`` days, every 3 days,
predict the next ``--horizon`` days. The first 80% of each series gives the training windows,
the rest the validation windows.

The model: ``Conv1D(--filters, 2, padding='causal')`` (``causal_in``), then ``--depth`` blocks
``Conv1D(--filters, 2, padding='causal', dilation_rate=2**i, activation='relu')``
(``dilated_1``...) each added to its input, a ``Conv1D(--filters, 1, relu)`` (``mix``), the last
time step (``Cropping1D`` + ``Flatten``) and ``Dense(--horizon)`` (``forecast``), under MSE. The
schedule halves the learning rate every 6 epochs. The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
DAYS = 720


def sales(n_series, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(DAYS, dtype=np.float64)
    out = np.empty((n_series, DAYS))
    for i in range(n_series):
        base = rng.uniform(200, 800)
        weekly = base * rng.uniform(0.1, 0.3) * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 6.3))
        monthly = base * rng.uniform(0.05, 0.2) * np.sin(2 * np.pi * t / 30
                                                         + rng.uniform(0, 6.3))
        trend = base * rng.uniform(-0.2, 0.3) * t / DAYS
        out[i] = base + weekly + monthly + trend + base * 0.04 * rng.standard_normal(DAYS)
    return out


def windows(series, window, horizon, stride=3):
    xs, ys = [], []
    for s in series:
        for start in range(0, len(s) - window - horizon + 1, stride):
            xs.append(s[start:start + window])
            ys.append(s[start + window:start + window + horizon])
    return np.array(xs, dtype="float32")[..., None], np.array(ys, dtype="float32")


def main():
    p = common.parser(__doc__)
    p.add_argument("--series", type=int, default=12)
    p.add_argument("--window", type=int, default=32)
    p.add_argument("--horizon", type=int, default=3)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--bug", default=None, choices=("unscaled", "decay-every-epoch"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    raw = sales(args.series, args.seed)
    cut = int(DAYS * 0.8)
    train, val = raw[:, :cut], raw[:, cut - args.window:]
    # BUG (unscaled): the series go in as units sold (about 150 to 1100).
    if args.bug != "unscaled":
        mean = train.mean(axis=1, keepdims=True)
        std = train.std(axis=1, keepdims=True)
        train, val = (train - mean) / std, (val - mean) / std
    x_train, y_train = windows(train, args.window, args.horizon)
    x_val, y_val = windows(val, args.window, args.horizon)

    inp = keras.Input(shape=(args.window, 1))
    h = layers.Conv1D(args.filters, 2, padding="causal", name="causal_in")(inp)
    for i in range(1, args.depth + 1):
        z = layers.Conv1D(args.filters, 2, padding="causal", dilation_rate=2 ** i,
                          activation="relu", name="dilated_%d" % i)(h)
        h = layers.Add()([h, z])
    h = layers.Conv1D(args.filters, 1, activation="relu", name="mix")(h)
    h = layers.Cropping1D((args.window - 1, 0))(h)
    h = layers.Flatten()(h)
    out = layers.Dense(args.horizon, name="forecast")(h)
    model = keras.Model(inp, out)

    def step_decay(epoch, lr):
        # BUG (decay-every-epoch): the current rate times 0.1 at every epoch, not every 6th
        # (the schedule was meant to be "a tenth every 6 epochs"): 1e-3, 1e-4, 1e-5...
        if args.bug == "decay-every-epoch":
            return lr * 0.1
        return args.lr * 0.5 ** (epoch // 6)

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=args.lr,
                                                 momentum=args.momentum),
                  loss="mse", metrics=["mae"])
    callbacks = [keras.callbacks.LearningRateScheduler(step_decay)]
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, shuffle=True, verbose=0,
                        callbacks=callbacks + common.recording.keras_callbacks(args.out))
    for e, vl in enumerate(history.history["val_loss"]):
        print("epoch %d: loss %.4g val loss %.4g" % (e + 1, history.history["loss"][e], vl))
    pred = model.predict(x_val, verbose=0)
    r2 = float(1 - np.mean((pred - y_val) ** 2) / np.var(y_val))
    steps = -(-len(x_train) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_r2=r2 if np.isfinite(r2) else float("nan")))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kwavenet-unscaled-sales", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): a time-series network fed raw readings "
               "whose loss turns NaN; Humbatova et al. 2020: missing input and target "
               "normalization",
     "bug": "the series go in as units sold (about 150 to 1100) as inputs and targets under "
            "SGD(0.01, momentum=0.9): the first updates are huge, the loss is NaN from the first "
            "epoch to the last (the scaled twin: MSE 0.70 -> 0.078, validation R^2 0.91)",
     "fix": "scale each series by its training mean and standard deviation",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-momentum",
          "buggy": "--bug unscaled --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kwavenet-sgd-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: exploding gradient / DeepFD fault type: learning rate too high "
               "(SGD(learning_rate=0.3, momentum=0.9) on a dilated convolution stack)",
     "bug": "SGD(learning_rate=0.3, momentum=0.9): the residual dilated stack diverges in the "
            "first epoch and the loss is NaN from then on (the twin with 0.01: MSE 0.70 -> "
            "0.078)",
     "fix": "SGD(learning_rate=0.01, momentum=0.9)",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["numerical_error",
                                                             "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "lr0.3-seed0",
          "buggy": "--lr 0.3 --record-every 4",
          "fixed": "--lr 0.01 --record-every 4"},
     ]},
    {"family": "kwavenet-sgd-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low (SGD(learning_rate="
               "1e-4))",
     "bug": "SGD(learning_rate=1e-4, momentum=0.9): in 15 epochs the MSE falls only from 1.47 "
            "to 0.77, validation MSE 1.01 and R^2 0.07 (the twin with 0.01: 0.70 -> 0.078, R^2 "
            "0.91)",
     "fix": "SGD(learning_rate=0.01, momentum=0.9)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "lr1e-4-seed0",
          "buggy": "--lr 1e-4 --record-every 4",
          "fixed": "--lr 0.01 --seed 0 --record-every 4"},
     ]},
    {"family": "kwavenet-schedule-decays-every-epoch", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (a LearningRateScheduler "
               "function meant as 'a tenth every 6 epochs' that multiplies the current rate by "
               "0.1 at every epoch); DeepFD fault type: learning rate",
     "bug": "the schedule returns lr * 0.1 at every epoch: 1e-3 in the first epoch, 1e-4, "
            "1e-5... the weights stop moving after the third epoch, the MSE goes 1.09 -> 0.78 "
            "-> 0.754 and stays at 0.754 for 12 epochs, validation R^2 0.14 (the twin: 0.91)",
     "fix": "return 0.01 * 0.5 ** (epoch // 6)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence",
                                                           "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "step-decay",
          "buggy": "--bug decay-every-epoch --record-every 4",
          "fixed": "--seed 0 --lr 0.01 --record-every 4"},
     ]},
    {"family": "healthy-kwavenet", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a WaveNet-style causal dilated Conv1D forecaster of seasonal sales that "
                    "trains well",
     "healthy": [
         {"id": "sgd-lr0.1",
          "args": "--lr 0.1 --record-every 4",
          "description": "SGD(0.1, momentum=0.9), halved every 6 epochs"},
         {"id": "filters24-lr0.005-seed1",
          "args": "--filters 24 --lr 0.005 --seed 1 --record-every 4",
          "description": "24 filters, SGD(0.005, momentum=0.9)"},
         {"id": "depth3-momentum0.8-seed2",
          "args": "--depth 3 --momentum 0.8 --lr 0.02 --seed 2 --record-every 4",
          "description": "three dilated blocks, SGD(0.02, momentum=0.8)"},
     ]},
]


if __name__ == "__main__":
    main()
