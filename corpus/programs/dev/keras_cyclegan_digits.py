"""CycleGAN (Zhu et al. 2017), scaled down in Keras 3, written the way the keras.io example
"CycleGAN" (A_K_Nain) writes it: two ResNet-style generators with instance normalization
(``gen_G``: X to Y, ``gen_F``: Y to X), two PatchGAN discriminators (``disc_X``, ``disc_Y``), a
``CycleGan(keras.Model)`` with its own ``compile`` (four optimizers, the generator and the
discriminator loss functions) and a ``train_step`` that, under one persistent
``GradientTape``, translates both ways, cycles back and maps each domain onto itself, then adds
up for each generator the least-squares adversarial loss (``MeanSquaredError`` against ones),
the cycle-consistency loss (mean absolute error, weight ``--lambda-cycle`` 10) and the identity
loss (mean absolute error, weight ``--lambda-identity`` 0.5 x 10), and for each discriminator
the least-squares loss of real patches against ones and generated patches against zeros,
halved; each of the four networks is stepped by its own ``Adam(--lr 2e-4, beta_1=0.5)``.

Data, two unpaired image domains the program makes from scikit-learn's digits: the 8x8 grey
levels divided by 16 and upsampled to 16x16 (each pixel repeated 2x2), 20% held out
(stratified); the training digits are split into two disjoint halves, domain X is the first
half as drawn, domain Y the second half thickened (a 3x3 maximum filter) and inverted
(``1 - x``), both scaled to [-1, 1] for the generators' tanh; ``fit`` on the two halves zipped
after each has been shuffled on its own (718 pairs, batches of 32: 23 steps an epoch,
``--epochs`` 15). The held-out digits give the held-out X images and, made the same way, Y
images of other held-out digits.

Generator (``Sequential``, ``gen_G`` / ``gen_F``, layers ``g_``/``f_`` + name):
``Conv2D(16, 5, same)`` (``c1``), instance norm (``GroupNormalization(groups=-1)``, ``in1``),
ReLU; ``Conv2D(32, 3, strides=2)`` (``down``, to 8x8), ``in2``, ReLU; two residual blocks
(``rK_conv1``, ``rK_in1``, ReLU, ``rK_conv2``, ``rK_in2``, added to the block's input);
``Conv2DTranspose(16, 3, strides=2)`` (``up``, to 16x16), ``in3``, ReLU; ``Conv2D(1, 5, same,
tanh)`` (``out``). Discriminator (``Sequential``, ``disc_X`` / ``disc_Y``, layers ``dx_``/``dy_``
+ name): ``Conv2D(16, 4, strides=2)`` (``c1``), LeakyReLU(0.2); ``Conv2D(32, 4, strides=2)``
(``c2``), instance norm (``in2``), LeakyReLU(0.2); ``Conv2D(1, 4, same)`` (``out``): a 4x4 map of
patch scores. The example's reflection padding is zero padding here and its 9 residual blocks
two.

Measured after every epoch on the held-out images: the cycle reconstruction error (mean
absolute error of F(G(x)) against x and of G(F(y)) against y, on the [0, 1] scale,
``cycle_error``), the share of translated images (G(x) and F(y)) that a logistic-regression
domain classifier, fitted on the real training images of the two domains, assigns to the
target domain (``domain_accuracy``, written into the epoch's logs as ``val_accuracy``; 0 for
a generator that copies its input), and the held-out generator loss ``val_G_loss``.

Recorded (``--out``): the model overrides ``train_step``, so the recorder runs in callback mode
(the layers' outputs of their last call in the step, the weights, the gradients the four
optimizers apply), with ``gen_G``'s total loss (``G_loss``, a Mean tracker) as the loss
declared ``objective="adversarial"`` and its held-out value ``val_G_loss``, and the domain
accuracy as ``val_accuracy``. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lambda-identity``, ``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def make_domains(seed):
    from scipy.ndimage import maximum_filter
    x, y = common.load("digits")
    x = (x / 16.0).reshape(-1, 8, 8)
    x = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    x_tr, x_val, y_tr, y_val = common.split(x, y.astype("int64"), val=0.2, seed=seed)

    def to_y(imgs):
        return 1.0 - maximum_filter(imgs, size=(1, 3, 3))

    half = len(x_tr) // 2
    val_half = len(x_val) // 2
    dom = {
        "x_train": x_tr[:half], "y_train": to_y(x_tr[half:2 * half]),
        "x_val": x_val[:val_half], "y_val": to_y(x_val[val_half:2 * val_half]),
        "x_val_labels": y_val[:val_half], "y_train_labels": y_tr[half:2 * half],
    }
    # to [-1, 1], with a channel axis
    return {k: ((v * 2.0 - 1.0)[..., None].astype("float32") if "labels" not in k else v)
            for k, v in dom.items()}


def build_generator(keras, prefix):
    from keras import layers
    inp = keras.Input((16, 16, 1))

    def inorm(name):
        return layers.GroupNormalization(groups=-1, name=prefix + name)

    x = layers.Conv2D(16, 5, padding="same", name=prefix + "c1")(inp)
    x = layers.ReLU()(inorm("in1")(x))
    x = layers.Conv2D(32, 3, strides=2, padding="same", name=prefix + "down")(x)
    x = layers.ReLU()(inorm("in2")(x))
    for k in (1, 2):
        r = layers.Conv2D(32, 3, padding="same", name=prefix + "r%d_conv1" % k)(x)
        r = layers.ReLU()(inorm("r%d_in1" % k)(r))
        r = layers.Conv2D(32, 3, padding="same", name=prefix + "r%d_conv2" % k)(r)
        r = inorm("r%d_in2" % k)(r)
        x = layers.Add()([x, r])
    x = layers.Conv2DTranspose(16, 3, strides=2, padding="same", name=prefix + "up")(x)
    x = layers.ReLU()(inorm("in3")(x))
    out = layers.Conv2D(1, 5, padding="same", activation="tanh", name=prefix + "out")(x)
    return keras.Model(inp, out, name="gen_" + ("G" if prefix == "g_" else "F"))


def build_discriminator(keras, prefix):
    from keras import layers
    inp = keras.Input((16, 16, 1))
    x = layers.Conv2D(16, 4, strides=2, padding="same", name=prefix + "c1")(inp)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    x = layers.Conv2D(32, 4, strides=2, padding="same", name=prefix + "c2")(x)
    x = layers.GroupNormalization(groups=-1, name=prefix + "in2")(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    out = layers.Conv2D(1, 4, padding="same", name=prefix + "out")(x)
    return keras.Model(inp, out, name="disc_" + ("X" if prefix == "dx_" else "Y"))


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--lambda-cycle", type=float, default=10.0)
    p.add_argument("--lambda-identity", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--bug", default=None,
                   choices=("no-cycle-loss", "real-fake-swapped", "one-optimizer"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from sklearn.linear_model import LogisticRegression

    bug = args.bug
    d = make_domains(args.seed)
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    domain_clf = LogisticRegression(max_iter=2000).fit(
        np.concatenate([flat(d["x_train"]), flat(d["y_train"])]),
        np.r_[np.zeros(len(d["x_train"])), np.ones(len(d["y_train"]))])

    adv_loss_fn = keras.losses.MeanSquaredError()

    def generator_loss_fn(fake):
        return adv_loss_fn(tf.ones_like(fake), fake)

    def discriminator_loss_fn(real, fake):
        if bug == "real-fake-swapped":
            # BUG (real-fake-swapped): the real patches are pushed to 0 and the generated ones
            # to 1, while the generators are still trained towards 1 ("real")
            real_loss = adv_loss_fn(tf.zeros_like(real), real)
            fake_loss = adv_loss_fn(tf.ones_like(fake), fake)
        else:
            real_loss = adv_loss_fn(tf.ones_like(real), real)
            fake_loss = adv_loss_fn(tf.zeros_like(fake), fake)
        return (real_loss + fake_loss) * 0.5

    class CycleGan(keras.Model):
        def __init__(self, generator_G, generator_F, discriminator_X, discriminator_Y,
                     lambda_cycle=10.0, lambda_identity=0.5):
            super().__init__()
            self.gen_G = generator_G
            self.gen_F = generator_F
            self.disc_X = discriminator_X
            self.disc_Y = discriminator_Y
            self.lambda_cycle = lambda_cycle
            self.lambda_identity = lambda_identity
            self.trackers = {k: keras.metrics.Mean(name=k)
                             for k in ("G_loss", "F_loss", "D_X_loss", "D_Y_loss")}

        @property
        def metrics(self):
            return list(self.trackers.values())

        def call(self, inputs):
            return self.gen_G(inputs)

        def compile(self, gen_G_optimizer, gen_F_optimizer, disc_X_optimizer,
                    disc_Y_optimizer, gen_loss_fn, disc_loss_fn):
            super().compile()
            self.gen_G_optimizer = gen_G_optimizer
            self.gen_F_optimizer = gen_F_optimizer
            self.disc_X_optimizer = disc_X_optimizer
            self.disc_Y_optimizer = disc_Y_optimizer
            self.generator_loss_fn = gen_loss_fn
            self.discriminator_loss_fn = disc_loss_fn
            self.cycle_loss_fn = keras.losses.MeanAbsoluteError()
            self.identity_loss_fn = keras.losses.MeanAbsoluteError()

        def losses_of(self, real_x, real_y, training):
            fake_y = self.gen_G(real_x, training=training)
            fake_x = self.gen_F(real_y, training=training)
            cycled_x = self.gen_F(fake_y, training=training)
            cycled_y = self.gen_G(fake_x, training=training)
            same_x = self.gen_F(real_x, training=training)
            same_y = self.gen_G(real_y, training=training)
            disc_real_x = self.disc_X(real_x, training=training)
            disc_fake_x = self.disc_X(fake_x, training=training)
            disc_real_y = self.disc_Y(real_y, training=training)
            disc_fake_y = self.disc_Y(fake_y, training=training)
            gen_G_loss = self.generator_loss_fn(disc_fake_y)
            gen_F_loss = self.generator_loss_fn(disc_fake_x)
            cycle_loss_G = self.cycle_loss_fn(real_y, cycled_y) * self.lambda_cycle
            cycle_loss_F = self.cycle_loss_fn(real_x, cycled_x) * self.lambda_cycle
            id_loss_G = (self.identity_loss_fn(real_y, same_y)
                         * self.lambda_cycle * self.lambda_identity)
            id_loss_F = (self.identity_loss_fn(real_x, same_x)
                         * self.lambda_cycle * self.lambda_identity)
            if bug == "no-cycle-loss":
                # BUG (no-cycle-loss): the cycle-consistency terms are left out of the
                # generators' totals (only the adversarial and identity losses remain)
                total_loss_G = gen_G_loss + id_loss_G
                total_loss_F = gen_F_loss + id_loss_F
            else:
                total_loss_G = gen_G_loss + cycle_loss_G + id_loss_G
                total_loss_F = gen_F_loss + cycle_loss_F + id_loss_F
            disc_X_loss = self.discriminator_loss_fn(disc_real_x, disc_fake_x)
            disc_Y_loss = self.discriminator_loss_fn(disc_real_y, disc_fake_y)
            return {"G_loss": total_loss_G, "F_loss": total_loss_F,
                    "D_X_loss": disc_X_loss, "D_Y_loss": disc_Y_loss}

        def train_step(self, batch_data):
            real_x, real_y = batch_data
            with tf.GradientTape(persistent=True) as tape:
                losses = self.losses_of(real_x, real_y, training=True)
            if bug == "one-optimizer":
                # BUG (one-optimizer): the four losses added up and one optimizer steps every
                # variable: the generators' losses also move the discriminators (towards
                # calling the generated images real) and the discriminators' losses the
                # generators
                total = (losses["G_loss"] + losses["F_loss"] + losses["D_X_loss"]
                         + losses["D_Y_loss"])
                variables = self.trainable_variables
                grads = tape.gradient(total, variables)
                self.gen_G_optimizer.apply_gradients(zip(grads, variables))
            else:
                pairs = ((losses["G_loss"], self.gen_G, self.gen_G_optimizer),
                         (losses["F_loss"], self.gen_F, self.gen_F_optimizer),
                         (losses["D_X_loss"], self.disc_X, self.disc_X_optimizer),
                         (losses["D_Y_loss"], self.disc_Y, self.disc_Y_optimizer))
                grads = [tape.gradient(loss, net.trainable_variables) for loss, net, _ in pairs]
                for g, (_, net, opt) in zip(grads, pairs):
                    opt.apply_gradients(zip(g, net.trainable_variables))
            del tape
            for k, v in losses.items():
                self.trackers[k].update_state(v)
            return {k: t.result() for k, t in self.trackers.items()}

    gan = CycleGan(build_generator(keras, "g_"), build_generator(keras, "f_"),
                   build_discriminator(keras, "dx_"), build_discriminator(keras, "dy_"),
                   lambda_cycle=args.lambda_cycle, lambda_identity=args.lambda_identity)

    def adam():
        return keras.optimizers.Adam(learning_rate=args.lr, beta_1=0.5)

    gan.compile(gen_G_optimizer=adam(), gen_F_optimizer=adam(), disc_X_optimizer=adam(),
                disc_Y_optimizer=adam(), gen_loss_fn=generator_loss_fn,
                disc_loss_fn=discriminator_loss_fn)

    class HeldOut(keras.callbacks.Callback):
        """Cycle error, domain accuracy and the held-out G loss after every epoch."""

        def __init__(self):
            super().__init__()
            self.rows = []

        def measure(self):
            m = self.model
            xv, yv = tf.constant(d["x_val"]), tf.constant(d["y_val"])
            fake_y = m.gen_G(xv, training=False)
            fake_x = m.gen_F(yv, training=False)
            cyc_x = m.gen_F(fake_y, training=False).numpy()
            cyc_y = m.gen_G(fake_x, training=False).numpy()
            cycle_error = 0.5 * (np.abs(cyc_x - d["x_val"]).mean()
                                 + np.abs(cyc_y - d["y_val"]).mean()) / 2.0
            fy, fx = fake_y.numpy(), fake_x.numpy()
            domain_acc = 0.5 * ((domain_clf.predict(flat(fy)) == 1).mean()
                                + (domain_clf.predict(flat(fx)) == 0).mean())
            n = min(len(xv), len(yv))
            val = m.losses_of(xv[:n], yv[:n], training=False)
            return float(cycle_error), float(domain_acc), float(val["G_loss"]), fy

        def on_epoch_end(self, epoch, logs=None):
            cycle_error, domain_acc, val_g, fy = self.measure()
            logs["val_G_loss"] = val_g
            logs["val_accuracy"] = domain_acc
            self.rows.append({k: float(logs[k]) for k in ("G_loss", "F_loss", "D_X_loss",
                                                          "D_Y_loss")})
            self.rows[-1].update(cycle_error=cycle_error, domain_accuracy=domain_acc,
                                 val_G_loss=val_g)
            print("epoch %d: G %.4f F %.4f D_X %.4f D_Y %.4f | held-out G %.4f cycle error "
                  "%.4f domain acc %.3f" % (
                      epoch + 1, logs["G_loss"], logs["F_loss"], logs["D_X_loss"],
                      logs["D_Y_loss"], val_g, cycle_error, domain_acc),
                  flush=True)

    held_out = HeldOut()
    train = tf.data.Dataset.zip((
        tf.data.Dataset.from_tensor_slices(d["x_train"]).shuffle(1024, seed=args.seed),
        tf.data.Dataset.from_tensor_slices(d["y_train"]).shuffle(1024, seed=args.seed + 1),
    )).batch(args.batch_size)
    gan.fit(train, epochs=args.epochs, verbose=0,
            callbacks=[held_out] + common.recording.keras_callbacks(
                args.out, loss_key="G_loss", objective="adversarial",
                batch_size=args.batch_size))

    rows = held_out.rows
    steps_per_epoch = -(-len(d["x_train"]) // args.batch_size)
    layers = [l.name for net in (gan.gen_G, gan.gen_F, gan.disc_X, gan.disc_Y)
              for l in net.layers if l.weights]
    common.report({
        "steps": steps_per_epoch * len(rows), "epochs": len(rows),
        "first_loss": rows[0]["G_loss"], "loss": rows[-1]["G_loss"],
        "val_loss": rows[-1]["val_G_loss"], "val_accuracy": rows[-1]["domain_accuracy"],
        "cycle_error": rows[-1]["cycle_error"],
        "d_x_loss": rows[-1]["D_X_loss"], "d_y_loss": rows[-1]["D_Y_loss"],
        "nan": any(not np.isfinite(v) for r in rows for v in r.values()),
        "layers": layers})


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kcyclegan-no-cycle-loss", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing loss term (the cycle-consistency loss of an "
               "unpaired translation model left out); GitHub issues of CycleGAN ports: "
               "'translated images look like the target domain but lose the input content'",
     "bug": "the generators' totals hold only the least-squares adversarial and the identity "
            "losses: the translations look like the target domain (domain accuracy 1.000) but "
            "nothing ties them to their input, and translating back does not recover it; the "
            "held-out cycle error is 0.222 after 15 epochs (the fixed twin: 0.0886, domain "
            "accuracy 1.000)",
     "fix": "add cycle_loss_G / cycle_loss_F (weight 10) to the generators' totals",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug no-cycle-loss --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "kcyclegan-real-fake-swapped", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong labels for the discriminator (real and generated "
               "targets swapped in a least-squares GAN loss); Stack Overflow: 'GAN "
               "discriminator loss goes to zero, generator output does not change domain'",
     "bug": "the discriminators push real patches to 0 and generated ones to 1 while the "
            "generators are still trained towards 1: the discriminators' loss falls to 0.017 "
            "and 0.022 and give the generators no reason to leave their own domain; the "
            "translations, held to the input by the cycle and identity losses, stay in the "
            "source domain: the domain classifier puts 0.275 of them in the target domain "
            "after 15 epochs, with a held-out cycle error of 0.0690 (the fixed twin: 1.000, "
            "cycle error 0.0843)",
     "fix": "real patches against ones, generated patches against zeros",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--bug real-fake-swapped --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kcyclegan", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "the keras.io CycleGAN scaled down (ResNet generators with instance norm, "
                    "PatchGAN discriminators, least-squares, cycle and identity losses, four "
                    "Adams in its own train_step) between digits as drawn and thickened, "
                    "inverted digits, that translates both ways",
     "healthy": [
         {"id": "seed1",
          "args": "--seed 1 --record-every 4",
          "description": "the defaults at seed 1: held-out cycle error 0.0822, domain "
                         "accuracy 1.000"},
     ]},
]


if __name__ == "__main__":
    main()
