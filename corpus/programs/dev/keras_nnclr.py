"""NNCLR (nearest-neighbour contrastive learning of visual representations, Dwibedi et al. 2021)
in Keras 3 on scikit-learn's digits, then a linear probe, written the way the keras.io example
"Self-supervised contrastive learning with NNCLR" (Rishit Dagli) writes it: an ``NNCLR``
``keras.Model`` with its own ``train_step`` that augments each batch twice, passes both views
through the encoder and the projection head under a ``GradientTape``, replaces each
L2-normalized projection by its nearest neighbour in a support queue (``feature_queue``, a
non-trainable ``keras.Variable`` of --queue-size past projections, initialized with random unit
vectors; ``nearest_neighbour`` returns ``projections + stop_gradient(nn - projections)``), takes
the four similarity matrices of the example (nn(view 1) against view 2 and back, nn(view 2)
against view 1 and back) divided by the temperature as logits of the InfoNCE loss (sparse
categorical cross-entropy against ``arange(batch_size)``), applies the gradients, and pushes
the batch's view-1 projections into the front of the queue (FIFO). ``test_step`` gives the
same loss on held-out images without touching the queue. After ``fit``, the frozen encoder and
a ``Dense`` softmax (the linear probe) are trained on --labels-per-class labelled images.

Data: the 1797 digits divided by 16, upsampled to 16x16x1 (each pixel repeated 2x2), 20% held
out (stratified); every training image is used without its label for pre-training, in shuffled
batches of --batch-size (the last partial batch dropped, as the queue takes whole batches).
Augmentation (written here, no flips: digits are not mirror-symmetric): ``RandomShift`` (each
image moved by up to 3 pixels in each direction, zero fill), ``RandomZoom(0.2)`` and
``RandomNoise`` (a random contrast scale in [0.7, 1.3] and Gaussian noise of std 0.1, clipped
to [0, 1]).

The encoder (``Sequential``, ``encoder``): ``Conv2D(32, 3, strides=2, relu)`` (``enc_conv1``),
``Conv2D(64, 3, strides=2, relu)`` (``enc_conv2``), ``Flatten`` and ``Dense(--width, relu)``
(``enc_dense``); the projection head ``Dense(--width, relu)`` (``proj_dense1``) and
``Dense(--width)`` (``proj_dense2``). Pre-training: Adam(``--lr``), --epochs epochs. The probe:
Adam(1e-2), ``sparse_categorical_crossentropy``, --probe-epochs epochs.

Recorded (``--out``): the pre-training ``fit``, in callback mode (the model overrides
``train_step``; recorders/README.md) with ``loss_key="c_loss"``, so its validation rows are the
held-out contrastive loss. The result line's ``loss`` is the contrastive loss, its
``accuracy`` the contrastive accuracy (view 2 finding its own image's nearest neighbour), its
``val_loss`` and ``val_accuracy`` the probe's on the held-out images. The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--lr``,
``--temperature``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

IMG_SIZE = 16


def build(keras, tf, args):
    from keras import layers, ops

    class RandomShift(layers.Layer):
        """Moves each image by up to ``pixels`` in each direction (zero fill)."""

        def __init__(self, pixels, **kwargs):
            super().__init__(**kwargs)
            self.pixels = pixels
            self.seed_generator = keras.random.SeedGenerator(args.seed + 11)

        def call(self, images, training=True):
            if not training:
                return images
            p = self.pixels
            padded = ops.pad(images, [[0, 0], [p, p], [p, p], [0, 0]])
            batch_size = ops.shape(images)[0]
            offsets = keras.random.randint((batch_size, 2), 0, 2 * p + 1,
                                           seed=self.seed_generator)
            rows = offsets[:, :1] + ops.arange(IMG_SIZE)[None, :]      # (b, 16)
            cols = offsets[:, 1:] + ops.arange(IMG_SIZE)[None, :]
            out = ops.take_along_axis(padded, rows[:, :, None, None], axis=1)
            return ops.take_along_axis(out, cols[:, None, :, None], axis=2)

    class RandomNoise(layers.Layer):
        """A random contrast scale per image and Gaussian pixel noise, clipped to [0, 1]."""

        def __init__(self, contrast, std, **kwargs):
            super().__init__(**kwargs)
            self.contrast = contrast
            self.std = std
            self.seed_generator = keras.random.SeedGenerator(args.seed + 23)

        def call(self, images, training=True):
            if not training:
                return images
            batch_size = ops.shape(images)[0]
            scale = keras.random.uniform((batch_size, 1, 1, 1), 1 - self.contrast,
                                         1 + self.contrast, seed=self.seed_generator)
            noise = keras.random.normal(ops.shape(images), stddev=self.std,
                                        seed=self.seed_generator)
            return ops.clip(images * scale + noise, 0.0, 1.0)

    def augmenter():
        return keras.Sequential([
            keras.Input(shape=(IMG_SIZE, IMG_SIZE, 1)),
            RandomShift(3),
            layers.RandomZoom(0.2, seed=args.seed + 37),
            RandomNoise(0.3, 0.1),
        ], name="augmenter")

    def encoder():
        return keras.Sequential([
            keras.Input(shape=(IMG_SIZE, IMG_SIZE, 1)),
            layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="enc_conv1"),
            layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="enc_conv2"),
            layers.Flatten(),
            layers.Dense(args.width, activation="relu", name="enc_dense"),
        ], name="encoder")

    class NNCLR(keras.Model):
        def __init__(self, temperature, queue_size):
            super().__init__(name="nnclr")
            self.contrastive_accuracy = keras.metrics.SparseCategoricalAccuracy(name="c_acc")
            self.contrastive_loss_tracker = keras.metrics.Mean(name="c_loss")
            self.contrastive_augmenter = augmenter()
            self.encoder = encoder()
            self.projection_head = keras.Sequential([
                keras.Input(shape=(args.width,)),
                layers.Dense(args.width, activation="relu", name="proj_dense1"),
                layers.Dense(args.width, name="proj_dense2"),
            ], name="projection_head")
            self.temperature = temperature
            feature_dimensions = args.width
            self.feature_queue = keras.Variable(
                keras.utils.normalize(
                    keras.random.normal(shape=(queue_size, feature_dimensions),
                                        seed=args.seed + 51),
                    axis=1, order=2),
                trainable=False, name="feature_queue")

        @property
        def metrics(self):
            return [self.contrastive_loss_tracker, self.contrastive_accuracy]

        def nearest_neighbour(self, projections):
            support_similarities = ops.matmul(projections, ops.transpose(self.feature_queue))
            nn_projections = ops.take(self.feature_queue,
                                      ops.argmax(support_similarities, axis=1), axis=0)
            return projections + ops.stop_gradient(nn_projections - projections)

        def contrastive_loss(self, projections_1, projections_2, update_queue):
            if args.bug != "no-normalize":
                # BUG (no-normalize): this normalization is missing: the similarities are raw
                # dot products of unnormalized projections (and the queue holds them too)
                projections_1 = keras.utils.normalize(projections_1, axis=1, order=2)
                projections_2 = keras.utils.normalize(projections_2, axis=1, order=2)

            similarities_1_2_1 = ops.matmul(
                self.nearest_neighbour(projections_1), ops.transpose(projections_2)
            ) / self.temperature
            similarities_1_2_2 = ops.matmul(
                projections_2, ops.transpose(self.nearest_neighbour(projections_1))
            ) / self.temperature
            similarities_2_1_1 = ops.matmul(
                self.nearest_neighbour(projections_2), ops.transpose(projections_1)
            ) / self.temperature
            similarities_2_1_2 = ops.matmul(
                projections_1, ops.transpose(self.nearest_neighbour(projections_2))
            ) / self.temperature

            batch_size = ops.shape(projections_1)[0]
            contrastive_labels = ops.arange(batch_size)
            loss = keras.losses.sparse_categorical_crossentropy(
                ops.concatenate([contrastive_labels, contrastive_labels,
                                 contrastive_labels, contrastive_labels], axis=0),
                ops.concatenate([similarities_1_2_1, similarities_1_2_2,
                                 similarities_2_1_1, similarities_2_1_2], axis=0),
                from_logits=True)
            self.contrastive_accuracy.update_state(contrastive_labels, similarities_1_2_1)

            if update_queue and args.bug != "queue-not-updated":
                # BUG (queue-not-updated): this FIFO update is missing: the nearest neighbours
                # always come from the random unit vectors the queue started with
                self.feature_queue.assign(
                    ops.concatenate([projections_1, self.feature_queue[:-batch_size]], axis=0))
            return ops.mean(loss)

        def train_step(self, data):
            images = data[0] if isinstance(data, tuple) else data
            augmented_images_1 = self.contrastive_augmenter(images, training=True)
            if args.bug == "same-view":
                # BUG (same-view): the second view is the first one again (one augmentation)
                augmented_images_2 = augmented_images_1
            else:
                augmented_images_2 = self.contrastive_augmenter(images, training=True)
            with tf.GradientTape() as tape:
                features_1 = self.encoder(augmented_images_1, training=True)
                features_2 = self.encoder(augmented_images_2, training=True)
                projections_1 = self.projection_head(features_1, training=True)
                projections_2 = self.projection_head(features_2, training=True)
                contrastive_loss = self.contrastive_loss(projections_1, projections_2, True)
            trainable = (self.encoder.trainable_weights
                         + self.projection_head.trainable_weights)
            gradients = tape.gradient(contrastive_loss, trainable)
            self.optimizer.apply_gradients(zip(gradients, trainable))
            self.contrastive_loss_tracker.update_state(contrastive_loss)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            images = data[0] if isinstance(data, tuple) else data
            augmented_images_1 = self.contrastive_augmenter(images, training=True)
            augmented_images_2 = self.contrastive_augmenter(images, training=True)
            projections_1 = self.projection_head(self.encoder(augmented_images_1))
            projections_2 = self.projection_head(self.encoder(augmented_images_2))
            contrastive_loss = self.contrastive_loss(projections_1, projections_2, False)
            self.contrastive_loss_tracker.update_state(contrastive_loss)
            return {m.name: m.result() for m in self.metrics}

    return NNCLR(args.temperature, args.queue_size)


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--temperature", type=float, default=0.1)
    p.add_argument("--queue-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--labels-per-class", type=int, default=10)
    p.add_argument("--probe-epochs", type=int, default=60)
    p.add_argument("--bug", default=None,
                   choices=("queue-not-updated", "no-normalize", "same-view"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    x = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)  # 16x16
    y = digits.target.astype("int64")
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=args.seed)
    rng = np.random.default_rng(args.seed)
    labelled = np.concatenate([
        rng.choice(np.flatnonzero(y_train == c), args.labels_per_class, replace=False)
        for c in range(10)])
    rng.shuffle(labelled)

    # self-supervised pre-training on every training image, without labels
    train_ds = (tf.data.Dataset.from_tensor_slices(x_train)
                .shuffle(len(x_train), seed=args.seed)
                .batch(args.batch_size, drop_remainder=True))
    val_ds = tf.data.Dataset.from_tensor_slices(x_val).batch(args.batch_size)
    model = build(keras, tf, args)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr))
    history = model.fit(
        train_ds, validation_data=val_ds, epochs=args.epochs, verbose=0,
        callbacks=common.recording.keras_callbacks(args.out, loss_key="c_loss",
                                                   batch_size=args.batch_size))
    h = history.history
    for e in range(len(h["c_loss"])):
        print("pretraining epoch %d: c_loss %.4f c_acc %.3f val c_loss %.4f" % (
            e + 1, h["c_loss"][e], h["c_acc"][e], h["val_c_loss"][e]))

    # linear probe: the frozen encoder and a softmax layer, on the labelled images
    encoder = model.encoder
    encoder.trainable = False
    probe = keras.Sequential([keras.Input(shape=(IMG_SIZE, IMG_SIZE, 1)), encoder,
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

    steps = (len(x_train) // args.batch_size) * len(h["c_loss"])
    result = {"steps": steps, "epochs": len(h["c_loss"]), "first_loss": h["c_loss"][0],
              "loss": h["c_loss"][-1], "first_accuracy": float(h["c_acc"][0]),
              "accuracy": float(h["c_acc"][-1]),
              "val_c_loss": float(h["val_c_loss"][-1]),
              "val_loss": float(ph["val_loss"][-1]),
              "val_accuracy": float(ph["val_accuracy"][-1]),
              "probe_loss": float(ph["loss"][-1]),
              "nan": any(not np.isfinite(v) for v in h["c_loss"]),
              "layers": [layer.name for layer in model.encoder.layers if layer.weights]
              + [layer.name for layer in model.projection_head.layers]}
    common.report(result)


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "knnclr-same-view", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data / preprocessing (the augmentation of the "
               "second view missing: both views are the same augmented image)",
     "bug": "augmented_images_2 = augmented_images_1: the pretext task is nearly trivial, the "
            "contrastive loss starts at 2.46 and falls to 0.96 (c_acc 0.74) while the held-out "
            "contrastive loss stays at 6.2, and the probe on the frozen encoder reaches 0.725 "
            "validation accuracy (the fixed twin: loss 4.82 to 2.56, probe 0.831)",
     "fix": "augmented_images_2 = self.contrastive_augmenter(images, training=True)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug same-view --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "knnclr-temperature-too-high", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: suboptimal hyperparameter (the contrastive loss's "
               "temperature); GitHub issues of SimCLR/NNCLR ports: 'contrastive loss stuck at "
               "log(batch size)'",
     "bug": "temperature 10 instead of 0.1: the logits are cosine similarities / 10, within "
            "+-0.1, and the contrastive loss stays at ln 128 (4.84 in the first epoch, 4.77 in "
            "the last); the probe on the frozen encoder reaches 0.631 validation accuracy (the "
            "fixed twin: loss 4.81 to 2.46, probe 0.836; a random encoder: 0.43)",
     "fix": "temperature 0.1",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--temperature 10 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-knnclr", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "NNCLR pre-training of a small CNN encoder on the digits with a support "
                    "queue of past projections in a custom train_step (recorded), then a linear "
                    "probe, that trains well",
     "healthy": [
         {"id": "queue1024-seed3",
          "args": "--queue-size 1024 --seed 3 --record-every 4",
          "description": "a support queue of 1024 projections"},
     ]},
]


if __name__ == "__main__":
    main()
