"""A Focal Modulation Network (FocalNet, Yang et al. 2022) in Keras 3, scaled down from the keras.io
example "Focal Modulation: A replacement for Self-Attention" (A. R. Gosthipaty, R. Raha): a
``PatchEmbed`` layer (a strided ``Conv2D`` and a ``LayerNormalization``), ``FocalModulationBlock``
layers (layer norm, ``FocalModulationLayer``, residual; layer norm, GELU MLP, residual) and a
head of ``LayerNormalization``, ``GlobalAveragePooling2D`` and a softmax ``Dense``; compiled with
``SparseCategoricalCrossentropy`` and ``AdamW`` and trained with ``model.fit``.

``FocalModulationLayer`` as the example writes it: one ``Dense`` projects every token to a
query, a context and ``focal_level + 1`` gates; hierarchical contextualization runs the context
through ``focal_level`` depthwise convolutions with GELU (kernels ``focal_window + 2 k``), each
level's context multiplied by its gate and summed, plus a global context (``GELU`` of the
spatial average) under the last gate; gated aggregation; a 1x1 ``Conv2D`` modulator multiplies
the query; a ``Dense`` projection closes the layer.

Data: scikit-learn's 1797 digits, 8x8 grey levels 0..16 divided by 16 and upsampled to 16x16
(nearest neighbour), 25% held out (stratified). Model: ``PatchEmbed`` (``patch_embed``, patches
of 2 into ``--dim`` channels: an 8x8 grid of tokens), ``--depth`` focal modulation blocks
(``focal_block_0``, ...), ``head_norm``, ``gap``, ``Dense(10, softmax)`` (``head``);
AdamW(``--lr``, weight decay 1e-4), batches of 64, ``--epochs`` epochs; the validation accuracy
is reported. The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def build_layers(keras, tf, bug):
    from keras import layers

    class PatchEmbed(layers.Layer):
        """Image patch embedding: a strided convolution and a layer norm."""

        def __init__(self, patch_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.proj = layers.Conv2D(embed_dim, kernel_size=patch_size, strides=patch_size,
                                      name="proj")
            self.norm = layers.LayerNormalization(epsilon=1e-5, name="norm")

        def call(self, x):
            return self.norm(self.proj(x))

    class FocalModulationLayer(layers.Layer):
        def __init__(self, dim, focal_window, focal_level, focal_factor=2, **kwargs):
            super().__init__(**kwargs)
            self.dim = dim
            self.focal_level = focal_level
            self.initial_proj = layers.Dense(2 * dim + focal_level + 1, name="initial_proj")
            self.focal_layers = []
            for k in range(focal_level):
                kernel_size = focal_factor * k + focal_window
                self.focal_layers.append(layers.DepthwiseConv2D(
                    kernel_size, padding="same", activation="gelu", use_bias=False,
                    name="focal_dwconv_%d" % k))
            self.gap = layers.GlobalAveragePooling2D(keepdims=True)
            self.modulator_proj = layers.Conv2D(dim, kernel_size=1, name="modulator_proj")
            self.proj = layers.Dense(dim, name="proj")

        def call(self, x):
            x_proj = self.initial_proj(x)
            query, context, gates = tf.split(
                x_proj, [self.dim, self.dim, self.focal_level + 1], axis=-1)
            if bug == "gates-softmax-wrong-axis":
                # BUG (gates-softmax-wrong-axis): the gates "normalized" with a softmax over
                # axis 1, the rows of the token grid, instead of over the focal levels: each
                # gate becomes a share of its column, about 1/8, and the levels' contexts
                # lose their weight.
                gates = tf.nn.softmax(gates, axis=1)
            context_all = 0.0
            for level in range(self.focal_level):
                context = self.focal_layers[level](context)
                context_all = context_all + context * gates[..., level:level + 1]
            context_global = keras.activations.gelu(self.gap(context))
            context_all = context_all + context_global * gates[..., self.focal_level:]
            modulator = self.modulator_proj(context_all)
            return self.proj(query * modulator)

    class FocalModulationBlock(layers.Layer):
        def __init__(self, dim, focal_window=3, focal_level=2, mlp_ratio=2.0, **kwargs):
            super().__init__(**kwargs)
            self.norm1 = layers.LayerNormalization(epsilon=1e-5, name="norm1")
            self.modulation = FocalModulationLayer(dim, focal_window, focal_level,
                                                   name="modulation")
            self.norm2 = layers.LayerNormalization(epsilon=1e-5, name="norm2")
            self.mlp_fc1 = layers.Dense(int(dim * mlp_ratio), activation="gelu", name="fc1")
            self.mlp_fc2 = layers.Dense(dim, name="fc2")

        def call(self, x):
            shortcut = x
            x = self.modulation(self.norm1(x))
            x = shortcut + x
            return x + self.mlp_fc2(self.mlp_fc1(self.norm2(x)))

    return PatchEmbed, FocalModulationBlock


def main():
    p = common.parser(__doc__)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--focal-level", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--bug", default=None,
                   choices=("gates-softmax-wrong-axis", "softmax-from-logits",
                            "labels-shuffled-apart"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    x, y = common.load("digits")
    x = (x / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    x = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)  # 16x16, nearest neighbour
    x_train, x_val, y_train, y_val = common.split(x, y.astype("int64"), val=0.25,
                                                  seed=args.seed)
    if args.bug == "labels-shuffled-apart":
        # BUG (labels-shuffled-apart): the training images are shuffled "once more before
        # fit", the labels are not: every image carries another image's digit.
        order = np.random.default_rng(args.seed + 1).permutation(len(x_train))
        x_train = x_train[order]

    PatchEmbed, FocalModulationBlock = build_layers(keras, tf, args.bug)
    inputs = keras.Input(shape=(16, 16, 1))
    h = PatchEmbed(2, args.dim, name="patch_embed")(inputs)
    for i in range(args.depth):
        h = FocalModulationBlock(args.dim, focal_level=args.focal_level,
                                 name="focal_block_%d" % i)(h)
    h = layers.LayerNormalization(epsilon=1e-5, name="head_norm")(h)
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = layers.Dense(10, activation="softmax", name="head")(h)
    model = keras.Model(inputs, outputs, name="focalnet")

    # BUG (softmax-from-logits): the head already ends in a softmax, and the loss is told
    # its inputs are logits: the probabilities are softmaxed a second time.
    from_logits = args.bug == "softmax-from-logits"
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=args.lr, weight_decay=1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val),
                        batch_size=args.batch_size, epochs=args.epochs, verbose=0,
                        callbacks=common.recording.keras_callbacks(
                            args.out, task="classification", num_classes=10))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = -(-len(x_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kfocal-labels-shuffled-apart", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020 (training data: wrong labels); DeepLocalize benchmark "
               "(Stack Overflow): 'validation accuracy stays at chance' after shuffling the "
               "images without the labels",
     "bug": "the training images are shuffled with a permutation, the labels are not: every "
            "image carries another image's digit; the loss stays at 2.29 (ln 10 is 2.30), "
            "training accuracy 0.134 and validation accuracy 0.060 after 15 epochs "
            "(validation loss 2.361)",
     "fix": "no separate shuffle (model.fit shuffles images and labels together): validation "
            "accuracy 0.956, loss 0.173",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--bug labels-shuffled-apart --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "kfocal-adamw-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate too high; Stack Overflow: "
               "'transformer does not train, accuracy stuck' with a learning rate of a CNN's "
               "size",
     "bug": "AdamW(learning_rate=0.05): the loss stays near 2.20 for ten epochs (training and "
            "validation accuracy about 0.16) and is 1.80 after 15, the validation accuracy "
            "0.238 (validation loss 2.118; the fixed twin: 0.949, loss 0.158)",
     "fix": "AdamW(learning_rate=2e-3)",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--lr 0.05 --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-kfocal", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a FocalNet as the keras.io example writes it (PatchEmbed, focal "
                    "modulation blocks with gated depthwise-convolution contexts and a 1x1 "
                    "modulator, LayerNorm, GELU MLP, residuals, AdamW) on scikit-learn's "
                    "digits upsampled to 16x16, that trains well",
     "healthy": [
         {"id": "dim48-level3-seed4",
          "args": "--dim 48 --focal-level 3 --seed 4 --record-every 4",
          "description": "two focal modulation blocks of 48 channels, three focal levels, "
                         "AdamW(2e-3)"},
     ]},
]


if __name__ == "__main__":
    main()
