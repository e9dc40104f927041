"""A Keras 3 ``Sequential`` multi-step forecaster (LSTM, or Conv1D with global average pooling)
of generated sensor series, the sample windows built by hand in numpy.

The data are generated here: ``--sensors`` series of 1600 hourly readings of a district's
power demand in MW (a base level of 300 to 600 per sensor, a daily cycle whose amplitude
changes with the season, a weekly dip, a slow trend and AR(1) noise). Each series is cut in
time: its first 80% for training, the last 20% for validation, and scaled with the mean and
standard deviation of the training readings (``--scale none``: left in MW). The windows are
built with a plain loop: ``--window`` past readings (one channel: the demand, plus the hour of
the day as sine and cosine) and the next ``--horizon`` readings as the target vector, every
``--stride`` hours.

The model (``Sequential``): ``--model lstm``: ``LSTM(--units)`` (``lstm``) then
``Dense(--units, relu)`` (``dense``); ``--model conv``: two ``Conv1D(--filters, 5, relu,
padding='causal')`` (``conv1``, ``conv2``) with a ``MaxPooling1D(2)`` between, then
``GlobalAveragePooling1D`` and ``Dense(--units, relu)`` (``dense``); both end in
``Dense(--horizon)`` (``forecast``, linear), trained under MSE with ``fit(..., shuffle=True)``. The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``,
``--scale``, ``--conv-bias``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
HOURS = 1600


def demand(sensors, seed):
    """(sensors, HOURS) demand in MW and the hour of day of each reading."""
    rng = np.random.default_rng(seed)
    t = np.arange(HOURS)
    hour = t % 24
    series = []
    for _ in range(sensors):
        base = rng.uniform(300, 600)
        amp = rng.uniform(0.15, 0.3) * base
        season = 1 + 0.3 * np.sin(2 * np.pi * t / HOURS + rng.uniform(0, 2 * np.pi))
        daily = amp * season * (np.sin(2 * np.pi * (hour - 7) / 24)
                                + 0.4 * np.sin(4 * np.pi * (hour - 3) / 24))
        weekly = -0.08 * base * ((t // 24) % 7 >= 5)
        trend = rng.normal(0, 0.02) * base * t / HOURS
        noise = np.zeros(HOURS)
        for i in range(1, HOURS):
            noise[i] = 0.8 * noise[i - 1] + rng.normal(0, 0.02 * base)
        series.append(base + daily + weekly + trend + noise)
    return np.array(series), hour


def windows(values, hour, window, horizon, stride):
    """Windows of (values, sin hour, cos hour) and the next ``horizon`` values, by hand."""
    xs, ys = [], []
    for start in range(0, len(values) - window - horizon + 1, stride):
        end = start + window
        h = hour[start:end]
        xs.append(np.stack([values[start:end], np.sin(2 * np.pi * h / 24),
                            np.cos(2 * np.pi * h / 24)], axis=1))
        ys.append(values[end:end + horizon])
    return xs, ys


def main():
    p = common.parser(__doc__)
    p.add_argument("--sensors", type=int, default=6)
    p.add_argument("--window", type=int, default=48)
    p.add_argument("--horizon", type=int, default=12)
    p.add_argument("--stride", type=int, default=3)
    p.add_argument("--scale", default="standard", choices=("standard", "none"))
    p.add_argument("--model", default="lstm", choices=("lstm", "conv"))
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--conv-bias", type=float, default=0.0,
                   help="initial bias of the first convolution")
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "momentum", "nadam"))
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clipnorm", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("relu-output",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    series, hour = demand(args.sensors, args.seed)
    cut = int(0.8 * HOURS)
    x_tr, y_tr, x_val, y_val = [], [], [], []
    for values in series:
        if args.scale == "standard":
            mean, std = values[:cut].mean(), values[:cut].std()
            values = (values - mean) / std
        xs, ys = windows(values[:cut], hour[:cut], args.window, args.horizon, args.stride)
        x_tr += xs
        y_tr += ys
        xs, ys = windows(values[cut:], hour[cut:], args.window, args.horizon, args.stride)
        x_val += xs
        y_val += ys
    x_tr, y_tr = np.array(x_tr, dtype="float32"), np.array(y_tr, dtype="float32")
    x_val, y_val = np.array(x_val, dtype="float32"), np.array(y_val, dtype="float32")
    print("windows: train %s -> %s, validation %s" % (x_tr.shape, y_tr.shape, x_val.shape))

    model = keras.Sequential(name="forecaster")
    model.add(keras.Input(shape=x_tr.shape[1:]))
    if args.model == "lstm":
        model.add(layers.LSTM(args.units, name="lstm"))
    else:
        model.add(layers.Conv1D(args.filters, 5, activation="relu", padding="causal",
                                bias_initializer=keras.initializers.Constant(args.conv_bias),
                                name="conv1"))
        model.add(layers.MaxPooling1D(2, name="pool"))
        model.add(layers.Conv1D(args.filters, 5, activation="relu", padding="causal",
                                name="conv2"))
        model.add(layers.GlobalAveragePooling1D(name="gap"))
    model.add(layers.Dense(args.units, activation="relu", name="dense"))
    # BUG (relu-output): a ReLU on the forecast "because demand is never negative", but the
    # targets are standardized: every reading below the training mean is out of reach.
    model.add(layers.Dense(args.horizon, activation="relu" if args.bug == "relu-output" else None,
                           name="forecast"))
    kw = {"clipnorm": args.clipnorm} if args.clipnorm else {}
    optimizer = {"adam": lambda: keras.optimizers.Adam(args.lr, **kw),
                 "rmsprop": lambda: keras.optimizers.RMSprop(args.lr, **kw),
                 "nadam": lambda: keras.optimizers.Nadam(args.lr, **kw),
                 "momentum": lambda: keras.optimizers.SGD(args.lr, momentum=0.9, **kw)}[
        args.optimizer]()
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, shuffle=True, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4g mae %.4g val loss %.4g val mae %.4g" % (
            e + 1, h["loss"][e], h["mae"][e], h["val_loss"][e], h["val_mae"][e]))
    # the validation loss of forecasting the training mean, and of repeating the last reading
    mean_mse = float(np.mean((y_val - y_tr.mean()) ** 2))
    last_mse = float(np.mean((y_val - x_val[:, -1:, 0]) ** 2))
    print("validation MSE: model %.4g, training mean %.4g, last reading %.4g" % (
        h["val_loss"][-1], mean_mse, last_mse))
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, val_mean_mse=mean_mse,
                                      val_last_mse=last_mse, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kforecast-unscaled-series", "split": "dev", "architecture": "lstm",
     "origin": "DeepLocalize benchmark (Stack Overflow): an LSTM forecaster fed raw values in "
               "the hundreds, 'the loss is huge and the predictions are a flat line'; "
               "Humbatova et al. 2020: missing input (and target) normalization",
     "bug": "the demand goes into the LSTM in MW (about 250 to 800) and is forecast in MW: "
            "the LSTM's gates saturate, the MSE falls from 196000 in the first epoch to 13700 "
            "as the output bias moves towards the mean, and the validation MSE ends at 14850, "
            "that of forecasting the training mean (14980)",
     "fix": "standardize each series with its training readings' mean and standard deviation",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "lstm-adam",
          "buggy": "--scale none --record-every 2",
          "fixed": "--scale standard --record-every 2"},
     ]},
    {"family": "kforecast-adam-lr-too-low", "split": "dev", "architecture": "lstm",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam(learning_rate=1e-5): in 8 epochs the training MSE falls only from 0.94 to "
            "0.89 and the validation MSE is 1.02, near the training mean's 1.15",
     "fix": "Adam(learning_rate=2e-3)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "lstm",
          "buggy": "--lr 1e-5 --record-every 2",
          "fixed": "--lr 2e-3 --record-every 2"},
     ]},
    {"family": "kforecast-dying-relu-conv-bias", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong bias initialization; AUTOTRAINER: dying ReLU",
     "bug": "bias_initializer=Constant(-2) on the first Conv1D: on standardized inputs every "
            "unit's pre-activation is negative, the ReLU outputs 0 everywhere and passes no "
            "gradient, nothing before the Dense head learns: the training MSE stays at 0.991 "
            "and the validation MSE at 1.148, the training mean's 1.147",
     "fix": "zero biases (Keras' default)",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "conv1", "layer_index": 0},
     "pairs": [
         {"id": "conv-adam",
          "buggy": "--model conv --conv-bias -2 --record-every 2",
          "fixed": "--model conv --record-every 2"},
     ]},
    {"family": "kforecast-relu-output", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong activation of the last layer (a ReLU output for "
               "standardized targets)",
     "bug": "Dense(12, activation='relu') as the forecast layer on standardized targets: "
            "every target below the training mean is out of reach and the units whose "
            "pre-activation is negative output 0 and pass no gradient; the run ends at a "
            "training MSE of 0.66 and a validation MSE of 0.71 (the twin 0.059 and 0.070)",
     "fix": "a linear output layer",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["saturation", "not_learning"],
     "root_cause": {"layer_name": "forecast", "layer_index": 2},
     "pairs": [
         {"id": "lstm-rmsprop-seed1",
          "buggy": "--bug relu-output --optimizer rmsprop --lr 2e-3 --seed 1 --record-every 2",
          "fixed": "--optimizer rmsprop --lr 2e-3 --seed 1 --record-every 2"},
     ]},
    {"family": "healthy-kforecast", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a multi-step forecaster on hand-built windows that trains well",
     "healthy": [
         {"id": "lstm-rmsprop-units64-seed2",
          "args": "--optimizer rmsprop --lr 1e-3 --units 64 --seed 2 --record-every 2",
          "description": "an LSTM of 64 units, RMSprop 1e-3"},
         {"id": "lstm-momentum-clipnorm-seed3",
          "args": "--optimizer momentum --lr 0.05 --clipnorm 1.0 --seed 3 --record-every 2",
          "description": "SGD momentum 0.9 at 0.05 with clipnorm=1.0"},
         {"id": "lstm-nadam-window24-h6",
          "args": "--optimizer nadam --lr 3e-3 --window 24 --horizon 6 --batch-size 64 --record-every 2",
          "description": "Nadam 3e-3, windows of 24 hours forecasting 6, batches of 64"},
         {"id": "conv-adam-filters16-seed4",
          "args": "--model conv --filters 16 --seed 4 --record-every 2",
          "description": "Conv1D + global average pooling, 16 filters, Adam 2e-3",
          "architecture": "cnn"},
         {"id": "conv-rmsprop-bs16-seed5",
          "args": "--model conv --optimizer rmsprop --lr 1e-3 --batch-size 16 --epochs 5 --seed 5 --record-every 2",
          "description": "Conv1D + global average pooling, RMSprop 1e-3, batches of 16",
          "architecture": "cnn"},
     ]},
]


if __name__ == "__main__":
    main()
