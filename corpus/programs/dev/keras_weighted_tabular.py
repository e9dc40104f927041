"""A two-input Keras 3 classifier of imbalanced transaction records, trained with class or
sample weights.

The records are generated here from scikit-learn's ``make_classification`` (3 classes in the
proportions 80 / 15 / 5: ``ok``, ``review``, ``fraud``): eight numeric columns in their own
units (an amount in currency of a few hundred to several thousand, an age in years, an hour of
the day, a count of items, a distance in km, an account balance in the thousands and two
scores in the hundreds) and a categorical ``channel`` (12 values, its distribution depending
on the class).

The model (functional API, two inputs): the numeric columns go through a ``Normalization``
layer (``norm``) given the training set's per-column mean and variance, then ``GaussianNoise``
(``--noise``, active in training only); the channel through an ``Embedding``
(``channel_embed``, 4 dimensions); both are concatenated and pass two Dense ReLU layers
(``dense1``, ``dense2``, kernels initialized by ``--init``), each followed by heavy dropout
(``--dropout``), to a 3-way softmax (``out``), trained with sparse categorical
cross-entropy. The imbalance is handled by ``--weighting``: ``class`` (``class_weight`` in
``fit``, inverse class frequencies), ``sample`` (a ``sample_weight`` array, the same weights per
record) or ``none``. Optimizer ``--optimizer`` (AdamW with ``--wd`` by default) and learning
rate schedule ``--schedule``: ``none``, ``warmup-cosine`` (``CosineDecay`` with a linear
warm-up over the first epoch) or ``step:E1,E2`` (``PiecewiseConstantDecay``: the learning rate
divided by 10 after epoch E1 and again after E2). Besides the accuracy the program prints the
balanced accuracy (the mean per-class recall) on the validation set. The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--wd``, ``--init``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
CHANNELS = 12


def records(n, seed):
    """(numeric (n, 8) float32 in their own units, channel (n,) int, label (n,) int)."""
    from sklearn.datasets import make_classification
    z, y = make_classification(n_samples=n, n_features=8, n_informative=5, n_redundant=1,
                               n_classes=3, n_clusters_per_class=1, weights=[0.8, 0.15, 0.05],
                               class_sep=1.2, flip_y=0.01, random_state=seed)
    rng = np.random.default_rng(seed)
    numeric = np.stack([
        np.exp(6.0 + 0.7 * z[:, 0]),              # amount
        40.0 + 12.0 * z[:, 1],                    # age
        np.clip(14.0 + 4.0 * z[:, 2], 0, 23.9),   # hour
        np.round(np.exp(1.0 + 0.5 * z[:, 3])),    # items
        25.0 * np.abs(z[:, 4]) + 1.0,             # distance
        5000.0 + 3000.0 * z[:, 5],                # balance
        500.0 + 100.0 * z[:, 6],                  # score a
        300.0 + 80.0 * z[:, 7],                   # score b
    ], axis=1).astype("float32")
    # each class has its own distribution over the 12 channels
    prefs = rng.dirichlet(np.full(CHANNELS, 0.6), size=3)
    channel = np.array([rng.choice(CHANNELS, p=prefs[c]) for c in y])
    return numeric, channel.astype("int32"), y.astype("int32")


def main():
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=3000)
    p.add_argument("--weighting", default="class", choices=("class", "sample", "none"))
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--optimizer", default="adamw", choices=("adamw", "adam", "momentum"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--wd", type=float, default=0.004, help="AdamW's weight decay")
    p.add_argument("--schedule", default="warmup-cosine")
    p.add_argument("--init", default="glorot_uniform",
                   help="kernel initializer of the hidden Dense layers (a Keras name or normal:STD)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("no-normalization", "step-in-epochs"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    numeric, channel, y = records(args.samples, args.seed)
    idx = np.arange(len(y))
    i_tr, i_val = common.split(idx, y, seed=args.seed)[:2]
    num_tr, num_val = numeric[i_tr], numeric[i_val]
    ch_tr, ch_val = channel[i_tr], channel[i_val]
    y_tr, y_val = y[i_tr], y[i_val]

    counts = np.bincount(y_tr, minlength=3)
    class_weight = {c: float(len(y_tr) / (3 * counts[c])) for c in range(3)}

    num_in = keras.Input(shape=(numeric.shape[1],), name="numeric")
    ch_in = keras.Input(shape=(1,), dtype="int32", name="channel")
    # The training set's statistics, per column, fixed in the Normalization layer. (Not
    # norm.adapt(num_tr): an adapted Normalization layer keeps an int64 `count` among its
    # weights, and the Keras recorder then fails in the first train step when it concatenates
    # that layer's weights; given mean and variance, the layer has no weights and is not
    # recorded.)
    mean, variance = num_tr.mean(axis=0), num_tr.var(axis=0)
    h_num = num_in
    if args.bug != "no-normalization":
        h_num = layers.Normalization(mean=mean, variance=variance, name="norm")(h_num)
    # BUG (no-normalization): the Normalization layer is left out: the raw columns go in.
    h_num = layers.GaussianNoise(args.noise, name="noise")(h_num)
    h_ch = layers.Flatten(name="flatten")(
        layers.Embedding(CHANNELS, 4, name="channel_embed")(ch_in))
    h = layers.Concatenate(name="concat")([h_num, h_ch])
    init = args.init
    if init.startswith("normal:"):
        init = keras.initializers.RandomNormal(stddev=float(init.split(":")[1]))
    for i in (1, 2):
        h = layers.Dense(args.width // i, activation="relu", kernel_initializer=init,
                         name="dense%d" % i)(h)
        h = layers.Dropout(args.dropout, name="dropout%d" % i)(h)
    out = layers.Dense(3, activation="softmax", name="out")(h)
    model = keras.Model([num_in, ch_in], out, name="transactions")

    steps_per_epoch = -(-len(y_tr) // args.batch_size)
    kind, _, value = args.schedule.partition(":")
    lr = args.lr
    if kind == "warmup-cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=steps_per_epoch * (args.epochs - 1), warmup_target=args.lr,
            warmup_steps=steps_per_epoch)
    elif kind == "step":
        epochs = [int(v) for v in value.split(",")]
        boundaries = [e * steps_per_epoch for e in epochs]
        if args.bug == "step-in-epochs":
            # BUG: the boundaries are given in epochs, but the schedule counts optimizer
            # steps: the learning rate is divided by 100 after a handful of steps.
            boundaries = epochs
        lr = keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, [args.lr, args.lr / 10, args.lr / 100])
    elif kind != "none":
        raise SystemExit("unknown schedule: %s" % args.schedule)
    optimizer = {"adamw": lambda: keras.optimizers.AdamW(lr, weight_decay=args.wd),
                 "adam": lambda: keras.optimizers.Adam(lr),
                 "momentum": lambda: keras.optimizers.SGD(lr, momentum=0.9)}[args.optimizer]()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    fit_kw = {}
    if args.weighting == "class":
        fit_kw["class_weight"] = class_weight
    elif args.weighting == "sample":
        fit_kw["sample_weight"] = np.array([class_weight[c] for c in y_tr], dtype="float32")
    history = model.fit([num_tr, ch_tr], y_tr, validation_data=([num_val, ch_val], y_val),
                        epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out), **fit_kw)
    predicted = model.predict([num_val, ch_val], verbose=0).argmax(1)
    recall = [float((predicted[y_val == c] == c).mean()) for c in range(3)]
    print("validation recall per class: %s, balanced accuracy %.3f" % (
        " ".join("%.3f" % r for r in recall), np.mean(recall)))
    common.report(common.keras_result(history, steps_per_epoch * args.epochs,
                                      balanced_accuracy=float(np.mean(recall)),
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "weighted-no-normalization", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing input normalization (columns in their own units, "
               "amounts and balances in the thousands)",
     "bug": "the Normalization layer is left out: the raw columns (amounts and balances in the "
            "thousands) go into the first Dense layer, the first epoch's loss is about 900 and "
            "the run ends below the majority class's accuracy (0.48 validation accuracy, "
            "balanced accuracy 0.62)",
     "fix": "Normalization with the training set's per-column mean and variance",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-class-weights",
          "buggy": "--bug no-normalization --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "weighted-adamw-decay-too-large", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: regularization too strong (AdamW's decoupled weight "
               "decay)",
     "bug": "AdamW(weight_decay=50) (meant Keras' default 0.004): every step shrinks every "
            "weight, biases included, by the learning rate x 50, faster than the gradients "
            "grow them: the loss stays at ln 3 and the predictions carry no information "
            "(balanced accuracy 0.33)",
     "fix": "weight_decay=0.004",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "sample-weights-bs32",
          "buggy": "--weighting sample --batch-size 32 --wd 50 --record-every 2",
          "fixed": "--weighting sample --batch-size 32 --record-every 2"},
     ]},
    {"family": "weighted-step-boundaries-in-epochs", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (PiecewiseConstantDecay "
               "boundaries in epochs where the schedule counts optimizer steps)",
     "bug": "PiecewiseConstantDecay(boundaries=[3, 6]) meant as epochs: the schedule counts "
            "optimizer steps, so the learning rate drops to a tenth after step 3 and to a "
            "hundredth (3e-5) after step 6, and the other 298 steps barely move the weights: "
            "validation accuracy 0.74 (the majority class has 0.80), balanced accuracy 0.70",
     "fix": "the boundaries in steps (epochs x steps per epoch)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw",
          "buggy": "--schedule step:3,6 --bug step-in-epochs --record-every 2",
          "fixed": "--schedule step:3,6 --record-every 2"},
     ]},
    {"family": "weighted-constant-init", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: improper weight initialization (a constant "
               "initializer)",
     "bug": "kernel_initializer='ones' on both hidden Dense layers: every unit of a layer "
            "starts identical and the pre-activations add up layer after layer, so the logits "
            "are in the hundreds and the softmax saturated: the first epoch's loss is about 90 "
            "and the run ends at a balanced accuracy of 0.38 (validation accuracy 0.76, below "
            "the majority class's 0.80)",
     "fix": "Glorot-uniform kernels (Keras' default)",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--init ones --optimizer adam --schedule none --record-every 2",
          "fixed": "--optimizer adam --schedule none --record-every 2"},
     ]},
    {"family": "healthy-weighted", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a two-input classifier of imbalanced records that trains well",
     "healthy": [
         {"id": "no-weights-adam-dropout03-seed2",
          "args": "--weighting none --optimizer adam --lr 1e-3 --schedule none --dropout 0.3 --seed 2 --record-every 2",
          "description": "no class weights, Adam at a constant learning rate, dropout 0.3"},
         {"id": "sample-weights-step-seed1",
          "args": "--weighting sample --schedule step:4,7 --seed 1 --record-every 2",
          "description": "per-record sample weights, AdamW with a step schedule (boundaries "
                         "after epochs 4 and 7)"},
         {"id": "momentum-noise03-width128-bs32",
          "args": "--optimizer momentum --lr 0.02 --noise 0.3 --width 128 --batch-size 32 --record-every 2",
          "description": "class weights, SGD momentum with warm-up and cosine, Gaussian noise "
                         "0.3 on the normalized columns, dropout 0.5"},
     ]},
]


if __name__ == "__main__":
    main()
