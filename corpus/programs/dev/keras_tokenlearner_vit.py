"""A small Vision Transformer with a TokenLearner module in Keras 3, written the way the keras.io
example "Learning to tokenize in Vision Transformers" (Aritra Roy Gosthipaty and Sayak Paul,
2021, after Ryoo et al., "TokenLearner: What Can 8 Learned Tokens Do for Images and Videos?")
writes it: a ``data_augmentation`` block (``Rescaling(1 / 255)``, ``Resizing``), the patch
embedding as a ``Conv2D`` with kernel and stride the patch size and a ``Reshape`` to
(patches, projection_dim), a ``PatchEncoder`` adding a position ``Embedding`` of the patch
indices, ``Dropout(0.1)``, transformer blocks (``LayerNormalization``, ``MultiHeadAttention``,
a residual ``Add``, ``LayerNormalization``, an MLP of GELU ``Dense`` layers with ``Dropout``,
a residual ``Add``), and after the middle block the ``token_learner``: the tokens reshaped back
to their (h, w) grid, ``LayerNormalization``, a ``keras.Sequential`` of ``Conv2D`` layers
(3x3, GELU, no bias; the last one with --tokens filters and no activation) giving one
attention map per learned token, reshaped to (positions, tokens) and permuted to (tokens,
positions), normalized with a softmax over the positions (TokenLearner v1.1, as the paper's
repository normalizes them), and the weighted sum of the tokens over the positions, which pools
the 16 patch tokens into --tokens learned tokens. The remaining blocks run on those; a final
``LayerNormalization``, ``GlobalAvgPool1D`` and ``Dense(10, softmax)`` under
``sparse_categorical_crossentropy``, ``AdamW`` and ``fit`` with ``validation_split=0.2``.

Data: scikit-learn's 1797 digits (8x8, grey levels 0..16) upsampled to 16x16 (each pixel
repeated 2x2) and stored as uint8 images in 0..255, as an image folder would give them,
shuffled once; the last 20% are the validation split. Patches of 4x4 (16 tokens of
--projection-dim).

The model (functional): ``data_augmentation`` (no weights), ``conv2d`` (the patch projection),
``patch_encoder/embedding``, --layers transformer blocks (``layer_normalization_<k>``,
``multi_head_attention_<k>`` with --heads heads, two GELU ``Dense`` layers of 2 and 1 times
--projection-dim), the token learner after block --layers // 2 (its
``layer_normalization_<k>`` and ``token_learner_maps/conv2d_<k>``), the final
``layer_normalization_<k>`` and ``dense_<k>`` (the softmax head). The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

NUM_CLASSES = 10
INPUT_SHAPE = (16, 16, 1)
PATCH_SIZE = 4
NUM_PATCHES = (16 // PATCH_SIZE) ** 2
LAYER_NORM_EPS = 1e-6


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--projection-dim", type=int, default=32)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--tokens", type=int, default=4, help="tokens the TokenLearner learns")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--bug", default=None,
                   choices=("labels-not-shuffled", "softmax-over-tokens", "no-rescale"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from keras import ops
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(args.seed).permutation(len(digits.target))
    images = np.kron(digits.images[order], np.ones((2, 2)))  # 16x16
    x_train = np.round(images * 255.0 / 16.0).astype("uint8").reshape(-1, 16, 16, 1)
    if args.bug == "labels-not-shuffled":
        # BUG (labels-not-shuffled): the images are shuffled but the labels are taken in the
        # file's order.
        y_train = digits.target.astype("int64")
    else:
        y_train = digits.target[order].astype("int64")
    n_fit = len(x_train) - int(len(x_train) * 0.2)

    PROJECTION_DIM = args.projection_dim
    NUM_HEADS = args.heads
    NUM_LAYERS = args.layers
    MLP_UNITS = [PROJECTION_DIM * 2, PROJECTION_DIM]

    # BUG (no-rescale): the Rescaling(1 / 255) layer left out of the data augmentation:
    # the model sees grey levels 0..255.
    data_augmentation = keras.Sequential(
        ([] if args.bug == "no-rescale" else [layers.Rescaling(1 / 255.0)])
        + [layers.Resizing(INPUT_SHAPE[0], INPUT_SHAPE[1])],
        name="data_augmentation",
    )

    def mlp(x, dropout_rate, hidden_units):
        for units in hidden_units:
            x = layers.Dense(units, activation=ops.gelu)(x)
            x = layers.Dropout(dropout_rate)(x)
        return x

    class PatchEncoder(layers.Layer):
        def __init__(self, num_patches=NUM_PATCHES, projection_dim=PROJECTION_DIM, **kwargs):
            super().__init__(**kwargs)
            self.num_patches = num_patches
            self.position_embedding = layers.Embedding(
                input_dim=num_patches, output_dim=projection_dim, name="embedding")
            self.positions = ops.arange(start=0, stop=self.num_patches, step=1)

        def call(self, encoded_patches):
            encoded_positions = self.position_embedding(self.positions)
            encoded_patches = encoded_patches + encoded_positions
            return encoded_patches

    def token_learner(inputs, number_of_tokens=args.tokens):
        # Layer normalize the inputs.
        x = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(inputs)  # (B, H, W, C)
        # Applying Conv2D => Reshape => Permute
        # The reshape and permute is done to help with the next steps of
        # multiplication and Global Average Pooling.
        maps = keras.Sequential(
            [
                # 3 layers of conv with gelu activation as suggested in the paper.
                layers.Conv2D(filters=number_of_tokens, kernel_size=(3, 3),
                              activation=ops.gelu, padding="same", use_bias=False),
                layers.Conv2D(filters=number_of_tokens, kernel_size=(3, 3),
                              activation=ops.gelu, padding="same", use_bias=False),
                layers.Conv2D(filters=number_of_tokens, kernel_size=(3, 3),
                              activation=ops.gelu, padding="same", use_bias=False),
                # The last conv gives one map per token, normalized below.
                layers.Conv2D(filters=number_of_tokens, kernel_size=(3, 3),
                              padding="same", use_bias=False),
                layers.Reshape((-1, number_of_tokens)),  # (B, H*W, num_of_tokens)
            ],
            name="token_learner_maps",
        )(x)
        if args.bug == "softmax-over-tokens":
            # BUG (softmax-over-tokens): the softmax taken over the last axis before the
            # permute, i.e. over the tokens at each position, not over the positions.
            attention_maps = ops.softmax(maps, axis=-1)
            attention_maps = layers.Permute((2, 1))(attention_maps)  # (B, tokens, H*W)
        else:
            attention_maps = layers.Permute((2, 1))(maps)  # (B, num_of_tokens, H*W)
            attention_maps = ops.softmax(attention_maps, axis=-1)  # over the positions
        # Reshape the input to align it with the output of the conv block.
        num_filters = inputs.shape[-1]
        inputs = layers.Reshape((1, -1, num_filters))(inputs)  # inputs == (B, 1, H*W, C)
        # Element-Wise multiplication of the attention maps and the inputs
        attended_inputs = (
            ops.expand_dims(attention_maps, axis=-1) * inputs
        )  # (B, num_tokens, H*W, C)
        # The weighted sum over the positions.
        outputs = ops.sum(attended_inputs, axis=2)  # (B, num_tokens, C)
        return outputs

    def transformer(encoded_patches):
        # Layer normalization 1.
        x1 = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(encoded_patches)
        # Multi Head Self Attention layer 1.
        attention_output = layers.MultiHeadAttention(
            num_heads=NUM_HEADS, key_dim=PROJECTION_DIM, dropout=0.1)(x1, x1)
        # Skip connection 1.
        x2 = layers.Add()([attention_output, encoded_patches])
        # Layer normalization 2.
        x3 = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(x2)
        # MLP layer 1.
        x4 = mlp(x3, hidden_units=MLP_UNITS, dropout_rate=0.1)
        # Skip connection 2.
        encoded_patches = layers.Add()([x4, x2])
        return encoded_patches

    def create_vit_classifier(use_token_learner=True, token_learner_units=args.tokens):
        inputs = layers.Input(shape=INPUT_SHAPE)  # (B, H, W, C)
        # Image augment.
        augmented = data_augmentation(inputs)
        # Create patches and project the patches.
        projected_patches = layers.Conv2D(
            filters=PROJECTION_DIM, kernel_size=(PATCH_SIZE, PATCH_SIZE),
            strides=(PATCH_SIZE, PATCH_SIZE), padding="VALID")(augmented)
        _, h, w, c = projected_patches.shape
        projected_patches = layers.Reshape((h * w, c))(projected_patches)  # (B, patches, C)
        # Add positional embeddings to the projected patches.
        encoded_patches = PatchEncoder(name="patch_encoder")(projected_patches)
        encoded_patches = layers.Dropout(0.1)(encoded_patches)
        # Iterate over the number of layers and stack up blocks of Transformer.
        for i in range(NUM_LAYERS):
            # Add a Transformer block.
            encoded_patches = transformer(encoded_patches)
            # Add TokenLearner layer in the middle of the architecture.
            if use_token_learner and i == NUM_LAYERS // 2 - 1:
                _, hh, c = encoded_patches.shape
                hw = int(round(hh ** 0.5))
                encoded_patches = layers.Reshape((hw, hw, c))(encoded_patches)
                encoded_patches = token_learner(encoded_patches, token_learner_units)
        # Layer normalization and Global average pooling.
        representation = layers.LayerNormalization(epsilon=LAYER_NORM_EPS)(encoded_patches)
        representation = layers.GlobalAvgPool1D()(representation)
        # Classify outputs.
        outputs = layers.Dense(NUM_CLASSES, activation="softmax")(representation)
        # Create the Keras model.
        model = keras.Model(inputs=inputs, outputs=outputs)
        return model

    model = create_vit_classifier()
    optimizer = keras.optimizers.AdamW(learning_rate=args.lr, weight_decay=args.weight_decay)
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    history = model.fit(
        x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
        validation_split=0.2, verbose=0,
        callbacks=common.recording.keras_callbacks(
            args.out, task="classification", loss_name="sparse_categorical_crossentropy",
            num_classes=NUM_CLASSES),
    )
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = -(-n_fit // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ktokl-labels-not-shuffled", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: training data quality / wrong labels (labels misaligned "
               "with their inputs); Stack Overflow: 'accuracy stays at 10% after shuffling "
               "the images'",
     "bug": "the images are permuted with the shuffling order but the labels are taken in the "
            "file's order: every label belongs to another image, the training loss goes from "
            "2.477 to 2.251 (memorizing), the validation loss rises to 2.385 and the validation "
            "accuracy ends at 0.111 after 25 epochs (the fixed twin: 0.950, validation loss "
            "0.170)",
     "fix": "y_train = digits.target[order]",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug labels-not-shuffled --record-every 12",
          "fixed": "--record-every 12"},
     ]},
    {"family": "ktokl-adamw-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "DeepLocalize benchmark (Stack Overflow): learning rate far too high; "
               "AUTOTRAINER / DeepDiagnosis: learning rate too high",
     "bug": "AdamW(learning_rate=0.05) for a transformer (the example's 1e-3 scale): the loss "
            "goes from 2.561 to 1.632 only, the validation accuracy ends at 0.486 after 25 "
            "epochs (the fixed twin at 2e-3: 0.958)",
     "fix": "AdamW(learning_rate=2e-3)",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--lr 0.05 --seed 1 --record-every 12",
          "fixed": "--seed 1 --record-every 12"},
     ]},
    {"family": "healthy-ktokl", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a small ViT whose TokenLearner pools the patch tokens after the middle "
                    "block, on the digits upsampled to 16x16, that trains well",
     "healthy": [
         {"id": "tokens8-seed2",
          "args": "--tokens 8 --seed 2 --record-every 12",
          "description": "8 learned tokens instead of 4: validation accuracy 0.947"},
     ]},
]


if __name__ == "__main__":
    main()
