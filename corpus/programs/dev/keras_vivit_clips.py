"""A Video Vision Transformer (ViViT: Arnab, Dehghani, Heigold, Sun, Lucic and Schmid, "ViViT: A
Video Vision Transformer", ICCV 2021) in Keras 3, written the way the keras.io example "Video
Classification with a Vision Transformer" writes it: a ``TubeletEmbedding`` layer (a ``Conv3D``
whose kernel and strides are the tubelet's size, ``padding="VALID"``, then a ``Reshape`` of the
projected tubelets into a sequence of tokens), a ``PositionalEncoder`` (an ``Embedding`` of the
token positions, built for the number of tokens, added to the tokens), transformer blocks of
``LayerNormalization``, ``MultiHeadAttention``, a residual ``Add``, ``LayerNormalization`` and a
``keras.Sequential`` MLP of two GELU ``Dense`` layers with a second residual ``Add``, then a
final ``LayerNormalization``, ``GlobalAvgPool1D`` and a ``Dense`` softmax over the classes;
``AdamW`` and ``sparse_categorical_crossentropy``, ``model.fit`` on ``tf.data`` pipelines whose
``preprocess`` maps the uint8 frames to float32 in [0, 1] with ``tf.image.convert_image_dtype``,
as the example's does.

Data (generated here): clips of 8 grey-scale frames of 8x8 pixels, stored as uint8 (0..255) as
decoded video is, of one bright Gaussian blob (peak 180 to 240, radius 0.8 to 1.2 pixels) over
sensor noise (mean 20, std 8), with a second, static, dimmer blob (peak 90) in half the clips.
The clips are recorded at half the frame rate and shown at the full rate, as a frame-rate
conversion does: every position is held for two frames, so the blob moves 1 pixel every second
frame (4 positions, 3 pixels in all). The class is the motion: right, left, down, up, or one of
the two diagonals down-right and up-left (6 classes); the start is drawn so that the blob stays
inside the frame. A tubelet of two frames shows the blob still: the motion is only in the order
of the tubelets, which the positional embedding gives. 960 clips for training, 240 for
validation (the classes balanced, chance 1/6).

Model (functional): ``tubelet_embedding`` (its ``Conv3D`` ``tubelet_embedding/projection`` of
--embed-dim filters, tubelets of 2 frames by 2x2 pixels: 4 x 4 x 4 = 64 tokens),
``positional_encoder`` (its ``Embedding`` ``positional_encoder/position_embedding`` of the 64
positions), --layers transformer blocks (``layer_normalization``, ``multi_head_attention`` with
--heads heads of key_dim embed_dim // heads and dropout 0.1, ``layer_normalization_1``, the MLP
``sequential`` of ``Dense(4 * embed_dim, gelu)`` and ``Dense(embed_dim, gelu)``),
``layer_normalization_<k>``, ``GlobalAvgPool1D`` and ``Dense(6, softmax)`` ``motion``;
AdamW(--lr, weight decay --weight-decay), batches of --batch-size (30 steps an epoch), the
training clips shuffled once an epoch. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

FRAMES, SIZE = 8, 8
HOLD = 2            # every position is held for two frames (half the frame rate)
STEP = 1            # pixels the blob moves between two held positions
MOTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, -1))  # (drow, dcol) per position
NUM_CLASSES = len(MOTIONS)
PATCH_SIZE = (2, 2, 2)


def make_clips(n, seed):
    """n clips (uint8, (n, FRAMES, SIZE, SIZE)) and their motion class, balanced."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % NUM_CLASSES
    rng.shuffle(y)
    rr, cc = np.mgrid[0:SIZE, 0:SIZE]
    clips = np.empty((n, FRAMES, SIZE, SIZE), dtype=np.uint8)
    travel = STEP * (FRAMES // HOLD - 1)
    for i in range(n):
        dr, dc = MOTIONS[y[i]]
        radius = rng.uniform(0.8, 1.2)
        peak = rng.uniform(180, 240)
        lo, hi = 1.0, SIZE - 2.0
        r0 = rng.uniform(lo, hi) if dr == 0 else (rng.uniform(lo, hi - travel) if dr > 0
                                                   else rng.uniform(lo + travel, hi))
        c0 = rng.uniform(lo, hi) if dc == 0 else (rng.uniform(lo, hi - travel) if dc > 0
                                                   else rng.uniform(lo + travel, hi))
        distractor = rng.random() < 0.5
        dr0, dc0 = rng.uniform(lo, hi, size=2)
        for t in range(FRAMES):
            k = t // HOLD
            r, c = r0 + dr * STEP * k, c0 + dc * STEP * k
            frame = 20.0 + 8.0 * rng.standard_normal((SIZE, SIZE))
            frame += peak * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * radius ** 2))
            if distractor:
                frame += 90.0 * np.exp(-((rr - dr0) ** 2 + (cc - dc0) ** 2) / (2 * 1.0 ** 2))
            clips[i, t] = np.clip(frame, 0, 255).astype(np.uint8)
    return clips, y.astype("int64")


