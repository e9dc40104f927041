"""A Keras 3 Conv1D / Conv1DTranspose autoencoder for anomaly detection on motor telemetry.

The data are generated here: windows of 32 samples of three channels of an electric motor in
their own units (phase current in A around 10 A, vibration velocity in mm/s, winding
temperature in degrees C around 60), each a sum of the motor's running cycle and noise; the
anomalous windows (used only for the detection rate at the end) carry a bearing knock, a short
burst on the vibration and current channels. The autoencoder is trained on normal windows only,
each channel standardized with the training windows' mean and standard deviation:
``Conv1D(8, 5, strides=2) -> Conv1D(4, 5, strides=2) -> Conv1DTranspose(8, 5, strides=2) ->
Conv1DTranspose(3, 5, strides=2)`` (ReLU inside, a linear output), a mean-squared-error loss and
``keras.optimizers.Adadelta(learning_rate=1.0)`` (``--optimizer adamax``:
``Adamax(learning_rate)``). At the end the program reports the share of anomalous validation
windows whose reconstruction error is above the 95th percentile of the normal ones. The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

LENGTH = 32


def motor_windows(n, seed, anomalous=False):
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH)[None, :]
    period = rng.uniform(6, 14, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    load = rng.uniform(0.6, 1.2, (n, 1))
    cycle = np.sin(2 * np.pi * t / period + phase)
    current = 10 * load + 2.0 * load * cycle + rng.normal(0, 0.15, (n, LENGTH))
    vibration = 3.0 * np.cos(2 * np.pi * t / period + phase) + rng.normal(0, 0.3, (n, LENGTH))
    temperature = 60 + 4 * load + 0.5 * cycle + rng.normal(0, 0.1, (n, LENGTH))
    if anomalous:
        at = rng.integers(4, LENGTH - 4, n)
        for i in range(n):
            vibration[i, at[i]:at[i] + 3] += rng.choice([-1, 1]) * 9.0
            current[i, at[i]:at[i] + 3] += 3.0
    return np.stack([current, vibration, temperature], axis=2).astype("float32")


def main():
    p = common.parser(__doc__)
    p.add_argument("--optimizer", default="adadelta", choices=("adadelta", "adamax"))
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--filters", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("adadelta-default-lr", "raw-units", "enc-bias-negative",
                            "sigmoid-output"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    train = motor_windows(320, args.seed)
    val = motor_windows(80, args.seed + 100)
    anomal = motor_windows(80, args.seed + 200, anomalous=True)
    mean = train.mean(axis=(0, 1))
    std = train.std(axis=(0, 1))
    # BUG (raw-units): the windows go in as amperes, mm/s and degrees C, not standardized.
    if args.bug != "raw-units":
        train, val, anomal = ((a - mean) / std for a in (train, val, anomal))

    bias = keras.initializers.Constant(-4.0) if args.bug == "enc-bias-negative" else "zeros"
    model = keras.Sequential([
        keras.Input(shape=(LENGTH, 3)),
        # BUG (enc-bias-negative): bias_initializer=Constant(-4.0) copied into the first conv.
        layers.Conv1D(args.filters, 5, strides=2, padding="same", activation="relu",
                      bias_initializer=bias, name="enc_conv1"),
        layers.Conv1D(4, 5, strides=2, padding="same", activation="relu", name="enc_conv2"),
        layers.Conv1DTranspose(args.filters, 5, strides=2, padding="same", activation="relu",
                               name="dec_conv1"),
        # BUG (sigmoid-output): a sigmoid on the output for standardized (signed) signals.
        layers.Conv1DTranspose(3, 5, strides=2, padding="same",
                               activation="sigmoid" if args.bug == "sigmoid-output" else None,
                               name="dec_conv2"),
    ])
    if args.optimizer == "adamax":
        opt = keras.optimizers.Adamax(learning_rate=args.lr)
    elif args.bug == "adadelta-default-lr":
        # BUG (adadelta-default-lr): Adadelta() keeps Keras' default learning_rate=0.001.
        opt = keras.optimizers.Adadelta()
    else:
        opt = keras.optimizers.Adadelta(learning_rate=args.lr)
    model.compile(optimizer=opt, loss="mse")
    history = model.fit(train, train, validation_data=(val, val), batch_size=args.batch_size,
                        epochs=args.epochs, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    for e, vl in enumerate(history.history["val_loss"]):
        print("epoch %d: loss %.4g val loss %.4g" % (e + 1, history.history["loss"][e], vl))
    err_val = np.mean((model.predict(val, verbose=0) - val) ** 2, axis=(1, 2))
    err_anom = np.mean((model.predict(anomal, verbose=0) - anomal) ** 2, axis=(1, 2))
    detected = float(np.mean(err_anom > np.percentile(err_val, 95)))
    steps = -(-len(train) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      detected=detected))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kconvtae-adadelta-default-lr", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low (Keras' Adadelta() "
               "keeps its default learning_rate=0.001, where Zeiler's Adadelta uses 1.0); "
               "Humbatova et al. 2020: wrong optimizer hyperparameter",
     "bug": "keras.optimizers.Adadelta() without learning_rate: the updates are a thousandth "
            "of the intended ones, in 10 epochs the reconstruction MSE stays at 1.028 -> 1.028 "
            "(validation 1.019) and only 0.28 of the anomalous windows are detected (the twin "
            "with learning_rate=1.0: 1.004 -> 0.106, validation 0.107, all detected)",
     "fix": "keras.optimizers.Adadelta(learning_rate=1.0)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug adadelta-default-lr --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kconvtae-raw-units", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepLocalize benchmark (Stack Overflow): an autoencoder on raw sensor values "
               "whose loss stays in the thousands; Humbatova et al. 2020: missing input "
               "normalization",
     "bug": "the windows go in as amperes, mm/s and degrees C (the temperature around 64): "
            "with 12 filters the MSE starts at 1379 and ends at 102 (validation 68) after 10 "
            "epochs (the standardized twin: 0.96 -> 0.11, validation 0.11)",
     "fix": "standardize each channel with the training windows' mean and standard deviation",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "filters12",
          "buggy": "--bug raw-units --filters 12 --record-every 4",
          "fixed": "--filters 12 --record-every 4"},
     ]},
    {"family": "kconvtae-sigmoid-output", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepLocalize benchmark (Stack Overflow): a sigmoid output layer on an "
               "autoencoder whose inputs are standardized (signed); Humbatova et al. 2020: "
               "wrong activation function of the last layer",
     "bug": "activation='sigmoid' on the last Conv1DTranspose: the standardized signals are "
            "half negative, the output cannot go below 0, the MSE only goes 1.24 -> 0.80 "
            "(validation 0.83) in 10 epochs (the linear twin: 1.01 -> 0.34, validation 0.36)",
     "fix": "a linear output (activation=None)",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": {"layer_name": "dec_conv2", "layer_index": 3},
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug sigmoid-output --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kconvtae", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a Conv1D / Conv1DTranspose autoencoder on standardized motor telemetry "
                    "that trains well",
     "healthy": [
         {"id": "adamax-lr0.01-seed1",
          "args": "--optimizer adamax --lr 0.01 --seed 1 --record-every 4",
          "description": "Adamax(0.01)"},
         {"id": "adadelta-filters16-bs16-seed4",
          "args": "--filters 16 --batch-size 16 --seed 4 --record-every 4",
          "description": "Adadelta(1.0), 16 filters, batches of 16"},
     ]},
]


if __name__ == "__main__":
    main()
