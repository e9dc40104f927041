"""A small Swin Transformer in Keras 3 on scikit-learn's digits, written the way the keras.io
example "Image classification with Swin Transformers" is: the patches are cut in the
``tf.data`` pipeline by ``patch_extract`` (``tf.image.extract_patches``), a ``PatchEmbedding``
layer (a ``Dense`` projection plus a position ``Embedding`` of the patch indices), the
``window_partition`` / ``window_reverse`` helpers, a ``WindowAttention`` layer with a learned
relative position bias table (``add_weight``, indexed by a precomputed relative position
index), two ``SwinTransformer`` blocks (``LayerNormalization``, window attention, a residual,
``LayerNormalization``, a GELU MLP, a residual), the second on windows shifted cyclically by
``ops.roll`` with the attention mask of the shifted windows, a ``PatchMerging`` layer, global
average pooling and a softmax, compiled with ``CategoricalCrossentropy(label_smoothing=0.1)``
and ``AdamW`` and trained with ``fit``.

The data are scikit-learn's 1797 digits (8x8, pixels 0..16) divided by 16 and upsampled
(bilinear) to 16x16, the example's 32x32 CIFAR images scaled down; 25% are held out
(stratified). Patches of 2x2 give 64 patches (8x8) of 4 values; windows of 4x4 patches, a
shift of 2. The example's constant tensors (the relative position index, the attention mask)
are kept as constants of the layers rather than non-trainable variables.

The model (functional): ``patch_embedding`` (``patch_embedding/dense`` to --embed-dim,
``patch_embedding/embedding``), ``swin_transformer`` (shift 0) and ``swin_transformer_1``
(shift --shift) each with ``layer_normalization``, ``window_attention`` (its
``relative_position_bias_table``, ``dense`` qkv, ``dense_1`` proj), ``layer_normalization_1``
and a ``Sequential`` MLP (``dense``, GELU, ``dense_1``), ``patch_merging`` (``dense`` without
bias to 2 x --embed-dim), ``GlobalAveragePooling1D`` and ``Dense(10, softmax)`` (``output``).
The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

num_classes = 10
image_dimension = 16  # the 8x8 digits upsampled
patch_size = (2, 2)  # 2-by-2 sized patches
num_patch_x = image_dimension // patch_size[0]
num_patch_y = image_dimension // patch_size[1]


def build(keras, tf, args):
    from keras import layers, ops

    def window_partition(x, window_size):
        _, height, width, channels = x.shape
        patch_num_y = height // window_size
        patch_num_x = width // window_size
        x = ops.reshape(x, (-1, patch_num_y, window_size, patch_num_x, window_size, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        windows = ops.reshape(x, (-1, window_size, window_size, channels))
        return windows

    def window_reverse(windows, window_size, height, width, channels):
        patch_num_y = height // window_size
        patch_num_x = width // window_size
        x = ops.reshape(windows, (-1, patch_num_y, patch_num_x, window_size, window_size,
                                  channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        x = ops.reshape(x, (-1, height, width, channels))
        return x

    class WindowAttention(layers.Layer):
        def __init__(self, dim, window_size, num_heads, qkv_bias=True, dropout_rate=0.0,
                     **kwargs):
            super().__init__(**kwargs)
            self.dim = dim
            self.window_size = window_size
            self.num_heads = num_heads
            self.scale = (dim // num_heads) ** -0.5
            self.qkv = layers.Dense(dim * 3, use_bias=qkv_bias)
            self.dropout = layers.Dropout(dropout_rate)
            self.proj = layers.Dense(dim)

            num_window_elements = (2 * self.window_size[0] - 1) * (2 * self.window_size[1] - 1)
            self.relative_position_bias_table = self.add_weight(
                shape=(num_window_elements, self.num_heads),
                initializer=keras.initializers.Zeros(),
                trainable=True,
                name="relative_position_bias_table",
            )
            coords_h = np.arange(self.window_size[0])
            coords_w = np.arange(self.window_size[1])
            coords_matrix = np.meshgrid(coords_h, coords_w, indexing="ij")
            coords = np.stack(coords_matrix)
            coords_flatten = coords.reshape(2, -1)
            relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]
            relative_coords = relative_coords.transpose([1, 2, 0])
            relative_coords[:, :, 0] += self.window_size[0] - 1
            relative_coords[:, :, 1] += self.window_size[1] - 1
            relative_coords[:, :, 0] *= 2 * self.window_size[1] - 1
            self.relative_position_index = relative_coords.sum(-1).astype("int32")

        def call(self, x, mask=None):
            _, size, channels = x.shape
            head_dim = channels // self.num_heads
            x_qkv = self.qkv(x)
            x_qkv = ops.reshape(x_qkv, (-1, size, 3, self.num_heads, head_dim))
            x_qkv = ops.transpose(x_qkv, (2, 0, 3, 1, 4))
            q, k, v = x_qkv[0], x_qkv[1], x_qkv[2]
            q = q * self.scale
            k = ops.transpose(k, (0, 1, 3, 2))
            attn = q @ k

            num_window_elements = self.window_size[0] * self.window_size[1]
            relative_position_index_flat = ops.reshape(self.relative_position_index, (-1,))
            relative_position_bias = ops.take(
                self.relative_position_bias_table, relative_position_index_flat, axis=0)
            relative_position_bias = ops.reshape(
                relative_position_bias, (num_window_elements, num_window_elements, -1))
            relative_position_bias = ops.transpose(relative_position_bias, (2, 0, 1))
            attn = attn + ops.expand_dims(relative_position_bias, axis=0)

            if mask is not None:
                nW = mask.shape[0]
                mask_float = ops.cast(
                    ops.expand_dims(ops.expand_dims(mask, axis=1), axis=0), "float32")
                attn = ops.reshape(attn, (-1, nW, self.num_heads, size, size)) + mask_float
                attn = ops.reshape(attn, (-1, self.num_heads, size, size))
                attn = keras.activations.softmax(attn, axis=-1)
            else:
                attn = keras.activations.softmax(attn, axis=-1)
            attn = self.dropout(attn)

            x_qkv = attn @ v
            x_qkv = ops.transpose(x_qkv, (0, 2, 1, 3))
            x_qkv = ops.reshape(x_qkv, (-1, size, channels))
            x_qkv = self.proj(x_qkv)
            x_qkv = self.dropout(x_qkv)
            return x_qkv

    class SwinTransformer(layers.Layer):
        def __init__(self, dim, num_patch, num_heads, window_size=7, shift_size=0,
                     num_mlp=1024, qkv_bias=True, dropout_rate=0.0, **kwargs):
            super().__init__(**kwargs)
            self.dim = dim  # number of input dimensions
            self.num_patch = num_patch  # number of embedded patches
            self.num_heads = num_heads  # number of attention heads
            self.window_size = window_size  # size of window
            self.shift_size = shift_size  # size of window shift
            self.num_mlp = num_mlp  # number of MLP nodes

            self.norm1 = layers.LayerNormalization(epsilon=1e-5)
            self.attn = WindowAttention(
                dim, window_size=(self.window_size, self.window_size), num_heads=num_heads,
                qkv_bias=qkv_bias, dropout_rate=dropout_rate)
            self.drop_path = layers.Dropout(dropout_rate)
            self.norm2 = layers.LayerNormalization(epsilon=1e-5)

            self.mlp = keras.Sequential([
                layers.Dense(num_mlp),
                layers.Activation(keras.activations.gelu),
                layers.Dropout(dropout_rate),
                layers.Dense(dim),
                layers.Dropout(dropout_rate),
            ])

            if min(self.num_patch) < self.window_size:
                self.shift_size = 0
                self.window_size = min(self.num_patch)

        def build(self, input_shape):
            if self.shift_size == 0:
                self.attn_mask = None
            else:
                height, width = self.num_patch
                h_slices = (slice(0, -self.window_size),
                            slice(-self.window_size, -self.shift_size),
                            slice(-self.shift_size, None))
                w_slices = (slice(0, -self.window_size),
                            slice(-self.window_size, -self.shift_size),
                            slice(-self.shift_size, None))
                mask_array = np.zeros((1, height, width, 1))
                count = 0
                for h in h_slices:
                    for w in w_slices:
                        mask_array[:, h, w, :] = count
                        count += 1
                mask_array = ops.convert_to_tensor(mask_array)

                # mask array to windows
                mask_windows = window_partition(mask_array, self.window_size)
                mask_windows = ops.reshape(
                    mask_windows, [-1, self.window_size * self.window_size])
                attn_mask = ops.expand_dims(mask_windows, axis=1) - ops.expand_dims(
                    mask_windows, axis=2)
                # BUG (mask-sign): the mask adds +100 where the windows' parts differ, so the
                # shifted windows attend to the wrapped-around patches instead of masking them.
                masked = 100.0 if args.bug == "mask-sign" else -100.0
                attn_mask = ops.where(attn_mask != 0, masked, attn_mask)
                attn_mask = ops.where(attn_mask == 0, 0.0, attn_mask)
                self.attn_mask = ops.cast(attn_mask, "float32")

        def call(self, x, training=False):
            height, width = self.num_patch
            _, num_patches_before, channels = x.shape
            x_skip = x
            x = self.norm1(x)
            x = ops.reshape(x, (-1, height, width, channels))
            if self.shift_size > 0:
                shifted_x = ops.roll(x, shift=[-self.shift_size, -self.shift_size],
                                     axis=[1, 2])
            else:
                shifted_x = x

            x_windows = window_partition(shifted_x, self.window_size)
            x_windows = ops.reshape(x_windows,
                                    (-1, self.window_size * self.window_size, channels))
            attn_windows = self.attn(x_windows, mask=self.attn_mask)

            attn_windows = ops.reshape(attn_windows,
                                       (-1, self.window_size, self.window_size, channels))
            shifted_x = window_reverse(attn_windows, self.window_size, height, width,
                                       channels)
            if self.shift_size > 0:
                x = ops.roll(shifted_x, shift=[self.shift_size, self.shift_size], axis=[1, 2])
            else:
                x = shifted_x

            x = ops.reshape(x, (-1, height * width, channels))
            x = self.drop_path(x, training=training)
            x = x_skip + x
            x_skip = x
            x = self.norm2(x)
            x = self.mlp(x)
            x = self.drop_path(x)
            x = x_skip + x
            return x

    class PatchEmbedding(layers.Layer):
        def __init__(self, num_patch, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.num_patch = num_patch
            self.proj = layers.Dense(embed_dim)
            self.pos_embed = layers.Embedding(input_dim=num_patch, output_dim=embed_dim)

        def call(self, patch):
            pos = ops.arange(start=0, stop=self.num_patch)
            return self.proj(patch) + self.pos_embed(pos)

    class PatchMerging(layers.Layer):
        def __init__(self, num_patch, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.num_patch = num_patch
            self.embed_dim = embed_dim
            self.linear_trans = layers.Dense(2 * embed_dim, use_bias=False)

        def call(self, x):
            height, width = self.num_patch
            _, _, C = x.shape
            x = ops.reshape(x, (-1, height, width, C))
            x0 = x[:, 0::2, 0::2, :]
            x1 = x[:, 1::2, 0::2, :]
            x2 = x[:, 0::2, 1::2, :]
            x3 = x[:, 1::2, 1::2, :]
            x = ops.concatenate((x0, x1, x2, x3), axis=-1)
            x = ops.reshape(x, (-1, (height // 2) * (width // 2), 4 * C))
            return self.linear_trans(x)

    input = layers.Input(shape=(num_patch_x * num_patch_y, patch_size[0] * patch_size[1]))
    x = PatchEmbedding(num_patch_x * num_patch_y, args.embed_dim)(input)
    x = SwinTransformer(
        dim=args.embed_dim, num_patch=(num_patch_x, num_patch_y), num_heads=args.heads,
        window_size=args.window, shift_size=0, num_mlp=args.mlp, qkv_bias=True,
        dropout_rate=args.dropout)(x)
    x = SwinTransformer(
        dim=args.embed_dim, num_patch=(num_patch_x, num_patch_y), num_heads=args.heads,
        window_size=args.window, shift_size=args.shift, num_mlp=args.mlp, qkv_bias=True,
        dropout_rate=args.dropout)(x)
    x = PatchMerging((num_patch_x, num_patch_y), embed_dim=args.embed_dim)(x)
    x = layers.GlobalAveragePooling1D()(x)
    # BUG (no-softmax): the output Dense has no activation, but the loss below is left at
    # from_logits=False, so it takes the raw scores as probabilities.
    act = None if args.bug == "no-softmax" else "softmax"
    output = layers.Dense(num_classes, activation=act, name="output")(x)
    return keras.Model(input, output)


def main():
    p = common.parser(__doc__)
    p.add_argument("--embed-dim", type=int, default=32)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--window", type=int, default=4)
    p.add_argument("--shift", type=int, default=2)
    p.add_argument("--mlp", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.03)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None,
                   choices=("no-softmax", "mask-sign", "labels-shuffled"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf

    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    x = tf.image.resize(x, (image_dimension, image_dimension)).numpy()
    y = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = common.split(x, y, val=0.25, seed=args.seed)
    if args.bug == "labels-shuffled":
        # BUG (labels-shuffled): the training labels are shuffled on their own "to mix the
        # classes", so they no longer belong to their images.
        y_train = np.random.default_rng(args.seed).permutation(y_train)
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    def patch_extract(images):
        batch_size = tf.shape(images)[0]
        patches = tf.image.extract_patches(
            images=images,
            sizes=(1, patch_size[0], patch_size[1], 1),
            strides=(1, patch_size[0], patch_size[1], 1),
            rates=(1, 1, 1, 1),
            padding="VALID",
        )
        patch_dim = patches.shape[-1]
        patch_num = patches.shape[1]
        return tf.reshape(patches, (batch_size, patch_num * patch_num, patch_dim))

    dataset = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
               .shuffle(len(x_train), seed=args.seed)
               .batch(batch_size=args.batch_size)
               .map(lambda x, y: (patch_extract(x), y)))
    dataset_val = (tf.data.Dataset.from_tensor_slices((x_test, y_test))
                   .batch(batch_size=args.batch_size)
                   .map(lambda x, y: (patch_extract(x), y)))

    model = build(keras, tf, args)
    model.compile(
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
        optimizer=keras.optimizers.AdamW(learning_rate=args.lr,
                                         weight_decay=args.weight_decay),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    history = model.fit(dataset, epochs=args.epochs, validation_data=dataset_val, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    for e in range(len(history.history["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, history.history["loss"][e], history.history["accuracy"][e],
            history.history["val_loss"][e], history.history["val_accuracy"][e]))
    steps = -(-len(x_train) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kswin-no-softmax", "split": "dev", "architecture": "transformer",
     "origin": "DeepLocalize benchmark (Stack Overflow): a Keras output layer without its "
               "softmax under a probability loss; Humbatova et al. 2020: missing softmax / "
               "wrong activation of the last layer (from_logits mismatch)",
     "bug": "the output Dense(10) has no activation while CategoricalCrossentropy("
            "label_smoothing=0.1) keeps from_logits=False, so the loss clips and renormalizes "
            "raw scores as probabilities: the loss rises from 7.73 in the first epoch to 9.67 "
            "and stays there, the held-out accuracy is 0.102 after 10 epochs (the fixed "
            "twin: 0.913)",
     "fix": "Dense(num_classes, activation='softmax') as the example has it",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug no-softmax --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kswin-adamw-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate too high; Humbatova et al. 2020: "
               "suboptimal learning rate",
     "bug": "AdamW(learning_rate=0.1) for the Swin Transformer: the loss blows up to 1094 in "
            "the first epoch and 1448 in the second (accuracy at chance for four epochs), "
            "then falls back slowly; the held-out accuracy is 0.656 after 10 epochs (the "
            "fixed twin: 0.933)",
     "fix": "AdamW(learning_rate=1e-3)",
     "symptom": "oscillation", "acceptable_symptoms": ["exploding_gradient",
                                                      "slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--lr 0.1 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kswin", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a Swin Transformer (window attention with a relative position bias, "
                    "shifted windows with their mask, patch merging) on the digits upsampled "
                    "to 16x16, AdamW and label smoothing, that trains well",
     "healthy": [
         {"id": "d48-mlp96-lr2e-3-bs32-seed4",
          "args": "--embed-dim 48 --mlp 96 --lr 2e-3 --batch-size 32 --seed 4 "
                  "--record-every 4",
          "description": "an embedding of 48, an MLP of 96, AdamW(2e-3), batches of 32"},
     ]},
]


if __name__ == "__main__":
    main()
