"""A small ResNeXt (Xie, Girshick, Dollar, Tu and He, "Aggregated Residual Transformations for
Deep Neural Networks", CVPR 2017) in Keras 3, written as the Keras implementations write it
(titu1994/Keras-ResNeXt's ``bottleneck_block`` and ``__grouped_convolution_block``; the
Keras-applications ResNet's layer names), trained with ``model.fit`` on images generated here.

Data (generated here): 16x16 RGB images stored as 8-bit pixels (uint8, 0..255) of 8 shape
classes, 300 each, generated class after class as images read from one folder per class: a
filled disc, a ring, a filled square, a square outline, a plus, an X, an upward triangle and a
square patch of horizontal stripes, each at a random position and size (half-width 3 to 5.5
pixels), in a random foreground colour over a random darker background colour (each channel
jittered on its own), with Gaussian pixel noise (std 0.06 of the full range). The first 80% of
each class train (1920 images, still in class order; ``fit`` shuffles them every epoch), the
rest validate (480). Every class is symmetric under a horizontal flip, so flips are a
label-preserving augmentation.

Model (functional): ``Rescaling(1/255)`` and ``RandomFlip("horizontal")`` (weightless, the
preprocessing inside the model as the Keras examples put it), a stem ``Conv2D(32, 3)``
(``stem_conv``) + ``BatchNormalization`` (``stem_bn``) + ReLU, three stages of one ResNeXt
bottleneck block each (``conv2_block1``, ``conv3_block1``, ``conv4_block1``: bottleneck widths
``--widths`` 16, 32, 64, output channels 32, 64, 128, the last two with stride 2): a 1x1
``Conv2D`` (``_1_conv``) + BN (``_1_bn``) + ReLU; the grouped 3x3 convolution of cardinality
``--cardinality`` 4, written as titu1994's Keras-ResNeXt writes it, a ``Lambda`` slicing each
group's channels and a ``Conv2D`` per group (``_2_conv_g0`` ..), concatenated, + BN
(``_2_bn``) + ReLU (TensorFlow's CPU kernel for ``Conv2D(groups=8)`` took about 40 times as
long as an ungrouped convolution, a second a step for one layer); a 1x1 ``Conv2D`` to the
output width (``_3_conv``) + BN (``_3_bn``, its gamma initialized to zero, the "zero-init the
last BN of each residual block" of Goyal et al. 2017); a projection shortcut (1x1 ``Conv2D``
``_0_conv`` + BN ``_0_bn``) where the shape changes (the second and third blocks), ``Add`` and
ReLU; then ``GlobalAveragePooling2D`` and a softmax ``Dense(8)`` (``predictions``). Every
convolution has ``use_bias=False``, ``he_normal`` and ``kernel_regularizer=l2(--l2)`` (5e-4),
whose penalties Keras adds to the logged loss. ``sparse_categorical_crossentropy``, SGD with
Nesterov momentum 0.9 at ``--lr`` 0.1 under ``CosineDecay`` to zero over the run, batches of 64
(30 steps an epoch), ``--epochs`` 12 (360 steps). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``, ``--l2``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

SIZE = 16
CLASSES = ("disc", "ring", "square", "frame", "plus", "x", "triangle", "stripes")


def shape_images(n, seed):
    """n RGB images (uint8) of the 8 shape classes, n // 8 of each, class after class (as read
    from one folder per class), and their labels."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(CLASSES)), n // len(CLASSES))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) + 0.5
    images = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    for i in range(n):
        r = rng.uniform(3.0, 5.5)
        cy, cx = rng.uniform(r + 0.5, SIZE - r - 0.5, 2)
        dy, dx = yy - cy, xx - cx
        dist = np.sqrt(dy ** 2 + dx ** 2)
        box = np.maximum(np.abs(dy), np.abs(dx))
        k = y[i]
        if k == 0:
            mask = dist <= r
        elif k == 1:
            mask = (dist <= r) & (dist >= r - 1.6)
        elif k == 2:
            mask = box <= r * 0.85
        elif k == 3:
            mask = (box <= r * 0.85) & (box >= r * 0.85 - 1.5)
        elif k == 4:
            mask = ((np.abs(dy) <= 0.9) | (np.abs(dx) <= 0.9)) & (box <= r)
        elif k == 5:
            mask = ((np.abs(dy - dx) <= 1.2) | (np.abs(dy + dx) <= 1.2)) & (box <= r * 0.8)
        elif k == 6:
            mask = (dy <= r * 0.7) & (np.abs(dx) <= (dy + r * 0.8) * 0.6)
        else:
            mask = (box <= r * 0.85) & (np.floor(yy / 2.0) % 2 == 0)
        fg = rng.uniform(0.45, 1.0, size=3)
        bg = rng.uniform(0.0, 0.35, size=3)
        img = np.where(mask[:, :, None], fg, bg)
        img = img + rng.normal(scale=0.06, size=img.shape)
        images[i] = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    return images, y.astype("int64")


