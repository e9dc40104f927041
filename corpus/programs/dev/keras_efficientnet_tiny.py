"""A tiny EfficientNet (Tan and Le, "EfficientNet: Rethinking Model Scaling for Convolutional
Neural Networks", ICML 2019) built from scratch in Keras 3 the way
``keras.applications.efficientnet`` builds it: a ``Rescaling(1/255)`` layer, a stem
``Conv2D`` 3x3 with stride 2, ``BatchNormalization`` and swish, then MBConv blocks from a
``BLOCKS_ARGS`` list (``block()``: a 1x1 expansion ``Conv2D`` with ``BatchNormalization`` and
swish when the expansion ratio is not 1, a ``DepthwiseConv2D`` with ``BatchNormalization``
and swish, squeeze-and-excitation (``GlobalAveragePooling2D``, ``Reshape``, a 1x1 ``Conv2D``
reducing to a quarter of the block's input filters with swish, a 1x1 ``Conv2D`` back with a
sigmoid, ``multiply``), a 1x1 projection ``Conv2D`` with ``BatchNormalization``, and, when the
block keeps its shape, drop-connect (``Dropout(drop_rate, noise_shape=(None, 1, 1, 1))``, the
rate growing linearly with the block index up to ``--drop-connect``) and the residual ``add``),
a 1x1 ``top_conv`` with ``BatchNormalization`` and swish, global average pooling,
``Dropout(--dropout)`` and a ``Dense`` softmax; convolutions without bias under
``CONV_KERNEL_INITIALIZER`` (variance scaling 2.0, fan out) and the head under
``DENSE_KERNEL_INITIALIZER`` (uniform, scale 1/3), ``BatchNormalization(momentum=
--bn-momentum)`` (the paper's 0.99). Trained as the paper's ImageNet recipe, scaled down:
RMSprop (rho 0.9, momentum 0.9, epsilon 1e-3) under ``ExponentialDecay`` (0.97 every 2.4
epochs, staircase), cross-entropy with label smoothing 0.1, ``model.fit`` with
``validation_data``.

The data are generated here: 32x32 RGB images as uint8 (0..255) of one shape (disc, square,
triangle, plus sign) filled with one texture (stripes or a checkerboard, period 4 pixels), 8
classes, at a random place and size (radius 7 to 12 pixels), the shape's two texture colours
and the background colour drawn at random, Gaussian pixel noise (std 12). 2400 images train
(``--n-train``), 600 (another seed) validate. Batches of ``--batch-size`` (32: 75 steps an
epoch), ``--epochs`` (12), RMSprop from ``--lr`` (4e-3, twice the paper's 0.256 for batches
of 4096 scaled linearly to 32), drop-connect up to ``--drop-connect`` (0.2: blocks ``2b`` and
``3b`` drop their residual branch with rates 0.067 and 0.133) and head dropout ``--dropout``
(0.2), the paper's. The result line adds the accuracy of the first 200
validation images scored with the BatchNormalization layers in training mode (batch
statistics, ``val_accuracy_batch_stats``), which tells moving statistics that do not fit the
network from weights that do not classify.

Layers with weights, in model order: ``stem_conv``, ``stem_bn``, then per block ``block{i}``
(``1a``, ``2a``, ``2b``, ``3a``, ``3b``, ``4a``): ``_expand_conv`` and ``_expand_bn`` (not in
``1a``, whose expansion ratio is 1), ``_dwconv``, ``_bn``, ``_se_reduce``, ``_se_expand``,
``_project_conv``, ``_project_bn``; then ``top_conv``, ``top_bn`` and ``predictions`` (51
layers, 78,144 weights of which 75,104 trainable). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--bn-momentum``, ``--lr``).
"""

import copy
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

SIZE = 32
SHAPES = ("disc", "square", "triangle", "plus")
TEXTURES = ("stripes", "checker")
CLASSES = len(SHAPES) * len(TEXTURES)

