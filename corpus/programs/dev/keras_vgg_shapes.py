"""A VGG-style Keras 3 ``Sequential`` CNN on generated CIFAR-like colour images of shapes, written
the way the Keras blog and the CIFAR-10 tutorials write a "small VGG" (Jason Brownlee, "How to
Develop a CNN From Scratch for CIFAR-10 Photo Classification": blocks of
``Conv2D``-``BatchNormalization``-``Conv2D``-``BatchNormalization``-``MaxPooling2D``-``Dropout``,
then ``Flatten``, ``Dense``, ``Dropout`` and a softmax), trained with ``model.fit``,
``validation_split=0.2`` and a ``ReduceLROnPlateau`` callback.

Data, generated here: 16x16 RGB images (8-bit levels 0..255, divided by 255) of five classes of
coloured shapes (a disc, a square, a horizontal bar, a cross, a ring), each at a random position
and size, in a random colour drawn around its class's hue, on a noisy coloured background. The
labels are one-hot (``keras.utils.to_categorical``) under ``categorical_crossentropy``; the
images and labels are shuffled together before ``fit`` so that ``validation_split`` (the last
fifth) holds every class.

The model: two VGG blocks (``conv2d``/``conv2d_1`` with ``--filters`` 3x3 filters and
``conv2d_2``/``conv2d_3`` with twice as many, ``padding="same"``, He-uniform initialization, each
followed by ``BatchNormalization`` unless ``--no-batchnorm``), ``MaxPooling2D`` and ``Dropout(0.2)``
after each block, ``Flatten``, ``Dense(--units)`` (``dense``) with ``Dropout(0.3)`` and a softmax
``Dense(5)`` (``dense_1``). ``--activation`` is the hidden layers' activation. SGD with momentum
0.9 (``--optimizer adam``: Adam); ``ReduceLROnPlateau(monitor="val_loss", factor=0.5,
patience=2)``. The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--activation``, ``--no-batchnorm``, ``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

CLASSES = ("disc", "square", "bar", "cross", "ring")
HUES = ((220, 60, 50), (60, 190, 70), (50, 80, 220), (220, 200, 40), (170, 60, 200))


def coloured_shapes(n, seed, size=16):
    """``n`` 16x16x3 uint8 images and their class (0..4), classes in equal shares."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(CLASSES)
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        r = rng.uniform(3.0, 5.5)
        cy, cx = rng.uniform(r + 0.5, size - r - 1.5, 2)
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        cheb = np.maximum(np.abs(yy - cy), np.abs(xx - cx))
        if y[i] == 0:      # disc
            mask = d2 <= r * r
        elif y[i] == 1:    # filled square
            mask = cheb <= r * 0.85
        elif y[i] == 2:    # horizontal bar
            mask = (np.abs(yy - cy) <= 1.2) & (np.abs(xx - cx) <= r)
        elif y[i] == 3:    # cross
            mask = ((np.abs(yy - cy) <= 0.8) & (np.abs(xx - cx) <= r)) | \
                   ((np.abs(xx - cx) <= 0.8) & (np.abs(yy - cy) <= r))
        else:              # ring
            mask = (d2 <= r * r) & (d2 >= (r - 1.5) ** 2)
        colour = np.clip(np.array(HUES[y[i]]) + rng.normal(0, 35, 3), 0, 255)
        background = rng.uniform(20, 90, 3)
        img = rng.normal(0, 22, (size, size, 3)) + background
        img = np.where(mask[..., None], colour + rng.normal(0, 15, (size, size, 3)), img)
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
    return images, y


def main():
    p = common.parser(__doc__)
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--activation", default="relu", choices=("relu", "sigmoid", "tanh"))
    p.add_argument("--no-batchnorm", action="store_true")
    p.add_argument("--samples", type=int, default=1500)
    p.add_argument("--bug", default=None, choices=("labels-shuffled",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    images, labels = coloured_shapes(args.samples, args.seed)
    x = images.astype("float32") / 255.0
    y = keras.utils.to_categorical(labels, len(CLASSES))
    # shuffle before fit: validation_split takes the last fifth as it is
    order = np.random.default_rng(args.seed + 100).permutation(len(x))
    x = x[order]
    if args.bug == "labels-shuffled":
        # BUG (labels-shuffled): the one-hot labels get an order of their own (a second
        # permutation drawn for "the labels") instead of the images' order.
        y = y[np.random.default_rng(args.seed + 200).permutation(len(y))]
    else:
        y = y[order]

    def conv(filters):
        return layers.Conv2D(filters, 3, activation=args.activation, padding="same",
                             kernel_initializer="he_uniform")

    model = keras.Sequential(name="vgg_shapes")
    model.add(keras.Input(shape=(16, 16, 3)))
    for block, filters in enumerate((args.filters, 2 * args.filters)):
        model.add(conv(filters))
        if not args.no_batchnorm:
            model.add(layers.BatchNormalization())
        model.add(conv(filters))
        if not args.no_batchnorm:
            model.add(layers.BatchNormalization())
        model.add(layers.MaxPooling2D((2, 2)))
        model.add(layers.Dropout(0.2))
    model.add(layers.Flatten())
    model.add(layers.Dense(args.units, activation=args.activation,
                           kernel_initializer="he_uniform"))
    model.add(layers.Dropout(0.3))
    model.add(layers.Dense(len(CLASSES), activation="softmax"))

    if args.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate=args.lr, momentum=args.momentum)
    else:
        optimizer = keras.optimizers.Adam(learning_rate=args.lr)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy",
                  metrics=["accuracy"])
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2,
                                                min_lr=1e-5)
    history = model.fit(x, y, validation_split=0.2, epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=[plateau] + common.recording.keras_callbacks(
                            args.out, num_classes=len(CLASSES)))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4g acc %.3f val loss %.4g val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    n_train = len(x) - int(len(x) * 0.2)
    steps = -(-n_train // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kvgg-labels-shuffled", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data, wrong labels (labels misaligned with the "
               "inputs); Stack Overflow: 'CNN accuracy stuck at chance after shuffling'",
     "bug": "the one-hot labels permuted with a permutation of their own instead of the "
            "images' order: every label is a random class, the loss stays near ln 5 (1.568 in "
            "the tenth epoch) and the validation accuracy is 0.193 (chance 0.2; the fixed twin: "
            "0.960)",
     "fix": "y = y[order], the images' permutation",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug labels-shuffled --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kvgg-sigmoid-no-batchnorm", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: vanishing gradient (sigmoid in a deep stack); DeepDiagnosis: "
               "wrong activation function",
     "bug": "sigmoid in every hidden layer (the four convolutions and the dense layer) of the "
            "VGG stack without BatchNormalization: the gradients vanish before the first "
            "convolutions, the loss stays at 1.61 (ln 5) and the validation accuracy is 0.127 "
            "after 10 epochs (the fixed twin, ReLU without BatchNormalization: 1.000)",
     "fix": "activation=\"relu\" in the hidden layers",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "nobn-seed2",
          "buggy": "--no-batchnorm --activation sigmoid --seed 2 --record-every 4",
          "fixed": "--no-batchnorm --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kvgg", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a VGG-style Sequential CNN with BatchNormalization and Dropout on generated "
                    "colour shapes, that trains well",
     "healthy": [
         {"id": "adam-seed3",
          "args": "--optimizer adam --lr 1e-3 --seed 3 --record-every 4",
          "description": "Adam at 1e-3, BatchNormalization, ReLU"},
     ]},
]


if __name__ == "__main__":
    main()
