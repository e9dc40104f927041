"""A Keras 3 CNN with GroupNormalization on scikit-learn's 8x8 digits, AdamW and a cosine
schedule with a linear warm-up.

The 8x8 digit images (pixels 0..16) are divided by 16 and reshaped to (8, 8, 1); a stratified
subset of ``--train`` images is trained on and 360 others are the validation set. The model is
a ``keras.Sequential`` of ``Conv2D(filters, 3, padding="same", use_bias=False) ->
GroupNormalization(groups) -> ReLU`` twice (``conv1``/``gn1``, ``conv2``/``gn2``, a
``MaxPooling2D`` between them), ``GlobalAveragePooling2D`` and ``Dense(10, softmax)``
(``digit``). The optimizer is ``keras.optimizers.AdamW`` whose learning rate is a
``keras.optimizers.schedules.CosineDecay`` starting at 0, warmed up linearly to
``warmup_target=--lr`` over ``--warmup-epochs`` epochs (``warmup_steps`` in optimizer steps)
and then decayed to 0 over the remaining steps; loss ``sparse_categorical_crossentropy``. The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--groups", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--warmup-epochs", type=int, default=1)
    p.add_argument("--train", type=int, default=900)
    p.add_argument("--bug", default=None, choices=("decay-steps-in-epochs",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.model_selection import train_test_split

    x, y = common.load("digits")
    x = (x / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, train_size=args.train, test_size=360,
                                              stratify=y, random_state=args.seed)

    f = args.filters
    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(f, 3, padding="same", use_bias=False, name="conv1"),
        layers.GroupNormalization(groups=args.groups, name="gn1"),
        layers.ReLU(),
        layers.MaxPooling2D(2),
        layers.Conv2D(2 * f, 3, padding="same", use_bias=False, name="conv2"),
        layers.GroupNormalization(groups=args.groups, name="gn2"),
        layers.ReLU(),
        layers.GlobalAveragePooling2D(),
        layers.Dense(10, activation="softmax", name="digit"),
    ], name="gn_digits")

    steps_per_epoch = -(-len(x_tr) // args.batch_size)
    warmup_steps = args.warmup_epochs * steps_per_epoch
    decay_steps = (args.epochs - args.warmup_epochs) * steps_per_epoch
    if args.bug == "decay-steps-in-epochs":
        # BUG (decay-steps-in-epochs): decay_steps given in epochs, as the warm-up was
        # planned: the cosine reaches 0 ten steps after the warm-up and stays there.
        decay_steps = args.epochs - args.warmup_epochs
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=decay_steps, warmup_target=args.lr, warmup_steps=warmup_steps)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=schedule,
                                                   weight_decay=args.weight_decay),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    common.report(common.keras_result(history, steps_per_epoch * len(h["loss"]),
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kgncos-decay-steps-in-epochs", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (training); DeepFD fault "
               "type: learning rate; decay_steps of a Keras CosineDecay given in epochs",
     "bug": "CosineDecay(decay_steps=epochs - warmup_epochs) (9, meant as epochs) after a "
            "29-step warm-up: the learning rate reaches 0 nine steps after the warm-up and "
            "stays there, the weights stop changing in the second epoch, the loss stays at "
            "2.269 and the accuracy at 0.207, validation 0.208 (the twin: 2.464 -> 0.746, "
            "accuracy 0.929, validation 0.867)",
     "fix": "decay_steps=(epochs - warmup_epochs) * steps_per_epoch",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug decay-steps-in-epochs --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kgncos-warmup-target-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): 'accuracy stuck at 10%' on digits "
               "with a large Adam learning rate; DeepFD fault type: learning rate too high "
               "(warmup_target=0.5 for AdamW)",
     "bug": "warmup_target=0.5: as the warm-up reaches large learning rates the network "
            "collapses to one class, the loss goes 2.404, 2.376, ... 2.304 and the accuracy "
            "ends at 0.101, validation 0.100 (chance; the twin at 3e-3: accuracy 0.929, "
            "validation 0.867)",
     "fix": "warmup_target=3e-3",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "exploding_gradient",
                                                       "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--lr 0.5 --record-every 4",
          "fixed": "--lr 3e-3 --record-every 4"},
     ]},
    {"family": "healthy-kgncos", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a GroupNormalization CNN on 8x8 digits under AdamW and a warmed-up cosine "
                    "schedule that trains well",
     "healthy": [
         {"id": "filters8-groups2-seed1",
          "args": "--filters 8 --groups 2 --lr 6e-3 --seed 1 --record-every 4",
          "description": "8 and 16 filters, two groups, warm-up to 6e-3"},
         {"id": "bs64-lr1e-2-warmup2-seed2",
          "args": "--batch-size 64 --lr 1e-2 --warmup-epochs 2 --seed 2 --record-every 4",
          "description": "batches of 64, two warm-up epochs to 1e-2"},
         {"id": "wd1e-3-lr5e-3-seed3",
          "args": "--weight-decay 1e-3 --lr 5e-3 --seed 3 --record-every 4",
          "description": "weight_decay=1e-3, warm-up to 5e-3"},
     ]},
]


if __name__ == "__main__":
    main()
