"""A small ConvNeXt (Liu et al. 2022, "A ConvNet for the 2020s") in Keras 3 for 32x32 shape
images, written the way ConvNeXt ports usually are: a patchify stem, ConvNeXt blocks with a
learnable layer scale, downsampling layers between the stages, AdamW with weight decay and a
linear warm-up followed by a cosine decay (``keras.optimizers.schedules.CosineDecay`` with
``warmup_target`` and ``warmup_steps``).

The data are generated here: --n (2000) colour 32x32 images (float32 in [0, 1]) of four shapes
(disc, square, triangle, cross) of random size, position and colour on a noisy background, in
random class order; the last 20% are held out for validation.

The model (functional API): ``stem_conv`` (``Conv2D(--dims[0], 4, strides=4)``) and ``stem_ln``
(``LayerNormalization``), then per stage ``--depths`` ConvNeXt blocks (``DepthwiseConv2D(7,
padding="same")``, ``LayerNormalization``, ``Dense(4 dim, gelu)``, ``Dense(dim)``, a
``LayerScale`` (a per-channel gamma, initialized to --layer-scale-init) and the residual
``Add``), and before every stage but the first a downsampling layer (``LayerNormalization``
and ``Conv2D(dim, 2, strides=2)``); ``GlobalAveragePooling2D``, ``head_ln`` and a 4-way softmax
``head`` under ``sparse_categorical_crossentropy`` and ``AdamW(weight_decay=--wd)``. The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
SIZE = 32
CLASSES = ("disc", "square", "triangle", "cross")


def make_shapes(n, seed):
    rng = np.random.default_rng(5900 + seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    images = np.zeros((n, SIZE, SIZE, 3), dtype="float32")
    labels = rng.integers(0, len(CLASSES), n)
    for i in range(n):
        r = rng.uniform(6.0, 12.0)
        cy, cx = rng.uniform(r, SIZE - r, 2)
        dy, dx = yy - cy, xx - cx
        if labels[i] == 0:
            mask = dy ** 2 + dx ** 2 <= r * r
        elif labels[i] == 1:
            mask = (np.abs(dy) <= r * 0.8) & (np.abs(dx) <= r * 0.8)
        elif labels[i] == 2:
            mask = (dy + r >= 0) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
        else:
            w = max(1.5, r * 0.25)
            mask = ((np.abs(dy) <= w) & (np.abs(dx) <= r)) | ((np.abs(dx) <= w) & (np.abs(dy) <= r))
        img = rng.normal(0.15, 0.06, (SIZE, SIZE, 3)) + rng.uniform(0, 0.15, 3)
        img[mask] = rng.uniform(0.45, 1.0, 3)
        images[i] = np.clip(img, 0.0, 1.0)
    return images, labels


def build_convnext(keras, depths, dims, layer_scale_init, bug=None):
    from keras import layers

    class LayerScale(layers.Layer):
        """The per-channel learnable scale of a ConvNeXt block's residual branch."""

        def __init__(self, init_values, dim, **kwargs):
            super().__init__(**kwargs)
            self.init_values = init_values
            self.dim = dim

        def build(self, input_shape):
            self.gamma = self.add_weight(
                shape=(self.dim,),
                initializer=keras.initializers.Constant(self.init_values),
                name="gamma")

        def call(self, x):
            return x * self.gamma

    def convnext_block(x, dim, name):
        shortcut = x
        x = layers.DepthwiseConv2D(7, padding="same", name=name + "_dwconv")(x)
        x = layers.LayerNormalization(epsilon=1e-6, name=name + "_ln")(x)
        x = layers.Dense(4 * dim, activation="gelu", name=name + "_pwconv1")(x)
        x = layers.Dense(dim, name=name + "_pwconv2")(x)
        x = LayerScale(layer_scale_init, dim, name=name + "_layer_scale")(x)
        return layers.Add(name=name + "_add")([shortcut, x])

    inputs = keras.Input(shape=(SIZE, SIZE, 3))
    x = layers.Conv2D(dims[0], 4, strides=4, name="stem_conv")(inputs)
    x = layers.LayerNormalization(epsilon=1e-6, name="stem_ln")(x)
    for stage, (depth, dim) in enumerate(zip(depths, dims)):
        if stage > 0:
            x = layers.LayerNormalization(epsilon=1e-6, name="downsample_%d_ln" % stage)(x)
            x = layers.Conv2D(dim, 2, strides=2, name="downsample_%d_conv" % stage)(x)
        for j in range(depth):
            x = convnext_block(x, dim, "stage%d_block%d" % (stage, j))
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.LayerNormalization(epsilon=1e-6, name="head_ln")(x)
    outputs = layers.Dense(len(CLASSES), activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="convnext_tiny_shapes")


