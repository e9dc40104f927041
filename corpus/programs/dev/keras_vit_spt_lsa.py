"""A small Vision Transformer for small data sets in Keras 3, written the way the keras.io example
"Train a Vision Transformer on small-scale datasets" (Aritra Roy Gosthipaty; after Lee, Lee and
Song 2021, "Vision Transformer for Small-Size Datasets") writes it: Shifted Patch Tokenization
(``ShiftedPatchTokenization``: the image concatenated on the channels with its four diagonally
shifted copies, ``crop_shift_pad`` with ``tf.image.crop_to_bounding_box`` and
``pad_to_bounding_box`` by half a patch, cut into patches, flattened, ``LayerNormalization`` and
a ``Dense`` projection), a ``PatchEncoder`` adding a position ``Embedding``, and Locality
Self-Attention (``MultiHeadAttentionLSA``: a ``keras.layers.MultiHeadAttention`` whose
``_compute_attention`` divides the queries by a learnable temperature ``tau``, initialized at
sqrt(key_dim), and whose attention mask ``1 - eye(num_patches)`` keeps each token from attending
to itself). Transformer blocks of ``LayerNormalization``, LSA, a residual ``Add``,
``LayerNormalization`` and a GELU MLP; then ``LayerNormalization``, ``Flatten``, ``Dropout``, a
GELU head and ``Dense(10)`` of logits under ``SparseCategoricalCrossentropy(from_logits=True)``;
``AdamW`` with the example's ``WarmUpCosine`` schedule (linear warm-up over the first 10% of the
steps, then cosine decay to 0). Trained with ``fit``.

Data: scikit-learn's 1797 digits (8x8, pixels 0..16) as images (n, 8, 8, 1), shuffled once; the
last 10% (180) are held out (``validation_split=0.1``). The model normalizes them (a
``Normalization`` layer adapted to the training images) and upsamples them to 16x16
(``Resizing``); patches of 4x4 (16 tokens of 4 * 4 * 5 = 80 values).

Layers (functional): ``normalization`` (adapted constants), ``shifted_patch_tokenization``
(``layer_normalization``, ``dense`` projection to --projection-dim), ``patch_encoder``
(``embedding``), --layers blocks (``layer_normalization_<k>``, ``multi_head_attention_lsa_<k>``
with --heads heads, ``layer_normalization_<k+1>``, two GELU ``Dense`` of 2 and 1 times
--projection-dim), the final ``layer_normalization``, ``Flatten``, ``Dropout(0.3)``,
``Dense(64, gelu)`` and ``Dense(10)`` (``logits``). The result line adds the held-out accuracy.
The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

NUM_CLASSES = 10
INPUT_SHAPE = (8, 8, 1)
IMAGE_SIZE = 16
PATCH_SIZE = 4
NUM_PATCHES = (IMAGE_SIZE // PATCH_SIZE) ** 2
LAYER_NORM_EPS = 1e-6


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--projection-dim", type=int, default=32)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None,
                   choices=("mask-inverted", "tau-zero", "labels-misaligned"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers
    from keras import ops
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(args.seed).permutation(len(digits.target))
    x_train = digits.images[order].reshape(-1, 8, 8, 1).astype("float32")
    # BUG (labels-misaligned): the images are shuffled but the labels are taken in the
    # original order.
    y_train = (digits.target if args.bug == "labels-misaligned"
               else digits.target[order]).astype("int64")
    n_fit = len(x_train) - int(len(x_train) * 0.1)

    projection_dim = args.projection_dim
    transformer_units = [projection_dim * 2, projection_dim]

    data_augmentation = keras.Sequential(
        [layers.Normalization(), layers.Resizing(IMAGE_SIZE, IMAGE_SIZE)],
        name="data_augmentation")
    data_augmentation.layers[0].adapt(x_train[:n_fit])

    class ShiftedPatchTokenization(layers.Layer):
        def __init__(self, image_size=IMAGE_SIZE, patch_size=PATCH_SIZE,
                     num_patches=NUM_PATCHES, projection_dim=projection_dim, **kwargs):
            super().__init__(**kwargs)
            self.image_size = image_size
            self.patch_size = patch_size
            self.half_patch = patch_size // 2
            self.flatten_patches = layers.Reshape((num_patches, -1))
            self.projection = layers.Dense(units=projection_dim, name="dense")
            self.layer_norm = layers.LayerNormalization(epsilon=LAYER_NORM_EPS,
                                                        name="layer_normalization")

        def crop_shift_pad(self, images, mode):
            # Build the diagonally shifted images
            if mode == "left-up":
                crop_height, crop_width = self.half_patch, self.half_patch
                shift_height, shift_width = 0, 0
            elif mode == "left-down":
                crop_height, crop_width = 0, self.half_patch
                shift_height, shift_width = self.half_patch, 0
            elif mode == "right-up":
                crop_height, crop_width = self.half_patch, 0
                shift_height, shift_width = 0, self.half_patch
            else:
                crop_height, crop_width = 0, 0
                shift_height, shift_width = self.half_patch, self.half_patch
            crop = tf.image.crop_to_bounding_box(
                images, offset_height=crop_height, offset_width=crop_width,
                target_height=self.image_size - self.half_patch,
                target_width=self.image_size - self.half_patch)
            return tf.image.pad_to_bounding_box(
                crop, offset_height=shift_height, offset_width=shift_width,
                target_height=self.image_size, target_width=self.image_size)

        def call(self, images):
            shifted = [images,
                       self.crop_shift_pad(images, mode="left-up"),
                       self.crop_shift_pad(images, mode="left-down"),
                       self.crop_shift_pad(images, mode="right-up"),
                       self.crop_shift_pad(images, mode="right-down")]
            images = tf.concat(shifted, axis=-1)
            patches = tf.image.extract_patches(
                images=images, sizes=[1, self.patch_size, self.patch_size, 1],
                strides=[1, self.patch_size, self.patch_size, 1], rates=[1, 1, 1, 1],
                padding="VALID")
            flat_patches = self.flatten_patches(patches)
            tokens = self.layer_norm(flat_patches)
            tokens = self.projection(tokens)
            return tokens

    class PatchEncoder(layers.Layer):
        def __init__(self, num_patches=NUM_PATCHES, projection_dim=projection_dim, **kwargs):
            super().__init__(**kwargs)
            self.num_patches = num_patches
            self.position_embedding = layers.Embedding(input_dim=num_patches,
                                                       output_dim=projection_dim,
                                                       name="embedding")
            self.positions = ops.arange(start=0, stop=self.num_patches, step=1)

        def call(self, encoded_patches):
            return encoded_patches + self.position_embedding(self.positions)

    class MultiHeadAttentionLSA(layers.MultiHeadAttention):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            # The trainable temperature term. The initial value is the square root of the key
            # dimension.
            # BUG (tau-zero): the temperature initialized at 0.0.
            tau0 = 0.0 if args.bug == "tau-zero" else math.sqrt(float(self._key_dim))
            self.tau = keras.Variable(tau0, trainable=True, name="tau")

        def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                               return_attention_scores=False, use_causal_mask=False):
            query = ops.multiply(query, 1.0 / self.tau)
            attention_scores = ops.einsum(self._dot_product_equation, key, query)
            attention_scores = self._masked_softmax(attention_scores, attention_mask)
            attention_scores_dropout = self._dropout_layer(attention_scores, training=training)
            attention_output = ops.einsum(self._combine_equation, attention_scores_dropout,
                                          value)
            return attention_output, attention_scores

    def mlp(x, hidden_units, dropout_rate):
        for units in hidden_units:
            x = layers.Dense(units, activation=keras.activations.gelu)(x)
            x = layers.Dropout(dropout_rate)(x)
        return x

    # Build the diagonal attention mask
    if args.bug == "mask-inverted":
        # BUG (mask-inverted): the mask written as eye(num_patches): True (attend) on the
        # diagonal only, so every token attends to itself alone.
        diag_attn_mask = ops.eye(NUM_PATCHES)
    else:
        diag_attn_mask = 1 - ops.eye(NUM_PATCHES)
    diag_attn_mask = ops.cast([diag_attn_mask], dtype="int8")

    def create_vit_classifier():
        inputs = keras.Input(shape=INPUT_SHAPE)
        augmented = data_augmentation(inputs)
        tokens = ShiftedPatchTokenization(name="shifted_patch_tokenization")(augmented)
        encoded_patches = PatchEncoder(name="patch_encoder")(tokens)
        for k in range(args.layers):
            x1 = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
            attention_output = MultiHeadAttentionLSA(
                num_heads=args.heads, key_dim=projection_dim, dropout=0.1,
                name="multi_head_attention_lsa_%d" % k)(x1, x1, attention_mask=diag_attn_mask)
            x2 = layers.Add()([attention_output, encoded_patches])
            x3 = layers.LayerNormalization(epsilon=1e-6)(x2)
            x3 = mlp(x3, hidden_units=transformer_units, dropout_rate=0.1)
            encoded_patches = layers.Add()([x3, x2])
        representation = layers.LayerNormalization(epsilon=1e-6)(encoded_patches)
        representation = layers.Flatten()(representation)
        representation = layers.Dropout(0.3)(representation)
        features = mlp(representation, hidden_units=[64], dropout_rate=0.3)
        logits = layers.Dense(NUM_CLASSES, name="logits")(features)
        return keras.Model(inputs=inputs, outputs=logits, name="vit_spt_lsa")

    class WarmUpCosine(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self, learning_rate_base, total_steps, warmup_learning_rate,
                     warmup_steps):
            super().__init__()
            self.learning_rate_base = learning_rate_base
            self.total_steps = total_steps
            self.warmup_learning_rate = warmup_learning_rate
            self.warmup_steps = warmup_steps
            self.pi = np.pi

        def __call__(self, step):
            step = ops.cast(step, "float32")
            cos_annealed_lr = ops.cos(
                self.pi * (step - self.warmup_steps)
                / float(self.total_steps - self.warmup_steps))
            learning_rate = 0.5 * self.learning_rate_base * (1 + cos_annealed_lr)
            slope = (self.learning_rate_base - self.warmup_learning_rate) / self.warmup_steps
            warmup_rate = slope * step + self.warmup_learning_rate
            learning_rate = ops.where(step < self.warmup_steps, warmup_rate, learning_rate)
            return ops.where(step > self.total_steps, 0.0, learning_rate)

        def get_config(self):
            return {"learning_rate_base": self.learning_rate_base,
                    "total_steps": self.total_steps,
                    "warmup_learning_rate": self.warmup_learning_rate,
                    "warmup_steps": self.warmup_steps}

    steps_per_epoch = -(-n_fit // args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = int(total_steps * 0.1)
    scheduled_lrs = WarmUpCosine(learning_rate_base=args.lr, total_steps=total_steps,
                                 warmup_learning_rate=0.0, warmup_steps=warmup_steps)

    model = create_vit_classifier()
    optimizer = keras.optimizers.AdamW(learning_rate=scheduled_lrs,
                                       weight_decay=args.weight_decay)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    callbacks = common.recording.keras_callbacks(
        args.out, task="classification", loss_name="sparse_categorical_crossentropy",
        num_classes=NUM_CLASSES)
    history = model.fit(x=x_train, y=y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=0.1, verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = steps_per_epoch * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kvitspt-tau-zero", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: wrong weight initialization (a learnable temperature); "
               "DeepDiagnosis: numerical errors; keras.io example's MultiHeadAttentionLSA "
               "with tau initialized at 0 instead of sqrt(key_dim)",
     "bug": "the LSA temperature tau initialized at 0.0 instead of sqrt(key_dim): the queries "
            "are multiplied by 1 / 0, the attention scores are Inf and NaN, and the loss is NaN "
            "from the first step to the last; the accuracy stays at 0.097 (held-out 0.117) (the "
            "fixed twin: held-out accuracy 0.989, validation loss 0.0217)",
     "fix": "tau = keras.Variable(math.sqrt(float(self._key_dim)), trainable=True)",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug tau-zero --seed 0 --record-every 8",
          "fixed": "--seed 0 --record-every 8"},
     ]},
    {"family": "kvitspt-labels-misaligned", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: wrong labels / data shuffled without its labels; Stack "
               "Overflow: 'accuracy stuck at 10% after shuffling the data'",
     "bug": "the images shuffled but the labels taken in the original order: the training loss "
            "falls only from 2.93 to 2.29 (ln 10 = 2.30), the training accuracy ends at 0.121 "
            "and the held-out accuracy at 0.111, chance (the fixed twin: 0.989, validation loss "
            "0.0245)",
     "fix": "y_train = digits.target[order]",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug labels-misaligned --seed 1 --record-every 8",
          "fixed": "--seed 1 --record-every 8"},
     ]},
    {"family": "healthy-kvitspt", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a Vision Transformer with Shifted Patch Tokenization and Locality "
                    "Self-Attention as the keras.io small-datasets example writes it, on "
                    "scikit-learn's digits upsampled to 16x16, AdamW with warm-up and cosine "
                    "decay, that trains well",
     "healthy": [
         {"id": "heads4-seed2",
          "args": "--heads 4 --seed 2 --record-every 8",
          "description": "two blocks of 4-head LSA, AdamW(2e-3) warm-up cosine"},
     ]},
]


if __name__ == "__main__":
    main()
