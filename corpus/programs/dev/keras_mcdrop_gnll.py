"""A heteroscedastic Keras regressor: one Dense head of two units, the predicted mean and the
log of the predicted variance side by side, trained with a hand-written Gaussian negative
log-likelihood passed to ``compile(loss=gaussian_nll)``; its Dropout layers are kept on at
evaluation (Monte-Carlo dropout: the mean and spread of ``model(x, training=True)`` over 20
passes).

Data (generated here): 900 readings of a soil-moisture probe, five inputs in their own units
(temperature in degrees C, conductivity in uS/cm, depth in cm, hours since rain, clay share in
%) and a moisture reading in % whose noise grows with the hours since rain. The inputs are
standardized with the training part's mean and standard deviation, the target is centred and
divided by its standard deviation. Adam (``--lr``), ``--width`` units in each of the two
hidden layers, ``--dropout`` after each. The mistakes of the families in CASES are selected
with ``--bug`` or show in a setting (``--lr``, ``--l2``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def probe_readings(n, seed):
    rng = np.random.default_rng(seed)
    temp = rng.uniform(2, 32, n)
    cond = rng.uniform(100, 1800, n)
    depth = rng.uniform(5, 60, n)
    hours = rng.gamma(2.0, 18.0, n)
    clay = rng.uniform(5, 45, n)
    moisture = (38 - 0.35 * temp + 0.009 * cond + 6 * np.sin(depth / 12)
                - 9 * np.log1p(hours / 10) + 0.25 * clay)
    noise_sd = 0.4 + 0.06 * hours
    moisture = moisture + rng.normal(0, 1, n) * noise_sd
    x = np.stack([temp, cond, depth, hours, clay], axis=1)
    return x, moisture


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None, choices=("raw-units", "variance-not-log"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    x, y = probe_readings(900, args.seed)
    x_train, x_val, y_train, y_val = common.split(x, y, val=0.2, seed=args.seed)
    # BUG (raw-units): the probe's columns go in as they are read (up to about 1800).
    if args.bug != "raw-units":
        mu, sd = x_train.mean(0), x_train.std(0)
        x_train, x_val = (x_train - mu) / sd, (x_val - mu) / sd
    y_mu, y_sd = y_train.mean(), y_train.std()
    y_train, y_val = (y_train - y_mu) / y_sd, (y_val - y_mu) / y_sd
    x_train, x_val = x_train.astype("float32"), x_val.astype("float32")
    y_train = y_train.astype("float32")[:, None]
    y_val = y_val.astype("float32")[:, None]

    def gaussian_nll(y_true, y_pred):
        mean, log_var = y_pred[:, :1], y_pred[:, 1:]
        if args.bug == "variance-not-log":
            # BUG (variance-not-log): the second unit is used as the variance itself
            # (its log taken, no exp), although nothing keeps it positive.
            return tf.reduce_mean(0.5 * tf.math.log(log_var) + 0.5 * tf.square(y_true - mean)
                                  / log_var)
        return tf.reduce_mean(0.5 * log_var + 0.5 * tf.square(y_true - mean)
                              * tf.exp(-log_var))

    reg = keras.regularizers.l2(args.l2) if args.l2 else None
    model = keras.Sequential([
        keras.Input(shape=(5,)),
        layers.Dense(args.width, activation="relu", kernel_regularizer=reg, name="hidden1"),
        layers.Dropout(args.dropout),
        layers.Dense(args.width, activation="relu", kernel_regularizer=reg, name="hidden2"),
        layers.Dropout(args.dropout),
        layers.Dense(2, kernel_regularizer=reg, name="mean_logvar"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr), loss=gaussian_nll)
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val),
                        epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    for e, vl in enumerate(history.history["val_loss"]):
        print("epoch %d: nll %.4g val nll %.4g" % (e + 1, history.history["loss"][e], vl))

    # Monte-Carlo dropout: 20 stochastic passes over the validation set
    passes = np.stack([model(x_val, training=True).numpy() for _ in range(20)])
    mean = passes[:, :, 0].mean(0)
    spread = passes[:, :, 0].std(0)
    val_r2 = float(1 - np.mean((mean - y_val[:, 0]) ** 2) / np.var(y_val[:, 0]))
    steps = -(-len(x_train) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_r2=val_r2, mc_spread=float(np.mean(spread))))


if __name__ == "__main__":
    main()


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "khetmc-raw-probe-units", "split": "dev", "architecture": "regression",
     "origin": "DeepLocalize benchmark (Stack Overflow): a Keras regression whose loss is NaN "
               "from the first epoch because the features are fed in their own units; "
               "Humbatova et al. 2020: missing input normalization",
     "bug": "the probe's five columns go in unstandardized (conductivity up to about 1800 "
            "uS/cm): the Gaussian NLL, whose exp(-log_var) turns large outputs into overflow, is "
            "NaN from the first epoch to the last (validation R^2 of the MC-dropout mean NaN; "
            "the fixed run's 0.86)",
     "fix": "standardize the inputs with the training part's mean and standard deviation",
     "symptom": "numerical_error", "acceptable_symptoms": ["saturation", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug raw-units --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "khetmc-adam-lr-too-high", "split": "dev", "architecture": "regression",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high; AUTOTRAINER: "
               "unstable training (NaN loss)",
     "bug": "Adam(learning_rate=0.5) for the Gaussian NLL: the loss is NaN in "
            "the first epoch and every epoch after (validation R^2 NaN; the fixed run's 0.88)",
     "fix": "Adam(learning_rate=2e-3)",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--lr 0.5 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "khetmc-l2-dominates", "split": "dev", "architecture": "regression",
     "origin": "DeepFD / DeepDiagnosis fault type: regularization too strong; Humbatova et al. "
               "2020: wrong regularization factor",
     "bug": "kernel_regularizer=l2(0.3) on every Dense layer: the penalty dominates the first "
            "epoch's loss of 12.1 and drives the weights to zero, the network predicts the mean "
            "with a constant variance: the NLL ends at 0.50 (the constant Gaussian's 0.5), the "
            "MC-dropout spread at 0.0004 and the validation R^2 at -0.007 (the fixed run's 0.89)",
     "fix": "no weight penalty",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--l2 0.3 --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "khetmc-adam-lr-too-low", "split": "dev", "architecture": "regression",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low; AUTOTRAINER: slow "
               "convergence",
     "bug": "Adam(learning_rate=2e-5): in 20 epochs the NLL falls only from 0.56 to 0.48 "
            "(the fixed run's reaches -0.50) and the validation R^2 of the MC-dropout mean is 0.06 "
            "(the fixed run's 0.85)",
     "fix": "Adam(learning_rate=2e-3)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed4",
          "buggy": "--lr 2e-5 --seed 4 --record-every 4",
          "fixed": "--seed 4 --record-every 4"},
     ]},
    {"family": "healthy-khetmc", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "a heteroscedastic Keras regressor with a Gaussian NLL and MC dropout that "
                    "trains well",
     "healthy": [
         {"id": "width64-bs64-lr3e-3-seed5",
          "args": "--width 64 --batch-size 64 --lr 3e-3 --seed 5 --record-every 4",
          "description": "64 units, batches of 64, Adam(3e-3)"},
         {"id": "dropout0.2-lr1e-3-seed6",
          "args": "--dropout 0.2 --lr 1e-3 --seed 6 --record-every 4",
          "description": "dropout 0.2, Adam(1e-3)"},
         {"id": "width16-bs16-seed7",
          "args": "--width 16 --batch-size 16 --seed 7 --record-every 4",
          "description": "16 units, batches of 16"},
     ]},
]