def build_model(keras, args):
    from keras import layers, regularizers

    reg = regularizers.l2(args.l2)
    bug = args.bug

    def conv(x, filters, kernel, name, strides=1):
        return layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                             kernel_initializer="he_normal", kernel_regularizer=reg,
                             name=name)(x)

    def bn(x, name, zero_gamma=False):
        # BUG (zero-gamma-all): gamma initialized to zero in every BatchNormalization (the stem's
        # and the shortcuts' too), not only in each block's last one: every BN outputs its
        # beta, 0, and the network's output is the same for every image.
        if bug == "zero-gamma-all":
            zero_gamma = True
        # BUG (bn-inference): every BatchNormalization called with training=False, as in a
        # frozen backbone: the layers normalize with their initial moving mean 0 and variance 1.
        training = False if bug == "bn-inference" else None
        return layers.BatchNormalization(
            gamma_initializer="zeros" if zero_gamma else "ones", name=name)(x, training=training)

    def grouped_convolution_block(x, grouped_channels, cardinality, strides, name):
        group_list = []
        for c in range(cardinality):
            # BUG (late-binding-lambda): the slice's lambda reads the loop variable c when the
            # layer runs, after the loop: every group convolves the last group's channels.
            if bug == "late-binding-lambda":
                part = layers.Lambda(
                    lambda z: z[:, :, :, c * grouped_channels:(c + 1) * grouped_channels],
                    name="%s_2_slice_g%d" % (name, c))(x)
            else:
                part = layers.Lambda(
                    lambda z, c=c: z[:, :, :, c * grouped_channels:(c + 1) * grouped_channels],
                    name="%s_2_slice_g%d" % (name, c))(x)
            group_list.append(conv(part, grouped_channels, 3, "%s_2_conv_g%d" % (name, c),
                                   strides=strides))
        x = layers.Concatenate(axis=-1, name="%s_2_concat" % name)(group_list)
        x = bn(x, "%s_2_bn" % name)
        return layers.ReLU(name="%s_2_relu" % name)(x)

    def bottleneck_block(x, width, cardinality, strides, name):
        shortcut = x
        out_channels = 2 * width
        if x.shape[-1] != out_channels or strides != 1:
            shortcut = conv(x, out_channels, 1, "%s_0_conv" % name, strides=strides)
            shortcut = bn(shortcut, "%s_0_bn" % name)
        x = conv(x, width, 1, "%s_1_conv" % name)
        x = bn(x, "%s_1_bn" % name)
        x = layers.ReLU(name="%s_1_relu" % name)(x)
        x = grouped_convolution_block(x, width // cardinality, cardinality, strides, name)
        x = conv(x, out_channels, 1, "%s_3_conv" % name)
        x = bn(x, "%s_3_bn" % name, zero_gamma=True)
        x = layers.Add(name="%s_add" % name)([shortcut, x])
        return layers.ReLU(name="%s_out" % name)(x)

    inputs = keras.Input(shape=(SIZE, SIZE, 3), name="image")
    # BUG (pixels-255): the Rescaling layer left out: the network sees the 0..255 pixels.
    x = inputs if bug == "pixels-255" else layers.Rescaling(1.0 / 255, name="rescaling")(inputs)
    x = layers.RandomFlip("horizontal", seed=args.seed, name="random_flip")(x)
    x = conv(x, 32, 3, "stem_conv")
    x = bn(x, "stem_bn")
    x = layers.ReLU(name="stem_relu")(x)
    for stage, (width, strides) in enumerate(zip(args.widths, (1, 2, 2))):
        for block in range(args.blocks):
            x = bottleneck_block(x, width, args.cardinality, strides if block == 0 else 1,
                                 "conv%d_block%d" % (stage + 2, block + 1))
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(len(CLASSES), activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="resnext")


def main():
    p = common.parser(__doc__)
    p.add_argument("--n", type=int, default=2400)
    p.add_argument("--widths", type=common.ints, default=[16, 32, 64])
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--cardinality", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--l2", type=float, default=5e-4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None,
                   choices=("zero-gamma-all", "late-binding-lambda", "bn-inference", "no-shuffle",
                            "pixels-255"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)

    x, y = shape_images(args.n, args.seed)
    # the first 80% of each class's images train, the rest validate (the class order stays)
    train = np.concatenate([np.flatnonzero(y == k)[:int(0.8 * np.sum(y == k))]
                            for k in range(len(CLASSES))])
    val = np.setdiff1d(np.arange(len(y)), train)
    x_tr, y_tr, x_val, y_val = x[train], y[train], x[val], y[val]

    model = build_model(keras, args)
    steps_per_epoch = -(-len(x_tr) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=args.lr, decay_steps=steps_per_epoch * args.epochs)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.9,
                                                 nesterov=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        # BUG (no-shuffle): the training images are not shuffled between
                        # epochs: they come class after class, every batch holds one class.
                        shuffle=args.bug != "no-shuffle",
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f"
              % (e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e],
                 h["val_accuracy"][e]))
    steps = steps_per_epoch * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kresnext-zero-gamma-all", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: model, wrong weight initialization (BatchNormalization "
               "gamma); the zero-init of each residual block's last BN (Goyal et al. 2017, "
               "torchvision's zero_init_residual) put into the shared BN helper for every BN",
     "bug": "every BatchNormalization, the stem's and the shortcuts' included, starts with "
            "gamma = 0 instead of only each block's last: each BN outputs its beta (0), the "
            "ReLUs pass zero and zero gradient, the pooled features are 0 for every image and "
            "only the classifier's bias and the L2 decay move; the loss goes from 2.74 to 2.55 "
            "(ln 8 plus the shrinking L2 penalty), training accuracy 0.116, validation "
            "accuracy 0.125 of 8 classes (the fixed twin: loss 2.36 to 0.52, validation "
            "accuracy 0.975)",
     "fix": "gamma_initializer='zeros' only for each block's last BN (_3_bn), 'ones' elsewhere",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "unchanged_values", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug zero-gamma-all --seed 1 --record-every 8",
          "fixed": "--seed 1 --record-every 8"},
     ]},
    {"family": "kresnext-no-shuffle", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data, data not shuffled; Stack Overflow: "
               "model.fit(shuffle=False) on images loaded class by class",
     "bug": "fit(shuffle=False) on training images that come class after class: every batch "
            "holds one class and the network learns to predict the class of the batches "
            "before; the first epoch's batch losses jump between 0.7 and 9, the training "
            "accuracy is 0.000 in the third epoch, the loss goes from 3.54 to 2.44 and the "
            "accuracy ends at 0.243, validation accuracy 0.229 (the fixed twin: loss 2.35 to "
            "0.53, validation accuracy 0.977)",
     "fix": "fit(..., shuffle=True), Keras' default",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug no-shuffle --record-every 8",
          "fixed": "--record-every 8"},
     ]},
    {"family": "healthy-kresnext", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small ResNeXt (grouped bottleneck blocks, BatchNormalization, "
                    "projection shortcuts, SGD with a cosine schedule, L2, flips) on "
                    "generated shape images, that trains well",
     "healthy": [
         {"id": "card8-seed2",
          "args": "--cardinality 8 --seed 2 --record-every 8",
          "description": "cardinality 8 (groups of 2, 4 and 8 channels), seed 2: validation "
                         "accuracy 0.935"},
     ]},
]


if __name__ == "__main__":
    main()