def main():
    p = common.parser(__doc__)
    p.add_argument("--n-train", type=int, default=960)
    p.add_argument("--n-val", type=int, default=240)
    p.add_argument("--embed-dim", type=int, default=32)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--bug", default=None,
                   choices=("no-scaling", "pos-not-added", "no-softmax", "time-stride"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers, ops

    x_train, y_train = make_clips(args.n_train, seed=100 + args.seed)
    x_val, y_val = make_clips(args.n_val, seed=900 + args.seed)

    def preprocess(frames, label):
        """Preprocess the frames tensors and parse the labels."""
        # BUG (no-scaling): tf.cast instead of convert_image_dtype: the uint8 frames reach the
        # model as 0..255 instead of [0, 1].
        if args.bug == "no-scaling":
            frames = tf.cast(frames[..., tf.newaxis], tf.float32)
        else:
            frames = tf.image.convert_image_dtype(frames[..., tf.newaxis], tf.float32)
        label = tf.cast(label, tf.float32)
        return frames, label

    def prepare_dataloader(videos, labels, loader_type="train", batch_size=args.batch_size):
        """Utility function to prepare the dataloader."""
        dataset = tf.data.Dataset.from_tensor_slices((videos, labels))
        if loader_type == "train":
            dataset = dataset.shuffle(len(videos), seed=args.seed)
        dataloader = (dataset.map(preprocess).batch(batch_size).prefetch(tf.data.AUTOTUNE))
        return dataloader

    trainloader = prepare_dataloader(x_train, y_train, "train")
    validloader = prepare_dataloader(x_val, y_val, "valid")

    class TubeletEmbedding(layers.Layer):
        def __init__(self, embed_dim, patch_size, **kwargs):
            super().__init__(**kwargs)
            strides = patch_size
            if args.bug == "time-stride":
                # BUG (time-stride): the temporal stride set to the clip's length: one
                # tubelet of the first frames along time, the rest of the clip never seen.
                strides = (FRAMES,) + tuple(patch_size[1:])
            self.projection = layers.Conv3D(
                filters=embed_dim,
                kernel_size=patch_size,
                strides=strides,
                padding="VALID",
                name="projection",
            )
            self.flatten = layers.Reshape(target_shape=(-1, embed_dim))

        def call(self, videos):
            projected_patches = self.projection(videos)
            flattened_patches = self.flatten(projected_patches)
            return flattened_patches

    class PositionalEncoder(layers.Layer):
        def __init__(self, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.embed_dim = embed_dim

        def build(self, input_shape):
            _, num_tokens, _ = input_shape
            self.position_embedding = layers.Embedding(
                input_dim=num_tokens, output_dim=self.embed_dim, name="position_embedding")
            self.position_embedding.build((num_tokens,))
            self.positions = ops.arange(0, num_tokens, 1)

        def call(self, encoded_tokens):
            # Encode the positions and add it to the encoded tokens
            encoded_positions = self.position_embedding(self.positions)
            # BUG (pos-not-added): the positions are looked up but the tokens are returned
            # as they came: the transformer sees an unordered set of tubelets.
            if args.bug == "pos-not-added":
                return encoded_tokens
            encoded_tokens = encoded_tokens + encoded_positions
            return encoded_tokens

    def create_vivit_classifier(tubelet_embedder, positional_encoder,
                                input_shape=(FRAMES, SIZE, SIZE, 1),
                                transformer_layers=args.layers, num_heads=args.heads,
                                embed_dim=args.embed_dim, layer_norm_eps=1e-6,
                                num_classes=NUM_CLASSES):
        # Get the input layer
        inputs = layers.Input(shape=input_shape)
        # Create patches.
        patches = tubelet_embedder(inputs)
        # Encode patches.
        encoded_patches = positional_encoder(patches)

        # Create multiple layers of the Transformer block.
        for _ in range(transformer_layers):
            # Layer normalization and MHSA
            x1 = layers.LayerNormalization(epsilon=layer_norm_eps)(encoded_patches)
            attention_output = layers.MultiHeadAttention(
                num_heads=num_heads, key_dim=embed_dim // num_heads, dropout=0.1
            )(x1, x1)

            # Skip connection
            x2 = layers.Add()([attention_output, encoded_patches])

            # Layer Normalization and MLP
            x3 = layers.LayerNormalization(epsilon=layer_norm_eps)(x2)
            x3 = keras.Sequential(
                [
                    layers.Dense(units=embed_dim * 4, activation=ops.gelu),
                    layers.Dense(units=embed_dim, activation=ops.gelu),
                ]
            )(x3)

            # Skip connection
            encoded_patches = layers.Add()([x3, x2])

        # Layer normalization and Global average pooling.
        representation = layers.LayerNormalization(epsilon=layer_norm_eps)(encoded_patches)
        representation = layers.GlobalAvgPool1D()(representation)

        # Classify outputs.
        # BUG (no-softmax): the output Dense left linear while the loss below takes
        # probabilities (sparse_categorical_crossentropy without from_logits=True).
        head_act = None if args.bug == "no-softmax" else "softmax"
        outputs = layers.Dense(units=num_classes, activation=head_act, name="motion")(
            representation)

        # Create the Keras model.
        model = keras.Model(inputs=inputs, outputs=outputs, name="vivit")
        return model

    model = create_vivit_classifier(
        tubelet_embedder=TubeletEmbedding(embed_dim=args.embed_dim, patch_size=PATCH_SIZE,
                                          name="tubelet_embedding"),
        positional_encoder=PositionalEncoder(embed_dim=args.embed_dim,
                                             name="positional_encoder"),
    )
    optimizer = keras.optimizers.AdamW(learning_rate=args.lr, weight_decay=args.weight_decay)
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    history = model.fit(trainloader, epochs=args.epochs, validation_data=validloader,
                        verbose=0, callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = -(-len(x_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kvivit-pos-not-added", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: model (a layer's output computed but never used: the "
               "position embedding looked up and dropped); Keras' 'Gradients do not exist for "
               "variables' warning as Stack Overflow and GitHub issues report it for an unused "
               "embedding",
     "bug": "PositionalEncoder.call looks up the position embedding but returns the tokens "
            "without adding it: the 64 tubelet tokens reach the transformer as an unordered "
            "set, and a tubelet of two held frames shows the blob still, so nothing tells the "
            "motions apart; the position embedding gets no gradient (Keras warns) and stays as "
            "initialized; the loss stays near ln 6 (1.830 in the first epoch, 1.800 in the "
            "sixth), training accuracy 0.159 and validation accuracy 0.167 of six motions "
            "(chance) against the twin's loss 1.614 -> 0.048 and validation accuracy 0.942",
     "fix": "return encoded_tokens + encoded_positions",
     "symptom": "not_learning", "acceptable_symptoms": ["unchanged_values"],
     "root_cause": {"layer_name": "positional_encoder/position_embedding", "layer_index": 1},
     "pairs": [
         {"id": "adamw-seed1",
          "buggy": "--bug pos-not-added --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kvivit-frames-not-scaled", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: training data preprocessing (missing input "
               "normalization); Stack Overflow: tf.cast of uint8 images to float32 where "
               "tf.image.convert_image_dtype (which also scales to [0, 1]) was meant",
     "bug": "preprocess casts the uint8 frames with tf.cast instead of "
            "tf.image.convert_image_dtype: the clips reach the model as 0..255 instead of "
            "[0, 1], the Conv3D tokens are hundreds of times the size of the position "
            "embedding added to them; the loss stays near ln 6 (1.880 in the first epoch, "
            "1.807 in the sixth), training accuracy 0.168 and validation accuracy 0.150 of six "
            "motions (chance 0.167) against the twin's loss 1.793 -> 0.081 and validation "
            "accuracy 0.975",
     "fix": "frames = tf.image.convert_image_dtype(frames[..., tf.newaxis], tf.float32)",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed0",
          "buggy": "--bug no-scaling --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "healthy-kvivit", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "the keras.io ViViT (tubelet embedding, positional encoder, transformer "
                    "blocks) on generated clips of a moving blob, that trains well",
     "healthy": [
         {"id": "heads2-seed2",
          "args": "--heads 2 --seed 2 --record-every 4",
          "description": "two attention heads, seed 2: loss 1.520 -> 0.075, validation "
                         "accuracy 0.992 of six motions (chance 0.167)"},
     ]},
]


if __name__ == "__main__":
    main()