# keras.applications.efficientnet's DEFAULT_BLOCKS_ARGS, cut down to four stages
BLOCKS_ARGS = [
    {"kernel_size": 3, "repeats": 1, "filters_in": 16, "filters_out": 16,
     "expand_ratio": 1, "id_skip": True, "strides": 1, "se_ratio": 0.25},
    {"kernel_size": 3, "repeats": 2, "filters_in": 16, "filters_out": 24,
     "expand_ratio": 4, "id_skip": True, "strides": 2, "se_ratio": 0.25},
    {"kernel_size": 5, "repeats": 2, "filters_in": 24, "filters_out": 40,
     "expand_ratio": 4, "id_skip": True, "strides": 2, "se_ratio": 0.25},
    {"kernel_size": 3, "repeats": 1, "filters_in": 40, "filters_out": 64,
     "expand_ratio": 4, "id_skip": True, "strides": 1, "se_ratio": 0.25},
]

CONV_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}
DENSE_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"},
}


def shape_mask(kind, cy, cx, r, yy, xx):
    dy, dx = yy - cy, xx - cx
    if kind == "disc":
        return dy ** 2 + dx ** 2 <= r ** 2
    if kind == "square":
        return (np.abs(dy) <= 0.8 * r) & (np.abs(dx) <= 0.8 * r)
    if kind == "triangle":
        return (dy <= 0.8 * r) & (dy >= -r + 2 * np.abs(dx))
    # plus sign
    w = 0.35 * r
    return ((np.abs(dy) <= w) & (np.abs(dx) <= r)) | ((np.abs(dx) <= w) & (np.abs(dy) <= r))


