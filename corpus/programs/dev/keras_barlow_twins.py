"""Barlow Twins self-supervised pre-training in Keras 3 on scikit-learn's 8x8 digits, then a
linear probe on the frozen features, written the way the keras.io example "Barlow Twins for
Contrastive SSL" is: two augmented views of every batch from two ``tf.data`` pipelines zipped
together, a ``BarlowLoss(keras.losses.Loss)`` that normalizes each view's embeddings along the
batch, builds the cross-correlation matrix ``z_a_norm^T z_b_norm / batch_size`` and sums the
on-diagonal term ``(1 - c_ii)^2`` and the off-diagonal term ``c_ij^2`` weighted by ``lambda``
(the example's 5e-3), and a ``BarlowModel(keras.Model)`` whose ``train_step`` runs both views
through the encoder and projector under a ``GradientTape``; then the example's evaluation: the
backbone frozen and a ``Dense`` softmax trained on the labelled images.

The data: the 1797 digits scaled to [0, 1] as 8x8x1 images, 20% held out for validation
(stratified); the training images are used without labels for pre-training and with their
labels for the probe. Augmentation (``custom_augment``, applied in ``tf.data.map`` to each
view separately): ``RandomTranslation(0.15, 0.15)``, ``RandomZoom(0.2)`` and a random
brightness and contrast per image (the example's colour jitter for one grey channel).

The backbone (``Sequential``, ``backbone``): ``Conv2D(32, 3)`` (``conv1``),
``BatchNormalization`` (``bn1``), ReLU, ``Conv2D(64, 3, strides=2)`` (``conv2``), ``bn2``,
ReLU, ``Conv2D(64, 3, strides=2)`` (``conv3``), ``bn3``, ReLU and ``GlobalAveragePooling2D``;
the projector (the example's ``build_twin`` head): ``Dense(--proj-dim)`` (``proj_dense1``),
``BatchNormalization`` (``proj_bn1``), ReLU, ``Dense(--proj-dim)`` (``proj_dense2``),
``proj_bn2``, ReLU and ``Dense(--proj-dim)`` (``proj_out``). Pre-training uses
``Lamb(--lr)`` (the example's LAMB) with a ``CosineDecay``; the probe ``Adam(1e-2)``.

Recorded (``--out``): the pre-training ``fit``. The model overrides ``train_step``, so the
recorder runs in callback mode (weights, applied gradients, the layers' forward and activation
rows, the logged loss, learning rate; recorders/README.md); the probe's ``fit`` is not
recorded. The result line's ``loss`` is the Barlow loss and its ``val_accuracy`` the probe's
validation accuracy. The mistakes of the families in CASES are selected with ``--bug`` or show
in a setting (``--lambd``, ``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def build(keras, args):
    import tensorflow as tf
    from keras import layers

    class BarlowLoss(keras.losses.Loss):
        """The Barlow Twins loss: on-diagonal invariance + lambda * off-diagonal redundancy
        reduction of the cross-correlation matrix of the two views' embeddings."""

        def __init__(self, batch_size, lambda_amt):
            super().__init__(name="barlow_loss")
            self.lambda_amt = lambda_amt
            self.batch_size = batch_size

        def get_off_diag(self, c):
            zero_diag = tf.zeros(c.shape[-1])
            return tf.linalg.set_diag(c, zero_diag)

        def cross_corr_matrix_loss(self, c):
            c_diff = tf.pow(tf.linalg.diag_part(c) - 1, 2)
            off_diag = tf.pow(self.get_off_diag(c), 2) * self.lambda_amt
            return tf.reduce_sum(c_diff) + tf.reduce_sum(off_diag)

        def normalize(self, output):
            if args.bug == "normalize-features":
                # BUG (normalize-features): standardized along the embedding (axis 1) instead
                # of along the batch, so c is not the views' cross-correlation
                mean = tf.reduce_mean(output, axis=1, keepdims=True)
                std = tf.math.reduce_std(output, axis=1, keepdims=True)
                return (output - mean) / (std + 1e-6)
            return (output - tf.reduce_mean(output, axis=0)) / (
                tf.math.reduce_std(output, axis=0) + 1e-6)

        def cross_corr_matrix(self, z_a_norm, z_b_norm):
            c = tf.matmul(z_a_norm, z_b_norm, transpose_a=True)
            if args.bug == "no-batch-division":
                # BUG (no-batch-division): the division by the batch size was left out, so the
                # diagonal term asks for a correlation of 1/batch_size between the two views
                return c
            return c / self.batch_size

        def call(self, z_a, z_b):
            z_a_norm, z_b_norm = self.normalize(z_a), self.normalize(z_b)
            c = self.cross_corr_matrix(z_a_norm, z_b_norm)
            return self.cross_corr_matrix_loss(c)

    def build_backbone():
        return keras.Sequential([
            keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", name="conv1"),
            layers.BatchNormalization(name="bn1"),
            layers.ReLU(),
            layers.Conv2D(64, 3, strides=2, padding="same", name="conv2"),
            layers.BatchNormalization(name="bn2"),
            layers.ReLU(),
            layers.Conv2D(64, 3, strides=2, padding="same", name="conv3"),
            layers.BatchNormalization(name="bn3"),
            layers.ReLU(),
            layers.GlobalAveragePooling2D(),
        ], name="backbone")

    def build_twin(backbone):
        return keras.Sequential([
            backbone,
            layers.Dense(args.proj_dim, name="proj_dense1"),
            layers.BatchNormalization(name="proj_bn1"),
            layers.ReLU(),
            layers.Dense(args.proj_dim, name="proj_dense2"),
            layers.BatchNormalization(name="proj_bn2"),
            layers.ReLU(),
            layers.Dense(args.proj_dim, name="proj_out"),
        ], name="twin")

    class BarlowModel(keras.Model):
        def __init__(self, model):
            super().__init__(name="barlow_model")
            self.model = model
            self.loss_tracker = keras.metrics.Mean(name="loss")

        @property
        def metrics(self):
            return [self.loss_tracker]

        def train_step(self, batch):
            y_a, y_b = batch
            with tf.GradientTape() as tape:
                z_a, z_b = self.model(y_a, training=True), self.model(y_b, training=True)
                loss = self.loss(z_a, z_b)
            grads_model = tape.gradient(loss, self.model.trainable_variables)
            self.optimizer.apply_gradients(zip(grads_model, self.model.trainable_variables))
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

    backbone = build_backbone()
    bm = BarlowModel(build_twin(backbone))
    return bm, backbone, BarlowLoss(args.batch_size, args.lambd)


