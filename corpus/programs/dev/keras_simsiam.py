"""SimSiam self-supervised pre-training (Chen & He 2021) in Keras 3 on scikit-learn's 8x8 digits,
then a linear probe, written the way the keras.io example "Self-supervised contrastive learning
with SimSiam" (Sayak Paul) is: a ``SimSiam(keras.Model)`` holding an ``encoder`` (a small CNN
backbone and the projection MLP) and a ``predictor`` MLP, with its own ``train_step``: two
augmented views of each batch, ``z1, z2 = encoder(view)``, ``p1, p2 = predictor(z)``, and the
loss ``compute_loss(p1, z2) / 2 + compute_loss(p2, z1) / 2``, where ``compute_loss(p, z)`` is the
negative cosine similarity of the l2-normalized ``p`` and ``tf.stop_gradient(z)``; a loss tracker
(``loss``) and, as the paper monitors collapse, the standard deviation of the l2-normalized
projections over the batch (``z_std``: 1/sqrt(--proj-dim) for spread-out outputs, 0 for a
collapsed encoder). Trained with ``fit``; ``test_step`` gives the same loss on two views of the
held-out images. Then the frozen backbone and a ``Dense`` softmax (the linear probe) are trained
with ``fit`` on a few labelled images, as the example's linear evaluation.

The data: the 1797 digits scaled to [0, 1] as 8x8x1 images, 20% held out (stratified); every
training image is used without its label for pre-training, --labels-per-class of them with
their labels for the probe. Augmentation (``keras.Sequential``, applied in ``train_step``):
``RandomTranslation(0.15, 0.15)``, ``RandomZoom(0.2)``, ``RandomContrast(0.4)`` and
``GaussianNoise(0.1)``.

The backbone (``Sequential``): ``Conv2D(32, 3, relu)`` (``conv1``), ``Conv2D(64, 3, strides=2,
relu)`` (``conv2``), ``Flatten``; the projection MLP as the example's:
``Dense(--proj-dim)`` (``proj_dense1``), ``BatchNormalization`` (``proj_bn1``), ReLU,
``Dense(--proj-dim)`` (``proj_dense2``), ``BatchNormalization`` (``proj_bn2``); the predictor
``Dense(--latent-dim, relu)`` (``pred_dense1``), ``BatchNormalization`` (``pred_bn``),
``Dense(--proj-dim)`` (``pred_dense2``). SGD with momentum (``--lr``, ``--momentum`` 0.6, a
cosine decay over the run, as the example).

Recorded (``--out``): the pre-training ``fit``. The model overrides ``train_step``, so the
recorder runs in callback mode (recorders/README.md); the probe's ``fit`` is not recorded. The
result line's ``loss`` is the SimSiam loss, ``val_accuracy`` the probe's held-out accuracy, and it
adds the probe's accuracy on the untrained backbone (``untrained_probe_accuracy``) and the last
epoch's ``z_std``. The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def build(keras, args, steps):
    import tensorflow as tf
    from keras import layers

    def get_augmenter():
        return keras.Sequential([
            keras.Input(shape=(8, 8, 1)),
            layers.RandomTranslation(0.15, 0.15, seed=args.seed),
            layers.RandomZoom(0.2, seed=args.seed + 1),
            layers.RandomContrast(0.4, seed=args.seed + 2, value_range=(0, 1)),
            layers.GaussianNoise(0.1, seed=args.seed + 3),
        ], name="augmenter")

    def get_backbone():
        return keras.Sequential([
            keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="conv2"),
            layers.Flatten(name="flatten"),
            layers.Dense(args.width, activation="relu", name="enc_dense"),
        ], name="backbone")

    def get_encoder(backbone):
        inputs = keras.Input(shape=(8, 8, 1))
        x = backbone(inputs)
        x = layers.Dense(args.proj_dim, use_bias=False, name="proj_dense1")(x)
        x = layers.BatchNormalization(name="proj_bn1")(x)
        x = layers.ReLU(name="proj_relu")(x)
        outputs = layers.Dense(args.proj_dim, name="proj_dense2")(x)
        return keras.Model(inputs, outputs, name="encoder")

    def get_predictor():
        return keras.Sequential([
            keras.Input(shape=(args.proj_dim,)),
            layers.Dense(args.latent_dim, use_bias=False, activation="relu",
                         name="pred_dense1"),
            layers.BatchNormalization(name="pred_bn"),
            layers.Dense(args.proj_dim, name="pred_dense2"),
        ], name="predictor")

    def compute_loss(p, z):
        if args.bug != "no-stop-gradient":
            # The authors of SimSiam emphasize the impact of the `stop_gradient` operator
            # in the paper as it has an important role in the overall optimization.
            z = tf.stop_gradient(z)
        # BUG (no-stop-gradient): z used as it is, the gradient flows into both branches.
        p = tf.math.l2_normalize(p, axis=1)
        z = tf.math.l2_normalize(z, axis=1)
        # Negative cosine similarity (minimizing this is equivalent to maximizing the
        # similarity).
        if args.bug == "loss-sign":
            # BUG (loss-sign): the minus sign dropped: the cosine similarity is minimized.
            return tf.reduce_mean(tf.reduce_sum((p * z), axis=1))
        return -tf.reduce_mean(tf.reduce_sum((p * z), axis=1))

    class SimSiam(keras.Model):
        def __init__(self):
            super().__init__(name="simsiam")
            self.augmenter = get_augmenter()
            self.backbone = get_backbone()
            self.encoder = get_encoder(self.backbone)
            self.predictor = get_predictor()
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.z_std_tracker = keras.metrics.Mean(name="z_std")

        @property
        def metrics(self):
            return [self.loss_tracker, self.z_std_tracker]

        def call(self, x, training=False):
            return self.predictor(self.encoder(x, training=training), training=training)

        def views(self, images):
            one = self.augmenter(images, training=True)
            if args.bug == "same-view":
                # BUG (same-view): the second view is the first one again.
                two = one
            else:
                two = self.augmenter(images, training=True)
            return one, two

        def train_step(self, data):
            images = data[0] if isinstance(data, tuple) else data
            ds_one, ds_two = self.views(images)
            # Forward pass through the encoder and predictor.
            with tf.GradientTape() as tape:
                z1, z2 = self.encoder(ds_one, training=True), self.encoder(ds_two, training=True)
                p1, p2 = (self.predictor(z1, training=True),
                          self.predictor(z2, training=True))
                # Note that here we are enforcing the similarity between
                # two different views.
                loss = compute_loss(p1, z2) / 2 + compute_loss(p2, z1) / 2
            # Compute gradients and update the parameters.
            learnable_params = (self.encoder.trainable_variables
                                + self.predictor.trainable_variables)
            gradients = tape.gradient(loss, learnable_params)
            self.optimizer.apply_gradients(zip(gradients, learnable_params))
            self.loss_tracker.update_state(loss)
            zn = tf.math.l2_normalize(z1, axis=1)
            self.z_std_tracker.update_state(tf.reduce_mean(tf.math.reduce_std(zn, axis=0)))
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            images = data[0] if isinstance(data, tuple) else data
            ds_one, ds_two = self.views(images)
            z1, z2 = self.encoder(ds_one, training=False), self.encoder(ds_two, training=False)
            p1, p2 = self.predictor(z1, training=False), self.predictor(z2, training=False)
            loss = compute_loss(p1, z2) / 2 + compute_loss(p2, z1) / 2
            self.loss_tracker.update_state(loss)
            zn = tf.math.l2_normalize(z1, axis=1)
            self.z_std_tracker.update_state(tf.reduce_mean(tf.math.reduce_std(zn, axis=0)))
            return {m.name: m.result() for m in self.metrics}

    model = SimSiam()
    lr = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.SGD(lr, momentum=args.momentum))
    return model


def probe_accuracy(keras, backbone, x_lab, y_lab, x_val, y_val, epochs):
    """The linear evaluation: the frozen backbone and a softmax layer on the labelled images."""
    from keras import layers
    backbone.trainable = False
    # as in MAE's linear probing: a BatchNormalization without affine parameters before the
    # linear classifier, so that the features' scale does not matter
    probe = keras.Sequential([keras.Input(shape=(8, 8, 1)), backbone,
                              layers.BatchNormalization(center=False, scale=False,
                                                        name="probe_bn"),
                              layers.Dense(10, activation="softmax", name="probe")],
                             name="linear_probe")
    probe.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = probe.fit(x_lab, y_lab, batch_size=32, epochs=epochs, validation_data=(x_val, y_val),
                  verbose=0).history
    backbone.trainable = True
    return float(h["val_accuracy"][-1]), float(h["val_loss"][-1])


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64, help="units of the backbone's Dense layer")
    p.add_argument("--proj-dim", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.6)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--labels-per-class", type=int, default=20)
    p.add_argument("--probe-epochs", type=int, default=60)
    p.add_argument("--bug", default=None,
                   choices=("no-stop-gradient", "loss-sign", "same-view"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
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

    steps_per_epoch = -(-len(x_train) // args.batch_size)
    model = build(keras, args, steps_per_epoch * args.epochs)
    model(x_train[:2])  # the weights before fit
    untrained = model.backbone.get_weights()
    untrained_acc, _ = probe_accuracy(keras, model.backbone, x_train[labelled],
                                      y_train[labelled], x_val, y_val, args.probe_epochs)
    model.backbone.set_weights(untrained)
    print("probe on the untrained backbone: %.3f" % untrained_acc)

    history = model.fit(
        x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True, verbose=0,
        validation_data=(x_val,),
        callbacks=common.recording.keras_callbacks(
            args.out, task="regression", loss_name="negative_cosine_similarity"))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f z_std %.4f val loss %.4f" % (
            e + 1, h["loss"][e], h["z_std"][e], h["val_loss"][e]))

    probe_acc, probe_loss = probe_accuracy(keras, model.backbone, x_train[labelled],
                                           y_train[labelled], x_val, y_val, args.probe_epochs)
    print("probe: val loss %.4f val acc %.3f (untrained backbone %.3f)" % (
        probe_loss, probe_acc, untrained_acc))
    result = {"steps": steps_per_epoch * len(h["loss"]), "epochs": len(h["loss"]),
              "first_loss": h["loss"][0], "loss": h["loss"][-1],
              "val_loss": float(h["val_loss"][-1]), "val_accuracy": probe_acc,
              "probe_loss": probe_loss, "untrained_probe_accuracy": untrained_acc,
              "z_std": float(h["z_std"][-1]),
              "nan": any(not np.isfinite(v) for v in h["loss"]),
              "layers": [layer.name for layer in model.backbone.layers if layer.weights]
              + [layer.name for layer in model.encoder.layers
                 if layer.weights and layer.name != "backbone"]
              + [layer.name for layer in model.predictor.layers if layer.weights]}
    common.report(result)


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ksimsiam-no-stop-gradient", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (training: wrong gradient flow); SimSiam's collapse "
               "without the stop-gradient on the projection branch (Chen & He 2021, Fig. 2), "
               "a frequent question on the SimSiam repositories and Stack Overflow",
     "bug": "compute_loss uses z without tf.stop_gradient: both branches are pulled towards "
            "each other, the outputs collapse towards one direction (the loss falls from "
            "-0.158 to -0.956, z_std 0.054 against 1/8 for spread-out outputs) and the "
            "20-labels-a-class linear probe on the frozen backbone ends at 0.433, where the "
            "twin's loss falls from -0.085 to -0.818 (z_std 0.088) and its probe reaches 0.767 "
            "(the untrained backbone: 0.853)",
     "fix": "z = tf.stop_gradient(z) in compute_loss",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed0",
          "buggy": "--bug no-stop-gradient --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "healthy-ksimsiam", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "SimSiam pre-training of a small CNN backbone with a projection and a "
                    "predictor MLP in a custom train_step on digits (recorded), then a linear "
                    "probe, that trains well",
     "healthy": [
         {"id": "proj32-bs64-seed2",
          "args": "--proj-dim 32 --batch-size 64 --seed 2 --record-every 4",
          "description": "projection width 32, batches of 64: the loss falls from -0.235 "
                         "to -0.833 (z_std 0.126), the probe reaches 0.847 (the untrained "
                         "backbone: 0.861)"},
     ]},
]


if __name__ == "__main__":
    main()
