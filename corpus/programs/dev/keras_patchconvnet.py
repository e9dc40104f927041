"""PatchConvNet (Touvron et al. 2021, "Augmenting Convolutional networks with attention-based
aggregation") in Keras 3, scaled down and written the way the keras.io example "Augmenting
convnets with aggregated attention" writes it: a convolutional stem, a trunk of blocks
(``BatchNormalization``, a 1x1 ``Conv2D``, GELU, a 3x3 ``DepthwiseConv2D``, GELU,
squeeze-and-excitation, a 1x1 ``Conv2D``, the block's output multiplied by a learned
per-channel layer scale and added to its input), an attention-pooling layer whose learned class
token attends over the trunk's patch tokens, and a softmax classifier; sparse categorical
cross-entropy, ``AdamW`` with the example's ``WarmUpCosine`` schedule (a linear warmup, then a
cosine decay to zero at the last step), trained with ``model.fit``.

The data: --images generated 16x16 grey images (0..255, ``uint8``) of four shapes (circle,
square, triangle, cross; class = shape), each at a random position and size with Gaussian
noise; 20% held out (stratified). The model rescales them by 1/255 (``Rescaling``) first.
Layers (functional): ``stem_conv`` (``Conv2D(--dim, 3, strides=2, gelu)``: 8x8 patches), then
per trunk block ``i`` (--blocks of them): ``trunk{i}_bn`` (momentum 0.9), ``trunk{i}_pw1`` (1x1, gelu),
``trunk{i}_dw`` (depthwise 3x3, gelu), ``trunk{i}_se_reduce`` and ``trunk{i}_se_expand``
(squeeze-excitation, relu and sigmoid), ``trunk{i}_pw2`` (1x1) and ``trunk{i}_scale`` (the
layer scale, a ``LayerScale`` layer); then ``attention_pool`` (a class token, key and value
projections and a softmax over the tokens; ``AttentionPooling``), ``head_ln``
(``LayerNormalization``) and ``classifier`` (``Dense(4, softmax)``). AdamW(weight decay 1e-4)
under WarmUpCosine(--lr 2e-3, warmup 10% of the steps), batches of 64, 15 epochs (25 steps
each, 375 in all).

Recorded (``--out``): the ``fit`` (the recorder's own step). The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

SHAPES = ("circle", "square", "triangle", "cross")


def make_shapes(n, seed):
    """n 16x16 uint8 images of the four shapes at random positions and sizes, and the labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:16, 0:16].astype("float32")
    images = np.zeros((n, 16, 16), dtype="float32")
    labels = np.arange(n) % len(SHAPES)
    rng.shuffle(labels)
    for i, c in enumerate(labels):
        r = rng.uniform(3.0, 5.5)
        cy, cx = rng.uniform(r, 16 - r, size=2)
        dy, dx = yy - cy, xx - cx
        if c == 0:      # circle
            m = dy ** 2 + dx ** 2 <= r ** 2
        elif c == 1:    # square
            m = (np.abs(dy) <= r * 0.8) & (np.abs(dx) <= r * 0.8)
        elif c == 2:    # triangle, apex up
            m = (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.55)
        else:           # cross
            w = max(1.0, r * 0.3)
            m = ((np.abs(dy) <= w) & (np.abs(dx) <= r)) | ((np.abs(dx) <= w) & (np.abs(dy) <= r))
        images[i][m] = rng.uniform(150, 255)
    images += rng.normal(0, 20, size=images.shape)
    return np.clip(images, 0, 255).astype("uint8")[..., None], labels.astype("int64")


