"""Ordinal regression of wine grades in Keras 3 with CORAL (Cao, Mirjalili and Raschka 2020,
"Rank consistent ordinal regression for neural networks"), written the way the
``coral-ordinal`` Keras package writes it: a ``CoralOrdinal`` output layer with one weight
vector shared by the K-1 binary tasks "grade > k" and K-1 independent biases, the integer
grades expanded to K-1 cumulative levels (``label > k``), the loss the sum over the levels of
the binary cross-entropies from logits (``OrdinalCrossEntropy``), and the grade predicted as the
number of levels whose probability is above 0.5. Trained with ``model.fit`` and Adam.

Data (generated here): a wine-quality-like table of 1500 wines, 10 numeric physico-chemical
columns on their own scales (acidity near 7, residual sugar, chlorides near 0.05, free and
total sulfur dioxide in the tens and hundreds, density near 1, pH, sulphates, alcohol near 10,
a colour index), and a grade 0..5 (K = 6 ordered grades) cut at fixed quantiles from a latent
score, a linear mix of the standardized columns plus Gaussian noise (std 0.5 of the score's
std); the middle grades are the most common, as in the wine-quality data. 25% held out
(stratified); the columns are standardized with the training part's mean and std. Model:
``Dense(--units, relu)`` ``dense``, ``Dense(--units, relu)`` ``dense_1`` and the
``CoralOrdinal(6)`` layer ``coral`` (a kernel of shape (units, 1) without bias, and a bias
vector of shape (5,)); Adam(``--lr``), batches of ``--batch-size``. Metrics: the levels'
binary accuracy while training; after every epoch a callback scores the held-out part, the
mean absolute error in grades (``val_mae``) and the exact-grade accuracy
(``val_grade_accuracy``), both on the result line. The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

GRADES = 6
SCALES = np.array([7.0, 5.0, 0.05, 30.0, 110.0, 0.996, 3.3, 0.6, 10.5, 4.0])
SPREADS = np.array([1.3, 4.0, 0.02, 15.0, 50.0, 0.003, 0.15, 0.15, 1.1, 1.5])
MIX = np.array([0.4, -0.2, -0.5, 0.3, -0.4, -0.6, 0.2, 0.5, 1.2, 0.3])
CUTS = (0.07, 0.22, 0.55, 0.82, 0.95)


def wines(n, seed):
    """A wine-quality-like table: raw columns and the grade 0..GRADES-1 of each wine."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, len(SCALES)))
    z[:, 5] += 0.5 * z[:, 1] - 0.4 * z[:, 8]          # density follows sugar and alcohol
    score = z @ MIX
    score = score + rng.normal(scale=0.5 * score.std(), size=n)
    cuts = np.quantile(score, CUTS)
    grade = np.searchsorted(cuts, score).astype("int64")
    x = (SCALES + SPREADS * z).astype("float32")
    return x, grade


def build_model(keras, tf, n_features, units, bug):
    from keras import layers

    class CoralOrdinal(layers.Layer):
        """The coral-ordinal package's output layer: one shared weight vector, K-1 biases."""

        def __init__(self, num_classes, **kwargs):
            super().__init__(**kwargs)
            self.num_classes = num_classes

        def build(self, input_shape):
            self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], 1),
                                          initializer="glorot_uniform")
            # BUG (shared-bias): one bias for every level instead of one per level: the K-1
            # logits are the same number, the levels cannot be told apart.
            nb = 1 if bug == "shared-bias" else self.num_classes - 1
            self.bias = self.add_weight(name="bias", shape=(nb,), initializer="zeros")

        def call(self, x):
            logits = tf.matmul(x, self.kernel) + self.bias
            if bug == "shared-bias":
                logits = tf.repeat(logits, self.num_classes - 1, axis=-1)
            # BUG (softmax-levels): a softmax over the K-1 logits, as a multi-class head,
            # instead of K-1 independent sigmoids: the level probabilities must sum to 1.
            if bug == "softmax-levels":
                return tf.nn.softmax(logits, axis=-1)
            return logits

    inputs = keras.Input(shape=(n_features,), name="features")
    h = layers.Dense(units, activation="relu", name="dense")(inputs)
    h = layers.Dense(units, activation="relu", name="dense_1")(h)
    outputs = CoralOrdinal(GRADES, name="coral")(h)
    return keras.Model(inputs, outputs, name="coral_mlp")


def levels(grade):
    """The K-1 cumulative levels of each grade: level k is 1 when grade > k."""
    k = np.arange(GRADES - 1)
    return (grade[:, None] > k[None, :]).astype("float32")


