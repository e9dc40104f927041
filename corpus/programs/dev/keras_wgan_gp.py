"""A WGAN-GP (Gulrajani et al. 2017) in Keras 3 on scikit-learn's 8x8 digits, written the way
the keras.io example "WGAN-GP overriding ``Model.train_step``" is: a ``WGAN(keras.Model)`` with
its own ``compile(d_optimizer, g_optimizer, d_loss_fn, g_loss_fn)``, a ``gradient_penalty``
computed under a ``tf.GradientTape`` on random interpolates of real and generated images, and a
``train_step`` that takes ``discriminator_extra_steps`` critic steps (the Wasserstein loss
plus ``gp_weight`` times the penalty) and then one generator step, returning
``{"d_loss": ..., "g_loss": ...}``; two ``Adam(beta_1=0.5, beta_2=0.9)`` optimizers; ``fit`` on
the images alone.

The data: the 1797 digits as 8x8x1 images scaled from 0..16 to [-1, 1]; 20% held out
(stratified) for judging the samples. Sample quality is measured with a fixed digit classifier
(``Flatten``, ``Dense(64, relu)``, ``Dense(10, softmax)``, trained before the GAN on the
training images with their labels, then frozen): at the end of every epoch a callback draws
1000 samples and computes (a) the Frechet distance between the classifier's 64 hidden features
of the samples and of the 360 held-out real digits (``fd``; the training digits against the
held-out ones give the floor, ``fd_real``), (b) the share of samples the classifier recognises
with a probability of at least 0.9 (``recognised``), and (c) the digit coverage: the share of
the ten digits that at least 5% of the recognised samples are (``coverage``). The callback
writes the coverage into the epoch's logs as ``val_accuracy``, next to the logged losses.

The generator (``Sequential``, ``generator``): 32-dimensional Gaussian noise,
``Dense(4*4*64, use_bias=False)`` (``g_dense``), ``BatchNormalization`` (``g_bn1``),
``LeakyReLU(0.2)``, ``Reshape((4, 4, 64))``, ``UpSampling2D``, ``Conv2D(32, 3, use_bias=False)``
(``g_conv``), ``BatchNormalization`` (``g_bn2``), ``LeakyReLU(0.2)`` and
``Conv2D(1, 3, tanh)`` (``g_out``). The critic (``Sequential``, ``critic``):
``Conv2D(32, 3, strides=2)`` (``c_conv1``), ``LeakyReLU(0.2)``, ``Conv2D(64, 3, strides=2)``
(``c_conv2``), ``LeakyReLU(0.2)``, ``Flatten``, ``Dropout(0.2)`` and ``Dense(1)`` (``c_out``),
no normalization (the paper's advice for a gradient penalty).

Recorded (``--out``): the GAN's ``fit``. The model overrides ``train_step``, so the recorder
runs in callback mode: the weights of the eight layers (generator ``g_dense`` 0 to ``g_out`` 4,
critic ``c_conv1`` 5 to ``c_out`` 7, in the order the step runs them), the critic's logged
``d_loss`` as the loss (``loss_key="d_loss"``) declared ``objective="adversarial"`` (a GAN
player's loss: the analyzer does not judge it by its trend), the epoch's ``val_accuracy`` (the
coverage), the gradients the two optimizers apply and the layers' forward and activation rows
(of each layer's last call in the step: the critic's on the generated images of the generator's
update); no learning rate (two optimizers), inputs or accuracy. The
result line's ``loss`` is the mean ``d_loss`` of the first and last epochs, ``g_loss`` the last
epoch's, ``val_accuracy`` the coverage, with ``fd``, ``fd_real`` and ``recognised``. The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
LATENT = 32


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
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--d-steps", type=int, default=3)
    p.add_argument("--gp-weight", type=float, default=10.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--bug", default=None,
                   choices=("sigmoid-critic", "loss-sign", "unscaled"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    if args.bug == "unscaled":
        # BUG (unscaled): the pixels are left at 0..16 (the "(x - 8) / 8" line was dropped)
        images = digits.images.astype("float32")[..., None]
    else:
        images = ((digits.images - 8.0) / 8.0).astype("float32")[..., None]
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

    def get_generator_model():
        return keras.Sequential([
            keras.Input(shape=(LATENT,)),
            layers.Dense(4 * 4 * 64, use_bias=False, name="g_dense"),
            layers.BatchNormalization(name="g_bn1"),
            layers.LeakyReLU(0.2),
            layers.Reshape((4, 4, 64)),
            layers.UpSampling2D((2, 2)),
            layers.Conv2D(32, 3, padding="same", use_bias=False, name="g_conv"),
            layers.BatchNormalization(name="g_bn2"),
            layers.LeakyReLU(0.2),
            layers.Conv2D(1, 3, padding="same", activation="tanh", name="g_out"),
        ], name="generator")

    def get_critic_model():
        # BUG (sigmoid-critic): the critic ends in a sigmoid, kept from a DCGAN discriminator
        out_act = "sigmoid" if args.bug == "sigmoid-critic" else None
        return keras.Sequential([
            keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(32, 3, strides=2, padding="same", name="c_conv1"),
            layers.LeakyReLU(0.2),
            layers.Conv2D(64, 3, strides=2, padding="same", name="c_conv2"),
            layers.LeakyReLU(0.2),
            layers.Flatten(),
            layers.Dropout(0.2),
            layers.Dense(1, activation=out_act, name="c_out"),
        ], name="critic")

    class WGAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim,
                     discriminator_extra_steps=3, gp_weight=10.0):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.d_steps = discriminator_extra_steps
            self.gp_weight = gp_weight

        def compile(self, d_optimizer, g_optimizer, d_loss_fn, g_loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.d_loss_fn = d_loss_fn
            self.g_loss_fn = g_loss_fn

        def gradient_penalty(self, batch_size, real_images, fake_images):
            """Calculates the gradient penalty on an image interpolated between the real and
            the fake image."""
            # Get the interpolated image
            alpha = tf.random.uniform([batch_size, 1, 1, 1], 0.0, 1.0)
            diff = fake_images - real_images
            interpolated = real_images + alpha * diff

            with tf.GradientTape() as gp_tape:
                gp_tape.watch(interpolated)
                # 1. Get the discriminator output for this interpolated image.
                pred = self.discriminator(interpolated, training=True)

            # 2. Calculate the gradients w.r.t to this interpolated image.
            grads = gp_tape.gradient(pred, [interpolated])[0]
            # 3. Calculate the norm of the gradients.
            norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
            gp = tf.reduce_mean((norm - 1.0) ** 2)
            return gp

        def train_step(self, real_images):
            if isinstance(real_images, tuple):
                real_images = real_images[0]

            # Get the batch size
            batch_size = tf.shape(real_images)[0]

            # Train the discriminator (critic) d_steps times for each generator step.
            for i in range(self.d_steps):
                # Get the latent vector
                random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
                with tf.GradientTape() as tape:
                    # Generate fake images from the latent vector
                    fake_images = self.generator(random_latent_vectors, training=True)
                    # Get the logits for the fake images
                    fake_logits = self.discriminator(fake_images, training=True)
                    # Get the logits for the real images
                    real_logits = self.discriminator(real_images, training=True)

                    # Calculate the discriminator loss using the fake and real image logits
                    d_cost = self.d_loss_fn(real_img=real_logits, fake_img=fake_logits)
                    # Calculate the gradient penalty
                    gp = self.gradient_penalty(batch_size, real_images, fake_images)
                    # Add the gradient penalty to the original discriminator loss
                    d_loss = d_cost + gp * self.gp_weight

                # Get the gradients w.r.t the discriminator loss
                d_gradient = tape.gradient(d_loss, self.discriminator.trainable_variables)
                # Update the weights of the discriminator using the discriminator optimizer
                self.d_optimizer.apply_gradients(
                    zip(d_gradient, self.discriminator.trainable_variables))

            # Train the generator
            random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
            with tf.GradientTape() as tape:
                generated_images = self.generator(random_latent_vectors, training=True)
                gen_img_logits = self.discriminator(generated_images, training=True)
                g_loss = self.g_loss_fn(gen_img_logits)

            gen_gradient = tape.gradient(g_loss, self.generator.trainable_variables)
            self.g_optimizer.apply_gradients(
                zip(gen_gradient, self.generator.trainable_variables))
            return {"d_loss": d_loss, "g_loss": g_loss}

    # Define the loss functions for the discriminator, which should be
    # (fake_loss - real_loss). We will add the gradient penalty later to this loss function.
    def discriminator_loss(real_img, fake_img):
        real_loss = tf.reduce_mean(real_img)
        fake_loss = tf.reduce_mean(fake_img)
        if args.bug == "loss-sign":
            # BUG (loss-sign): real_loss - fake_loss, the critic's objective turned around
            return real_loss - fake_loss
        return fake_loss - real_loss

    # Define the loss functions for the generator.
    def generator_loss(fake_img):
        return -tf.reduce_mean(fake_img)

    class SampleQuality(keras.callbacks.Callback):
        """Judges 1000 samples with the fixed classifier at the end of every epoch."""

        def __init__(self, n=1000):
            super().__init__()
            self.noise = np.random.default_rng(args.seed + 99).standard_normal(
                (n, LATENT)).astype("float32")
            self.scores = []

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
            if logs is not None:
                logs["val_accuracy"] = coverage
            print("epoch %d: d_loss %.4f g_loss %.4f fd %.2f recognised %.3f coverage %.2f" % (
                epoch + 1, logs["d_loss"], logs["g_loss"], fd, recognised, coverage),
                flush=True)

    class LossLog(keras.callbacks.Callback):
        """The per-batch d_loss and g_loss (fit's logs hold the last batch's only)."""

        def __init__(self):
            super().__init__()
            self.d, self.g, self.epochs = [], [], []

        def on_train_batch_end(self, batch, logs=None):
            self.d.append(float(logs["d_loss"]))
            self.g.append(float(logs["g_loss"]))

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append((self.d, self.g))
            self.d, self.g = [], []

    generator_optimizer = keras.optimizers.Adam(learning_rate=args.lr, beta_1=0.5, beta_2=0.9)
    discriminator_optimizer = keras.optimizers.Adam(learning_rate=args.lr, beta_1=0.5,
                                                    beta_2=0.9)
    wgan = WGAN(discriminator=get_critic_model(), generator=get_generator_model(),
                latent_dim=LATENT, discriminator_extra_steps=args.d_steps,
                gp_weight=args.gp_weight)
    wgan.compile(d_optimizer=discriminator_optimizer, g_optimizer=generator_optimizer,
                 g_loss_fn=generator_loss, d_loss_fn=discriminator_loss)
    quality, losses = SampleQuality(), LossLog()
    wgan.fit(x_train, batch_size=args.batch_size, epochs=args.epochs, verbose=0,
             callbacks=[losses, quality] + common.recording.keras_callbacks(
                 args.out, loss_key="d_loss", objective="adversarial"))

    first, last = losses.epochs[0], losses.epochs[-1]
    fd, recognised, coverage = quality.scores[-1]
    steps = -(-len(x_train) // args.batch_size) * len(losses.epochs)
    all_d = [v for e in losses.epochs for v in e[0] + e[1]]
    common.report({
        "steps": steps, "epochs": len(losses.epochs),
        "first_loss": float(np.mean(first[0])), "loss": float(np.mean(last[0])),
        "g_loss": float(np.mean(last[1])), "val_accuracy": coverage,
        "fd": fd, "fd_real": fd_real, "recognised": recognised,
        "classifier_val_accuracy": float(clf_acc),
        "nan": any(not np.isfinite(v) for v in all_d),
        "layers": ["g_dense", "g_bn1", "g_conv", "g_bn2", "g_out",
                   "c_conv1", "c_conv2", "c_out"]})


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kwgan-critic-sigmoid", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong activation function for the output layer (a "
               "sigmoid at the end of a Wasserstein critic, kept from a DCGAN discriminator); "
               "Stack Overflow: 'WGAN critic with sigmoid output does not converge'",
     "bug": "the critic's Dense(1) has activation='sigmoid': its scores are squeezed into "
            "(0, 1), the Wasserstein estimate cannot exceed 1 and the gradient penalty cannot "
            "be met (the critic's loss, penalty included, is 6.30 in the first epoch and 0.70 "
            "in the 25th, against the twin's 0.93 and -0.38); the generator learns slowly: "
            "after 25 epochs the Frechet distance of its samples to the held-out digits in "
            "the classifier's features is 19.6 (the twin's 2.30, real digits 0.63), 34% of "
            "them recognised (42%) and a digit coverage of 0.6 (0.8)",
     "fix": "Dense(1) without an activation: the critic returns an unbounded score",
     "symptom": "saturation",
     "acceptable_symptoms": ["loss_mismatch", "vanishing_gradient", "slow_convergence"],
     "root_cause": {"layer_name": "critic/c_out", "layer_index": 7},
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug sigmoid-critic --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kwgan-critic-loss-sign", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function (the critic's Wasserstein loss with "
               "its sign turned around)",
     "bug": "discriminator_loss returns mean(real) - mean(fake): the critic scores generated "
            "images high and real ones low, which is what the generator's loss asks for too, "
            "so nothing pulls the samples towards the digits; the critic's loss goes from -1.96 "
            "in the first epoch to -16.1, the samples hardly change after the fifth epoch "
            "(a Frechet distance of 190.2 to 190.3; the twin's 2.28, real digits 0.58), none "
            "recognised (44%) and a digit coverage of 0.0 (0.7)",
     "fix": "discriminator_loss returns mean(fake) - mean(real)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug loss-sign --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "kwgan-unscaled-pixels", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing preprocessing (pixels left at 0..16 for a "
               "generator whose tanh output ends in [-1, 1]); AUTOTRAINER / DeepDiagnosis: "
               "unnormalized input",
     "bug": "the digits are left at 0..16: the real images lie outside the tanh generator's "
            "range, the critic separates them at once (its loss -38 in the first epoch, -124 "
            "in the 25th) and the generator's tanh output is pushed to its bound; its samples "
            "are never recognised by the classifier trained on the same unscaled digits "
            "(recognised 0%, coverage 0.0, a Frechet distance of 2069 where real digits give "
            "13.0) against the twin's 40%, 1.0 and 2.29 (real 0.54)",
     "fix": "images = (digits.images - 8) / 8, in [-1, 1]",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--bug unscaled --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kwgan", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a WGAN-GP on 8x8 digits with a custom train_step (critic steps with a "
                    "gradient penalty, then a generator step) whose samples the fixed "
                    "classifier recognises",
     "healthy": [
         {"id": "dsteps5-lr3e-4-seed4",
          "args": "--d-steps 5 --lr 3e-4 --seed 4 --record-every 4",
          "description": "five critic steps a generator step, both Adams at 3e-4"},
         {"id": "bs32-seed5",
          "args": "--batch-size 32 --seed 5 --record-every 4",
          "description": "batches of 32"},
     ]},
]


if __name__ == "__main__":
    main()
