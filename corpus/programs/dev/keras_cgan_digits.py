"""A conditional GAN in Keras 3 on scikit-learn's 8x8 digits, written the way the keras.io example
"Conditional GAN" (Sayak Paul) is: the generator is fed a latent vector concatenated with the
one-hot class, the discriminator the image with the one-hot class broadcast over its pixels as
ten extra channels; a ``ConditionalGAN(keras.Model)`` with its own ``compile(d_optimizer,
g_optimizer, loss_fn)``, two ``keras.metrics.Mean`` trackers (``generator_loss``,
``discriminator_loss``) and a ``train_step`` that (1) decodes random latent vectors with the
batch's own labels into fake images, concatenates them with the real images (fakes labelled 1,
real images 0) and takes one discriminator step, then (2) draws new latent vectors, labels them
all "real" (the ``misleading_labels``, zeros) and takes one generator step through the
discriminator; ``BinaryCrossentropy(from_logits=True)``, two ``Adam`` optimizers; ``fit`` on a
``tf.data`` set of (image, one-hot label) pairs.

The data: the 1797 digits as 8x8x1 images scaled from 0..16 to [0, 1] (the example's
``/ 255.0`` for MNIST, matching its generator's sigmoid output); 20% held out (stratified).
Sample quality is measured with a fixed digit classifier (``Flatten``, ``Dense(64, relu)``,
``Dense(10, softmax)``, trained before the GAN on the training images with their labels, then
frozen): at the end of every epoch a callback decodes 1000 fixed latent vectors, 100 for each
class, and computes the share of samples the classifier assigns to the class they were asked
for (``cond_accuracy``, written into the epoch's logs as ``val_accuracy``; chance 0.1) and the
share it recognises with a probability of at least 0.9 (``recognised``).

The generator (``Sequential``, ``generator``): ``--latent`` (32) Gaussian values and the 10
one-hot values, ``Dense(4*4*64)`` (``g_dense``), ``LeakyReLU(0.2)``, ``Reshape((4, 4, 64))``,
``Conv2DTranspose(64, 4, strides=2)`` (``g_deconv``, to 8x8), ``LeakyReLU(0.2)`` and
``Conv2D(1, 3, sigmoid)`` (``g_out``). The discriminator (``Sequential``, ``discriminator``):
``Conv2D(32, 3, strides=2)`` (``d_conv1``, on 1 + 10 channels), ``LeakyReLU(0.2)``,
``Conv2D(64, 3, strides=2)`` (``d_conv2``), ``LeakyReLU(0.2)``, ``Flatten`` (the example's
``GlobalMaxPooling2D`` over 2x2 positions left the condition unlearnt in 30 epochs) and
``Dense(1)`` (``d_out``, logits). The class channels are the one-hot vector broadcast to every
pixel (``ops.broadcast_to``; the example's ``ops.repeat`` and ``reshape`` spread each class
value over a band of pixels instead). Adam at ``--lr`` (1e-3; the example's 3e-4 left the
condition unlearnt in 30 epochs) for both, batches of 32 (45 steps an epoch), ``--epochs``
(30).

Recorded (``--out``): the GAN's ``fit``. The model overrides ``train_step``, so the recorder
runs in callback mode: the layers' forward and activation rows (of each layer's last call in the
step), the weights, the gradients the two optimizers apply, the discriminator's logged
``discriminator_loss`` as the loss (``loss_key``) declared ``objective="adversarial"``, and the
epoch's ``val_accuracy`` (the conditional accuracy). The result line's ``loss`` is the mean
discriminator loss of the first and last epochs, ``g_loss`` the last epoch's, ``val_accuracy``
the conditional accuracy, with ``recognised``. The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

NUM_CLASSES = 10
IMAGE_SIZE = 8


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--bug", default=None,
                   choices=("images-minus-one-to-one", "real-fake-swapped",
                            "no-condition-in-discriminator"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers, ops
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    latent_dim = args.latent
    digits = load_digits()
    images01 = (digits.images / 16.0).astype("float32")[..., None]
    # BUG (images-minus-one-to-one): the images are scaled to [-1, 1], as DCGAN scripts with a
    # tanh generator do, while this generator ends in a sigmoid, (0, 1)
    images = images01 * 2.0 - 1.0 if args.bug == "images-minus-one-to-one" else images01
    x_train, x_val, y_train, y_val = train_test_split(
        images, digits.target, test_size=0.2, stratify=digits.target, random_state=args.seed)
    c_train = keras.utils.to_categorical(y_train, NUM_CLASSES).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((x_train, c_train))
    dataset = dataset.shuffle(buffer_size=1024, seed=args.seed).batch(args.batch_size)

    def to_unit(img):
        """Images in the training range back to [0, 1], for the classifier."""
        return (img + 1.0) / 2.0 if args.bug == "images-minus-one-to-one" else img

    # a fixed digit classifier, to judge the samples
    x_tr01 = to_unit(x_train)
    classifier = keras.Sequential([
        keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1)),
        layers.Flatten(),
        layers.Dense(64, activation="relu", name="features"),
        layers.Dense(10, activation="softmax", name="digit"),
    ], name="digit_classifier")
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3),
                       loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    classifier.fit(x_tr01, y_train, batch_size=32, epochs=30, verbose=0)
    clf_acc = classifier.evaluate(to_unit(x_val), y_val, verbose=0)[1]
    classifier.trainable = False
    print("digit classifier: val accuracy %.3f" % clf_acc)

    generator_in_channels = latent_dim + NUM_CLASSES
    discriminator_in_channels = 1 + NUM_CLASSES

    discriminator = keras.Sequential([
        keras.layers.InputLayer((IMAGE_SIZE, IMAGE_SIZE, discriminator_in_channels)),
        layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same", name="d_conv1"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same", name="d_conv2"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dense(1, name="d_out"),
    ], name="discriminator")

    generator = keras.Sequential([
        keras.layers.InputLayer((generator_in_channels,)),
        layers.Dense(4 * 4 * 64, name="g_dense"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((4, 4, 64)),
        layers.Conv2DTranspose(64, (4, 4), strides=(2, 2), padding="same", name="g_deconv"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (3, 3), padding="same", activation="sigmoid", name="g_out"),
    ], name="generator")

    bug = args.bug

    class ConditionalGAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.seed_generator = keras.random.SeedGenerator(1337 + args.seed)
            self.gen_loss_tracker = keras.metrics.Mean(name="generator_loss")
            self.disc_loss_tracker = keras.metrics.Mean(name="discriminator_loss")

        @property
        def metrics(self):
            return [self.gen_loss_tracker, self.disc_loss_tracker]

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        def with_condition(self, images, one_hot_labels):
            """The images with the one-hot class broadcast over the pixels as channels."""
            image_one_hot_labels = ops.broadcast_to(
                one_hot_labels[:, None, None, :],
                (ops.shape(images)[0], IMAGE_SIZE, IMAGE_SIZE, NUM_CLASSES))
            if bug == "no-condition-in-discriminator":
                # BUG (no-condition-in-discriminator): the class channels are zeros, the
                # discriminator never sees which digit an image should be
                image_one_hot_labels = ops.zeros_like(image_one_hot_labels)
            return ops.concatenate([images, image_one_hot_labels], -1)

        def train_step(self, data):
            # Unpack the data.
            real_images, one_hot_labels = data

            # Sample random points in the latent space and concatenate the labels.
            batch_size = ops.shape(real_images)[0]
            random_latent_vectors = keras.random.normal(
                shape=(batch_size, self.latent_dim), seed=self.seed_generator)
            random_vector_labels = ops.concatenate(
                [random_latent_vectors, one_hot_labels], axis=1)

            # Decode the noise (guided by labels) to fake images.
            generated_images = self.generator(random_vector_labels)

            # Combine them with real images, each with its class channels.
            fake_image_and_labels = self.with_condition(generated_images, one_hot_labels)
            real_image_and_labels = self.with_condition(real_images, one_hot_labels)
            combined_images = ops.concatenate(
                [fake_image_and_labels, real_image_and_labels], axis=0)

            # Assemble labels discriminating real from fake images.
            if bug == "real-fake-swapped":
                # BUG (real-fake-swapped): the real images are labelled 1 and the fakes 0,
                # while the generator below is still trained towards 0 as "real"
                labels = ops.concatenate(
                    [ops.zeros((batch_size, 1)), ops.ones((batch_size, 1))], axis=0)
            else:
                labels = ops.concatenate(
                    [ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)

            # Train the discriminator.
            with tf.GradientTape() as tape:
                predictions = self.discriminator(combined_images)
                d_loss = self.loss_fn(labels, predictions)
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

            # Sample random points in the latent space.
            random_latent_vectors = keras.random.normal(
                shape=(batch_size, self.latent_dim), seed=self.seed_generator)
            random_vector_labels = ops.concatenate(
                [random_latent_vectors, one_hot_labels], axis=1)

            # Assemble labels that say "all real images".
            misleading_labels = ops.zeros((batch_size, 1))

            # Train the generator (note that we should *not* update the weights
            # of the discriminator)!
            with tf.GradientTape() as tape:
                fake_images = self.generator(random_vector_labels)
                fake_image_and_labels = self.with_condition(fake_images, one_hot_labels)
                predictions = self.discriminator(fake_image_and_labels)
                g_loss = self.loss_fn(misleading_labels, predictions)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

            # Monitor loss.
            self.gen_loss_tracker.update_state(g_loss)
            self.disc_loss_tracker.update_state(d_loss)
            return {
                "g_loss": self.gen_loss_tracker.result(),
                "d_loss": self.disc_loss_tracker.result(),
            }

    class ConditionMonitor(keras.callbacks.Callback):
        """Judges 100 samples of every class with the fixed classifier after every epoch."""

        def __init__(self, per_class=100):
            super().__init__()
            rng = np.random.default_rng(args.seed + 99)
            self.classes = np.repeat(np.arange(NUM_CLASSES), per_class)
            noise = rng.standard_normal((len(self.classes), latent_dim)).astype("float32")
            self.inputs = np.concatenate(
                [noise, np.eye(NUM_CLASSES, dtype="float32")[self.classes]], axis=1)
            self.scores, self.d, self.g = [], [], []

        def on_epoch_end(self, epoch, logs=None):
            samples = to_unit(self.model.generator(self.inputs, training=False).numpy())
            probs = classifier(samples, training=False).numpy()
            cond_acc = float((probs.argmax(1) == self.classes).mean())
            recognised = float((probs.max(1) >= 0.9).mean())
            self.scores.append((cond_acc, recognised))
            self.d.append(float(logs["d_loss"]))
            self.g.append(float(logs["g_loss"]))
            logs["val_accuracy"] = cond_acc
            print("epoch %d: d_loss %.4f g_loss %.4f cond_accuracy %.3f recognised %.3f" % (
                epoch + 1, logs["d_loss"], logs["g_loss"], cond_acc, recognised), flush=True)

    cond_gan = ConditionalGAN(discriminator=discriminator, generator=generator,
                              latent_dim=latent_dim)
    cond_gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=args.lr),
        g_optimizer=keras.optimizers.Adam(learning_rate=args.lr),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    monitor = ConditionMonitor()
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    cond_gan.fit(dataset, epochs=args.epochs, verbose=0,
                 callbacks=[monitor] + common.recording.keras_callbacks(
                     args.out, loss_key="d_loss", objective="adversarial",
                     batch_size=args.batch_size))

    cond_acc, recognised = monitor.scores[-1]
    common.report({
        "steps": steps_per_epoch * len(monitor.d), "epochs": len(monitor.d),
        # the epoch logs hold the Mean trackers' results: the epoch's mean losses
        "first_loss": monitor.d[0], "loss": monitor.d[-1], "g_loss": monitor.g[-1],
        "val_accuracy": cond_acc, "recognised": recognised,
        "classifier_val_accuracy": float(clf_acc),
        "nan": any(not np.isfinite(v) for v in monitor.d + monitor.g),
        "layers": ["g_dense", "g_deconv", "g_out", "d_conv1", "d_conv2", "d_out"]})


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kcgan-images-minus-one-to-one", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing/wrong preprocessing (the images scaled to "
               "[-1, 1] for a generator whose output activation is a sigmoid); Stack Overflow: "
               "'GAN generator output range does not match the images, discriminator loss goes "
               "to zero'",
     "bug": "the real images are scaled to [-1, 1] (2 * x / 16 - 1) while the generator ends in "
            "a sigmoid, (0, 1): no sample can have the -1 background, the discriminator tells "
            "them apart at once (its loss 0.196 in the first epoch, 0.0000 from the 10th), the "
            "generator's loss climbs to 11.38 and its sigmoid output saturates; after 30 epochs "
            "the fixed classifier assigns 0.100 of the 1000 class-conditioned samples to the "
            "class asked for and recognises none of them (the fixed twin: 0.772, 53% "
            "recognised)",
     "fix": "scale the images to [0, 1] (x / 16), as the example does for its sigmoid output",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug images-minus-one-to-one --record-every 8",
          "fixed": "--record-every 8"},
     ]},
    {"family": "kcgan-no-condition-in-discriminator", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong input to a layer (the class condition missing "
               "from the discriminator's input); Stack Overflow: 'conditional GAN ignores the "
               "label, generates random digits'",
     "bug": "the discriminator's ten class channels are zeros: it judges only whether an image "
            "looks like a digit, never whether it is the digit asked for, so nothing teaches "
            "the generator to use its one-hot input; the losses look like a GAN's (d_loss 0.51 "
            "to 0.28, g_loss 2.37) and 27% of the samples are recognised as some digit, but the "
            "share assigned to the class asked for stays at chance, 0.102 after 30 epochs (the "
            "fixed twin: 0.716, 55% recognised)",
     "fix": "concatenate the one-hot class broadcast over the pixels to the discriminator's "
            "input images",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug no-condition-in-discriminator --seed 2 --record-every 8",
          "fixed": "--seed 2 --record-every 8"},
     ]},
    {"family": "healthy-kcgan", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "the keras.io conditional GAN (a model with its own train_step and two "
                    "Adams, the class as generator input and as discriminator channels) on 8x8 "
                    "digits, whose samples are the digits asked for",
     "healthy": [
         {"id": "seed1",
          "args": "--seed 1 --record-every 8",
          "description": "the defaults at seed 1: 0.787 of the samples assigned to the class "
                         "asked for, 52% recognised"},
     ]},
]


if __name__ == "__main__":
    main()
