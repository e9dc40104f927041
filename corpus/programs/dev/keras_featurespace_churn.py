"""A churn classifier on a customer table preprocessed by ``keras.utils.FeatureSpace``, Keras 3.

Written the way the Keras "structured data classification with FeatureSpace" example is: the
table is a dict of columns fed to ``tf.data.Dataset.from_tensor_slices((dict(columns),
labels))``, a ``FeatureSpace`` (numerical columns ``float_normalized``, the string plan and the
integer region one-hot, the customer's postcode hashed into 32 bins, a cross of plan and region)
is adapted on the training features and mapped over the datasets, and a small Sequential Dense
model is trained on the preprocessed vectors with ``SGD(momentum=0.9)`` and
``binary_crossentropy``.

The table (generated here, 1500 customers): tenure in months (1..72), monthly charges in
dollars (20..120), support calls last quarter (0..9), plan (``basic``, ``standard``,
``premium``), region (1..5) and a 5-digit postcode. Churn is drawn from a logistic rule: more
likely with many support calls, a short tenure, high charges and the basic plan in regions 2
and 4 (about 30% churn). Layers with weights: ``dense``, ``dense_1``, ``churn`` (sigmoid). The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def customers(n, seed):
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 73, n)
    charges = np.round(rng.uniform(20, 120, n), 2)
    calls = rng.poisson(1.8, n).clip(0, 9)
    plan = rng.choice(np.array(["basic", "standard", "premium"]), n, p=[0.45, 0.35, 0.2])
    region = rng.integers(1, 6, n)
    postcode = rng.integers(10000, 99999, n)
    logit = (-1.2 + 0.7 * (calls - 1.8) - 0.05 * (tenure - 36) + 0.03 * (charges - 70)
             + 1.8 * ((plan == "basic") & np.isin(region, [2, 4])) - 0.8 * (plan == "premium"))
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    columns = {"tenure": tenure.astype("float32"), "charges": charges.astype("float32"),
               "calls": calls.astype("float32"), "plan": plan, "region": region.astype("int64"),
               "postcode": postcode.astype("int64")}
    return columns, churn


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", default="32,16")
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("float-not-normalized", "labels-reshuffled"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras.utils import FeatureSpace

    columns, churn = customers(1500, args.seed)
    n_val = 300
    train = {k: v[:-n_val] for k, v in columns.items()}
    val = {k: v[-n_val:] for k, v in columns.items()}
    y_train, y_val = churn[:-n_val], churn[-n_val:]
    if args.bug == "labels-reshuffled":
        # BUG (labels-reshuffled): the labels are shuffled "for training" apart from the rows.
        y_train = np.random.default_rng(args.seed + 1).permutation(y_train)

    # BUG (float-not-normalized): FeatureSpace.float() passes the raw months and dollars.
    numeric = FeatureSpace.float if args.bug == "float-not-normalized" \
        else FeatureSpace.float_normalized
    feature_space = FeatureSpace(
        features={
            "tenure": numeric(),
            "charges": numeric(),
            "calls": numeric(),
            "plan": FeatureSpace.string_categorical(num_oov_indices=0),
            "region": FeatureSpace.integer_categorical(num_oov_indices=0),
            "postcode": FeatureSpace.integer_hashed(num_bins=32),
        },
        crosses=[FeatureSpace.cross(feature_names=("plan", "region"), crossing_dim=16)],
        output_mode="concat",
    )
    train_ds = tf.data.Dataset.from_tensor_slices((train, y_train))
    val_ds = tf.data.Dataset.from_tensor_slices((val, y_val))
    feature_space.adapt(train_ds.map(lambda x, _: x).batch(256))

    train_ds = train_ds.shuffle(len(y_train), seed=args.seed).batch(args.batch_size)
    train_ds = train_ds.map(lambda x, y: (feature_space(x), y))
    val_ds = val_ds.batch(256).map(lambda x, y: (feature_space(x), y))
    dim = int(next(iter(train_ds))[0].shape[-1])

    model = keras.Sequential([keras.Input(shape=(dim,))]
                             + [keras.layers.Dense(w, activation="relu")
                                for w in common.ints(args.hidden)]
                             + [keras.layers.Dense(1, activation="sigmoid", name="churn")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=args.lr,
                                                 momentum=args.momentum),
                  loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = -(-len(y_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      churn_share=float(churn.mean())))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kfschurn-float-not-normalized", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow): a Keras tabular model stuck at the "
               "majority class on columns in their own units; AUTOTRAINER / DeepFD: missing "
               "input normalization",
     "bug": "FeatureSpace.float() for tenure (months), charges (dollars) and support calls "
            "instead of float_normalized(): the dollars and months dominate the concatenated "
            "vector, the ReLU units saturate their sigmoid output and SGD-momentum makes no "
            "progress past the majority class; the loss goes from 1.171 to 0.625, the "
            "training accuracy is 0.683 and the validation accuracy 0.730 (the share of "
            "customers who stay; the twin reaches 0.833)",
     "fix": "FeatureSpace.float_normalized() for the three numerical columns",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--bug float-not-normalized --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kfschurn-labels-reshuffled", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 taxonomy: training data / labels not matching the "
               "inputs; DeepDiagnosis fault type: wrong labels",
     "bug": "the training labels are permuted apart from the rows: nothing in the features "
            "predicts them, the model learns only the churn share: the loss goes from 0.655 to "
            "0.597, the training accuracy is 0.684 and the validation accuracy 0.637 (the "
            "twin reaches 0.828 and 0.770)",
     "fix": "keep each label with its row (the dataset's shuffle shuffles both)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-bs64-seed1",
          "buggy": "--bug labels-reshuffled --lr 0.05 --batch-size 64 --seed 1 --record-every 4",
          "fixed": "--lr 0.05 --batch-size 64 --seed 1 --record-every 4"},
     ]},
    {"family": "kfschurn-sgd-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: oscillating loss; DeepLocalize benchmark (Stack Overflow): SGD "
               "learning rate set far too high",
     "bug": "SGD(learning_rate=2.0, momentum=0.9): the loss goes up and down (0.648 in the "
            "first epoch, 0.696 in the fifth, 0.653 in the last) and the validation accuracy "
            "stays at 0.633, the majority share (the twin 0.823 / 0.753)",
     "fix": "SGD(learning_rate=0.02, momentum=0.9)",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed3",
          "buggy": "--lr 2.0 --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kfschurn", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a churn classifier on a FeatureSpace-preprocessed customer table under "
                    "SGD with momentum that trains well",
     "healthy": [
         {"id": "wide-m0.8-lr0.01-seed2",
          "args": "--hidden 64,32 --momentum 0.8 --lr 0.01 --seed 2 --record-every 4",
          "description": "hidden layers of 64 and 32, momentum 0.8, learning rate 0.01"},
         {"id": "narrow-bs16-lr0.01-seed4",
          "args": "--hidden 16,8 --batch-size 16 --lr 0.01 --seed 4 --record-every 4",
          "description": "hidden layers of 16 and 8, batches of 16"},
     ]},
]


if __name__ == "__main__":
    main()
