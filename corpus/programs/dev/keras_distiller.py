"""Knowledge distillation in Keras 3, written as a ``keras.Model`` subclass (``Distiller``) that
overrides ``compute_loss``, after the Keras "knowledge distillation" example.

The data are a make_classification table of 4 classes with 16 columns (1400 rows), scaled with
``StandardScaler`` fitted on the training part; 20% are held out for validation. The teacher
(a Dense 64-64 ReLU stack with 4 logits) is trained first with ``teacher.fit`` (Adam) and frozen.
The student (``s_hidden``, --width units, ReLU -> ``s_logits``, 4 logits) is wrapped in the
``Distiller``, compiled with ``SparseCategoricalCrossentropy(from_logits=True)`` as the hard-label
loss and trained with ``distiller.fit`` under SGD with momentum; ``compute_loss`` adds
``alpha * hard + (1 - alpha) * T^2 * KLDivergence(softmax(teacher / T), softmax(student / T))``.
Only the student's layers are recorded. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def build_distiller(keras):
    from keras import ops

    class Distiller(keras.Model):
        def __init__(self, student, teacher, alpha=0.3, temperature=4.0, bug=None):
            super().__init__(name="distiller")
            self.student = student
            self.teacher = teacher
            self.alpha = alpha
            self.temperature = temperature
            self.bug = bug
            self.distill_loss_fn = keras.losses.KLDivergence()

        def call(self, x, training=False):
            return self.student(x, training=training)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         training=True):
            hard = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                        training=training)
            teacher_pred = self.teacher(x, training=False)
            t = self.temperature
            if self.bug == "kl-logits":
                # BUG (kl-logits): the raw logits go into KLDivergence, which clips its
                # arguments to [eps, 1] as if they were probabilities
                soft = self.distill_loss_fn(teacher_pred / t, y_pred / t)
            else:
                soft = self.distill_loss_fn(ops.softmax(teacher_pred / t, axis=1),
                                            ops.softmax(y_pred / t, axis=1))
            return self.alpha * hard + (1 - self.alpha) * soft * t ** 2

    return Distiller


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--alpha", type=float, default=0.3)
    p.add_argument("--temperature", type=float, default=4.0)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--teacher-epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("kl-logits", "linear-student"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=1400, n_features=16, n_informative=10,
                               n_redundant=2, n_classes=4, n_clusters_per_class=2,
                               class_sep=1.2, random_state=args.seed)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2,
                                                      random_state=args.seed, stratify=y)
    sc = StandardScaler().fit(X_train)
    Xs_train = sc.transform(X_train).astype("float32")
    Xs_val = sc.transform(X_val).astype("float32")

    teacher = keras.Sequential([keras.Input(shape=(16,)),
                                layers.Dense(64, activation="relu"),
                                layers.Dense(64, activation="relu"),
                                layers.Dense(4)], name="teacher")
    teacher.compile(optimizer=keras.optimizers.Adam(3e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    t_hist = teacher.fit(Xs_train, y_train, validation_data=(Xs_val, y_val),
                         epochs=args.teacher_epochs, batch_size=32, verbose=0)
    print("teacher: val acc %.3f" % t_hist.history["val_accuracy"][-1])
    teacher.trainable = False

    student = keras.Sequential([keras.Input(shape=(16,)),
                                # BUG (linear-student): Dense(width) without activation=
                                layers.Dense(args.width, name="s_hidden",
                                             activation=None if args.bug == "linear-student"
                                             else "relu"),
                                layers.Dense(4, name="s_logits")], name="student")
    Distiller = build_distiller(keras)
    distiller = Distiller(student, teacher, alpha=args.alpha, temperature=args.temperature,
                          bug=args.bug)
    distiller.compile(optimizer=keras.optimizers.SGD(learning_rate=args.lr,
                                                     momentum=args.momentum),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    history = distiller.fit(Xs_train, y_train, validation_data=(Xs_val, y_val),
                            epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                            callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4g acc %.3f val loss %.4g val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = -(-len(Xs_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(student),
                                      teacher_val_accuracy=float(t_hist.history["val_accuracy"][-1])))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kdistil-kl-on-logits", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (KL divergence on logits instead of "
               "probabilities); DeepLocalize benchmark (Stack Overflow): a Keras distillation "
               "loss that turns negative",
     "bug": "KLDivergence(teacher / T, student / T) on the raw logits (it clips them to "
            "[eps, 1] as if they were probabilities): the loss falls from 1.729 to -3.425, "
            "the training accuracy reaches 0.693 and the validation accuracy 0.579 where the "
            "fixed twin reaches 0.789",
     "fix": "KLDivergence(softmax(teacher / T), softmax(student / T))",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "w16-sgd0.05",
          "buggy": "--bug kl-logits --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kdistil-linear-student", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow): Dense layers without activation=; "
               "DeepFD fault type: missing activation",
     "bug": "the student's hidden Dense has no activation, the student is a linear model: "
            "the loss falls from 2.096 to 1.574 and stays, the validation accuracy is 0.636 "
            "where the fixed twin (ReLU) reaches 0.814",
     "fix": "activation='relu' in s_hidden",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "w16-sgd0.05-seed2",
          "buggy": "--bug linear-student --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "kdistil-sgd-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: exploding gradient / dying ReLU after a too large step; DeepFD "
               "fault type: learning rate too high",
     "bug": "SGD(learning_rate=1.5, momentum=0.9) for the student: the first epoch's loss is "
            "70.9, the updates blow the student's ReLU units dead and from the fifth epoch the "
            "loss stays at 3.305, the accuracy at 0.282 and the validation accuracy at 0.246",
     "fix": "SGD(learning_rate=0.05, momentum=0.9)",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["dead_or_zero", "oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "w16-seed1",
          "buggy": "--lr 1.5 --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-kdistil", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a Keras Distiller (compute_loss: hard cross-entropy plus KL divergence "
                    "on temperature-softened outputs) whose student trains well",
     "healthy": [
         {"id": "w32-sgd0.02-bs64-seed4",
          "args": "--width 32 --lr 0.02 --batch-size 64 --seed 4 --record-every 4",
          "description": "32 hidden units, SGD(0.02, momentum 0.9), batches of 64"},
         {"id": "w24-alpha0.5-t2-seed3",
          "args": "--width 24 --alpha 0.5 --temperature 2 --seed 3 --record-every 4",
          "description": "24 hidden units, alpha 0.5, temperature 2"},
     ]},
]


if __name__ == "__main__":
    main()
