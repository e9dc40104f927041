"""A small Keras 3 CNN for shape images with the augmentation inside the model, written the
way the keras.io example "Image classification from scratch" is: a ``data_augmentation =
keras.Sequential([RandomFlip, RandomRotation, RandomZoom])`` block, ``layers.Rescaling(1.0 /
255)`` as the first layer of the model after it, the images fed as uint8, and ``Nadam``.

The data are generated here: 600 grey 16x16 images as uint8 (0..255) of three shapes (disc,
square, triangle) of random size and position, drawn with a random brightness on a dark noisy
background, in random class order. ``validation_split=0.2`` takes the last 120 for validation.

The model (``Sequential``): ``RandomFlip("horizontal")``, ``RandomRotation(0.1)``,
``RandomZoom(0.1)`` (active only while training), ``Rescaling(1/255)``, ``Conv2D(--filters, 3,
relu)`` (``conv2d``), ``MaxPooling2D``, ``Conv2D(2 --filters, 3, relu)`` (``conv2d_1``),
``MaxPooling2D``, ``Flatten``, ``Dense(--units, relu)`` (``dense``) and a 3-way softmax
(``dense_1``) under ``sparse_categorical_crossentropy`` and ``Nadam(--lr)``. The mistakes of
the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
SIZE = 16


def make_shapes(n, seed):
    rng = np.random.default_rng(3000 + seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    images = np.zeros((n, SIZE, SIZE, 1), dtype="uint8")
    labels = rng.integers(0, 3, n)
    for i in range(n):
        r = rng.uniform(4.0, 7.0)
        cy, cx = rng.uniform(r, SIZE - r, 2)
        if labels[i] == 0:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        elif labels[i] == 1:
            mask = (np.abs(yy - cy) <= r * 0.8) & (np.abs(xx - cx) <= r * 0.8)
        else:
            mask = (yy - cy + r >= 0) & (yy - cy <= r) & (np.abs(xx - cx) <= (yy - cy + r) / 2)
        img = rng.normal(30, 12, (SIZE, SIZE))
        img[mask] = rng.uniform(140, 250)
        images[i, :, :, 0] = np.clip(img, 0, 255).astype("uint8")
    return images, labels


def main():
    p = common.parser(__doc__)
    p.add_argument("--filters", type=int, default=12)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("zeros-init", "sigmoid-stack"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    x, y = make_shapes(600, args.seed)

    data_augmentation = keras.Sequential([
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.1),
        layers.RandomZoom(0.1),
    ], name="data_augmentation")

    act = "sigmoid" if args.bug == "sigmoid-stack" else "relu"
    model = keras.Sequential(name="shapes_cnn")
    model.add(keras.Input(shape=(SIZE, SIZE, 1)))
    model.add(data_augmentation)
    model.add(layers.Rescaling(1.0 / 255))
    # BUG (zeros-init): kernel_initializer="zeros" in every Conv2D and Dense layer.
    init = "zeros" if args.bug == "zeros-init" else "glorot_uniform"
    # BUG (sigmoid-stack): activation="sigmoid" in both convolutions and the Dense layer.
    model.add(layers.Conv2D(args.filters, 3, activation=act, padding="same",
                            kernel_initializer=init, name="conv2d"))
    model.add(layers.MaxPooling2D())
    model.add(layers.Conv2D(2 * args.filters, 3, activation=act, padding="same",
                            kernel_initializer=init, name="conv2d_1"))
    model.add(layers.MaxPooling2D())
    model.add(layers.Flatten())
    model.add(layers.Dense(args.units, activation=act, kernel_initializer=init,
                           name="dense"))
    model.add(layers.Dense(3, activation="softmax", kernel_initializer=init,
                           name="dense_1"))

    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=args.lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, validation_split=0.2, epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    for e in range(len(history.history["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, history.history["loss"][e], history.history["accuracy"][e],
            history.history["val_loss"][e], history.history["val_accuracy"][e]))
    steps = -(-int(len(x) * 0.8) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kshapeaug-sigmoid-stack", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: vanishing gradient; Humbatova et al. 2020: wrong activation "
               "function (sigmoid in the hidden layers of a CNN)",
     "bug": "activation='sigmoid' in both Conv2D layers and the hidden Dense layer: the "
            "gradient shrinks through the stacked sigmoids, the loss stays near ln 3 for five "
            "epochs (1.12 in the first, 1.11 in the fifth, 1.02 in the tenth) and the "
            "validation accuracy is 0.62 after 10 epochs (the fixed twin: 0.95)",
     "fix": "activation='relu'",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["slow_convergence", "saturation",
                                                             "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "nadam-seed1",
          "buggy": "--bug sigmoid-stack --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kshapeaug-nadam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): 'accuracy stuck at 33%' with a learning "
               "rate far too high; AUTOTRAINER / DeepDiagnosis: learning rate too high",
     "bug": "Nadam(learning_rate=0.05): the first epoch's loss is 1.31, then the ReLU units die "
            "and the loss sits at 1.100 (ln 3) with the validation accuracy at 0.35 (one "
            "class) for the remaining 9 epochs",
     "fix": "Nadam(learning_rate=3e-3)",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--lr 0.05 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "kshapeaug-zeros-init", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: bad weight initialization "
               "(kernel_initializer='zeros'); Humbatova et al. 2020: wrong weight "
               "initialisation",
     "bug": "kernel_initializer='zeros' in every Conv2D and Dense layer: every ReLU outputs 0 "
            "and passes no gradient, only the output bias moves, the loss goes from 1.0986 to "
            "1.0971 in 10 epochs and the validation accuracy stays at 0.37 (the fixed twin: "
            "0.80)",
     "fix": "the default glorot_uniform initializer",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--bug zeros-init --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kshapeaug", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a shape-image CNN with RandomFlip/RandomRotation/RandomZoom inside the "
                    "model, trained with Nadam, that trains well",
     "healthy": [
         {"id": "lr1e-3-bs16-seed4",
          "args": "--lr 1e-3 --batch-size 16 --seed 4 --record-every 4",
          "description": "Nadam(1e-3), batches of 16"},
         {"id": "f8-u64-lr2e-3-seed5",
          "args": "--filters 8 --units 64 --lr 2e-3 --seed 5 --record-every 4",
          "description": "8 and 16 filters, a Dense layer of 64, Nadam(2e-3)"},
     ]},
]


if __name__ == "__main__":
    main()