def main():
    p = common.parser(__doc__)
    p.add_argument("--n", type=int, default=1500)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None,
                   choices=("shared-bias", "softmax-levels", "labels-shuffled"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf

    x, grade = wines(args.n, args.seed)
    x_tr, x_val, g_tr, g_val = common.split(x, grade, val=0.25, seed=args.seed)
    x_tr, x_val = common.standardize(x_tr, x_val)
    x_tr, x_val = x_tr.astype("float32"), x_val.astype("float32")
    if args.bug == "labels-shuffled":
        # BUG (labels-shuffled): the grades are shuffled on their own (a "shuffle" of the
        # training table applied to the label column only): no row keeps its grade.
        g_tr = np.random.default_rng(args.seed).permutation(g_tr)
    y_tr, y_val = levels(g_tr), levels(g_val)

    model = build_model(keras, tf, x.shape[1], args.units, args.bug)
    from_logits = args.bug != "softmax-levels"
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=from_logits)

    def ordinal_cross_entropy(y_true, y_pred):
        # the coral-ordinal loss: the levels' binary cross-entropies summed, averaged over rows
        return loss_fn(y_true, y_pred) * (GRADES - 1)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr),
                  loss=ordinal_cross_entropy,
                  metrics=[keras.metrics.BinaryAccuracy(
                      name="accuracy", threshold=0.0 if from_logits else 0.5)])

    def predict_grades(xs):
        out = model.predict(xs, batch_size=512, verbose=0)
        prob = out if not from_logits else 1.0 / (1.0 + np.exp(-out))
        return (prob > 0.5).sum(axis=1)

    scores = {"val_mae": [], "val_grade_accuracy": []}

    class GradeScores(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            pred = predict_grades(x_val)
            scores["val_mae"].append(float(np.abs(pred - g_val).mean()))
            scores["val_grade_accuracy"].append(float((pred == g_val).mean()))

    callbacks = [GradeScores()] + common.recording.keras_callbacks(
        args.out, task="classification", loss_name="binary_crossentropy")
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f level acc %.3f val loss %.4f val MAE %.3f val grade acc %.3f"
              % (e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e],
                 scores["val_mae"][e], scores["val_grade_accuracy"][e]))
    majority = float((g_val == np.bincount(g_tr).argmax()).mean())
    print("predicting the commonest grade: accuracy %.3f, MAE %.3f" % (
        majority, float(np.abs(g_val - np.bincount(g_tr).argmax()).mean())))
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_mae=scores["val_mae"][-1],
                                      val_grade_accuracy=scores["val_grade_accuracy"][-1]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kcoral-shared-bias", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: model (wrong layer: a custom output layer's weights of "
               "the wrong shape); the coral-ordinal issue tracker and re-implementations that "
               "give the CORAL layer a single bias",
     "bug": "the CoralOrdinal layer's bias has shape (1,) instead of (K-1,) = (5,): the five "
            "level logits are one number repeated, so every wine is graded 0 or 5; the loss "
            "stays near 2.9 (3.10 -> 2.89 in 20 epochs), validation MAE 1.688 grades and "
            "exact-grade accuracy 0.120, worse than always predicting the commonest grade "
            "(0.971 and 0.331) (the fixed twin: MAE 0.517, accuracy 0.531)",
     "fix": "one bias per level: add_weight(shape=(num_classes - 1,))",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": {"layer_name": "coral", "layer_index": 2},
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug shared-bias --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kcoral-softmax-levels", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: wrong activation function of the output "
               "layer; Humbatova et al. 2020 (wrong activation / loss pairing): a softmax over "
               "the K-1 ordinal logits as in a multi-class head",
     "bug": "softmax over the five level logits, the probabilities under "
            "BinaryCrossentropy(from_logits=False): they must sum to 1, so at most one level "
            "can be above 0.5; the level accuracy stays at 0.522 from the first epoch, the "
            "loss falls only from 4.34 to 3.49, validation MAE 2.395 grades and exact-grade "
            "accuracy 0.069 (the fixed twin: 0.517 and 0.531)",
     "fix": "independent sigmoids: the layer returns its logits and the loss takes "
            "from_logits=True",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug softmax-levels --seed 1 --record-every 4",
          "fixed": "--seed 1 --units 32 --record-every 4"},
     ]},
    {"family": "healthy-kcoral", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a CORAL ordinal MLP in Keras on a generated wine-quality-like table, that "
                    "trains well",
     "healthy": [
         {"id": "units64-seed2",
          "args": "--units 64 --seed 2 --record-every 4",
          "description": "64 units a layer, seed 2: validation MAE 0.549 grades and "
                         "exact-grade accuracy 0.515 (the commonest grade: 0.971 and 0.331)"},
     ]},
]


if __name__ == "__main__":
    main()
