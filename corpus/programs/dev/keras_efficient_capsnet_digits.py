"""Efficient-CapsNet (Mazzia, Salvetti and Chiaberge 2021, "Efficient-CapsNet: capsule network
with self-attention routing", Scientific Reports) in Keras 3 on scikit-learn's 8x8 digits,
written the way the authors' TensorFlow/Keras repository (EscVM/Efficient-CapsNet) writes it:
a stack of convolutions with BatchNormalization, ``PrimaryCaps`` (a depthwise convolution over
the whole feature map, reshaped to capsules of 8 dimensions and squashed with the paper's
squash ``(1 - 1/exp(|s|)) s/|s|``), ``FCCaps`` (one learned transform ``W`` for every pair of
input and output capsule, ``u_hat = W u``, and the self-attention routing of the paper: the
agreements ``u_hat_j|i . u_hat_j|k`` summed over k and scaled by 1/sqrt(16), a softmax over
the output capsules, plus a learned prior ``b``; ``s_j = sum_i c_ij u_hat_j|i``, squashed),
the capsule lengths as the class scores, and a reconstruction decoder fed the digit capsules
masked by the true class (``Mask``, as in CapsNet-Keras' training model).

Data: the 1797 digits of scikit-learn (pixels 0..16) scaled to [0, 1] as 8x8x1 images; 20%
validate (stratified). Model (functional, two inputs: the image and its one-hot label):
``conv`` (Conv2D(32, 3, same)), ``bn``, ``conv_1`` (Conv2D(64, 3, valid), 6x6), ``bn_1``,
``conv_2`` (Conv2D(64, 3, valid), 4x4), ``bn_2``, ``conv_3`` (Conv2D(128, 3, valid), 2x2),
``bn_3``, ``primary_caps`` (DepthwiseConv2D(2, valid): 128 values, 16 capsules of 8),
``digit_caps`` (``FCCaps``: 10 capsules of 16 dimensions), ``length`` (the output ``length``:
each capsule's norm), and the decoder ``dense`` (64, relu), ``dense_1`` (128, relu) and
``dense_2`` (64, sigmoid, the output ``recon``). The loss is the margin loss (m+ = 0.9,
m- = 0.1, lambda = 0.5, summed over the classes) on the lengths plus ``--recon-weight``
(0.0005, as in the paper) times the summed squared error of the reconstruction
(``loss_weights``). Adam(``--lr``), batches of ``--batch-size``, ``model.fit``; the lengths'
accuracy (the longest capsule) on the training batches and the validation part. The mistakes
of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

NUM_CLASSES = 10
PRIMARY_CAPS, PRIMARY_DIM = 16, 8
DIGIT_DIM = 16


def build_model(keras, tf, bug):
    from keras import layers

    eps = 1e-7

    class Squash(layers.Layer):
        """The Efficient-CapsNet squash: (1 - 1/exp(|s|)) * s/|s|."""

        def call(self, s):
            norm = tf.norm(s, axis=-1, keepdims=True)
            return (1 - 1 / (tf.exp(norm) + eps)) * (s / (norm + eps))

    class PrimaryCaps(layers.Layer):
        def __init__(self, kernel, n, d, **kwargs):
            super().__init__(**kwargs)
            self.n, self.d = n, d
            self.dw = layers.DepthwiseConv2D(kernel, padding="valid")
            self.squash = Squash()

        def build(self, input_shape):
            self.dw.build(input_shape)

        def call(self, x):
            x = self.dw(x)
            x = tf.reshape(x, (-1, self.n, self.d))
            return self.squash(x)

    class FCCaps(layers.Layer):
        """Fully connected capsules with the paper's self-attention routing."""

        def __init__(self, n, d, **kwargs):
            super().__init__(**kwargs)
            self.n, self.d = n, d
            self.squash = Squash()

        def build(self, input_shape):
            n_in, d_in = input_shape[-2], input_shape[-1]
            self.W = self.add_weight(name="W", shape=(self.n, n_in, d_in, self.d),
                                     initializer="he_normal")
            self.b = self.add_weight(name="b", shape=(self.n, n_in, 1), initializer="zeros")

        def call(self, inputs):
            u = tf.einsum("...ji,kjiz->...kjz", inputs, self.W)     # (B, out, in, D)
            c = tf.einsum("...ij,...kj->...i", u, u)[..., None]      # (B, out, in, 1)
            c = c / tf.sqrt(tf.cast(self.d, tf.float32))
            # BUG (softmax-over-inputs): the routing softmax taken over the input capsules
            # (axis 2) instead of over the output capsules (axis 1).
            c = tf.nn.softmax(c, axis=2 if bug == "softmax-over-inputs" else 1)
            c = c + self.b
            s = tf.reduce_sum(u * c, axis=-2)                          # (B, out, D)
            # BUG (unit-norm-capsules): the output capsules l2-normalized instead of squashed:
            # every capsule has length 1, the lengths cannot tell the classes apart.
            if bug == "unit-norm-capsules":
                return tf.math.l2_normalize(s, axis=-1)
            return self.squash(s)

    class Length(layers.Layer):
        def call(self, v):
            return tf.sqrt(tf.reduce_sum(tf.square(v), axis=-1) + eps)

    class Mask(layers.Layer):
        def call(self, inputs):
            v, y = inputs
            return tf.reshape(v * y[..., None], (-1, NUM_CLASSES * DIGIT_DIM))

    image = keras.Input(shape=(8, 8, 1), name="image")
    label = keras.Input(shape=(NUM_CLASSES,), name="label")
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv")(image)
    x = layers.BatchNormalization(momentum=0.9, name="bn")(x)
    x = layers.Conv2D(64, 3, padding="valid", activation="relu", name="conv_1")(x)
    x = layers.BatchNormalization(momentum=0.9, name="bn_1")(x)
    x = layers.Conv2D(64, 3, padding="valid", activation="relu", name="conv_2")(x)
    x = layers.BatchNormalization(momentum=0.9, name="bn_2")(x)
    x = layers.Conv2D(128, 3, padding="valid", activation="relu", name="conv_3")(x)
    x = layers.BatchNormalization(momentum=0.9, name="bn_3")(x)
    primary = PrimaryCaps(2, PRIMARY_CAPS, PRIMARY_DIM, name="primary_caps")(x)
    digits = FCCaps(NUM_CLASSES, DIGIT_DIM, name="digit_caps")(primary)
    length = Length(name="length")(digits)
    masked = Mask(name="mask")([digits, label])
    r = layers.Dense(64, activation="relu", name="dense")(masked)
    r = layers.Dense(128, activation="relu", name="dense_1")(r)
    recon = layers.Dense(64, activation="sigmoid", name="dense_2")(r)
    recon = layers.Identity(name="recon")(recon)
    return keras.Model([image, label], [length, recon], name="efficient_capsnet")


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--recon-weight", type=float, default=0.0005)
    p.add_argument("--bug", default=None,
                   choices=("softmax-over-inputs", "recon-weight-one", "softmax-ce-lengths",
                            "unit-norm-capsules"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf

    x, y = common.load("digits")
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    x_tr, x_val, y_tr, y_val = common.split(x, y, val=0.2, seed=args.seed)
    oh_tr = np.eye(NUM_CLASSES, dtype="float32")[y_tr]
    oh_val = np.eye(NUM_CLASSES, dtype="float32")[y_val]

    model = build_model(keras, tf, args.bug)

    def margin_loss(y_true, y_pred):
        present = y_true * tf.square(tf.maximum(0.0, 0.9 - y_pred))
        absent = 0.5 * (1 - y_true) * tf.square(tf.maximum(0.0, y_pred - 0.1))
        return tf.reduce_sum(present + absent, axis=-1)

    def recon_sse(y_true, y_pred):
        return tf.reduce_sum(tf.square(y_true - y_pred), axis=-1)

    if args.bug == "softmax-ce-lengths":
        # BUG (softmax-ce-lengths): the capsule lengths (in [0, 1]) handed to a softmax
        # cross-entropy as if they were logits, instead of the margin loss.
        class_loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    else:
        class_loss = margin_loss
    # BUG (recon-weight-one): the reconstruction loss weighted 1.0 instead of 0.0005.
    recon_weight = 1.0 if args.bug == "recon-weight-one" else args.recon_weight
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr),
                  loss={"length": class_loss, "recon": recon_sse},
                  loss_weights={"length": 1.0, "recon": recon_weight},
                  metrics={"length": [keras.metrics.CategoricalAccuracy(name="accuracy")]})

    callbacks = common.recording.keras_callbacks(
        args.out, task="classification",
        loss_name="categorical_crossentropy" if args.bug == "softmax-ce-lengths"
        else "margin_loss")
    history = model.fit({"image": x_tr, "label": oh_tr},
                        {"length": oh_tr, "recon": x_tr.reshape(-1, 64)},
                        validation_data=({"image": x_val, "label": oh_val},
                                         {"length": oh_val, "recon": x_val.reshape(-1, 64)}),
                        epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                        callbacks=callbacks)
    h = history.history
    acc_key = [k for k in h if k.endswith("accuracy") and not k.startswith("val_")][0]
    rec_key = [k for k in h if k.startswith("recon") and k.endswith("loss")][0]
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f recon %.3f val loss %.4f val acc %.3f val recon %.3f"
              % (e + 1, h["loss"][e], h[acc_key][e], h[rec_key][e], h["val_loss"][e],
                 h["val_" + acc_key][e], h["val_" + rec_key][e]))
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      first_accuracy=float(h[acc_key][0]),
                                      accuracy=float(h[acc_key][-1]),
                                      val_accuracy=float(h["val_" + acc_key][-1]),
                                      val_recon_sse=float(h["val_" + rec_key][-1])))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kecaps-unit-norm-capsules", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: model (wrong activation function: the capsules' squash "
               "non-linearity replaced by a plain l2 normalization); capsule re-implementations "
               "that normalize the output capsules to unit length",
     "bug": "FCCaps returns tf.math.l2_normalize(s) instead of squash(s): every digit capsule "
            "has length 1, the lengths (the class scores) are all equal and the margin loss "
            "gets no gradient through them; the loss stays at 3.645 (3.648 -> 3.645 in 10 "
            "epochs), training accuracy 0.101 and validation accuracy 0.072 of ten classes "
            "(the fixed twin: validation accuracy 0.997)",
     "fix": "squash the output capsules: return self.squash(s)",
     "symptom": "not_learning", "acceptable_symptoms": ["missing_activation"],
     "root_cause": {"layer_name": "digit_caps", "layer_index": 9},
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug unit-norm-capsules --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kecaps-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high (Adam at 0.3)",
     "bug": "Adam(learning_rate=0.3): the first updates blow the convolution and capsule "
            "weights up, the loss is NaN within the first epoch (its mean NaN from epoch 1) "
            "and stays NaN; training accuracy 0.099, validation accuracy 0.100 (the fixed twin "
            "at 2e-3: validation accuracy 0.989)",
     "fix": "Adam(learning_rate=2e-3)",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--lr 0.3 --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kecaps", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "an Efficient-CapsNet (self-attention routing) in Keras on the 8x8 digits "
                    "with a masked reconstruction decoder, that trains well",
     "healthy": [
         {"id": "lr1e-3-seed2",
          "args": "--lr 1e-3 --seed 2 --record-every 4",
          "description": "Adam at 1e-3, seed 2: training accuracy 1.000, validation accuracy "
                         "0.994 (margin loss 0.0015)"},
     ]},
]


if __name__ == "__main__":
    main()
