"""A Keras 3 video classifier: ``TimeDistributed(Conv2D)`` over the frames of a short clip, then
an ``LSTM`` over the per-frame features, telling the direction a blob moves in.

The clips are generated here: 8 frames of 16 x 16 grey pixels stored as ``uint8`` (0..255, as
a camera writes them), a bright Gaussian blob (radius 1.5 to 2.5 pixels) that starts at a
random place and moves 1 pixel per frame up, down, left or right (the four classes), on a noisy
background. Labels are one-hot (``keras.utils.to_categorical``). The model is a
``keras.Sequential`` built with ``model.add`` lines: ``Input((8, 16, 16, 1))``, a
``Rescaling(1/255)`` layer, ``TimeDistributed(Conv2D(--filters, 3, relu))``,
``TimeDistributed(MaxPooling2D)``, a second ``TimeDistributed(Conv2D)`` and
``TimeDistributed(MaxPooling2D)``, ``TimeDistributed(Flatten)``, ``LSTM(--units)`` and a softmax ``Dense(4)``,
``categorical_crossentropy``, fit on numpy arrays with ``validation_split=0.2`` (Keras takes the
last fifth, before any shuffling). The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--optimizer``, ``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

DIRECTIONS = ("up", "down", "left", "right")
FRAMES, SIZE = 8, 16


def make_clips(n, seed):
    """(clips uint8 [n, 8, 16, 16, 1], direction labels [n]), in the order they were drawn."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(DIRECTIONS), size=n)
    step = {0: (-1, 0), 1: (1, 0), 2: (0, -1), 3: (0, 1)}
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    clips = np.empty((n, FRAMES, SIZE, SIZE, 1), dtype=np.uint8)
    for i in range(n):
        dr, dc = step[int(y[i])]
        r0 = rng.uniform(4, 12) - dr * 3.5
        c0 = rng.uniform(4, 12) - dc * 3.5
        radius = rng.uniform(1.5, 2.5)
        for t in range(FRAMES):
            r, c = r0 + dr * t, c0 + dc * t
            blob = np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * radius ** 2))
            frame = 40 + 180 * blob + rng.normal(0, 12, size=(SIZE, SIZE))
            clips[i, t, :, :, 0] = np.clip(frame, 0, 255).astype(np.uint8)
    return clips, y


