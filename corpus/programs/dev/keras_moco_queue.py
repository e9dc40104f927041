"""MoCo v2 (momentum contrast; He et al. 2020, "Momentum Contrast for Unsupervised Visual
Representation Learning"; Chen et al. 2020, "Improved Baselines with Momentum Contrastive
Learning") in Keras 3 on scikit-learn's 8x8 digits, scaled down and written the way the Keras
ports of the official ``moco/builder.py`` write it: a ``MoCo(keras.Model)`` with its own
``train_step``; a query encoder (a small conv net and an MLP projection head, trained by the
optimizer), a key encoder of the same architecture whose weights are the exponential moving
average of the query encoder's (``k = m * k + (1 - m) * q`` after each step, never touched by
the optimizer), a queue of ``--queue`` negative keys held in a non-trainable ``tf.Variable``
(the batch's keys enqueued, the oldest dequeued, every step), and the InfoNCE loss: the logits
are the positive logit ``q . k`` and the ``K`` queue logits ``q . queue``, divided by the
temperature, under a cross-entropy whose label is 0 (the positive is the first column).

The data: the 1797 digits divided by 16 (grey levels to [0, 1]) as 8x8x1 images, 20% held out
(stratified). Each training image gets two random views (``augment``: a random shift of up to
one pixel each way, Gaussian noise of std 0.1 and a random 3x3 cutout), one for the query, one
for the key. The query encoder (``Sequential``, ``q_encoder``): ``Conv2D(32, 3)`` (``q_conv1``),
``BatchNormalization`` (``q_bn1``), ``ReLU``, ``Conv2D(64, 3, strides=2)`` (``q_conv2``),
``BatchNormalization`` (``q_bn2``), ``ReLU``, ``Flatten``, ``Dense(--width, relu)``
(``q_dense``), and the MLP head ``Dense(--width)`` (``q_proj1``), ``BatchNormalization``
(``q_bn3``), ``ReLU`` and ``Dense(--dim)`` (``q_proj2``); the key encoder is the same with
``k_`` names, run with batch statistics, its variables never given to the optimizer. Adam
(``--lr`` 3e-3; ``--optimizer sgd``: SGD with momentum 0.9), batches of 128, 20 epochs,
momentum m 0.99, temperature 0.2, a queue of 512. The held-out InfoNCE loss (against the queue, no
enqueue) is the validation loss. After ``fit`` a linear probe (scikit-learn's logistic
regression) on the frozen query encoder's ``q_dense`` features of --labels-per-class labelled
training images per class gives the held-out accuracy (``probe_accuracy``).

Recorded (``--out``): the pre-training ``fit``, in callback mode (the model has its own
``train_step``; recorders/README.md). The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``, ``--temperature``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def build(keras, tf, args):
    from keras import layers

    def encoder(prefix):
        return keras.Sequential([
            keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", use_bias=False, name=prefix + "_conv1"),
            layers.BatchNormalization(name=prefix + "_bn1"),
            layers.ReLU(name=prefix + "_relu1"),
            layers.Conv2D(64, 3, strides=2, padding="same", use_bias=False,
                          name=prefix + "_conv2"),
            layers.BatchNormalization(name=prefix + "_bn2"),
            layers.ReLU(name=prefix + "_relu2"),
            layers.Flatten(name=prefix + "_flatten"),
            layers.Dense(args.width, activation="relu", name=prefix + "_dense"),
            layers.Dense(args.width, use_bias=False, name=prefix + "_proj1"),
            layers.BatchNormalization(name=prefix + "_bn3"),
            layers.ReLU(name=prefix + "_relu3"),
            layers.Dense(args.dim, name=prefix + "_proj2"),
        ], name=prefix + "_encoder")

    class MoCo(keras.Model):
        def __init__(self):
            super().__init__(name="moco")
            self.encoder_q = encoder("q")
            self.encoder_k = encoder("k")
            # the key encoder starts as a copy of the query encoder; no gradient reaches it (its
            # variables are not given to the optimizer), its batch norms use batch statistics
            self.encoder_k.set_weights(self.encoder_q.get_weights())
            self.m = args.momentum
            self.T = args.temperature
            queue = np.random.default_rng(args.seed).standard_normal(
                (args.queue, args.dim)).astype("float32")
            queue /= np.linalg.norm(queue, axis=1, keepdims=True)
            self.queue = tf.Variable(queue, trainable=False, name="queue")
            self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.acc = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            self.rng = keras.random.SeedGenerator(args.seed)

        @property
        def metrics(self):
            return [self.loss_tracker, self.acc]

        def call(self, x, training=False):
            return self.encoder_q(x, training=training)

        def augment(self, x):
            b = tf.shape(x)[0]
            # a random shift of up to one pixel each way (zero padding, random crop)
            padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
            off = keras.random.randint((2,), 0, 3, seed=self.rng)
            x = padded[:, off[0]:off[0] + 8, off[1]:off[1] + 8, :]
            x = x + 0.1 * keras.random.normal(tf.shape(x), seed=self.rng)
            # cutout: one random 3x3 square per image set to zero
            cy = keras.random.randint((b, 1, 1, 1), 0, 8, seed=self.rng)
            cx = keras.random.randint((b, 1, 1, 1), 0, 8, seed=self.rng)
            rows = tf.reshape(tf.range(8), (1, 8, 1, 1))
            cols = tf.reshape(tf.range(8), (1, 1, 8, 1))
            hole = (tf.abs(rows - cy) <= 1) & (tf.abs(cols - cx) <= 1)
            return tf.where(hole, 0.0, x)

        def logits(self, q, k):
            if args.bug != "no-normalize":
                q = tf.math.l2_normalize(q, axis=1)
                k = tf.math.l2_normalize(k, axis=1)
            # BUG (no-normalize): the query and key features enter the logits unnormalized
            l_pos = tf.reduce_sum(q * k, axis=1, keepdims=True)
            l_neg = tf.matmul(q, self.queue, transpose_b=True)
            logits = tf.concat([l_pos, l_neg], axis=1) / self.T
            if args.bug == "positive-index":
                # BUG (positive-index): the labels of a SimCLR batch (arange) instead of zeros
                labels = tf.range(tf.shape(q)[0])
            else:
                labels = tf.zeros(tf.shape(q)[0], dtype="int32")
            return logits, labels, k

        def train_step(self, data):
            x = data[0] if isinstance(data, tuple) else data
            im_q, im_k = self.augment(x), self.augment(x)
            if args.bug == "key-grad":
                # BUG (key-grad): the keys are computed under the tape and the key encoder is
                # trained by the optimizer with the query encoder
                variables = self.encoder_q.trainable_variables + \
                    self.encoder_k.trainable_variables
                with tf.GradientTape() as tape:
                    q = self.encoder_q(im_q, training=True)
                    k = self.encoder_k(im_k, training=True)
                    logits, labels, k = self.logits(q, k)
                    loss = self.loss_fn(labels, logits)
            else:
                variables = self.encoder_q.trainable_variables
                k = tf.stop_gradient(self.encoder_k(im_k, training=True))
                with tf.GradientTape() as tape:
                    q = self.encoder_q(im_q, training=True)
                    logits, labels, k = self.logits(q, k)
                    loss = self.loss_fn(labels, logits)
            grads = tape.gradient(loss, variables)
            self.optimizer.apply(grads, variables)
            # momentum update of the key encoder
            for wq, wk in zip(self.encoder_q.weights, self.encoder_k.weights):
                if args.bug == "momentum-swapped":
                    # BUG (momentum-swapped): m and 1 - m exchanged
                    wk.assign((1.0 - self.m) * wk + self.m * wq)
                else:
                    wk.assign(self.m * wk + (1.0 - self.m) * wq)
            # enqueue the batch's keys, dequeue the oldest
            k = tf.stop_gradient(tf.math.l2_normalize(k, axis=1))
            self.queue.assign(tf.concat([k, self.queue], axis=0)[:args.queue])
            self.loss_tracker.update_state(loss)
            self.acc.update_state(labels, logits)
            return {"loss": self.loss_tracker.result(), "accuracy": self.acc.result()}

        def test_step(self, data):
            x = data[0] if isinstance(data, tuple) else data
            q = self.encoder_q(self.augment(x), training=False)
            k = self.encoder_k(self.augment(x), training=False)
            logits, labels, _ = self.logits(q, k)
            self.loss_tracker.update_state(self.loss_fn(labels, logits))
            self.acc.update_state(labels, logits)
            return {"loss": self.loss_tracker.result(), "accuracy": self.acc.result()}

    return MoCo()


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--queue", type=int, default=512)
    p.add_argument("--momentum", type=float, default=0.99, help="the key encoder's EMA m")
    p.add_argument("--temperature", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd"))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--labels-per-class", type=int, default=20)
    p.add_argument("--bug", default=None,
                   choices=("key-grad", "momentum-swapped", "no-normalize", "positive-index"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from sklearn.linear_model import LogisticRegression

    x, y = common.load("digits")
    x = (x / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    x_tr, x_val, y_tr, y_val = common.split(x, y.astype("int64"), val=0.2, seed=args.seed)

    model = build(keras, tf, args)
    if args.optimizer == "adam":
        optimizer = keras.optimizers.Adam(learning_rate=args.lr)
    else:
        optimizer = keras.optimizers.SGD(learning_rate=args.lr, momentum=0.9)
    model.compile(optimizer=optimizer)
    callbacks = common.recording.keras_callbacks(
        args.out, task="classification", loss_name="info_nce", batch_size=args.batch_size)
    history = model.fit(x_tr, validation_data=(x_val,), epochs=args.epochs,
                        batch_size=args.batch_size, shuffle=True, verbose=0,
                        callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e]))

    # linear probe on the frozen query encoder's features (the q_dense output)
    features = keras.Model(model.encoder_q.inputs,
                           model.encoder_q.get_layer("q_dense").output)
    rng = np.random.default_rng(args.seed)
    labelled = np.concatenate([
        rng.choice(np.flatnonzero(y_tr == c), args.labels_per_class, replace=False)
        for c in range(10)])
    f_tr = features.predict(x_tr[labelled], verbose=0)
    f_val = features.predict(x_val, verbose=0)
    if np.all(np.isfinite(f_tr)) and np.all(np.isfinite(f_val)):
        probe = LogisticRegression(max_iter=2000).fit(f_tr, y_tr[labelled])
        probe_acc = float(probe.score(f_val, y_val))
    else:
        probe_acc = 0.1
    print("linear probe held-out accuracy %.3f" % probe_acc)
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, probe_accuracy=probe_acc,
                                      layers=common.keras_layers(model.encoder_q)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kmoco-positive-index", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong labels for the loss (the contrastive targets of a "
               "SimCLR batch, arange(batch_size), kept in a MoCo port whose positive logit is "
               "column 0)",
     "bug": "labels = tf.range(batch_size) instead of zeros: row i's target is column i, a "
            "queue key (or, for row 0, the positive), so the InfoNCE loss stays at ln 513: "
            "6.33 in the first epoch, 6.24 in the last (contrastive accuracy 0.001, held-out "
            "loss 6.24); the fixed twin falls from 6.01 to 4.47 (held-out 3.37). The linear "
            "probe on the frozen q_dense features is not much worse (0.922 against 0.939): a "
            "randomly initialized encoder with batch norm already separates the digits",
     "fix": "labels = tf.zeros(batch_size, dtype=\"int32\")",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug positive-index --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kmoco-temperature-too-high", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: suboptimal hyperparameter (the softmax temperature of "
               "the contrastive loss); MoCo v2 uses 0.2",
     "bug": "temperature 5.0: the logits lie within +-0.2, the InfoNCE loss stays near ln 513 "
            "(6.23 in the first epoch, 6.10 in the last, held-out 6.14, contrastive accuracy "
            "0.08); the fixed twin at 0.2 falls from 6.24 to 4.46 (held-out 4.31). The linear "
            "probe: 0.878 against 0.889",
     "fix": "temperature 0.2",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--temperature 5.0 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kmoco", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "MoCo v2 pre-training of a small CNN on digits with a momentum key encoder "
                    "and a queue of negatives in its own train_step, that trains well",
     "healthy": [
         {"id": "width64-seed3",
          "args": "--width 64 --seed 3 --record-every 4",
          "description": "encoder and projection width 64 (InfoNCE 6.14 to 4.62, held-out "
                         "3.93, probe 0.914)"},
     ]},
]


if __name__ == "__main__":
    main()
