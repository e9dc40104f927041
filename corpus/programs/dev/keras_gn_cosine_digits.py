"""A small Keras 3 CNN on scikit-learn's 8x8 digits with GroupNormalization, trained with AdamW
under a CosineDecay schedule with a linear warm-up, the way the Keras guides write it.

The images (pixels 0..16) are divided by 16 and reshaped to 8x8x1; 900 of them are used, 20%
held out for validation (``validation_data``). The network is a functional model: ``conv1``
(3x3) -> ``gn1`` (GroupNormalization) -> ReLU -> ``conv2`` -> ``gn2`` -> ReLU -> 2x2
max-pooling -> Flatten -> ``logits`` (Dense 10, softmax) under ``SparseCategoricalCrossentropy``.
The schedule is ``CosineDecay(initial_learning_rate=--lr0, decay_steps=..., warmup_target=
--peak, warmup_steps=--warmup)``; ``--filters`` sets the width of ``conv1`` (``conv2`` has
twice as many). The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--peak``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--filters", type=int, default=8)
    p.add_argument("--groups", type=int, default=4)
    p.add_argument("--lr0", type=float, default=0.0, help="initial_learning_rate")
    p.add_argument("--peak", type=float, default=1e-2, help="warmup_target")
    p.add_argument("--warmup", type=int, default=20, help="warmup_steps")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("no-warmup-target", "mse-int-labels"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    # the labels as a column, the way a data frame's target column comes out
    y = digits.target.astype("int32").reshape(-1, 1)
    x, y = x[:900], y[:900]
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.2, random_state=args.seed,
                                              stratify=y[:, 0])

    inputs = keras.Input(shape=(8, 8, 1))
    h = layers.Conv2D(args.filters, 3, padding="same", name="conv1")(inputs)
    h = layers.GroupNormalization(groups=args.groups, name="gn1")(h)
    h = layers.Activation("relu")(h)
    h = layers.Conv2D(2 * args.filters, 3, padding="same", name="conv2")(h)
    h = layers.GroupNormalization(groups=args.groups, name="gn2")(h)
    h = layers.Activation("relu")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Flatten()(h)
    outputs = layers.Dense(10, activation="softmax", name="logits")(h)
    model = keras.Model(inputs, outputs, name="gn_cnn")

    steps_per_epoch = -(-len(x_tr) // args.batch_size)
    total = steps_per_epoch * args.epochs
    if args.bug == "no-warmup-target":
        # BUG (no-warmup-target): warm-up "from 0" written as initial_learning_rate=0.0 with
        # warmup_steps, but warmup_target left out: the schedule has no warm-up and decays
        # from 0, i.e. the learning rate is 0 at every step
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=args.lr0, decay_steps=total - args.warmup,
            warmup_steps=args.warmup)
    else:
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=args.lr0, decay_steps=total - args.warmup,
            warmup_target=args.peak, warmup_steps=args.warmup)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule,
                                       weight_decay=args.weight_decay)
    if args.bug == "mse-int-labels":
        # BUG (mse-int-labels): 'mse' against the integer labels 0..9: the label column is
        # broadcast against the 10 probabilities
        loss, metrics = "mse", ["sparse_categorical_accuracy"]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = ["sparse_categorical_accuracy"]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    history = model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    h["accuracy"] = h.pop("sparse_categorical_accuracy")
    h["val_accuracy"] = h.pop("val_sparse_categorical_accuracy")
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4g acc %.3f val loss %.4g val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    common.report(common.keras_result(history, steps_per_epoch * len(h["loss"]),
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kgncos-warmup-target-missing", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong learning rate (a schedule that yields 0); "
               "DeepFD fault type: learning rate",
     "bug": "CosineDecay(initial_learning_rate=0.0, warmup_steps=20) without warmup_target: "
            "the schedule has no warm-up and decays from 0, AdamW's learning rate is 0 at "
            "every step; the loss stays at 2.465 for 8 epochs, the accuracy at 0.117 and the "
            "validation accuracy at 0.094",
     "fix": "warmup_target=1e-2",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "f8-bs32",
          "buggy": "--bug no-warmup-target --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kgncos-mse-on-softmax", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): loss='mse' on a softmax classifier "
               "with integer labels; Humbatova et al. 2020: wrong loss function",
     "bug": "loss='mse' between the label column (0..9) and the 10 softmax probabilities: the "
            "label is broadcast against every probability, the loss stays at 27.26 for 8 "
            "epochs and the validation accuracy ends at 0.083 (the training accuracy at 0.074)",
     "fix": "SparseCategoricalCrossentropy()",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "f8-bs32-seed1",
          "buggy": "--bug mse-int-labels --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kgncos-peak-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "warmup_target=2e-5 (meant 1e-2): in 8 epochs the loss falls only from 3.148 to "
            "2.781 and the validation accuracy is 0.094",
     "fix": "warmup_target=1e-2",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "f8-bs32-seed2",
          "buggy": "--peak 2e-5 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kgncos", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a GroupNormalization CNN on the digits under AdamW and a warmed-up "
                    "cosine decay that trains well",
     "healthy": [
         {"id": "f12-bs64-peak5e-3-seed3",
          "args": "--filters 12 --batch-size 64 --peak 5e-3 --epochs 10 --seed 3 --record-every 4",
          "description": "12 filters, batches of 64, warm-up to 5e-3"},
         {"id": "f6-g2-bs16-peak2e-2-seed4",
          "args": "--filters 6 --groups 2 --batch-size 16 --peak 2e-2 --epochs 6 --seed 4 --record-every 4",
          "description": "6 filters in 2 groups, batches of 16, warm-up to 2e-2"},
         {"id": "f8-wd1e-3-warmup40-seed5",
          "args": "--weight-decay 1e-3 --warmup 40 --seed 5 --record-every 4",
          "description": "weight decay 1e-3, 40 warm-up steps"},
     ]},
]


if __name__ == "__main__":
    main()
