"""A Keras 3 ConvLSTM2D classifier of short clips, written the way the "next-frame prediction
with ConvLSTM" and "moving MNIST" examples start out: a ``keras.Sequential`` of
``ConvLSTM2D`` layers, a global pooling and a softmax, compiled with ``Nadam`` and trained by
``model.fit`` on numpy arrays with ``validation_split``.

Data (generated here): clips of 5 grey-scale frames of 10x10, already in [0, 1]. Each clip
shows one dot (a Gaussian spot of radius 0.8 to 1.3 pixels) moving 1 pixel per frame left,
right, up or down (the class) over faint noise. A single frame says nothing about the class.
The clips are generated direction by direction (as a simulator writes them out) and shuffled
once with their labels before ``model.fit``, whose ``validation_split`` takes the last 20%.

Model: ``ConvLSTM2D(--filters, 3)`` ``convlstm`` (tanh, recurrent sigmoid gates), a
``BatchNormalization`` ``bn``, ``GlobalAveragePooling2D``, ``Dense(--hidden, relu)``
``hidden``, ``Dense(4, softmax)`` ``direction``; ``sparse_categorical_crossentropy``. The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

FRAMES, SIZE = 5, 10
MOVES = ((0, -1), (0, 1), (-1, 0), (1, 0))  # left, right, up, down as (drow, dcol)


def make_clips(per_class, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float32")
    clips, labels = [], []
    for label, (dr, dc) in enumerate(MOVES):
        for _ in range(per_class):
            r0 = rng.uniform(1.5, SIZE - 2.5) if dr == 0 else (
                rng.uniform(1, 3) if dr > 0 else rng.uniform(SIZE - 4, SIZE - 2))
            c0 = rng.uniform(1.5, SIZE - 2.5) if dc == 0 else (
                rng.uniform(1, 3) if dc > 0 else rng.uniform(SIZE - 4, SIZE - 2))
            radius = rng.uniform(0.8, 1.3)
            clip = np.empty((FRAMES, SIZE, SIZE, 1), dtype="float32")
            for t in range(FRAMES):
                r, c = r0 + dr * t, c0 + dc * t
                dot = np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / (2 * radius ** 2))
                clip[t, :, :, 0] = np.clip(dot + rng.normal(0, 0.04, dot.shape), 0, 1)
            clips.append(clip)
            labels.append(label)
    return np.stack(clips), np.array(labels)


def main():
    p = common.parser(__doc__)
    p.add_argument("--filters", type=int, default=8)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--bug", default=None,
                   choices=("not-shuffled", "one-sigmoid-bce"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    x, y = make_clips(250, args.seed)
    if args.bug != "not-shuffled":
        order = np.random.default_rng(args.seed).permutation(len(x))
        x, y = x[order], y[order]
    # BUG (not-shuffled): the clips stay in the order they were generated, direction by
    # direction; validation_split takes the last 20% (all "down") before fit's shuffle.

    bce = args.bug == "one-sigmoid-bce"
    model = keras.Sequential([
        keras.Input(shape=(FRAMES, SIZE, SIZE, 1)),
        layers.ConvLSTM2D(args.filters, 3, padding="same", name="convlstm"),
        layers.BatchNormalization(name="bn"),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(args.hidden, activation="relu", name="hidden"),
        # BUG (one-sigmoid-bce): one sigmoid unit and binary_crossentropy, as for a yes/no
        # label, on direction labels 0..3.
        layers.Dense(1, activation="sigmoid", name="direction") if bce else
        layers.Dense(4, activation="softmax", name="direction"),
    ], name="convlstm_dots")
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=args.lr),
                  loss="binary_crossentropy" if bce else "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, validation_split=0.2, batch_size=args.batch_size,
                        epochs=args.epochs, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    for e, vl in enumerate(history.history["val_loss"]):
        print("epoch %d: loss %.4f acc %.3f val_loss %.4f val_acc %.3f" % (
            e + 1, history.history["loss"][e], history.history["accuracy"][e], vl,
            history.history["val_accuracy"][e]))
    steps = -(-int(len(x) * 0.8) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kcvlstm-clips-not-shuffled", "split": "dev", "architecture": "lstm",
     "origin": "DeepLocalize benchmark (Stack Overflow): 'validation accuracy is 0 while "
               "training accuracy is high', validation_split on data ordered by class; "
               "Humbatova et al. 2020: training data quality (unshuffled data before the split)",
     "bug": "the clips stay in the order they were generated, direction by direction, and "
            "validation_split=0.2 takes the last fifth before fit() shuffles: every validation "
            "clip moves down and only 50 of the 800 training clips do; the training loss falls "
            "from 1.342 to 0.141 (training accuracy 0.938) while the validation loss climbs "
            "from 1.62 to 2.36 and the validation accuracy is 0.000 in all 6 epochs (with "
            "seed 7 the 50 training clips that move down were enough: 0.94)",
     "fix": "shuffle clips and labels together before fit(validation_split=0.2): validation "
            "accuracy 1.000, validation loss 0.233",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "nadam",
          "buggy": "--bug not-shuffled --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kcvlstm-one-sigmoid-bce", "split": "dev", "architecture": "lstm",
     "origin": "DeepLocalize benchmark (Stack Overflow): binary_crossentropy and one sigmoid "
               "unit on a multi-class problem, 'negative loss'; DeepFD: wrong loss function; "
               "Humbatova et al. 2020: wrong loss function",
     "bug": "one sigmoid unit and binary_crossentropy on direction labels 0..3: the loss "
            "rewards an output of 1 for labels 2 and 3 without bound and goes negative (0.422 "
            "-> -25.44 in 6 epochs, the validation loss -33.6), the training accuracy stays at "
            "0.31 and the validation accuracy at 0.285 of four directions",
     "fix": "Dense(4, softmax) and sparse_categorical_crossentropy: validation accuracy 1.000 "
            "(seed 1, batches of 16)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "nadam-seed1-bs16",
          "buggy": "--bug one-sigmoid-bce --seed 1 --batch-size 16 --lr 1e-3 --record-every 4",
          "fixed": "--seed 1 --batch-size 16 --lr 1e-3 --record-every 4"},
     ]},
    {"family": "kcvlstm-nadam-lr-too-high", "split": "dev", "architecture": "lstm",
     "origin": "AUTOTRAINER: oscillating loss; DeepFD / DeepDiagnosis fault type: learning rate "
               "too high; Humbatova et al. 2020: suboptimal learning rate",
     "bug": "Nadam at 0.5 (an SGD learning rate): the training loss goes 2.20, 1.33, 1.09, "
            "1.08, 1.55, 1.50 and the validation loss jumps between 1.57 and 49.5; the "
            "validation accuracy ends at 0.245 of four directions",
     "fix": "Nadam at 2e-3: validation accuracy 1.000",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "nadam",
          "buggy": "--lr 0.5 --epochs 6 --record-every 4",
          "fixed": "--lr 2e-3 --epochs 6 --record-every 4"},
     ]},
    {"family": "kcvlstm-nadam-lr-too-low", "split": "dev", "architecture": "lstm",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low; AUTOTRAINER: slow "
               "convergence",
     "bug": "Nadam at 3e-5: in 8 epochs the loss falls only from 1.386 to 1.383 and the "
            "validation accuracy ends at 0.230 of four directions",
     "fix": "Nadam at 2e-3: loss 1.365 -> 0.029, validation accuracy 0.985",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "nadam-seed6",
          "buggy": "--lr 3e-5 --seed 6 --epochs 8 --record-every 4",
          "fixed": "--lr 2e-3 --seed 6 --epochs 8 --record-every 4"},
     ]},
    {"family": "healthy-kcvlstm", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a ConvLSTM2D clip classifier under Nadam that trains well",
     "healthy": [
         {"id": "filters12-bs64-lr4e-3-seed2",
          "args": "--filters 12 --lr 4e-3 --batch-size 64 --epochs 8 --seed 2 --record-every 4",
          "description": "12 filters, Nadam at 4e-3, batches of 64"},
         {"id": "hidden32-seed3",
          "args": "--hidden 32 --lr 2e-3 --seed 3 --epochs 5 --record-every 4",
          "description": "a hidden layer of 32 units, 5 epochs"},
         {"id": "filters6-hidden24-bs16-seed4",
          "args": "--filters 6 --hidden 24 --batch-size 16 --lr 1e-3 --seed 4 --record-every 4",
          "description": "6 filters, a hidden layer of 24 units, Nadam at 1e-3, batches of 16"},
     ]},
]


if __name__ == "__main__":
    main()