def main():
    p = common.parser(__doc__)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--depths", type=common.ints, default=[1, 1])
    p.add_argument("--dims", type=common.ints, default=[24, 48])
    p.add_argument("--layer-scale-init", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--wd", type=float, default=0.05)
    p.add_argument("--warmup-epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None, choices=("decay-steps-epochs",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)

    x, y = make_shapes(args.n, args.seed)
    n_train = int(len(x) * 0.8)
    x_train, y_train, x_val, y_val = x[:n_train], y[:n_train], x[n_train:], y[n_train:]

    model = build_convnext(keras, args.depths, args.dims, args.layer_scale_init, bug=args.bug)

    steps_per_epoch = -(-n_train // args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = steps_per_epoch * args.warmup_epochs
    if args.bug == "decay-steps-epochs":
        # BUG (decay-steps-epochs): the decay length given in epochs where CosineDecay counts
        # optimizer steps: the rate reaches 0 a few steps after the warm-up
        decay_steps = args.epochs - args.warmup_epochs
    else:
        decay_steps = total_steps - warmup_steps
    lr_schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=decay_steps, alpha=0.0,
        warmup_target=args.lr, warmup_steps=warmup_steps)
    optimizer = keras.optimizers.AdamW(learning_rate=lr_schedule, weight_decay=args.wd)

    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, shuffle=True, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    for e in range(len(history.history["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, history.history["loss"][e], history.history["accuracy"][e],
            history.history["val_loss"][e], history.history["val_accuracy"][e]))
    steps = steps_per_epoch * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kconvnext-decay-steps-epochs", "split": "dev", "architecture": "cnn",
     "origin": "Stack Overflow / Humbatova et al. 2020: wrong learning-rate schedule "
               "(CosineDecay's decay_steps given in epochs where it counts optimizer steps)",
     "bug": "CosineDecay(decay_steps=epochs - warmup_epochs = 18) after a 50-step warm-up: the "
            "rate reaches 0 at step 68 of 500 and stays there; the loss goes from 1.414 in the "
            "first epoch to 1.386 in the last and the validation accuracy is 0.26 of four shapes "
            "(the fixed twin: 0.86)",
     "fix": "decay_steps = total_steps - warmup_steps (counted in optimizer steps)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug decay-steps-epochs --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kconvnext-adamw-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate too high; DeepLocalize benchmark "
               "(Stack Overflow): accuracy stuck at chance",
     "bug": "AdamW with a peak learning rate of 0.05: the loss sits at ln 4 (1.385 in the last "
            "epoch) and the validation accuracy is 0.27 of four shapes (the fixed twin, peak "
            "3e-3: 0.87)",
     "fix": "peak learning rate 3e-3",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--lr 0.05 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kconvnext", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small ConvNeXt (patchify stem, depthwise 7x7 blocks with layer scale, "
                    "downsampling) on shape images under AdamW with warm-up and cosine decay, "
                    "that trains well",
     "healthy": [
         {"id": "dims32-64-lr2e-3-seed3",
          "args": "--dims 32,64 --lr 2e-3 --seed 3 --record-every 4",
          "description": "stages of 32 and 64 channels, peak learning rate 2e-3"},
         {"id": "wd0.1-seed4",
          "args": "--wd 0.1 --seed 4 --record-every 4",
          "description": "AdamW weight decay 0.1"},
     ]},
]


if __name__ == "__main__":
    main()
