"""End-to-end fixture: a Keras 3 model that overrides train_step (a hand-written cross-entropy
under a GradientTape, gradients clipped by their global norm, its own loss tracker and
accuracy), recorded with the one-line callback, which falls back to callback mode. The data
are 3 generated classes; the model is an MLP (Dense 16 relu, Dense 3, a softmax op in call).
--nan: a learning rate of 2 (instead of 0.05) with the cross-entropy written as
-sum(y * log(p)) without an epsilon: within a few steps the softmax saturates, log(0) makes the
loss infinite and the clipped gradients NaN. --every N: the recorder's every= option.

    python3 train_keras_own_step.py REPO_ROOT OUT.arrows [--nan] [--every N]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
parser = argparse.ArgumentParser()
parser.add_argument("repo")
parser.add_argument("out")
parser.add_argument("--nan", action="store_true")
parser.add_argument("--every", type=int, default=1)
args = parser.parse_args()
sys.path.insert(0, os.path.join(args.repo, "recorders"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dltrace.keras import Recorder  # noqa: E402


class OwnStep(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(16, activation="relu", name="hidden")
        self.out = keras.layers.Dense(3, name="out")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")

    def call(self, x):
        return keras.ops.softmax(self.out(self.hidden(x)))

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            p = self(x, training=True)
            loss = -tf.reduce_mean(tf.reduce_sum(y * tf.math.log(p), axis=1))
        grads = tape.gradient(loss, self.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, 5.0)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.accuracy.update_state(y, p)
        return {"loss": self.loss_tracker.result(), "accuracy": self.accuracy.result()}


keras.utils.set_random_seed(1)
rng = np.random.default_rng(1)
centers = rng.normal(size=(3, 8)) * 2
labels = np.arange(300) % 3
x = (centers[labels] + rng.normal(size=(300, 8))).astype("float32")
y = keras.utils.to_categorical(labels, 3)
model = OwnStep()
model(x[:1])
model.compile(optimizer=keras.optimizers.SGD(2.0 if args.nan else 0.05))
model.fit(x, y, batch_size=30, epochs=8, shuffle=False, verbose=0,
          callbacks=[Recorder(args.out, task="classification", loss_name="categorical_crossentropy",
                              num_classes=3, every=args.every)])
