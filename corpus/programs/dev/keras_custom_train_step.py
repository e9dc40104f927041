"""A ``keras.Model`` subclass that overrides ``train_step`` and ``test_step`` (Keras 3 guide
"Customizing what happens in fit()", the lower-level variant), still trained with
``model.fit``.

The model (``PointClassifier``) keeps its Dense layers as attributes (``hidden1``,
``hidden2``... of ``--width`` units, ``--activation``, and ``head``, a softmax over the
classes) and wires them in ``call()``. It is compiled with an optimizer only: the loss
(``SparseCategoricalCrossentropy``), the loss tracker (``keras.metrics.Mean(name="loss")``) and
the accuracy metric are the model's own attributes, and its ``metrics`` property lists the two
trackers so that ``fit`` resets them each epoch. The train step computes the loss under a
``tf.GradientTape``, optionally clips the gradients by their global norm (``--clipnorm``) and
optionally accumulates them over ``--accum`` batches in non-trainable variables before one
optimizer update (a larger effective batch on a small machine).

Data (``--data``, all local): ``moons`` and ``circles`` (scikit-learn generators, 2000 points,
two classes) and ``digits`` (scikit-learn's 8x8 digits, 64 pixels, ten classes). The features are
standardized with the training part's mean and standard deviation. The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--lr``, ``--init``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def dataset(name, seed):
    from sklearn import datasets as ds
    if name == "moons":
        return ds.make_moons(n_samples=2000, noise=0.25, random_state=seed)
    if name == "circles":
        return ds.make_circles(n_samples=2000, noise=0.1, factor=0.5, random_state=seed)
    d = ds.load_digits()
    return d.data, d.target


def build_model_class(keras, tf):
    from keras import layers

    class PointClassifier(keras.Model):
        def __init__(self, classes, width=32, depth=2, activation="relu",
                     init="glorot_uniform", accum=1, clipnorm=None, bug=None):
            super().__init__(name="point_classifier")
            self.hidden = [layers.Dense(width, activation=activation, kernel_initializer=init,
                                        name="hidden%d" % (i + 1)) for i in range(depth)]
            self.head = layers.Dense(classes, activation="softmax", name="head")
            self.bug = bug
            self.accum = accum
            self.clipnorm = clipnorm
            if bug == "binary-loss":
                # BUG: BinaryCrossentropy kept from the two-class version of the script; with
                # integer labels 0..9 against ten probabilities it is not a likelihood.
                self.loss_fn = keras.losses.BinaryCrossentropy()
            else:
                self.loss_fn = keras.losses.SparseCategoricalCrossentropy()
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.acc_metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            self._sums = None
            self._count = None

        def call(self, x, training=False):
            for layer in self.hidden:
                x = layer(x)
            return self.head(x)

        def build(self, input_shape):
            shape = tuple(input_shape)
            for layer in self.hidden:
                layer.build(shape)
                shape = shape[:-1] + (layer.units,)
            self.head.build(shape)
            if self.accum > 1:
                self._accumulators()

        @property
        def metrics(self):
            return [self.loss_tracker, self.acc_metric]

        def _accumulators(self):
            if self._sums is None:
                self._sums = [self.add_weight(shape=v.shape, initializer="zeros",
                                              trainable=False, name="acc_" + v.name)
                              for v in self.trainable_variables]
                self._count = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                              name="acc_count", dtype="int32")
            return self._sums

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.loss_fn(y, y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            if self.clipnorm:
                grads, _ = tf.clip_by_global_norm(grads, self.clipnorm)
            if self.accum > 1:
                sums = self._accumulators()
                for s, g in zip(sums, grads):
                    s.assign_add(g / self.accum)
                self._count.assign_add(1)

                def apply():
                    self.optimizer.apply([s.value for s in sums], self.trainable_variables)
                    if self.bug != "accum-never-reset":
                        for s in sums:
                            s.assign(tf.zeros_like(s))
                    # BUG (accum-never-reset): the accumulators are never set back to zero:
                    # every update applies the sum of all the gradients since the start.
                    return tf.constant(0)

                tf.cond(self._count % self.accum == 0, apply, lambda: tf.constant(0))
            else:
                self.optimizer.apply(grads, self.trainable_variables)
            self.loss_tracker.update_state(loss)
            self.acc_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "accuracy": self.acc_metric.result()}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            self.loss_tracker.update_state(self.loss_fn(y, y_pred))
            self.acc_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "accuracy": self.acc_metric.result()}

    return PointClassifier


def main():
    p = common.parser(__doc__)
    p.add_argument("--data", default="moons", choices=("moons", "circles", "digits"))
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--activation", default="relu")
    p.add_argument("--init", default="glorot_uniform", help="kernel initializer of the hidden layers")
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "momentum", "rmsprop"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--accum", type=int, default=1, help="accumulate gradients over N batches")
    p.add_argument("--clipnorm", type=float, default=None, help="clip by global norm")
    p.add_argument("--bug", default=None, choices=("binary-loss", "accum-never-reset"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf

    x, y = dataset(args.data, args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y.astype("int64"), seed=args.seed)
    x_tr, x_val = common.standardize(x_tr, x_val)
    x_tr, x_val = x_tr.astype("float32"), x_val.astype("float32")
    classes = int(y.max()) + 1

    model = build_model_class(keras, tf)(classes, args.width, args.depth, args.activation,
                                         args.init, args.accum, args.clipnorm, args.bug)
    optimizer = {"adam": lambda: keras.optimizers.Adam(args.lr),
                 "sgd": lambda: keras.optimizers.SGD(args.lr),
                 "momentum": lambda: keras.optimizers.SGD(args.lr, momentum=0.9),
                 "rmsprop": lambda: keras.optimizers.RMSprop(args.lr)}[args.optimizer]()
    model.compile(optimizer=optimizer)
    model.build((None, x_tr.shape[1]))  # the weights (and the accumulators) before fit
    # the loss is the model's own: tell the recorder what it is
    callbacks = common.recording.keras_callbacks(
        args.out, task="classification", loss_name="sparse_categorical_crossentropy",
        num_classes=classes)
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4g acc %.3f val loss %.4g val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ktrain-accum-never-reset", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: gradients accumulated and never reset (the Keras "
               "analogue of a missing zero_grad(): accumulator variables of a hand-written "
               "gradient accumulation that are not set back to zero after the update); "
               "AUTOTRAINER: exploding gradient",
     "bug": "the train step accumulates the gradients of 4 batches in variables and applies "
            "them, but never sets the variables back to zero: every update applies the sum of "
            "all gradients since the start, the updates grow, the loss climbs from 1.86 in the "
            "first epoch to 30.2 in the last and the validation accuracy falls to 0.39",
     "fix": "assign zeros to the accumulators after each update",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-sgd-accum4",
          "buggy": "--data digits --accum 4 --optimizer sgd --lr 0.1 --bug accum-never-reset --record-every 2",
          "fixed": "--data digits --accum 4 --optimizer sgd --lr 0.1 --record-every 2"},
     ]},
    {"family": "ktrain-zero-init", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: improper weight initialization "
               "(kernel_initializer='zeros' on the hidden layers)",
     "bug": "kernel_initializer='zeros' on both hidden ReLU layers: every hidden unit outputs "
            "0, the ReLU passes no gradient at 0, no hidden kernel ever changes and only the "
            "head's bias learns: the loss stays at ln 2 (0.693) and the validation accuracy "
            "at 0.50",
     "fix": "Glorot-uniform kernels (Keras' default)",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["unchanged_values", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "moons-adam",
          "buggy": "--init zeros --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "ktrain-sgd-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow): SGD learning rate far too high, "
               "'loss goes up and down'; AUTOTRAINER: oscillating loss",
     "bug": "SGD(learning_rate=2.0) on two tanh layers: the loss jumps around and rises from "
            "0.39 in the first epoch to 1.14 in the last, the validation loss reaches 2.7 and "
            "the validation accuracy swings between 0.50 and 0.78",
     "fix": "SGD(learning_rate=0.3)",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "moons-tanh-sgd",
          "buggy": "--optimizer sgd --lr 2 --activation tanh --record-every 2",
          "fixed": "--optimizer sgd --lr 0.3 --activation tanh --record-every 2"},
     ]},
    {"family": "ktrain-deep-sigmoid-vanishing", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: vanishing gradient (six stacked sigmoid Dense layers)",
     "bug": "activation='sigmoid' in six hidden layers under SGD 0.1: the gradient shrinks "
            "through the stacked sigmoids, the loss stays at ln 2 (0.699) and the validation "
            "accuracy at 0.50",
     "fix": "activation='relu'",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning", "saturation",
                                                             "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "circles-sgd-depth6",
          "buggy": "--data circles --activation sigmoid --depth 6 --optimizer sgd --lr 0.1 --record-every 2",
          "fixed": "--data circles --depth 6 --optimizer sgd --lr 0.1 --record-every 2"},
     ]},
    {"family": "ktrain-rmsprop-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "RMSprop(learning_rate=1e-5): in 10 epochs the loss falls only from 2.60 to 2.49 "
            "and the validation accuracy stays at 0.07 (ten classes)",
     "fix": "RMSprop(learning_rate=1e-3)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-rmsprop-seed1",
          "buggy": "--data digits --optimizer rmsprop --lr 1e-5 --seed 1 --record-every 2",
          "fixed": "--data digits --optimizer rmsprop --lr 1e-3 --seed 1 --record-every 2"},
     ]},
    {"family": "healthy-ktrain", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a keras.Model subclass with its own train_step, trained with fit, that "
                    "trains well",
     "healthy": [
         {"id": "moons-momentum-bs64-seed2",
          "args": "--optimizer momentum --lr 0.05 --batch-size 64 --seed 2 --record-every 2",
          "description": "SGD momentum 0.9 at 0.05, batches of 64"},
         {"id": "circles-rmsprop-width64-seed3",
          "args": "--data circles --optimizer rmsprop --lr 2e-3 --width 64 --seed 3 --record-every 2",
          "description": "RMSprop 2e-3, hidden layers of 64"},
         {"id": "digits-adam-clipnorm-bs16",
          "args": "--data digits --width 64 --clipnorm 1.0 --batch-size 16 --epochs 6 --record-every 2",
          "description": "Adam 3e-3 with the gradients clipped to a global norm of 1, batches "
                         "of 16"},
         {"id": "digits-momentum-accum2-seed4",
          "args": "--data digits --optimizer momentum --lr 0.02 --accum 2 --seed 4 --record-every 2",
          "description": "SGD momentum with the gradients of 2 batches accumulated (and reset) "
                         "per update"},
         {"id": "moons-elu-depth3-seed5",
          "args": "--activation elu --depth 3 --width 16 --lr 1e-2 --seed 5 --record-every 2",
          "description": "three ELU layers of 16, Adam 1e-2"},
     ]},
]


if __name__ == "__main__":
    main()