def images(n, seed):
    """n uint8 images (n, SIZE, SIZE, 3) and their labels 0..CLASSES-1."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float32")
    x = np.empty((n, SIZE, SIZE, 3), dtype="float32")
    y = rng.integers(0, CLASSES, size=n)
    for i in range(n):
        shape, texture = SHAPES[y[i] // 2], TEXTURES[y[i] % 2]
        r = rng.uniform(7, 12)
        cy, cx = rng.uniform(r, SIZE - r, size=2)
        mask = shape_mask(shape, cy, cx, r, yy, xx)
        phase = rng.integers(0, 4, size=2)
        if texture == "stripes":
            pattern = ((yy + phase[0]) // 2) % 2 == 0
        else:
            pattern = (((yy + phase[0]) // 2) + ((xx + phase[1]) // 2)) % 2 == 0
        bg, c1, c2 = rng.uniform(0, 255, size=(3, 3))
        img = np.where(mask[..., None], np.where(pattern[..., None], c1, c2), bg)
        x[i] = img + rng.normal(0, 12, size=img.shape)
    return np.clip(np.rint(x), 0, 255).astype("uint8"), y


def build_model(keras, args):
    from keras import layers

    bug = args.bug

    def bn(name):
        # every BatchNormalization of the network, as efficientnet.py's; its momentum is the
        # moving statistics' decay (with 1.0 they keep their initial 0 and 1)
        return layers.BatchNormalization(momentum=args.bn_momentum, name=name)

    def block(inputs, drop_rate, name, filters_in, filters_out, kernel_size, strides,
              expand_ratio, se_ratio, id_skip):
        filters = filters_in * expand_ratio
        if expand_ratio != 1:
            x = layers.Conv2D(filters, 1, padding="same", use_bias=False,
                              kernel_initializer=CONV_KERNEL_INITIALIZER,
                              name=name + "expand_conv")(inputs)
            x = bn(name + "expand_bn")(x)
            x = layers.Activation("swish", name=name + "expand_activation")(x)
        else:
            x = inputs
        x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding="same",
                                   use_bias=False,
                                   depthwise_initializer=CONV_KERNEL_INITIALIZER,
                                   name=name + "dwconv")(x)
        x = bn(name + "bn")(x)
        x = layers.Activation("swish", name=name + "activation")(x)

        # squeeze and excitation
        filters_se = max(1, int(filters_in * se_ratio))
        se = layers.GlobalAveragePooling2D(name=name + "se_squeeze")(x)
        se = layers.Reshape((1, 1, filters), name=name + "se_reshape")(se)
        se = layers.Conv2D(filters_se, 1, padding="same", activation="swish",
                           kernel_initializer=CONV_KERNEL_INITIALIZER,
                           name=name + "se_reduce")(se)
        # BUG (se-gate-relu): the excitation's sigmoid replaced by a ReLU: the channel
        # gates are no longer in (0, 1) but unbounded.
        gate = "relu" if bug == "se-gate-relu" else "sigmoid"
        se = layers.Conv2D(filters, 1, padding="same", activation=gate,
                           kernel_initializer=CONV_KERNEL_INITIALIZER,
                           name=name + "se_expand")(se)
        x = layers.multiply([x, se], name=name + "se_excite")

        x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False,
                          kernel_initializer=CONV_KERNEL_INITIALIZER,
                          name=name + "project_conv")(x)
        x = bn(name + "project_bn")(x)
        if id_skip and strides == 1 and filters_in == filters_out:
            if drop_rate > 0:
                # BUG (drop-connect-inference): the drop-connect Dropout called with
                # training=True, so whole residual branches are dropped at inference too.
                x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1),
                                   name=name + "drop")(
                    x, training=True if bug == "drop-connect-inference" else None)
            x = layers.add([x, inputs], name=name + "add")
        return x

    img = keras.Input(shape=(SIZE, SIZE, 3), name="image")
    # BUG (no-rescaling): the Rescaling(1/255) layer left out: the uint8 pixels enter the
    # stem as 0..255.
    x = img if bug == "no-rescaling" else layers.Rescaling(1.0 / 255.0, name="rescaling")(img)
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name="stem_conv")(x)
    x = bn("stem_bn")(x)
    x = layers.Activation("swish", name="stem_activation")(x)

    blocks_args = copy.deepcopy(BLOCKS_ARGS)
    b = 0
    total = float(sum(a["repeats"] for a in blocks_args))
    for i, args_i in enumerate(blocks_args):
        repeats = args_i.pop("repeats")
        for j in range(repeats):
            if j > 0:
                args_i["strides"] = 1
                args_i["filters_in"] = args_i["filters_out"]
            x = block(x, args.drop_connect * b / total,
                      name="block{}{}_".format(i + 1, chr(j + 97)), **args_i)
            b += 1

    x = layers.Conv2D(128, 1, padding="same", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name="top_conv")(x)
    x = bn("top_bn")(x)
    x = layers.Activation("swish", name="top_activation")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if args.dropout > 0:
        x = layers.Dropout(args.dropout, name="top_dropout")(x)
    out = layers.Dense(CLASSES, activation="softmax",
                       kernel_initializer=DENSE_KERNEL_INITIALIZER, name="predictions")(x)
    return keras.Model(img, out, name="efficientnet_tiny")


def main():
    p = common.parser(__doc__)
    p.add_argument("--n-train", type=int, default=2400)
    p.add_argument("--lr", type=float, default=4e-3)
    p.add_argument("--bn-momentum", type=float, default=0.99)
    p.add_argument("--drop-connect", type=float, default=0.2)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None,
                   choices=("se-gate-relu", "drop-connect-inference", "no-rescaling"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)

    x_train, y_train = images(args.n_train, args.seed)
    x_val, y_val = images(600, 1000 + args.seed)
    onehot = np.eye(CLASSES, dtype="float32")
    model = build_model(keras, args)

    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        args.lr, decay_steps=int(2.4 * steps_per_epoch), decay_rate=0.97, staircase=True)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=schedule, rho=0.9,
                                                     momentum=0.9, epsilon=1e-3),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy"])
    history = model.fit(x_train, onehot[y_train], validation_data=(x_val, onehot[y_val]),
                        epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(
                            args.out, task="classification",
                            loss_name="categorical_crossentropy"))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f"
              % (e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e],
                 h["val_accuracy"][e]))
    # the same validation images scored with the BatchNormalization layers in training mode
    # (batch statistics): tells moving statistics that do not fit from weights that do not
    train_mode = model(x_val[:200], training=True)
    batch_acc = float(np.mean(np.argmax(np.asarray(train_mode), 1) == y_val[:200]))
    print("validation accuracy with batch statistics: %.3f" % batch_acc)
    common.report(common.keras_result(history, steps_per_epoch * len(h["loss"]),
                                      layers=common.keras_layers(model),
                                      val_accuracy_batch_stats=batch_acc))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "keffnet-bn-momentum-one", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: model, suboptimal hyperparameter of a layer "
               "(BatchNormalization's momentum); Stack Overflow: validation accuracy at chance "
               "while the training accuracy is high, the BatchNormalization moving statistics "
               "not following the batches (Keras' momentum is the decay of the moving "
               "statistics, PyTorch's the weight of the new batch)",
     "bug": "BatchNormalization(momentum=1.0) in every one of the 19 BatchNormalization "
            "layers: the moving mean and variance keep their initial 0 and 1, so in inference "
            "mode no layer normalizes; training is the twin's to every printed digit (loss "
            "2.097 -> 0.524, accuracy 0.996) but the validation accuracy stays at chance "
            "(0.102 to 0.202, 0.125 at the end, one class in eight) with the validation loss "
            "between 11.0 and 86.5 (36.3 at the end), while the same weights score 0.950 of "
            "the validation images with batch statistics (the twin: validation accuracy "
            "0.947, loss 0.598)",
     "fix": "BatchNormalization(momentum=0.99) (the paper's and efficientnet.py's)",
     "symptom": "not_learning", "acceptable_symptoms": ["saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop-seed0",
          "buggy": "--bn-momentum 1.0 --seed 0 --record-every 32",
          "fixed": "--seed 0 --record-every 32"},
     ]},
    {"family": "keffnet-se-gate-relu", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: model, wrong activation function (the "
               "squeeze-and-excitation gate's sigmoid replaced by a ReLU); DeepFD / "
               "DeepDiagnosis fault type: activation function",
     "bug": "the se_expand Conv2D of every MBConv block with activation='relu' instead of "
            "'sigmoid': the channel gates are unbounded (a sigmoid's are below 1) and the "
            "gated activations grow to hundreds within the first steps; the training loss "
            "stays at ln 8 (2.289 -> 2.080), the training accuracy at 0.131 and the "
            "validation accuracy at 0.132 (chance: 0.125), the validation loss NaN in the "
            "first epoch, up to 4.2e31 later and 5.4e6 at the end (the twin: loss 1.945 -> "
            "0.517, validation accuracy 0.945)",
     "fix": "Conv2D(filters, 1, activation='sigmoid') for the excitation",
     "symptom": "not_learning", "acceptable_symptoms": ["saturation", "numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop-seed1",
          "buggy": "--bug se-gate-relu --seed 1 --record-every 32",
          "fixed": "--seed 1 --record-every 32"},
     ]},
    {"family": "healthy-keffnet", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a tiny EfficientNet (MBConv blocks with squeeze-and-excitation and "
                    "drop-connect) built as keras.applications builds it, trained with "
                    "RMSprop and label smoothing on generated textured shapes, that trains "
                    "well",
     "healthy": [
         {"id": "dc03-bs64-lr6e-3-e15-seed2",
          "args": "--drop-connect 0.3 --batch-size 64 --lr 6e-3 --epochs 15 --seed 2 "
                  "--record-every 32",
          "description": "drop-connect up to 0.3, batches of 64, RMSprop from 6e-3, 15 epochs "
                         "(570 steps), seed 2: loss 2.080 -> 0.513, validation accuracy "
                         "0.953 (loss 0.589)"},
     ]},
]


if __name__ == "__main__":
    main()
