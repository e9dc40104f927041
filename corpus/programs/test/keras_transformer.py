"""A small Keras transformer encoder for token sequences (functional API).

Token embedding plus a learned position embedding, one encoder block (MultiHeadAttention,
residual + LayerNormalization, a Dense feed-forward network, residual + LayerNormalization),
global average pooling and a softmax classifier; the task is common.token_task (4 topics).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--vocab", type=int, default=120)
    p.add_argument("--length", type=int, default=24)
    p.add_argument("--docs", type=int, default=1000)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--ff", type=int, default=64)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--out-act", default="softmax")
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers, ops

    class PositionEmbedding(layers.Layer):
        """Adds a learned embedding of the position to the token embeddings."""

        def __init__(self, length, dim, **kw):
            super().__init__(**kw)
            self.pos = layers.Embedding(length, dim)

        def call(self, x):
            return x + self.pos(ops.arange(ops.shape(x)[1]))

    x, y = common.token_task(args.docs, args.length, args.vocab, seed=args.seed, classes=4)
    tokens = keras.Input(shape=(args.length,), dtype="int32")
    h = layers.Embedding(args.vocab, args.dim, name="token_embedding")(tokens)
    h = PositionEmbedding(args.length, args.dim, name="position_embedding")(h)
    a = layers.MultiHeadAttention(args.heads, args.dim // args.heads, dropout=0.1,
                                  name="attention")(h, h)
    h = layers.LayerNormalization(name="norm_1")(layers.Add()([h, a]))
    f = layers.Dense(args.ff, activation="relu", name="ffn_1")(h)
    f = layers.Dense(args.dim, name="ffn_2")(f)
    h = layers.LayerNormalization(name="norm_2")(layers.Add()([h, layers.Dropout(0.1)(f)]))
    h = layers.GlobalAveragePooling1D()(h)
    outputs = layers.Dense(4, activation=args.out_act, name="classifier")(h)
    model = keras.Model(tokens, outputs)

    n_train = len(x) - int(len(x) * 0.2)
    steps_per_epoch = -(-n_train // args.batch_size)
    lr = args.lr
    if args.warmup:
        lr = keras.optimizers.schedules.CosineDecay(
            0.0, steps_per_epoch * args.epochs - args.warmup, warmup_target=args.lr,
            warmup_steps=args.warmup)
    opt = {"adam": lambda: keras.optimizers.Adam(lr),
           "adamw": lambda: keras.optimizers.AdamW(lr, weight_decay=0.01),
           "sgd": lambda: keras.optimizers.SGD(lr, momentum=0.9),
           "rmsprop": lambda: keras.optimizers.RMSprop(lr)}[args.optimizer]()
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, validation_split=0.2, epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    common.report(common.keras_result(history, steps_per_epoch * args.epochs,
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "transformer-logits-without-softmax", "split": "test", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: wrong loss configuration (a linear output under "
               "sparse_categorical_crossentropy with from_logits=False)",
     "bug": "the classifier has no activation while the loss expects probabilities: the "
            "scores are clipped to [1e-7, 1], the loss starts above 4 and learning is slow and "
            "erratic",
     "fix": "activation='softmax' on the classifier",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam", "buggy": "--out-act linear", "fixed": "--out-act softmax"},
     ]},
    {"family": "healthy-transformer", "split": "test", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a Keras transformer encoder that trains well",
     "healthy": [
         {"id": "adam-lr2e-3", "args": "--lr 0.002"},
         {"id": "adamw-warmup-cosine", "args": "--optimizer adamw --lr 0.003 --warmup 40"},
         {"id": "rmsprop-bs16", "args": "--optimizer rmsprop --lr 0.0005 --batch-size 16 --epochs 2"},
     ]},
]


if __name__ == "__main__":
    main()
