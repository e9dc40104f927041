"""A small Keras CNN on scikit-learn's 8x8 digits trained with MixUp (Zhang et al., ICLR 2018)
done in the ``tf.data`` pipeline: two independently shuffled streams of batches are zipped and
every pair is mixed with one weight drawn from Beta(``--alpha``, ``--alpha``) (two Gamma draws,
stateless, seeded by the batch number), images and one-hot labels alike, under
``categorical_crossentropy``; SGD with momentum under
``keras.optimizers.schedules.CosineDecayRestarts`` (first period ``--period`` epochs, each next
one twice as long).

Data: scikit-learn's digits (1797 images, grey levels 0..16, divided by 16), a stratified
validation fifth evaluated without mixing. ``--filters`` the first convolution's filters (the
second has twice as many). The mistakes of the families in CASES are selected with ``--bug``
or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--alpha", type=float, default=0.2)
    p.add_argument("--period", type=int, default=2, help="first restart period in epochs")
    p.add_argument("--filters", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("mse-on-softmax", "label-weight-swapped"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    x, y = common.load("digits")
    x = x.reshape(-1, 8, 8, 1).astype("float32")
    x = x / 16.0
    x_train, x_val, y_train, y_val = common.split(x, y, val=0.2, seed=args.seed)
    y_train = keras.utils.to_categorical(y_train, 10).astype("float32")
    y_val = keras.utils.to_categorical(y_val, 10).astype("float32")

    def stream(shuffle_seed):
        return (tf.data.Dataset.from_tensor_slices((x_train, y_train))
                .shuffle(len(x_train), seed=shuffle_seed, reshuffle_each_iteration=True)
                .repeat().batch(args.batch_size, drop_remainder=True))

    def mix(i, pair):
        (xa, ya), (xb, yb) = pair
        seed = tf.stack([tf.constant(args.seed, tf.int64), i])
        g1 = tf.random.stateless_gamma([], seed=seed, alpha=args.alpha)
        g2 = tf.random.stateless_gamma([], seed=seed + 1, alpha=args.alpha)
        lam = g1 / (g1 + g2)
        if args.bug == "label-weight-swapped":
            # BUG (label-weight-swapped): the labels get the other image's weight.
            return lam * xa + (1 - lam) * xb, (1 - lam) * ya + lam * yb
        return lam * xa + (1 - lam) * xb, lam * ya + (1 - lam) * yb

    train = (tf.data.Dataset.zip((stream(args.seed), stream(args.seed + 100)))
             .enumerate().map(mix).prefetch(2))
    steps_per_epoch = len(x_train) // args.batch_size

    f = args.filters
    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(f, 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2),
        layers.Conv2D(2 * f, 3, padding="same", activation="relu", name="conv2"),
        layers.Flatten(),
        layers.Dense(10, activation="softmax", name="digit"),
    ])
    schedule = keras.optimizers.schedules.CosineDecayRestarts(
        initial_learning_rate=args.lr, first_decay_steps=args.period * steps_per_epoch,
        t_mul=2.0, m_mul=1.0, alpha=0.0)
    # BUG (mse-on-softmax): mean squared error on the softmax's probabilities.
    loss = "mse" if args.bug == "mse-on-softmax" else "categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule,
                                                 momentum=args.momentum),
                  loss=loss, metrics=["categorical_accuracy"])
    history = model.fit(train, steps_per_epoch=steps_per_epoch, epochs=args.epochs,
                        validation_data=(x_val, y_val), verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e, vl in enumerate(h["val_loss"]):
        print("epoch %d: loss %.4g val loss %.4g val acc %.3f" % (
            e + 1, h["loss"][e], vl, h["val_categorical_accuracy"][e]))
    h["accuracy"], h["val_accuracy"] = h["categorical_accuracy"], h["val_categorical_accuracy"]
    common.report(common.keras_result(history, steps_per_epoch * len(h["loss"]),
                                      layers=common.keras_layers(model)))


if __name__ == "__main__":
    main()


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kmixcdr-sgd-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high; AUTOTRAINER: "
               "unstable training",
     "bug": "SGD(momentum=0.9) under CosineDecayRestarts starting at 1.0 instead of 0.05: the "
            "first epoch's loss is 2.39, the last 2.34 (chance's 2.30), and the validation "
            "accuracy ends at 0.10 of ten digits (the fixed run's 0.96)",
     "fix": "initial_learning_rate=0.05",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "dead_or_zero",
                                                      "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum-seed1",
          "buggy": "--lr 1.0 --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kmixcdr-label-weight-swapped", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong labels for training data (a data-augmentation "
               "step that pairs inputs with the wrong targets); MixUp (Zhang et al., ICLR 2018)",
     "bug": "the mixed labels take the other image's weight ((1 - lam) y_a + lam y_b for "
            "lam x_a + (1 - lam) x_b; with Beta(0.2, 0.2) lam is mostly near 0 or 1, so most "
            "labels belong to the other image): the loss stays at 2.31 to 2.30 and the "
            "validation accuracy ends at 0.34 of ten digits (the fixed run's 0.95)",
     "fix": "lam y_a + (1 - lam) y_b",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum-seed2",
          "buggy": "--bug label-weight-swapped --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "kmixcdr-mse-on-softmax", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): loss='mse' on a softmax classifier "
               "whose accuracy stays low; Humbatova et al. 2020: wrong loss function",
     "bug": "loss='mse' on the softmax's ten probabilities: the loss moves from 0.0755 to "
            "0.0759 in 8 epochs and the validation accuracy ends at 0.31 of ten digits (the "
            "fixed run's 0.98)",
     "fix": "loss='categorical_crossentropy'",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum-seed3",
          "buggy": "--bug mse-on-softmax --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kmixcdr", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Keras CNN on the digits with MixUp in tf.data and SGD under "
                    "CosineDecayRestarts that trains well",
     "healthy": [
         {"id": "lr0.02-bs16-seed5",
          "args": "--lr 0.02 --batch-size 16 --seed 5 --record-every 4",
          "description": "initial learning rate 0.02, batches of 16"},
         {"id": "filters16-momentum0.8-alpha0.4-seed6",
          "args": "--filters 16 --momentum 0.8 --alpha 0.4 --seed 6 --record-every 4",
          "description": "16 and 32 filters, momentum 0.8, Beta(0.4, 0.4)"},
         {"id": "lr0.1-bs64-period1-seed7",
          "args": "--lr 0.1 --batch-size 64 --period 1 --seed 7 --record-every 4",
          "description": "initial learning rate 0.1, batches of 64, a first period of one epoch"},
     ]},
]
