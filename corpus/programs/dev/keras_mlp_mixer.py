"""An MLP-Mixer (Tolstikhin et al. 2021) in Keras 3 on generated texture images, written the way
the keras.io example "Image classification with modern MLP models" is: a ``Patches`` layer
(``keras.ops.image.extract_patches``), a ``Dense`` patch embedding, ``MLPMixerLayer`` blocks
(a ``layers.Layer`` subclass: ``LayerNormalization``, the token-mixing MLP on the transposed
patches, a residual add, ``LayerNormalization``, the channel-mixing MLP, a residual add; GELU
and ``Dropout`` in both MLPs) kept in a ``keras.Sequential``, ``GlobalAveragePooling1D``,
``Dropout`` and a softmax head, under ``AdamW``.

The data are generated here: 2000 colour 32x32 images of six textures (horizontal, vertical,
rising and falling diagonal stripes, a checkerboard, a grid of dots), each with its own
period (5 to 10 pixels), phase, an orientation jitter of up to 12 degrees, two random colours
and pixel noise, as uint8 (0..255); a ``preprocessing`` block (``Rescaling(1/255)`` and a
``Normalization`` adapted to the training images) is the model's first layer.
``validation_split=0.1`` keeps the last 200 images for validation (the images are drawn in
random class order).

The model (functional): ``Patches(--patch-size)`` (64 patches of 4x4x3 = 48 values),
``Dense(--embedding-dim)`` (``patch_embedding``), --blocks ``MLPMixerLayer`` blocks (block
``i``: ``mixer_<i>_norm1``, ``mixer_<i>_token_dense1`` with ``num_patches`` units and GELU,
``mixer_<i>_token_dense2``, ``mixer_<i>_norm2``, ``mixer_<i>_channel_dense1`` with
``num_patches`` units and GELU, ``mixer_<i>_channel_dense2``), ``GlobalAveragePooling1D``,
``Dropout(--dropout)`` and ``Dense(6, softmax)`` (``head``), under
``sparse_categorical_crossentropy`` and ``AdamW(--lr, weight_decay=--wd)``. The recorder
(its own train step) takes the layers with weights in the order they run: the adapted
``preprocessing/normalization`` (constants, no weight rows), ``patch_embedding``, each block's
``norm1``, token-mixing ``Dense`` pair, ``norm2`` and channel-mixing ``Dense`` pair (named
``mlpmixer_blocks/mixer_<i>/...``), and ``head`` (index 14 with two blocks). The mistakes of
the families in CASES are selected with ``--bug``.
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
SIZE = 32
CLASSES = ("horizontal", "vertical", "rising", "falling", "checker", "dots")


def make_textures(n, seed):
    """n uint8 images (n, 32, 32, 3) of the six textures, and their labels."""
    rng = np.random.default_rng(6100 + seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float64")
    images = np.zeros((n, SIZE, SIZE, 3), dtype="uint8")
    labels = rng.integers(0, len(CLASSES), n)
    for i in range(n):
        period = rng.uniform(5.0, 10.0)
        phase = rng.uniform(0, 2 * math.pi)
        jitter = math.radians(rng.uniform(-12, 12))
        k = labels[i]
        angle = {0: 0.0, 1: 90.0, 2: 45.0, 3: 135.0, 4: 0.0, 5: 0.0}[k]
        theta = math.radians(angle) + jitter
        u = xx * math.sin(theta) + yy * math.cos(theta)
        v = xx * math.cos(theta) - yy * math.sin(theta)
        w = 2 * math.pi / period
        if k < 4:
            pattern = np.sin(w * u + phase)
        elif k == 4:
            pattern = np.sign(np.sin(w * u + phase) * np.sin(w * v + phase)) * 0.9
        else:
            pattern = (np.cos(w * u + phase) * np.cos(w * v + phase) > 0.5) * 2.0 - 1.0
        mix = (pattern + 1) / 2  # 0..1
        fg = rng.uniform(60, 255, 3)
        bg = rng.uniform(0, 160, 3)
        img = bg * (1 - mix[..., None]) + fg * mix[..., None]
        img += rng.normal(0, 25, img.shape)
        images[i] = np.clip(img, 0, 255).astype("uint8")
    return images, labels.astype("int64")


def build(keras, args, num_patches, x_train):
    from keras import layers

    class Patches(layers.Layer):
        def __init__(self, patch_size, **kwargs):
            super().__init__(**kwargs)
            self.patch_size = patch_size

        def call(self, x):
            patches = keras.ops.image.extract_patches(x, self.patch_size)
            batch_size = keras.ops.shape(patches)[0]
            num_patches = keras.ops.shape(patches)[1] * keras.ops.shape(patches)[2]
            patch_dim = keras.ops.shape(patches)[3]
            out = keras.ops.reshape(patches, (batch_size, num_patches, patch_dim))
            return out

    class MLPMixerLayer(layers.Layer):
        def __init__(self, num_patches, hidden_units, dropout_rate, index, **kwargs):
            super().__init__(name="mixer_%d" % index, **kwargs)
            act = None if args.bug == "no-gelu" else "gelu"
            # BUG (no-gelu): activation=None in the hidden Dense of both MLPs (the "gelu"
            # strings were lost when the MLPs were rewritten as keras.Sequential).
            self.mlp1 = keras.Sequential([
                layers.Dense(units=num_patches, activation=act,
                             name="mixer_%d_token_dense1" % index),
                layers.Dense(units=num_patches, name="mixer_%d_token_dense2" % index),
                layers.Dropout(rate=dropout_rate),
            ], name="mixer_%d_token_mlp" % index)
            self.mlp2 = keras.Sequential([
                layers.Dense(units=num_patches, activation=act,
                             name="mixer_%d_channel_dense1" % index),
                layers.Dense(units=hidden_units, name="mixer_%d_channel_dense2" % index),
                layers.Dropout(rate=dropout_rate),
            ], name="mixer_%d_channel_mlp" % index)
            self.norm1 = layers.LayerNormalization(epsilon=1e-6, name="mixer_%d_norm1" % index)
            self.norm2 = layers.LayerNormalization(epsilon=1e-6, name="mixer_%d_norm2" % index)

        def call(self, inputs):
            # Apply layer normalization.
            x = self.norm1(inputs)
            # Transpose inputs from [num_batches, num_patches, hidden_units] to
            # [num_batches, hidden_units, num_patches].
            x_channels = keras.ops.transpose(x, axes=(0, 2, 1))
            # Apply mlp1 on each channel independently.
            mlp1_outputs = self.mlp1(x_channels)
            # Transpose mlp1_outputs back to [num_batches, num_patches, hidden_units].
            mlp1_outputs = keras.ops.transpose(mlp1_outputs, axes=(0, 2, 1))
            # Add skip connection.
            x = mlp1_outputs + inputs
            # Apply layer normalization.
            x_patches = self.norm2(x)
            # Apply mlp2 on each patch independently.
            mlp2_outputs = self.mlp2(x_patches)
            # Add skip connection.
            x = x + mlp2_outputs
            return x

    preprocessing = keras.Sequential([
        layers.Rescaling(1.0 / 255),
        layers.Normalization(name="normalization"),
    ], name="preprocessing")
    preprocessing.layers[-1].adapt(x_train / 255.0)

    mlpmixer_blocks = keras.Sequential(
        [MLPMixerLayer(num_patches, args.embedding_dim, args.dropout, i)
         for i in range(args.blocks)], name="mlpmixer_blocks")

    inputs = layers.Input(shape=(SIZE, SIZE, 3))
    x = preprocessing(inputs)
    patches = Patches(args.patch_size)(x)
    x = layers.Dense(units=args.embedding_dim, name="patch_embedding")(patches)
    x = mlpmixer_blocks(x)
    representation = layers.GlobalAveragePooling1D()(x)
    representation = layers.Dropout(rate=args.dropout)(representation)
    # BUG (logits-head): the head is the example's Dense(num_classes) without an activation,
    # and the loss stays the string "sparse_categorical_crossentropy" (from_logits=False).
    head_act = None if args.bug == "logits-head" else "softmax"
    outputs = layers.Dense(len(CLASSES), activation=head_act, name="head")(representation)
    return keras.Model(inputs=inputs, outputs=outputs, name="mlp_mixer")


def main():
    p = common.parser(__doc__)
    p.add_argument("--patch-size", type=int, default=4)
    p.add_argument("--embedding-dim", type=int, default=64)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--wd", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--bug", default=None, choices=("no-gelu", "logits-head"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)

    x, y = make_textures(args.n, args.seed)
    n_train = int(len(x) * 0.9)
    num_patches = (SIZE // args.patch_size) ** 2

    model = build(keras, args, num_patches, x[:n_train].astype("float32"))
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=args.lr, weight_decay=args.wd),
        loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=0.1, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = -(-n_train // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kmixer-logits-head", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing softmax / wrong loss for the output (the keras.io "
               "example's head is Dense(num_classes) for from_logits=True; copied without its "
               "loss, it meets the string loss with from_logits=False); Stack Overflow: "
               "'loss stuck at 1.79 / accuracy at chance' with a linear output and "
               "sparse_categorical_crossentropy",
     "bug": "the head is Dense(6) without an activation under "
            "'sparse_categorical_crossentropy' (from_logits=False): Keras clips the raw "
            "outputs to [1e-7, 1 - 1e-7] as if they were probabilities, the loss falls from "
            "3.75 in the first epoch to 1.7918 (ln 6) from the third on and stays there, and "
            "the validation accuracy is 0.215 after 15 epochs (the fixed twin: 0.95)",
     "fix": "Dense(6, activation='softmax') as the head",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "missing_activation"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug logits-head --seed 0 --record-every 4",
          "fixed": "--seed 0 --record-every 4"},
     ]},
    {"family": "kmixer-no-gelu", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing activation function (the token- and "
               "channel-mixing MLPs without their GELU)",
     "bug": "activation=None in the hidden Dense of both MLPs of every Mixer block: the only "
            "non-linearity left is LayerNormalization's division; the loss falls slowly (1.80 "
            "in the first epoch, 1.53 in the third, 0.18 in the fifteenth) and the validation "
            "accuracy ends at 0.77 with a validation loss of 0.83 (the fixed twin: 0.955 and "
            "0.25)",
     "fix": "activation='gelu' in the first Dense of both MLPs",
     "symptom": "missing_activation", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug no-gelu --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-kmixer", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "an MLP-Mixer with a Patches layer, token- and channel-mixing MLPs and "
                    "AdamW on generated texture images, that trains well",
     "healthy": [
         {"id": "blocks3-dropout0.2-seed2",
          "args": "--blocks 3 --dropout 0.2 --epochs 12 --seed 2 --record-every 4",
          "description": "three Mixer blocks, dropout 0.2, 12 epochs"},
         {"id": "patch8-dim32-lr2e-3-seed3",
          "args": "--patch-size 8 --embedding-dim 32 --lr 2e-3 --seed 3 --record-every 4",
          "description": "16 patches of 8x8, an embedding of 32, AdamW(2e-3)"},
     ]},
]


if __name__ == "__main__":
    main()
