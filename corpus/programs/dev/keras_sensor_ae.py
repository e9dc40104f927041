"""A Keras 3 dense bottleneck autoencoder for anomaly detection on generated compressor-sensor
readings, written the way anomaly-detection tutorials write it: fit on normal data only, with
the inputs as their own targets and a mean-squared-error loss, then flag the readings whose
reconstruction error exceeds a threshold taken from the normal validation readings.

Data (generated here): readings of ten sensors of a compressor in their own units, driven by
three hidden operating conditions (load, speed, ambient temperature) through non-linear
relations: speed in rpm (about 1500 to 3000), motor current in A, power in kW, inlet and outlet
pressure in bar, discharge and oil temperature in degrees C, vibration in mm/s, flow in m3/h and
the ambient temperature, each with sensor noise. 3000 normal readings are split into training
(70%) and validation (15%) parts and a test part of 450 normal readings; 150 anomalous readings
(a leaking valve: the flow drops while the power stays; or a failing bearing: vibration and oil
temperature rise) are added to the test part only. A ``MinMaxScaler`` fitted on the normal
training readings maps every sensor to [0, 1] (the test readings may leave it). The model is
built with the functional API: ``Dense`` ``enc1`` (``--width``, ReLU), ``Dense`` ``code``
(``--code`` units, ReLU, optionally an L1 activity regularizer ``--sparsity``), ``Dense`` ``dec1``
(``--width``, ReLU) and ``Dense`` ``recon`` (ten units, sigmoid, as the readings are in [0, 1]);
``loss="mse"``, ``--optimizer`` at ``--lr``, ``model.fit(x_train, x_train,
validation_data=(x_val, x_val))``. The threshold is the 99th percentile of the validation
reconstruction errors; the result line adds the detection rate and false-alarm rate on the test
part. The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``, ``--sparsity``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

SENSORS = ("speed_rpm", "current_a", "power_kw", "p_in_bar", "p_out_bar", "t_discharge_c",
           "t_oil_c", "vibration_mms", "flow_m3h", "t_ambient_c")


def compressor(n, seed, anomalous=False):
    """n readings (n, 10) in sensor units; anomalous readings break one relation."""
    rng = np.random.default_rng(seed)
    load = rng.uniform(0.3, 1.0, n)
    speed = rng.uniform(1500, 3000, n)
    ambient = rng.uniform(5, 35, n)
    s = speed / 3000
    current = 20 + 60 * load * s + rng.normal(0, 1.0, n)
    power = 0.4 * current * (1 + 0.3 * load) + rng.normal(0, 0.8, n)
    p_in = 1.0 + 0.2 * np.sin(3 * load) + rng.normal(0, 0.03, n)
    p_out = p_in * (2 + 6 * load * s ** 2) + rng.normal(0, 0.1, n)
    t_dis = ambient + 40 * np.log1p(p_out / p_in) + rng.normal(0, 1.0, n)
    t_oil = 0.5 * t_dis + 0.3 * ambient + 10 * load + rng.normal(0, 0.8, n)
    vib = 1.0 + 2.5 * s ** 2 + 0.8 * load + rng.normal(0, 0.15, n)
    flow = 900 * s * (1.2 - 0.5 * p_out / p_out.max()) + rng.normal(0, 10, n)
    if anomalous:
        kind = rng.integers(0, 2, n)
        leak = kind == 0
        flow = np.where(leak, flow * rng.uniform(0.55, 0.75, n), flow)
        vib = np.where(~leak, vib + rng.uniform(1.2, 2.5, n), vib)
        t_oil = np.where(~leak, t_oil + rng.uniform(6, 12, n), t_oil)
    x = np.stack([speed, current, power, p_in, p_out, t_dis, t_oil, vib, flow, ambient], axis=1)
    return x.astype("float32")


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--code", type=int, default=4)
    p.add_argument("--sparsity", type=float, default=0.0,
                   help="L1 activity regularizer on the code layer (0: none)")
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "nadam", "sgd"))
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("no-scaler", "code-bias-negative"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.preprocessing import MinMaxScaler

    normal = compressor(3000, args.seed)
    anomalies = compressor(150, args.seed + 1000, anomalous=True)
    n_tr, n_val = 2100, 450
    x_train, x_val, x_test_normal = normal[:n_tr], normal[n_tr:n_tr + n_val], normal[n_tr + n_val:]
    x_test = np.concatenate([x_test_normal, anomalies])
    is_anomaly = np.r_[np.zeros(len(x_test_normal)), np.ones(len(anomalies))].astype(bool)
    # BUG (no-scaler): the MinMaxScaler is left out; rpm, bar, degrees and m3/h go in as they
    # are, and the sigmoid output has to reconstruct readings up to 3000.
    if args.bug != "no-scaler":
        scaler = MinMaxScaler().fit(x_train)
        x_train, x_val, x_test = (scaler.transform(a).astype("float32")
                                  for a in (x_train, x_val, x_test))

    inputs = keras.Input(shape=(len(SENSORS),), name="readings")
    h = layers.Dense(args.width, activation="relu", name="enc1")(inputs)
    # BUG (code-bias-negative): bias_initializer=Constant(-3.0) on the code layer (meant to make
    # the code sparse): every code unit starts below zero for every reading.
    code_bias = keras.initializers.Constant(-3.0) if args.bug == "code-bias-negative" \
        else "zeros"
    reg = keras.regularizers.L1(args.sparsity) if args.sparsity > 0 else None
    code = layers.Dense(args.code, activation="relu", bias_initializer=code_bias,
                        activity_regularizer=reg, name="code")(h)
    h = layers.Dense(args.width, activation="relu", name="dec1")(code)
    outputs = layers.Dense(len(SENSORS), activation="sigmoid", name="recon")(h)
    autoencoder = keras.Model(inputs, outputs, name="compressor_ae")

    optimizer = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
                 "nadam": keras.optimizers.Nadam,
                 "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9)
                 }[args.optimizer](learning_rate=args.lr)
    autoencoder.compile(optimizer=optimizer, loss="mse")
    history = autoencoder.fit(x_train, x_train, validation_data=(x_val, x_val),
                              epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
                              verbose=0, callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.5f val loss %.5f" % (e + 1, h["loss"][e], h["val_loss"][e]))

    def errors(a):
        return np.mean((autoencoder.predict(a, batch_size=256, verbose=0) - a) ** 2, axis=1)

    threshold = float(np.percentile(errors(x_val), 99))
    flagged = errors(x_test) > threshold
    detection = float(np.mean(flagged[is_anomaly]))
    false_alarms = float(np.mean(flagged[~is_anomaly]))
    # the mean predictor's validation MSE: what reconstructing every reading by the training
    # mean would give (an autoencoder that learned nothing)
    mean_mse = float(np.mean((x_val - x_train.mean(0)) ** 2))
    print("threshold %.5f: detected %.3f of the anomalies, false alarms %.3f; mean predictor "
          "%.5f" % (threshold, detection, false_alarms, mean_mse))
    steps = -(-n_tr // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(autoencoder),
                                      detection=detection, false_alarms=false_alarms,
                                      mean_predictor_mse=mean_mse))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "sensae-no-minmax-scaler", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepLocalize benchmark (Stack Overflow): an anomaly-detection autoencoder with "
               "a sigmoid output on unscaled sensor readings, 'the loss is huge and never "
               "changes'; Humbatova et al. 2020: missing input normalization",
     "bug": "the MinMaxScaler is left out: rpm (up to 3000), m3/h, degrees and bar go in as "
            "they are while the sigmoid reconstruction cannot exceed 1; the output saturates "
            "at once, the MSE stays at 565150 from the first epoch to the last (validation "
            "572000) and none of the anomalies is detected, against a validation MSE of 0.0025 "
            "and 0.99 of the anomalies detected after scaling",
     "fix": "MinMaxScaler fitted on the normal training readings",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug no-scaler --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "sensae-code-bias-negative", "split": "dev", "architecture": "autoencoder",
     "origin": "AUTOTRAINER: dying ReLU; DeepLocalize benchmark (Stack Overflow): an "
               "autoencoder whose 'reconstruction is the same for every input'",
     "bug": "bias_initializer=Constant(-3.0) on the ReLU code layer (meant to make the code "
            "sparse): every code unit is negative for every reading from the first step, the "
            "decoder sees zeros and learns the mean reading; the validation MSE ends at 0.0499, "
            "exactly the mean predictor's 0.0499, and 4% of the anomalies are detected, against "
            "0.0024 and 0.99 of them with a zero bias",
     "fix": "the default zero bias of the code layer",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "code", "layer_index": 1},
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug code-bias-negative --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "sensae-l1-sparsity-typo", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepFD / DeepDiagnosis fault type: regularization too strong; Humbatova et al. "
               "2020: wrong regularization factor (activity_regularizer=L1(0.1) where a sparse "
               "autoencoder tutorial uses 1e-5)",
     "bug": "an L1 activity regularizer of 0.1 on the code: the penalty outweighs the "
            "reconstruction error, the code is driven to zero and the decoder outputs the mean "
            "reading; the validation MSE ends at 0.0487, the mean predictor's 0.0487, and 10% "
            "of the anomalies are detected, against 0.0021 and all of them at 1e-5",
     "fix": "activity_regularizer=L1(1e-5)",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--sparsity 0.1 --seed 2 --record-every 4",
          "fixed": "--sparsity 1e-5 --seed 2 --record-every 4"},
     ]},
    {"family": "sensae-adam-lr-too-low", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low (Adam(learning_rate="
               "1e-5))",
     "bug": "Adam(learning_rate=1e-5): in 8 epochs the MSE falls only from 0.0541 to 0.0530, "
            "the validation MSE (0.0519) is still above the mean predictor's 0.0458 and 5% of "
            "the anomalies are detected, against 0.0016 and all of them at 2e-3",
     "fix": "Adam(learning_rate=2e-3)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--lr 1e-5 --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-sensae", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a dense bottleneck autoencoder of scaled compressor readings that "
                    "reconstructs the normal readings well and flags the anomalies",
     "healthy": [
         {"id": "rmsprop-seed7",
          "args": "--optimizer rmsprop --lr 1e-3 --seed 7 --record-every 4",
          "description": "RMSprop 1e-3"},
         {"id": "momentum-width64-seed5",
          "args": "--optimizer sgd --lr 0.1 --width 64 --seed 5 --record-every 4",
          "description": "SGD momentum 0.9 at 0.1, 64 units around the code"},
         {"id": "nadam-code6-width16-bs16-seed6",
          "args": "--optimizer nadam --lr 2e-3 --code 6 --width 16 --batch-size 16 --seed 6 --record-every 4",
          "description": "Nadam 2e-3, a code of 6 between layers of 16, batches of 16"},
     ]},
]


if __name__ == "__main__":
    main()
