"""Keras 3 Dense autoencoder for anomaly detection on breast-cancer measurements.

Data: scikit-learn's breast_cancer (30 measurements in their own units: radii in mm, areas in
mm^2 up to 2500, smoothness around 0.1...). The autoencoder is trained on benign samples only
(the "normal" class); malignant samples are the anomalies. The features are standardized by
hand with numpy (``(X - mu) / sigma``, ``mu`` and ``sigma`` of the benign training rows).

Model (``Sequential``): a Dense encoder (``--width`` then ``--code`` units, ReLU) and a mirrored
Dense decoder with a linear output of 30 units, ``loss='mae'``, compiled with
``keras.optimizers.SGD(learning_rate=ExponentialDecay(--lr, --decay-steps, --decay-rate),
momentum=0.9, nesterov=True)`` and trained with ``model.fit(X, X, validation_data=...)``. After
training it prints the ROC AUC of the reconstruction error (benign validation rows against all
malignant rows). The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--code", type=int, default=6)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--decay-steps", type=int, default=200)
    p.add_argument("--decay-rate", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--bug", default=None,
                   choices=("no-standardize", "sigmoid-output", "decay-per-step"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers, regularizers
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import roc_auc_score

    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype("float32")
    rng = np.random.default_rng(args.seed)
    benign = rng.permutation(np.where(y == 1)[0])
    n_val = len(benign) // 5
    x_train, x_val = X[benign[n_val:]], X[benign[:n_val]]
    x_bad = X[y == 0]
    # BUG (no-standardize): the measurements go in in their own units (areas up to 2500).
    if args.bug != "no-standardize":
        mu, sigma = x_train.mean(axis=0), x_train.std(axis=0)
        x_train, x_val, x_bad = [(a - mu) / sigma for a in (x_train, x_val, x_bad)]

    reg = regularizers.l2(args.l2) if args.l2 else None
    model = keras.Sequential([
        keras.Input(shape=(30,)),
        layers.Dense(args.width, activation="relu", kernel_regularizer=reg),
        layers.Dense(args.code, activation="relu", kernel_regularizer=reg),
        layers.Dense(args.width, activation="relu", kernel_regularizer=reg),
        # BUG (sigmoid-output): a sigmoid output, as in image autoencoders, for standardized
        # features that are negative half of the time.
        layers.Dense(30, activation="sigmoid" if args.bug == "sigmoid-output" else None),
    ])
    # BUG (decay-per-step): decay_steps=1 with decay_rate=0.01 multiplies the learning rate by
    # 0.01 at every step instead of halving it every 200 steps.
    if args.bug == "decay-per-step":
        schedule = keras.optimizers.schedules.ExponentialDecay(args.lr, 1, 0.01)
    else:
        schedule = keras.optimizers.schedules.ExponentialDecay(args.lr, args.decay_steps,
                                                               args.decay_rate)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.9,
                                                 nesterov=True), loss="mae")
    history = model.fit(x_train, x_train, validation_data=(x_val, x_val),
                        batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4g val loss %.4g" % (e + 1, h["loss"][e], h["val_loss"][e]))
    err_ok = np.abs(model.predict(x_val, verbose=0) - x_val).mean(axis=1)
    err_bad = np.abs(model.predict(x_bad, verbose=0) - x_bad).mean(axis=1)
    scores = np.concatenate([err_ok, err_bad])
    auc = float(roc_auc_score(np.r_[np.zeros(len(err_ok)), np.ones(len(err_bad))],
                              np.nan_to_num(scores, nan=0.0, posinf=1e30)))
    print("anomaly ROC AUC %.3f" % auc)
    steps = -(-len(x_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      roc_auc=auc))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kbcae-unstandardized-measurements", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepLocalize benchmark (Stack Overflow): an autoencoder on raw tabular "
               "features whose 'loss does not go down'; Humbatova et al. 2020: missing input "
               "normalization",
     "bug": "the standardization line is left out: the measurements go in in their own units "
            "(areas up to 2500 mm^2), the MAE falls only from 43.8 to 41.2 in 30 epochs "
            "(validation 41.9) while the ReLU code cannot follow the scale",
     "fix": "(X - mu) / sigma with the benign training rows' mean and standard deviation",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-nesterov",
          "buggy": "--bug no-standardize --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kbcae-sigmoid-output-standardized", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020 (model: wrong activation of the last layer); DeepLocalize "
               "benchmark (Stack Overflow): an image autoencoder's sigmoid output reused for "
               "standardized data",
     "bug": "Dense(30, activation='sigmoid') as the output for standardized features, "
            "negative half of the time: the output cannot go below 0, the MAE falls only from "
            "0.913 to 0.716 (validation 0.744; 0.411 with a linear output)",
     "fix": "a linear output layer",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": {"layer_name": "dense_3", "layer_index": 3},
     "pairs": [
         {"id": "sgd-nesterov-seed1",
          "buggy": "--bug sigmoid-output --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kbcae-decay-every-step", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020 (training: wrong learning-rate schedule); DeepFD fault "
               "type: learning rate",
     "bug": "ExponentialDecay(0.05, decay_steps=1, decay_rate=0.01): the learning rate is "
            "multiplied by 0.01 at every step and is below 1e-10 after five steps, the MAE "
            "stays at 0.778 -> 0.771 (validation 0.796; 0.434 halving every 200 steps)",
     "fix": "ExponentialDecay(0.05, decay_steps=200, decay_rate=0.5)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-nesterov-seed2",
          "buggy": "--bug decay-per-step --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "kbcae-l2-dominates", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepFD / DeepDiagnosis fault type: regularization too strong; Humbatova et al. "
               "2020: wrong regularization value",
     "bug": "kernel_regularizer=l2(0.5) on every hidden Dense layer: the penalty (5.1 in the "
            "first epoch's loss) drives the weights to zero, the ReLU code goes quiet and the "
            "loss settles at 0.728 (validation MAE 0.695; 0.359 without the penalty)",
     "fix": "no kernel regularizer",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-nesterov-seed3",
          "buggy": "--l2 0.5 --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kbcae", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a Dense autoencoder on standardized benign breast-cancer rows under "
                    "SGD(momentum=0.9, nesterov=True) with ExponentialDecay and an MAE loss "
                    "that trains well",
     "healthy": [
         {"id": "width32-code8-seed5",
          "args": "--width 32 --code 8 --seed 5 --record-every 4",
          "description": "32 hidden units, a code of 8"},
         {"id": "lr0.08-bs32-seed6",
          "args": "--lr 0.08 --batch-size 32 --seed 6 --record-every 4",
          "description": "SGD from 0.08, batches of 32"},
         {"id": "decay0.8-every300-seed7",
          "args": "--decay-rate 0.8 --decay-steps 300 --seed 7 --record-every 4",
          "description": "decay by 0.8 every 300 steps"},
     ]},
]


if __name__ == "__main__":
    main()
