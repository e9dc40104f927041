"""A DCGAN in Keras 3 on scikit-learn's 8x8 digits, written the way the keras.io example "DCGAN
to generate face images" is: a ``GAN(keras.Model)`` holding a ``discriminator`` and a
``generator``, its own ``compile(d_optimizer, g_optimizer, loss_fn)``, two
``keras.metrics.Mean`` trackers (``d_loss_metric``, ``g_loss_metric``) returned by its
``metrics`` property, and a ``train_step`` that (1) decodes random latent vectors into fake
images, concatenates them with the real ones, labels the fakes 1 and the real images 0, adds
the example's label noise (``0.05 * uniform``) and takes one discriminator step, then (2) draws
new latent vectors, labels them all "real" (the ``misleading_labels``, zeros) and takes one
generator step through the discriminator; both losses are ``BinaryCrossentropy()`` on the
discriminator's sigmoid output, two ``Adam`` optimizers; ``fit`` on the images alone.

The data: the 1797 digits as 8x8x1 images scaled from 0..16 to [0, 1] (the example's
``Rescaling(1/255)`` for its faces); 20% held out (stratified) for judging the samples. Sample
quality is measured with a fixed digit classifier (``Flatten``, ``Dense(64, relu)``,
``Dense(10, softmax)``, trained before the GAN on the training images with their labels, then
frozen): at the end of every epoch a callback (the example's ``GANMonitor``) decodes 1000 fixed
latent vectors and computes (a) the Frechet distance between the classifier's 64 hidden features
of the samples and of the 360 held-out real digits (``fd``; the training digits against the
held-out ones give the floor, ``fd_real``), (b) the share of samples the classifier recognises
with a probability of at least 0.9 (``recognised``), and (c) the digit coverage: the share of
the ten digits that at least 5% of the recognised samples are (``coverage``). The callback
writes the coverage into the epoch's logs as ``val_accuracy``.

The generator (``Sequential``, ``generator``): ``--latent`` (32) Gaussian values,
``Dense(4*4*64)`` (``g_dense``), ``Reshape((4, 4, 64))``, ``Conv2DTranspose(64, 4, strides=2)``
(``g_deconv``, to 8x8), ``LeakyReLU(0.2)``, ``Conv2D(32, 3)`` (``g_conv``), ``LeakyReLU(0.2)``
and ``Conv2D(1, 3, sigmoid)`` (``g_out``). The discriminator (``Sequential``,
``discriminator``): ``Conv2D(32, 3, strides=2)`` (``d_conv1``), ``LeakyReLU(0.2)``,
``Conv2D(64, 3, strides=2)`` (``d_conv2``), ``LeakyReLU(0.2)``, ``Flatten``, ``Dropout(0.2)``
and ``Dense(1, sigmoid)`` (``d_out``). Adam at ``--lr`` (2e-4) with ``beta_1=0.5`` for both,
batches of 64 (23 steps an epoch), ``--epochs`` (25).

Recorded (``--out``): the GAN's ``fit``. The model overrides ``train_step``, so the recorder
runs in callback mode: the layers' forward and activation rows (of each layer's last call in the
step: the discriminator's on the generated images of the generator's update), the weights, the
gradients the two optimizers apply, the discriminator's logged ``d_loss`` as the loss
(``loss_key="d_loss"``) declared ``objective="adversarial"`` (a GAN player's loss: the analyzer
does not judge it by its trend), and the epoch's ``val_accuracy`` (the coverage); no learning
rate (two optimizers), inputs or accuracy. The result line's ``loss`` is the mean ``d_loss`` of
the first and last epochs, ``g_loss`` the last epoch's, ``val_accuracy`` the coverage, with
``fd``, ``fd_real`` and ``recognised``. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def frechet_distance(a, b):
    """The Frechet distance between Gaussians fitted to the rows of a and b."""
    from scipy import linalg
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a.dot(cov_b))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--bug", default=None,
                   choices=("no-sigmoid", "generator-labels-ones"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers, ops
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    latent_dim = args.latent
    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    x_train, x_val, y_train, y_val = train_test_split(
        images, digits.target, test_size=0.2, stratify=digits.target, random_state=args.seed)

    # a fixed digit classifier, to judge the samples
    classifier = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.Flatten(),
        layers.Dense(64, activation="relu", name="features"),
        layers.Dense(10, activation="softmax", name="digit"),
    ], name="digit_classifier")
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3),
                       loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    classifier.fit(x_train, y_train, batch_size=32, epochs=30, verbose=0)
    clf_acc = classifier.evaluate(x_val, y_val, verbose=0)[1]
    classifier.trainable = False
    feature_model = keras.Model(classifier.inputs, classifier.get_layer("features").output)
    real_features = feature_model(x_val, training=False).numpy()
    fd_real = frechet_distance(feature_model(x_train, training=False).numpy(), real_features)
    print("digit classifier: val accuracy %.3f, FD train/val %.2f" % (clf_acc, fd_real))

    # BUG (no-sigmoid): the discriminator's last Dense has no activation while the loss is
    # BinaryCrossentropy() (from_logits=False): its raw scores are read as probabilities
    d_out_act = None if args.bug == "no-sigmoid" else "sigmoid"
    discriminator = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(32, kernel_size=3, strides=2, padding="same", name="d_conv1"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(64, kernel_size=3, strides=2, padding="same", name="d_conv2"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dropout(0.2),
        layers.Dense(1, activation=d_out_act, name="d_out"),
    ], name="discriminator")

    generator = keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(4 * 4 * 64, name="g_dense"),
        layers.Reshape((4, 4, 64)),
        layers.Conv2DTranspose(64, kernel_size=4, strides=2, padding="same", name="g_deconv"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(32, kernel_size=3, padding="same", name="g_conv"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, kernel_size=3, padding="same", activation="sigmoid", name="g_out"),
    ], name="generator")

    class GAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.seed_generator = keras.random.SeedGenerator(1337 + args.seed)

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn
            self.d_loss_metric = keras.metrics.Mean(name="d_loss")
            self.g_loss_metric = keras.metrics.Mean(name="g_loss")

        @property
        def metrics(self):
            return [self.d_loss_metric, self.g_loss_metric]

        def train_step(self, real_images):
            import tensorflow as tf
            # Sample random points in the latent space
            batch_size = ops.shape(real_images)[0]
            random_latent_vectors = keras.random.normal(
                shape=(batch_size, self.latent_dim), seed=self.seed_generator)

            # Decode them to fake images
            generated_images = self.generator(random_latent_vectors)

            # Combine them with real images
            combined_images = ops.concatenate([generated_images, real_images], axis=0)

            # Assemble labels discriminating real from fake images
            labels = ops.concatenate(
                [ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
            # Add random noise to the labels - important trick!
            labels += 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)

            # Train the discriminator
            with tf.GradientTape() as tape:
                predictions = self.discriminator(combined_images)
                d_loss = self.loss_fn(labels, predictions)
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

            # Sample random points in the latent space
            random_latent_vectors = keras.random.normal(
                shape=(batch_size, self.latent_dim), seed=self.seed_generator)

            # Assemble labels that say "all real images"
            if args.bug == "generator-labels-ones":
                # BUG (generator-labels-ones): the generator is trained with the fakes'
                # label (ones), the discriminator's own objective, not the misleading zeros
                misleading_labels = ops.ones((batch_size, 1))
            else:
                misleading_labels = ops.zeros((batch_size, 1))

            # Train the generator (note that we should *not* update the weights
            # of the discriminator)!
            with tf.GradientTape() as tape:
                predictions = self.discriminator(self.generator(random_latent_vectors))
                g_loss = self.loss_fn(misleading_labels, predictions)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

            # Update metrics
            self.d_loss_metric.update_state(d_loss)
            self.g_loss_metric.update_state(g_loss)
            return {
                "d_loss": self.d_loss_metric.result(),
                "g_loss": self.g_loss_metric.result(),
            }

    class GANMonitor(keras.callbacks.Callback):
        """Judges 1000 samples with the fixed classifier at the end of every epoch."""

        def __init__(self, n=1000):
            super().__init__()
            self.noise = np.random.default_rng(args.seed + 99).standard_normal(
                (n, latent_dim)).astype("float32")
            self.scores = []
            self.d, self.g = [], []

        def on_epoch_end(self, epoch, logs=None):
            samples = self.model.generator(self.noise, training=False)
            probs = classifier(samples, training=False).numpy()
            feats = feature_model(samples, training=False).numpy()
            fd = frechet_distance(feats, real_features)
            confident = probs.max(1) >= 0.9
            recognised = float(confident.mean())
            counts = np.bincount(probs.argmax(1)[confident], minlength=10)
            coverage = float((counts >= 0.05 * max(confident.sum(), 1)).mean()) \
                if confident.any() else 0.0
            self.scores.append((fd, recognised, coverage))
            self.d.append(float(logs["d_loss"]))
            self.g.append(float(logs["g_loss"]))
            if logs is not None:
                logs["val_accuracy"] = coverage
            print("epoch %d: d_loss %.4f g_loss %.4f fd %.2f recognised %.3f coverage %.2f" % (
                epoch + 1, logs["d_loss"], logs["g_loss"], fd, recognised, coverage),
                flush=True)

    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=args.lr, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(learning_rate=args.lr, beta_1=0.5),
        loss_fn=keras.losses.BinaryCrossentropy(),
    )
    monitor = GANMonitor()
    gan.fit(x_train, batch_size=args.batch_size, epochs=args.epochs, verbose=0,
            callbacks=[monitor] + common.recording.keras_callbacks(
                args.out, loss_key="d_loss", objective="adversarial"))

    fd, recognised, coverage = monitor.scores[-1]
    steps = -(-len(x_train) // args.batch_size) * len(monitor.d)
    common.report({
        "steps": steps, "epochs": len(monitor.d),
        # the epoch logs hold the Mean trackers' results: the epoch's mean losses
        "first_loss": monitor.d[0], "loss": monitor.d[-1], "g_loss": monitor.g[-1],
        "val_accuracy": coverage, "fd": fd, "fd_real": fd_real, "recognised": recognised,
        "classifier_val_accuracy": float(clf_acc),
        "nan": any(not np.isfinite(v) for v in monitor.d + monitor.g),
        "layers": ["g_dense", "g_deconv", "g_conv", "g_out", "d_conv1", "d_conv2", "d_out"]})


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kdcgan-no-sigmoid", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong activation function for the output layer / "
               "loss function (a Keras from_logits mismatch: the discriminator's Dense(1) "
               "without its sigmoid under BinaryCrossentropy()); Stack Overflow: 'GAN "
               "discriminator without sigmoid, loss behaves strangely'",
     "bug": "the discriminator's Dense(1) has no activation while the loss is "
            "BinaryCrossentropy() (from_logits=False): its raw scores are clipped into "
            "[eps, 1 - eps] and read as probabilities, so scores outside (0, 1) give no "
            "gradient; both players' losses wander (d_loss 1.03 in the first epoch, 0.37 in "
            "the 25th, g_loss up to 10.8) and after 25 epochs the Frechet distance of the "
            "samples to the held-out digits in the classifier's features is 17.2 (the twin's "
            "3.51, real digits 0.20), 18% of them recognised (32%) and a digit coverage of "
            "0.6 (0.8)",
     "fix": "Dense(1, activation='sigmoid'), as the example's discriminator ends",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug no-sigmoid --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kdcgan-generator-labels-ones", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong labels / wrong loss for the generator (the "
               "generator trained with the fakes' label, the discriminator's own objective); "
               "Stack Overflow: 'GAN generator trained with fake labels produces the same "
               "image'",
     "bug": "misleading_labels = ops.ones(...) instead of ops.zeros(...): the generator is "
            "trained to make the discriminator call its images fake, the discriminator's own "
            "objective, so nothing pulls the samples towards the digits; the generator "
            "collapses onto one image within a few epochs (g_loss 0.0000 from the 13th "
            "epoch, d_loss 0.65 to -1.91 with the noisy labels above 1): a Frechet distance "
            "of 170.9 (the twin's 4.44, real digits 0.18), every sample recognised as the "
            "same digit, a coverage of 0.1 (0.7)",
     "fix": "misleading_labels = ops.zeros((batch_size, 1)), 'all real images'",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug generator-labels-ones --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kdcgan", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "the keras.io DCGAN (a GAN model with its own train_step, two Adams, "
                    "d_loss and g_loss Mean trackers) on 8x8 digits, whose samples the fixed "
                    "classifier recognises",
     "healthy": [
         {"id": "lr3e-4-latent16-seed4",
          "args": "--lr 3e-4 --latent 16 --seed 4 --record-every 4",
          "description": "both Adams at 3e-4, a 16-dimensional latent space"},
     ]},
]


if __name__ == "__main__":
    main()
