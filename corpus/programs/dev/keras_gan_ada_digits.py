"""A data-efficient GAN with adaptive discriminator augmentation in Keras 3 on 300 digits.

Written the way the keras.io example "Data-efficient GANs with Adaptive Discriminator
Augmentation" (A. Beres, after Karras et al. 2020, "Training Generative Adversarial Networks
with Limited Data") is, scaled down: an ``AdaptiveAugmenter`` layer holding a non-trainable
``probability`` p and a differentiable augmentation pipeline (``RandomFlip("horizontal")``,
``RandomTranslation(0.125)``, ``RandomRotation(0.05)``) applied per image with probability p;
a ``GAN(keras.Model)`` whose ``train_step`` augments the real and the generated images with the
same augmenter, computes the non-saturating losses on the discriminator's logits (the
generator's ``BCE(1, D(aug(G(z))))``, the discriminator's ``BCE(1, D(aug(x))) +
BCE(0, D(aug(G(z))))``, ``from_logits=True``), takes one step of each player, and then moves p
towards the target accuracy of the discriminator on the real images (0.85 as in the example):
``p += (accuracy_real - 0.85) / integration_steps``, clipped to [0, 1]. The example's EMA copy
of the generator is left out (a simplification): the samples are the generator's own.

The data: scikit-learn's 8x8 digits scaled to [0, 1] and upsampled to 16x16 (bilinear); 20% held
out (stratified) for judging the samples, and only ``--n-train`` (300) of the other images
train the GAN, so that the discriminator overfits without augmentation. Sample quality is
measured with a fixed digit classifier (``Flatten``, ``Dense(64, relu)``, ``Dense(10,
softmax)``, trained before the GAN on all 1437 training images with their labels, then frozen):
at the end of every epoch 500 fixed latent vectors are decoded and (a) the Frechet distance
between the classifier's 64 hidden features of the samples and of the 360 held-out digits
(``fd``; the 300 training digits against the held-out ones give the floor, ``fd_real``) and (b)
the share of samples the classifier recognises with a probability of at least 0.9
(``recognised``, written into the epoch's logs as ``val_accuracy``) are computed.

The generator (``Sequential``, ``generator``): ``--latent`` (32) Gaussian values,
``Dense(4*4*64)`` (``g_dense``), ``Reshape``, ``Conv2DTranspose(64, 4, strides=2)``
(``g_deconv1``, 8x8), ``LeakyReLU(0.2)``, ``Conv2DTranspose(32, 4, strides=2)`` (``g_deconv2``,
16x16), ``LeakyReLU(0.2)`` and ``Conv2D(1, 3, sigmoid)`` (``g_out``). The discriminator
(``Sequential``, ``discriminator``): ``Conv2D(32, 3, strides=2)`` (``d_conv1``),
``LeakyReLU(0.2)``, ``Conv2D(64, 3, strides=2)`` (``d_conv2``), ``LeakyReLU(0.2)``,
``Flatten``, ``Dropout(0.3)`` and ``Dense(1)`` (``d_out``, logits). Adam at ``--lr`` (2e-4)
with ``beta_1=0.5`` for both, batches of 32 (10 steps an epoch), ``--epochs`` (100).

Recorded (``--out``): the GAN's ``fit``. The model overrides ``train_step``, so the recorder
runs in callback mode: the layers' forward and activation rows, the weights, the gradients the
two optimizers apply, the discriminator's logged ``d_loss`` as the loss (``loss_key="d_loss"``)
declared ``objective="adversarial"``, and the epoch's ``val_accuracy`` (the recognised share);
no learning rate (two optimizers), inputs or accuracy. The result line's ``loss`` is the last
epoch's mean ``d_loss``, ``g_loss`` the last epoch's, ``val_accuracy`` the recognised share, with
``fd``, ``fd_real``, ``real_accuracy`` (the discriminator's accuracy on the real images in the
last epoch) and ``p`` (the final augmentation probability). The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--lr``).
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
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--n-train", type=int, default=300)
    p.add_argument("--target-accuracy", type=float, default=0.85)
    p.add_argument("--integration-steps", type=int, default=200)
    p.add_argument("--bug", default=None,
                   choices=("labels-swapped", "aug-stop-gradient", "aug-real-only",
                            "p-wrong-sign"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers, ops
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    latent_dim = args.latent
    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    images = tf.image.resize(images, (16, 16), method="bilinear").numpy().clip(0.0, 1.0)
    x_train, x_val, y_train, y_val = train_test_split(
        images, digits.target, test_size=0.2, stratify=digits.target, random_state=args.seed)
    x_gan = x_train[np.random.default_rng(args.seed).permutation(len(x_train))[:args.n_train]]

    # a fixed digit classifier, to judge the samples
    classifier = keras.Sequential([
        keras.Input(shape=(16, 16, 1)),
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
    fd_real = frechet_distance(feature_model(x_gan, training=False).numpy(), real_features)
    print("digit classifier: val accuracy %.3f, FD train/val %.2f" % (clf_acc, fd_real))

    class AdaptiveAugmenter(keras.Model):
        def __init__(self):
            super().__init__()
            # stores the current probability of an image being augmented
            self.probability = keras.Variable(0.0, trainable=False)
            self.seed_generator = keras.random.SeedGenerator(7 + args.seed)
            # the example's blitting and geometric augmentations, scaled to 16x16 digits
            self.augmenter = keras.Sequential([
                layers.RandomFlip("horizontal", seed=args.seed),
                layers.RandomTranslation(height_factor=0.125, width_factor=0.125,
                                         interpolation="bilinear", seed=args.seed + 1),
                layers.RandomRotation(factor=0.05, interpolation="bilinear",
                                      seed=args.seed + 2),
            ], name="adaptive_augmenter")

        def call(self, images, training=False):
            if training:
                augmented_images = self.augmenter(images, training=training)
                if args.bug == "aug-stop-gradient":
                    # BUG (aug-stop-gradient): the augmented images are wrapped in
                    # stop_gradient ("the augmentations have no parameters"), so no
                    # gradient flows back through them to the generator
                    augmented_images = tf.stop_gradient(augmented_images)
                # during training either the original or the augmented images are selected
                # based on self.probability
                augmentation_values = keras.random.uniform(
                    shape=(ops.shape(images)[0], 1, 1, 1), seed=self.seed_generator)
                augmentation_bools = ops.less(augmentation_values, self.probability)
                images = ops.where(augmentation_bools, augmented_images, images)
            return images

        def update(self, real_logits):
            current_accuracy = ops.mean(ops.cast(real_logits > 0.0, "float32"))
            # the augmentation probability is updated based on the discriminator's
            # accuracy on real images
            accuracy_error = current_accuracy - args.target_accuracy
            if args.bug == "p-wrong-sign":
                # BUG (p-wrong-sign): p moves against the error: the more the
                # discriminator overfits, the less it is augmented
                accuracy_error = -accuracy_error
            self.probability.assign(ops.clip(
                self.probability + accuracy_error / args.integration_steps, 0.0, 1.0))
            return current_accuracy

    discriminator = keras.Sequential([
        keras.Input(shape=(16, 16, 1)),
        layers.Conv2D(32, kernel_size=3, strides=2, padding="same", name="d_conv1"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(64, kernel_size=3, strides=2, padding="same", name="d_conv2"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(1, name="d_out"),
    ], name="discriminator")

    generator = keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(4 * 4 * 64, name="g_dense"),
        layers.Reshape((4, 4, 64)),
        layers.Conv2DTranspose(64, kernel_size=4, strides=2, padding="same", name="g_deconv1"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(32, kernel_size=4, strides=2, padding="same", name="g_deconv2"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, kernel_size=3, padding="same", activation="sigmoid", name="g_out"),
    ], name="generator")

    class GAN_ADA(keras.Model):
        def __init__(self):
            super().__init__()
            self.augmenter = AdaptiveAugmenter()
            self.generator = generator
            self.discriminator = discriminator
            self.seed_generator = keras.random.SeedGenerator(1337 + args.seed)

        def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
            super().compile(**kwargs)
            self.generator_optimizer = generator_optimizer
            self.discriminator_optimizer = discriminator_optimizer
            self.generator_loss_tracker = keras.metrics.Mean(name="g_loss")
            self.discriminator_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.real_accuracy = keras.metrics.BinaryAccuracy(name="real_acc")
            self.augmentation_probability_tracker = keras.metrics.Mean(name="aug_p")

        @property
        def metrics(self):
            return [self.generator_loss_tracker, self.discriminator_loss_tracker,
                    self.real_accuracy, self.augmentation_probability_tracker]

        def adversarial_loss(self, real_logits, generated_logits):
            # this is usually called the non-saturating GAN loss
            real_labels = ops.ones(shape=(ops.shape(real_logits)[0], 1))
            generated_labels = ops.zeros(shape=(ops.shape(generated_logits)[0], 1))
            if args.bug == "labels-swapped":
                # BUG (labels-swapped): the discriminator's targets are swapped, real images
                # labelled 0 and generated ones 1, while the generator still aims at 1
                real_labels, generated_labels = generated_labels, real_labels
            # the generator tries to produce images that the discriminator considers as real
            generator_loss = keras.losses.binary_crossentropy(
                ops.ones(shape=(ops.shape(generated_logits)[0], 1)), generated_logits,
                from_logits=True)
            # the discriminator tries to determine if images are real or generated
            discriminator_loss = keras.losses.binary_crossentropy(
                ops.concatenate([real_labels, generated_labels], axis=0),
                ops.concatenate([real_logits, generated_logits], axis=0), from_logits=True)
            return ops.mean(generator_loss), ops.mean(discriminator_loss)

        def train_step(self, real_images):
            batch_size = ops.shape(real_images)[0]
            latent_samples = keras.random.normal(
                shape=(batch_size, latent_dim), seed=self.seed_generator)
            real_images = self.augmenter(real_images, training=True)

            # use persistent gradient tape because gradients will be calculated twice
            with tf.GradientTape(persistent=True) as tape:
                generated_images = self.generator(latent_samples, training=True)
                if args.bug != "aug-real-only":
                    # the generated images are augmented with the same pipeline
                    generated_images = self.augmenter(generated_images, training=True)
                # BUG (aug-real-only): the line above is skipped: only the real images are
                # augmented, so the augmentations tell real from fake and leak into G

                # separate forward passes for the real and generated images, meaning
                # that batch normalization is applied separately
                real_logits = self.discriminator(real_images, training=True)
                generated_logits = self.discriminator(generated_images, training=True)

                generator_loss, discriminator_loss = self.adversarial_loss(
                    real_logits, generated_logits)

            # calculate gradients and update weights
            generator_gradients = tape.gradient(
                generator_loss, self.generator.trainable_weights)
            discriminator_gradients = tape.gradient(
                discriminator_loss, self.discriminator.trainable_weights)
            self.generator_optimizer.apply_gradients(
                zip(generator_gradients, self.generator.trainable_weights))
            self.discriminator_optimizer.apply_gradients(
                zip(discriminator_gradients, self.discriminator.trainable_weights))
            del tape

            # update the augmentation probability based on the discriminator's performance
            self.augmenter.update(real_logits)

            self.generator_loss_tracker.update_state(generator_loss)
            self.discriminator_loss_tracker.update_state(discriminator_loss)
            self.real_accuracy.update_state(1.0, ops.sigmoid(real_logits))
            self.augmentation_probability_tracker.update_state(self.augmenter.probability)
            return {m.name: m.result() for m in self.metrics}

    class GANMonitor(keras.callbacks.Callback):
        """Judges 500 samples with the fixed classifier at the end of every epoch."""

        def __init__(self, n=500):
            super().__init__()
            self.noise = np.random.default_rng(args.seed + 99).standard_normal(
                (n, latent_dim)).astype("float32")
            self.scores = []
            self.logs = []

        def on_epoch_end(self, epoch, logs=None):
            samples = self.model.generator(self.noise, training=False)
            probs = classifier(samples, training=False).numpy()
            feats = feature_model(samples, training=False).numpy()
            fd = frechet_distance(feats, real_features)
            recognised = float((probs.max(1) >= 0.9).mean())
            self.scores.append((fd, recognised))
            self.logs.append({k: float(v) for k, v in logs.items()})
            logs["val_accuracy"] = recognised
            if (epoch + 1) % 10 == 0 or epoch == 0:
                print("epoch %d: d_loss %.4f g_loss %.4f real_acc %.3f p %.3f fd %.2f "
                      "recognised %.3f" % (epoch + 1, logs["d_loss"], logs["g_loss"],
                                           logs["real_acc"], logs["aug_p"], fd, recognised),
                      flush=True)

    model = GAN_ADA()
    model.compile(
        generator_optimizer=keras.optimizers.Adam(learning_rate=args.lr, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(learning_rate=args.lr, beta_1=0.5),
        jit_compile=False,
    )
    monitor = GANMonitor()
    model.fit(x_gan, batch_size=args.batch_size, epochs=args.epochs, verbose=0, shuffle=True,
              callbacks=[monitor] + common.recording.keras_callbacks(
                  args.out, loss_key="d_loss", objective="adversarial",
                  batch_size=args.batch_size))

    fd, recognised = monitor.scores[-1]
    d = [l["d_loss"] for l in monitor.logs]
    g = [l["g_loss"] for l in monitor.logs]
    steps = -(-len(x_gan) // args.batch_size) * len(d)
    common.report({
        "steps": steps, "epochs": len(d),
        "first_loss": d[0], "loss": d[-1], "g_loss": g[-1],
        "val_accuracy": recognised, "fd": fd, "fd_real": fd_real,
        "real_accuracy": monitor.logs[-1]["real_acc"],
        "p": float(model.augmenter.probability.numpy()),
        "classifier_val_accuracy": float(clf_acc),
        "nan": any(not np.isfinite(v) for v in d + g),
        "layers": ["g_dense", "g_deconv1", "g_deconv2", "g_out", "d_conv1", "d_conv2",
                   "d_out"]})


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kada-labels-swapped", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong labels / wrong loss for the discriminator (the "
               "real and generated images' targets swapped in the non-saturating loss); "
               "Stack Overflow: 'GAN discriminator real and fake labels swapped, generator "
               "produces one blob'",
     "bug": "the discriminator's targets are swapped (real images 0, generated images 1) "
            "while the generator still aims at 1: both players then pull the same way, the "
            "generator is trained on the discriminator's own objective and nothing pulls the "
            "samples towards the digits; both losses fall to zero (d_loss 0.689 in the first "
            "epoch, 0.0001 in the 100th, g_loss 0.00003, the discriminator's accuracy on real "
            "images 0.0) and the generator collapses onto one image: after 100 epochs the "
            "Frechet distance of the samples to the held-out digits in the classifier's "
            "features is 320.8 (the twin's 8.44, the 300 training digits 0.79; 93.6% of the "
            "collapsed samples recognised as one digit against the twin's 22.2%)",
     "fix": "real_labels = ones, generated_labels = zeros, as the example's adversarial_loss "
            "writes them",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug labels-swapped --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kada-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepFD: learning rate too high (both Adams at 5e-3, 25 times the "
               "example's 2e-4)",
     "bug": "both Adams at 5e-3 instead of 2e-4: the game is stable for a while (Frechet "
            "distance 13.1 at epoch 50) and then the discriminator wins and the generator "
            "collapses: d_loss 0.019 and g_loss 5.25 in the 100th epoch, the discriminator's "
            "accuracy on real images 0.99, a Frechet distance of 184.0 (the twin's 9.53, the "
            "training digits 0.90) and no sample recognised (the twin's 35.4%)",
     "fix": "Adam(2e-4, beta_1=0.5) for both players, as the example",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "lr5e-3-seed2",
          "buggy": "--lr 5e-3 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kada", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "the keras.io data-efficient GAN with adaptive discriminator augmentation "
                    "(a GAN model with its own train_step, an augmenter whose probability "
                    "follows the discriminator's accuracy on real images, non-saturating "
                    "losses, two Adams) on 300 digits at 16x16, whose samples approach the "
                    "held-out digits in the fixed classifier's features",
     "healthy": [
         {"id": "latent16-seed3",
          "args": "--latent 16 --seed 3 --record-every 4",
          "description": "a 16-dimensional latent space: Frechet distance 10.77 (158.2 after "
                         "the first epoch, training digits 0.86), 22.4% recognised"},
     ]},
]


if __name__ == "__main__":
    main()