def main():
    p = common.parser(__doc__)
    p.add_argument("--proj-dim", type=int, default=128)
    p.add_argument("--lambd", type=float, default=5e-3)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--probe-epochs", type=int, default=30)
    p.add_argument("--bug", default=None, choices=("no-batch-division", "normalize-features",
                                                   "frozen-backbone"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int64")
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=args.seed)

    translate = layers.RandomTranslation(0.15, 0.15, seed=args.seed)
    zoom = layers.RandomZoom(0.2, seed=args.seed + 1)

    def custom_augment(image):
        image = translate(image, training=True)
        image = zoom(image, training=True)
        brightness = tf.random.uniform((), -0.2, 0.2)
        contrast = tf.random.uniform((), 0.7, 1.3)
        return tf.clip_by_value(image * contrast + brightness, 0.0, 1.0)

    train_ds = tf.data.Dataset.from_tensor_slices(x_train)
    ssl_ds_one = (train_ds.shuffle(1024, seed=args.seed).map(custom_augment)
                  .batch(args.batch_size, drop_remainder=True))
    ssl_ds_two = (train_ds.shuffle(1024, seed=args.seed).map(custom_augment)
                  .batch(args.batch_size, drop_remainder=True))
    ssl_ds = tf.data.Dataset.zip((ssl_ds_one, ssl_ds_two))

    bm, backbone, loss = build(keras, args)
    if args.bug == "frozen-backbone":
        # BUG (frozen-backbone): the backbone is frozen for the linear evaluation before the
        # pre-training instead of after it
        backbone.trainable = False
    steps_per_epoch = len(x_train) // args.batch_size
    schedule = keras.optimizers.schedules.CosineDecay(
        args.lr, decay_steps=steps_per_epoch * args.epochs, alpha=0.1)
    bm.compile(optimizer=keras.optimizers.Lamb(learning_rate=schedule), loss=loss)
    history = bm.fit(ssl_ds, epochs=args.epochs, verbose=0,
                     callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("pretraining epoch %d: loss %.4f" % (e + 1, h["loss"][e]))

    # evaluation: the frozen backbone and a linear classifier
    backbone.trainable = False
    inputs = keras.Input(shape=(8, 8, 1))
    features = backbone(inputs, training=False)
    outputs = layers.Dense(10, activation="softmax", name="probe")(features)
    probe = keras.Model(inputs, outputs, name="linear_probe")
    probe.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    probe_history = probe.fit(x_train, y_train, batch_size=64, epochs=args.probe_epochs,
                              validation_data=(x_val, y_val), verbose=0)
    ph = probe_history.history
    print("probe: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
        ph["loss"][-1], ph["accuracy"][-1], ph["val_loss"][-1], ph["val_accuracy"][-1]))

    result = {"steps": steps_per_epoch * len(h["loss"]), "epochs": len(h["loss"]),
              "first_loss": h["loss"][0], "loss": h["loss"][-1],
              "first_accuracy": float(ph["accuracy"][0]), "accuracy": float(ph["accuracy"][-1]),
              "val_loss": float(ph["val_loss"][-1]),
              "val_accuracy": float(ph["val_accuracy"][-1]),
              "nan": any(not np.isfinite(v) for v in h["loss"]),
              "layers": [layer.name for layer in backbone.layers if layer.weights]
              + [layer.name for layer in bm.model.layers[1:] if layer.weights]}
    common.report(result)


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kbarlow-lamb-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate too high; DeepFD fault type: "
               "learning rate (LAMB's trust ratio does not save a rate of 0.5)",
     "bug": "Lamb(learning_rate=CosineDecay(0.5, ...)): the Barlow loss falls from 33.6 to 18.0 "
            "in four epochs, then rises to 78 and is NaN from the eighth epoch; the probe on "
            "the NaN backbone is at chance, validation accuracy 0.100 (the fixed twin: 0.953)",
     "fix": "Lamb(learning_rate=CosineDecay(5e-3, ...))",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--lr 0.5 --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kbarlow-backbone-frozen-early", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training process / wrong layers frozen "
               "(backbone.trainable = False for the linear evaluation set before the "
               "self-supervised pre-training instead of after it)",
     "bug": "backbone.trainable = False before bm.compile/fit: only the projector learns "
            "(the Barlow loss 44.0 in the first epoch, 11.8 in the 20th against 5.1), the "
            "backbone keeps its random weights and BatchNormalization runs in inference mode; "
            "the linear probe reaches 0.789 validation accuracy (the fixed twin: 0.953)",
     "fix": "set backbone.trainable = False after the pre-training, for the probe only",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug frozen-backbone --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kbarlow", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "Barlow Twins pre-training of a small CNN backbone and projector on digits "
                    "with a custom train_step and LAMB (recorded), then a linear probe, that "
                    "trains well",
     "healthy": [
         {"id": "proj64-lambd1e-2-lr3e-3-seed3",
          "args": "--proj-dim 64 --lambd 1e-2 --lr 3e-3 --seed 3 --record-every 4",
          "description": "a projector of 64, lambda 1e-2, LAMB at 3e-3"},
     ]},
]


if __name__ == "__main__":
    main()
