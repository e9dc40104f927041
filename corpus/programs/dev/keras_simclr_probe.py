"""SimCLR-style contrastive pre-training in Keras 3 on scikit-learn's 8x8 digits, then a linear
probe, written the way the keras.io example "Semi-supervised image classification using
contrastive pretraining with SimCLR" is: a ``ContrastiveModel(keras.Model)`` with its own
``compile(contrastive_optimizer=...)``, ``metrics`` and ``train_step`` (two augmented views of
each batch, the encoder and a projection head under a ``GradientTape``, the NT-Xent / InfoNCE
loss of the cosine similarities of the two views divided by a temperature, trackers named
``c_loss`` and ``c_acc``), trained with ``fit``; then the frozen encoder and a ``Dense`` softmax
(the linear probe) trained with ``fit`` on a few labelled images.

The data: the 1797 digits scaled to [0, 1] as 8x8x1 images, 20% held out for validation
(stratified); every training image is used without its label for pre-training, and
--labels-per-class of them with their labels for the probe. Augmentation (``keras.Sequential``,
active only while training): ``RandomTranslation(0.15, 0.15)``, ``RandomZoom(0.2)`` and a
``RandomColorAffine`` layer (a random brightness and per-image contrast, as the example's).

The encoder (``Sequential``, ``encoder``): ``Conv2D(32, 3, relu)`` (``enc_conv1``),
``Conv2D(64, 3, strides=2, relu)`` (``enc_conv2``), ``Conv2D(64, 3, strides=2, relu)``
(``enc_conv3``), ``Flatten`` and ``Dense(--width, relu)`` (``enc_dense``); the projection head
``Dense(--width, relu)`` (``proj_dense1``) and ``Dense(--width)`` (``proj_dense2``). Pre-training
uses ``Adam(--lr)``; the probe ``Adam(1e-2)`` with ``sparse_categorical_crossentropy``.

Recorded (``--out``): the pre-training ``fit``. The model overrides ``train_step``, so the
recorder runs in callback mode (weights, applied gradients, the layers' forward and activation
rows, the logged ``c_loss``, learning rate; recorders/README.md);
the probe's ``fit`` is not recorded. The result line's ``loss`` is the contrastive loss and its
``val_accuracy`` the probe's validation accuracy. The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``, ``--temperature``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def build(keras, args):
    import tensorflow as tf
    from keras import layers, ops

    class RandomColorAffine(layers.Layer):
        """A random brightness shift and contrast scale per image (the example's colour jitter,
        for one grey channel)."""

        def __init__(self, brightness=0.0, contrast=0.0, **kwargs):
            super().__init__(**kwargs)
            self.brightness = brightness
            self.contrast = contrast
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, images, training=True):
            if training:
                batch_size = ops.shape(images)[0]
                shift = keras.random.uniform((batch_size, 1, 1, 1), minval=-self.brightness,
                                             maxval=self.brightness, seed=self.seed_generator)
                scale = keras.random.uniform((batch_size, 1, 1, 1), minval=1 - self.contrast,
                                             maxval=1 + self.contrast, seed=self.seed_generator)
                images = ops.clip(images * scale + shift, 0, 1)
            return images

    def get_augmenter():
        return keras.Sequential([
            keras.Input(shape=(8, 8, 1)),
            layers.RandomTranslation(0.15, 0.15),
            layers.RandomZoom(0.2),
            RandomColorAffine(brightness=0.2, contrast=0.3),
        ], name="augmenter")

    def get_encoder():
        return keras.Sequential([
            keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="enc_conv1"),
            layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="enc_conv2"),
            layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="enc_conv3"),
            layers.Flatten(),
            layers.Dense(args.width, activation="relu", name="enc_dense"),
        ], name="encoder")

    class ContrastiveModel(keras.Model):
        def __init__(self, temperature):
            super().__init__(name="contrastive_model")
            self.temperature = temperature
            self.contrastive_augmenter = get_augmenter()
            self.encoder = get_encoder()
            self.projection_head = keras.Sequential([
                keras.Input(shape=(args.width,)),
                layers.Dense(args.width, activation="relu", name="proj_dense1"),
                layers.Dense(args.width, name="proj_dense2"),
            ], name="projection_head")

        def compile(self, contrastive_optimizer, **kwargs):
            super().compile(**kwargs)
            self.contrastive_optimizer = contrastive_optimizer
            self.contrastive_loss_tracker = keras.metrics.Mean(name="c_loss")
            self.contrastive_accuracy = keras.metrics.SparseCategoricalAccuracy(name="c_acc")

        @property
        def metrics(self):
            return [self.contrastive_loss_tracker, self.contrastive_accuracy]

        def contrastive_loss(self, projections_1, projections_2):
            # InfoNCE loss (information noise-contrastive estimation), NT-Xent loss
            # (normalized temperature-scaled cross entropy)
            projections_1 = ops.normalize(projections_1, axis=1)
            projections_2 = ops.normalize(projections_2, axis=1)
            similarities = (
                ops.matmul(projections_1, ops.transpose(projections_2)) / self.temperature
            )
            # the temperature-scaled similarities are used as logits for cross-entropy
            batch_size = ops.shape(projections_1)[0]
            if args.bug == "zeros-labels":
                # BUG (zeros-labels): every row's positive is said to be column 0
                contrastive_labels = ops.zeros(batch_size, dtype="int32")
            else:
                contrastive_labels = ops.arange(batch_size)
            self.contrastive_accuracy.update_state(contrastive_labels, similarities)
            self.contrastive_accuracy.update_state(
                contrastive_labels, ops.transpose(similarities))
            loss_1_2 = keras.losses.sparse_categorical_crossentropy(
                contrastive_labels, similarities, from_logits=True)
            loss_2_1 = keras.losses.sparse_categorical_crossentropy(
                contrastive_labels, ops.transpose(similarities), from_logits=True)
            return (loss_1_2 + loss_2_1) / 2

        def train_step(self, data):
            images = data[0] if isinstance(data, tuple) else data
            # each image is augmented twice, differently
            augmented_images_1 = self.contrastive_augmenter(images, training=True)
            if args.bug == "same-view":
                # BUG (same-view): the second view is the first one again
                augmented_images_2 = augmented_images_1
            else:
                augmented_images_2 = self.contrastive_augmenter(images, training=True)
            with tf.GradientTape() as tape:
                features_1 = self.encoder(augmented_images_1, training=True)
                features_2 = self.encoder(augmented_images_2, training=True)
                # the representations are passed through a projection mlp
                projections_1 = self.projection_head(features_1, training=True)
                projections_2 = self.projection_head(features_2, training=True)
                contrastive_loss = self.contrastive_loss(projections_1, projections_2)
            gradients = tape.gradient(
                contrastive_loss,
                self.encoder.trainable_weights + self.projection_head.trainable_weights)
            self.contrastive_optimizer.apply_gradients(
                zip(gradients,
                    self.encoder.trainable_weights + self.projection_head.trainable_weights))
            self.contrastive_loss_tracker.update_state(contrastive_loss)
            return {m.name: m.result() for m in self.metrics}

    return ContrastiveModel(args.temperature)


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--temperature", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--labels-per-class", type=int, default=50)
    p.add_argument("--probe-epochs", type=int, default=60)
    p.add_argument("--bug", default=None,
                   choices=("zeros-labels", "same-view"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int64")
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=args.seed)
    rng = np.random.default_rng(args.seed)
    labelled = np.concatenate([
        rng.choice(np.flatnonzero(y_train == c), args.labels_per_class, replace=False)
        for c in range(10)])
    rng.shuffle(labelled)

    # contrastive pre-training on every training image, without labels
    pretraining_model = build(keras, args)
    pretraining_model.compile(
        contrastive_optimizer=keras.optimizers.Adam(learning_rate=args.lr))
    pretraining_history = pretraining_model.fit(
        x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True, verbose=0,
        callbacks=common.recording.keras_callbacks(args.out, loss_key="c_loss"))
    h = pretraining_history.history
    for e in range(len(h["c_loss"])):
        print("pretraining epoch %d: c_loss %.4f c_acc %.3f" % (e + 1, h["c_loss"][e],
                                                                h["c_acc"][e]))

    # linear probe: the frozen encoder and a softmax layer, on the labelled images
    encoder = pretraining_model.encoder
    encoder.trainable = False
    probe = keras.Sequential([keras.Input(shape=(8, 8, 1)), encoder,
                              layers.Dense(10, activation="softmax", name="probe")],
                             name="linear_probe")
    probe.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    probe_history = probe.fit(x_train[labelled], y_train[labelled], batch_size=32,
                              epochs=args.probe_epochs, validation_data=(x_val, y_val),
                              verbose=0)
    ph = probe_history.history
    print("probe: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
        ph["loss"][-1], ph["accuracy"][-1], ph["val_loss"][-1], ph["val_accuracy"][-1]))

    steps = -(-len(x_train) // args.batch_size) * len(h["c_loss"])
    result = {"steps": steps, "epochs": len(h["c_loss"]), "first_loss": h["c_loss"][0],
              "loss": h["c_loss"][-1], "first_accuracy": float(h["c_acc"][0]),
              "accuracy": float(h["c_acc"][-1]),
              "val_loss": float(ph["val_loss"][-1]),
              "val_accuracy": float(ph["val_accuracy"][-1]),
              "probe_loss": float(ph["loss"][-1]),
              "nan": any(not np.isfinite(v) for v in h["c_loss"]),
              "layers": [layer.name for layer in pretraining_model.encoder.layers
                         if layer.weights]
              + [layer.name for layer in pretraining_model.projection_head.layers]}
    common.report(result)


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ksimclr-zeros-labels", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function / wrong labels for the loss "
               "(the contrastive targets written as zeros instead of arange(batch_size))",
     "bug": "contrastive_labels = ops.zeros(batch_size): every row's positive is column 0, so "
            "the contrastive loss stays near ln 128 (4.90 in the first epoch, 4.82 in the last, "
            "c_acc 0.01) and the probe on the frozen encoder reaches 0.58 validation accuracy "
            "(the fixed twin: 0.95)",
     "fix": "contrastive_labels = ops.arange(batch_size)",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug zeros-labels --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "ksimclr-same-view", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data / preprocessing (the augmentation of the "
               "second view missing: both views are the same augmented image)",
     "bug": "augmented_images_2 = augmented_images_1: the pretext task is trivial, the "
            "contrastive loss falls to 0.04 with c_acc 1.00 while the encoder learns little "
            "about the digits; the probe reaches 0.91 validation accuracy (the fixed twin: "
            "0.97)",
     "fix": "augmented_images_2 = self.contrastive_augmenter(images, training=True)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug same-view --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-ksimclr", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "SimCLR contrastive pre-training of a small CNN encoder on digits with a "
                    "custom train_step (recorded), then a linear probe, that trains well",
     "healthy": [
         {"id": "width32-seed3",
          "args": "--width 32 --seed 3 --record-every 4",
          "description": "encoder and projection width 32"},
         {"id": "temp0.2-bs64-seed4",
          "args": "--temperature 0.2 --batch-size 64 --seed 4 --record-every 4",
          "description": "temperature 0.2, batches of 64"},
     ]},
]


if __name__ == "__main__":
    main()