def build(keras, args):
    from keras import layers, ops

    class WarmUpCosine(keras.optimizers.schedules.LearningRateSchedule):
        """The keras.io example's schedule: linear warmup to the base rate, cosine decay."""

        def __init__(self, learning_rate_base, total_steps, warmup_learning_rate, warmup_steps):
            super().__init__()
            self.learning_rate_base = learning_rate_base
            self.total_steps = total_steps
            self.warmup_learning_rate = warmup_learning_rate
            self.warmup_steps = warmup_steps
            self.pi = math.pi

        def __call__(self, step):
            step = ops.cast(step, "float32")
            cos_annealed_lr = ops.cos(
                self.pi * (step - self.warmup_steps)
                / float(self.total_steps - self.warmup_steps))
            learning_rate = 0.5 * self.learning_rate_base * (1 + cos_annealed_lr)
            slope = (self.learning_rate_base - self.warmup_learning_rate) / self.warmup_steps
            warmup_rate = slope * step + self.warmup_learning_rate
            learning_rate = ops.where(step < self.warmup_steps, warmup_rate, learning_rate)
            if args.bug == "schedule-zero":
                # BUG (schedule-zero): the end-of-training condition written the wrong way
                # round: the rate is 0 before the last step, not after it
                return ops.where(step < self.total_steps, 0.0, learning_rate)
            return ops.where(step > self.total_steps, 0.0, learning_rate)

        def get_config(self):
            return {"learning_rate_base": self.learning_rate_base,
                    "total_steps": self.total_steps,
                    "warmup_learning_rate": self.warmup_learning_rate,
                    "warmup_steps": self.warmup_steps}

    class LayerScale(layers.Layer):
        def __init__(self, init_values, dim, **kwargs):
            super().__init__(**kwargs)
            self.gamma = self.add_weight(shape=(dim,), initializer=keras.initializers.Constant(
                init_values), name="gamma")

        def call(self, x):
            return x * self.gamma

    class AttentionPooling(layers.Layer):
        """A learned class token that attends over the patch tokens (one head)."""

        def __init__(self, dim, **kwargs):
            super().__init__(**kwargs)
            self.dim = dim
            self.cls = self.add_weight(shape=(1, 1, dim), initializer="random_normal",
                                       name="cls_token")
            self.wq = self.add_weight(shape=(dim, dim), initializer="glorot_uniform",
                                      name="query")
            self.wk = self.add_weight(shape=(dim, dim), initializer="glorot_uniform", name="key")
            self.wv = self.add_weight(shape=(dim, dim), initializer="glorot_uniform",
                                      name="value")

        def call(self, x):
            q = ops.matmul(self.cls, self.wq)                       # (1, 1, d)
            k = ops.matmul(x, self.wk)                              # (B, N, d)
            v = ops.matmul(x, self.wv)
            scores = ops.matmul(q, ops.transpose(k, (0, 2, 1))) / math.sqrt(self.dim)
            if args.bug == "softmax-axis":
                # BUG (softmax-axis): the softmax over the (single) query axis, not the tokens
                attn = ops.softmax(scores, axis=1)
            else:
                attn = ops.softmax(scores, axis=-1)                 # (B, 1, N)
            return ops.squeeze(ops.matmul(attn, v), axis=1) + self.cls[0]

    inputs = keras.Input(shape=(16, 16, 1))
    x = inputs
    if args.bug != "no-rescale":
        x = layers.Rescaling(1.0 / 255)(x)
    # BUG (no-rescale): the Rescaling layer left out: the network sees grey levels 0..255
    x = layers.Conv2D(args.dim, 3, strides=2, padding="same", activation="gelu",
                      name="stem_conv")(x)
    for i in range(args.blocks):
        y = layers.BatchNormalization(momentum=0.9, name="trunk%d_bn" % i)(x)
        y = layers.Conv2D(args.dim, 1, activation="gelu", name="trunk%d_pw1" % i)(y)
        y = layers.DepthwiseConv2D(3, padding="same", activation="gelu",
                                   name="trunk%d_dw" % i)(y)
        se = layers.GlobalAveragePooling2D(keepdims=True)(y)
        se = layers.Conv2D(args.dim // 4, 1, activation="relu", name="trunk%d_se_reduce" % i)(se)
        se = layers.Conv2D(args.dim, 1, activation="sigmoid", name="trunk%d_se_expand" % i)(se)
        y = y * se
        y = layers.Conv2D(args.dim, 1, name="trunk%d_pw2" % i)(y)
        y = LayerScale(1e-1, args.dim, name="trunk%d_scale" % i)(y)
        if args.bug == "no-residual":
            # BUG (no-residual): the block's output replaces its input
            x = y
        else:
            x = x + y
    x = layers.Reshape((-1, args.dim))(x)
    x = AttentionPooling(args.dim, name="attention_pool")(x)
    x = layers.LayerNormalization(name="head_ln")(x)
    outputs = layers.Dense(len(SHAPES), activation="softmax", name="classifier")(x)
    model = keras.Model(inputs, outputs, name="patchconvnet")
    return model, WarmUpCosine


def main():
    p = common.parser(__doc__)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--bug", default=None,
                   choices=("schedule-zero", "softmax-axis", "no-rescale", "no-residual"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)

    x, y = make_shapes(args.images, args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x.astype("float32"), y, val=0.2, seed=args.seed)

    model, WarmUpCosine = build(keras, args)
    steps_per_epoch = -(-len(x_tr) // args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    schedule = WarmUpCosine(learning_rate_base=args.lr, total_steps=total_steps,
                            warmup_learning_rate=0.0, warmup_steps=int(0.1 * total_steps))
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=1e-4)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    callbacks = common.recording.keras_callbacks(
        args.out, task="classification", loss_name="sparse_categorical_crossentropy",
        num_classes=len(SHAPES))
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    common.report(common.keras_result(history, total_steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kpatchconv-schedule-zero", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (the end-of-training "
               "condition of a warmup-cosine schedule written the wrong way round)",
     "bug": "tf.where(step < total_steps, 0.0, learning_rate): the rate is 0 for every step, "
            "the weights never change, the loss stays at 1.677 and the accuracy at 0.250 "
            "(chance of 4 classes) for 15 epochs, validation accuracy 0.250 (the fixed twin: "
            "loss 0.023, validation accuracy 0.995)",
     "fix": "tf.where(step > total_steps, 0.0, learning_rate)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug schedule-zero --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kpatchconv-adamw-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate too high; DeepLocalize benchmark "
               "(Stack Overflow): 'accuracy stuck at 25%'",
     "bug": "the warmup-cosine peak at 0.1 for AdamW: the loss sits at 1.385 (ln 4) from the "
            "first epoch, training accuracy 0.246 and validation accuracy 0.255 after 15 "
            "epochs (the fixed twin at 2e-3: loss 0.014, validation accuracy 0.993)",
     "fix": "peak learning rate 2e-3",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--lr 0.1 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kpatchconv", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a scaled-down PatchConvNet (conv stem, trunk blocks with squeeze-"
                    "excitation and layer scale, attention pooling) on generated shape images "
                    "under AdamW and a warmup-cosine schedule, that trains well",
     "healthy": [
         {"id": "blocks3-seed3",
          "args": "--blocks 3 --seed 3 --record-every 4",
          "description": "three trunk blocks (loss 0.014, validation accuracy 0.990)"},
     ]},
]


if __name__ == "__main__":
    main()