def main():
    p = common.parser(__doc__)
    p.add_argument("--clips", type=int, default=1000)
    p.add_argument("--filters", type=int, default=8)
    p.add_argument("--units", type=int, default=16)
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "sgd", "nadam"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--bug", default=None,
                   choices=("no-rescaling", "sorted-no-shuffle", "mse-class-index"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    clips, y = make_clips(args.clips, args.seed)
    if args.bug == "sorted-no-shuffle":
        # BUG: the clips are grouped by direction (as the per-class folders were read) and fit
        # is told not to shuffle: validation_split takes the last fifth, all "right" clips.
        order = np.argsort(y, kind="stable")
        clips, y = clips[order], y[order]
    targets = keras.utils.to_categorical(y, len(DIRECTIONS))

    model = keras.Sequential(name="blob_direction")
    model.add(keras.Input(shape=(FRAMES, SIZE, SIZE, 1)))
    # BUG (no-rescaling): the Rescaling(1/255) line is left out; the pixels reach the
    # convolutions as 0..255.
    if args.bug != "no-rescaling":
        model.add(layers.Rescaling(1.0 / 255))
    model.add(layers.TimeDistributed(layers.Conv2D(args.filters, 3, activation="relu",
                                                   padding="same"), name="conv1"))
    model.add(layers.TimeDistributed(layers.MaxPooling2D(2), name="pool1"))
    model.add(layers.TimeDistributed(layers.Conv2D(2 * args.filters, 3, activation="relu",
                                                   padding="same"), name="conv2"))
    model.add(layers.TimeDistributed(layers.MaxPooling2D(2), name="pool2"))
    model.add(layers.TimeDistributed(layers.Flatten(), name="flatten"))
    model.add(layers.LSTM(args.units, name="lstm"))
    model.add(layers.Dense(len(DIRECTIONS), activation="softmax", name="direction"))

    optimizer = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
                 "nadam": keras.optimizers.Nadam,
                 "sgd": lambda learning_rate: keras.optimizers.SGD(
                     learning_rate=learning_rate, momentum=0.9)}[args.optimizer](
        learning_rate=args.lr)
    if args.bug == "mse-class-index":
        # BUG: the loss and targets of a regression example: MSE on the class index.
        loss, fit_targets = "mse", y.astype("float32")[:, None]
    else:
        loss, fit_targets = "categorical_crossentropy", targets
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    history = model.fit(clips, fit_targets, validation_split=0.2, epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        shuffle=args.bug != "sorted-no-shuffle",
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val %.4f val_acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    if args.bug == "mse-class-index":
        # the accuracy metric compares a 4-vector with an index: report the real one
        n_val = len(clips) - int(len(clips) * 0.8)
        pred = model.predict(clips[-n_val:], verbose=0).argmax(1)
        h["val_accuracy"] = h["val_accuracy"][:-1] + [float(np.mean(pred == y[-n_val:]))]
    steps = -(-int(len(clips) * 0.8) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kblobdir-no-rescaling", "split": "dev", "architecture": "lstm",
     "origin": "DeepLocalize benchmark (Stack Overflow): images fed as 0-255 pixels without "
               "rescaling; Humbatova et al. 2020: missing input normalization",
     "bug": "the Rescaling(1/255) layer is left out: the frames reach the convolutions as "
            "0..255, the per-frame features fed to the LSTM are in the hundreds and its gates "
            "saturate; the loss falls only from 1.32 to 1.10 and the validation accuracy ends "
            "at 0.650 of four directions, against the twin's 0.04 and 1.000",
     "fix": "model.add(Rescaling(1/255)) before the first TimeDistributed(Conv2D)",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug no-rescaling --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "kblobdir-mse-class-index", "split": "dev", "architecture": "lstm",
     "origin": "DeepLocalize benchmark (Stack Overflow): loss='mse' on class indices with a "
               "softmax output; Humbatova et al. 2020: wrong loss function",
     "bug": "loss='mse' with the direction's index (0..3, a column) as the target of the "
            "four-unit softmax: the softmax cannot reach 3 and its outputs always sum to 1, "
            "the loss stays at 2.824 from the second epoch and the validation accuracy ends at "
            "chance (about 0.21 of four directions) (seed 1)",
     "fix": "loss='categorical_crossentropy' on the one-hot labels",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug mse-class-index --seed 1 --record-every 2",
          "fixed": "--seed 1 --record-every 2"},
     ]},
    {"family": "kblobdir-sgd-lr-too-high", "split": "dev", "architecture": "lstm",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high; AUTOTRAINER: "
               "oscillating loss",
     "bug": "SGD(learning_rate=0.5, momentum=0.9) (meant 0.02): the loss rises from 1.06 in "
            "the first epoch to 1.65 in the last, the validation loss jumps between 1.33 and "
            "1.96 and the validation accuracy falls from 0.665 to 0.215 of four directions, "
            "against the twin's 0.860 (seed 3)",
     "fix": "SGD(learning_rate=0.02, momentum=0.9)",
     "symptom": "oscillation", "acceptable_symptoms": ["exploding_gradient", "not_learning",
                                                      "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--optimizer sgd --lr 0.5 --seed 3 --record-every 2",
          "fixed": "--optimizer sgd --lr 0.02 --seed 3 --record-every 2"},
     ]},
    {"family": "kblobdir-sorted-no-shuffle", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: training data not shuffled (clips grouped by class, "
               "fit(shuffle=False), validation_split taking the last, single-class fifth)",
     "bug": "the clips are grouped by direction and fit(shuffle=False): every epoch runs "
            "through the directions one block after the other, the model follows the block it "
            "is in, and validation_split's last fifth holds only 'right' clips, a class the "
            "training part barely has; the training accuracy stays at 0.26 to 0.51 and the "
            "validation accuracy at 0.000 for all six epochs (seed 4)",
     "fix": "shuffle the clips before fit and leave fit's shuffle=True",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed4",
          "buggy": "--bug sorted-no-shuffle --seed 4 --record-every 2",
          "fixed": "--seed 4 --record-every 2"},
     ]},
    {"family": "healthy-kblobdir", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a TimeDistributed(Conv2D) + LSTM clip classifier that trains well",
     "healthy": [
         {"id": "rmsprop-seed5",
          "args": "--optimizer rmsprop --lr 1e-3 --seed 5 --record-every 2",
          "description": "RMSprop 1e-3"},
         {"id": "nadam-f16-u32-seed6",
          "args": "--optimizer nadam --lr 2e-3 --filters 16 --units 32 --seed 6 --record-every 2",
          "description": "16 and 32 filters, an LSTM of 32 units, Nadam 2e-3"},
         {"id": "sgd-bs16-seed7",
          "args": "--optimizer sgd --lr 0.02 --batch-size 16 --epochs 5 --seed 7 --record-every 2",
          "description": "SGD momentum 0.02, batches of 16"},
         {"id": "adam-bs64-seed8",
          "args": "--lr 5e-3 --batch-size 64 --epochs 8 --seed 8 --record-every 2",
          "description": "Adam 5e-3, batches of 64"},
     ]},
]


if __name__ == "__main__":
    main()
