"""DeepFM (Guo et al. 2017, "DeepFM: A Factorization-Machine based Neural Network for CTR
Prediction") in Keras 3, written out by hand the way the public re-implementations write it
(DeepCTR's ``DeepFM`` and its ``FM`` layer; the Keras DeepFM examples): every categorical field
is looked up in one shared embedding table after its values are offset by the sizes of the
fields before it; the FM part adds first-order weights (an ``Embedding`` of width 1) and the
pairwise interactions by the sum-square trick ``0.5 * sum_k((sum_f v_f)^2 - sum_f v_f^2)``;
the deep part is an MLP over the concatenated field embeddings; the two logits are added and a
sigmoid gives the click probability, under binary cross-entropy with Adam.

Data: the program generates its own click log: 8 categorical fields of 5, 8, 10, 12, 20, 30,
40 and 50 values (drawn uniformly); the click logit is a bias of -1.2, main effects of three
fields (normal, std 0.8) and the pairwise interactions of six field pairs, each the dot product
of rank-4 latent vectors of the two values (scaled by 0.7); the label is a Bernoulli draw.
20000 rows for training, 5000 held out (another seed). The model (functional): the offset
indices go into ``Embedding(total, 1)`` (``linear_emb``, first order) and
``Embedding(total, --k)`` (``fm_emb``, shared by the FM and the deep part); the deep part is
``Dense(64, relu)`` (``dnn_1``), ``Dense(32, relu)`` (``dnn_2``), ``Dense(1)`` (``dnn_logit``);
the first-order, FM and deep logits are added and DeepCTR's ``PredictionLayer``
(``prediction``: a global bias, then ``tf.sigmoid``) gives the probability; ``BinaryCrossentropy()``, Adam(``--lr``), batches of ``--batch-size``, AUC and
accuracy as metrics. The result line adds the held-out AUC (``val_auc``), log-loss
(``val_logloss``) and the log-loss of predicting the training click rate
(``baseline_logloss``). The mistakes of the families in CASES are selected with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

FIELD_SIZES = (5, 8, 10, 12, 20, 30, 40, 50)
PAIRS = ((0, 1), (1, 4), (2, 5), (3, 6), (4, 7), (5, 7))


def click_log(n, seed, world_seed=7):
    """``n`` rows of field values and clicks; the click model is fixed by ``world_seed``."""
    world = np.random.default_rng(world_seed)
    main = {f: world.normal(0.0, 0.8, FIELD_SIZES[f]) for f in (0, 2, 6)}
    latent = [world.normal(0.0, 1.0, (size, 4)) for size in FIELD_SIZES]
    rng = np.random.default_rng(seed)
    x = np.stack([rng.integers(0, size, n) for size in FIELD_SIZES], axis=1)
    logit = np.full(n, -1.2)
    for f, effect in main.items():
        logit += effect[x[:, f]]
    for i, j in PAIRS:
        logit += 0.7 * np.sum(latent[i][x[:, i]] * latent[j][x[:, j]], axis=1) / 2.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32")
    return x.astype("int32"), y


def build_model(keras, k, units, bug):
    import tensorflow as tf
    from keras import layers, ops
    fields = len(FIELD_SIZES)
    total = int(sum(FIELD_SIZES))
    offsets = np.cumsum((0,) + FIELD_SIZES[:-1]).astype("int32")

    class FieldOffset(layers.Layer):
        """Adds each field's offset in the shared table to its value indices."""
        def call(self, t):
            return t + ops.convert_to_tensor(offsets)

    class SumFields(layers.Layer):
        """The first-order logit: the sum of the fields' weights."""
        def call(self, t):
            return ops.sum(t, axis=1)

    class FM(layers.Layer):
        """DeepCTR's FM layer: the pairwise interactions by the sum-square trick."""
        def call(self, v):
            square_of_sum = ops.square(ops.sum(v, axis=1))               # (B, k)
            sum_of_square = ops.sum(ops.square(v), axis=1)               # (B, k)
            if bug == "sum-square-swapped":
                # BUG (sum-square-swapped): the two terms of the trick in the wrong order:
                # the interaction term is the negative of every pairwise product.
                cross = sum_of_square - square_of_sum
            else:
                cross = square_of_sum - sum_of_square
            return 0.5 * ops.sum(cross, axis=1, keepdims=True)

    class PredictionLayer(layers.Layer):
        """DeepCTR's PredictionLayer: a global bias, then ``tf.sigmoid`` for a binary task."""
        def build(self, input_shape):
            self.global_bias = self.add_weight(shape=(1,), initializer="zeros", name="bias")

        def call(self, x):
            return tf.sigmoid(x + self.global_bias)

    inputs = keras.Input(shape=(fields,), dtype="int32", name="fields")
    if bug == "no-field-offset":
        # BUG (no-field-offset): the raw value indices go into the shared table: value 3 of
        # every field looks up the same row, all fields share the table's first 50 rows.
        idx = inputs
    else:
        idx = FieldOffset(name="field_offset")(inputs)
    first = layers.Embedding(total, 1, name="linear_emb")(idx)           # (B, F, 1)
    emb = layers.Embedding(total, k, name="fm_emb")(idx)                 # (B, F, k)
    first_logit = SumFields(name="first_order")(first)
    fm_logit = FM(name="fm")(emb)
    h = layers.Flatten(name="flatten")(emb)
    h = layers.Dense(units, activation="relu", name="dnn_1")(h)
    h = layers.Dense(units // 2, activation="relu", name="dnn_2")(h)
    deep_logit = layers.Dense(1, name="dnn_logit")(h)
    logit = layers.Add(name="add")([first_logit, fm_logit, deep_logit])
    prob = PredictionLayer(name="prediction")(logit)
    return keras.Model(inputs, prob, name="deepfm")


def main():
    p = common.parser(__doc__)
    p.add_argument("--k", type=int, default=8, help="embedding size")
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--n-train", type=int, default=20000)
    p.add_argument("--bug", default=None,
                   choices=("sigmoid-twice", "no-field-offset", "sum-square-swapped",
                            "labels-shuffled"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from sklearn.metrics import log_loss, roc_auc_score

    x_tr, y_tr = click_log(args.n_train, seed=args.seed)
    x_val, y_val = click_log(5000, seed=1000 + args.seed)
    if args.bug == "labels-shuffled":
        # BUG (labels-shuffled): the clicks are shuffled on their own, apart from the rows.
        y_tr = y_tr[np.random.default_rng(args.seed).permutation(len(y_tr))]

    model = build_model(keras, args.k, args.units, args.bug)
    # BUG (sigmoid-twice): from_logits=True on the sigmoid output, meant to apply a second
    # sigmoid to the probability (Keras' TensorFlow backend takes the Sigmoid op's input as the
    # logits and only warns: the run is the fixed one, so no family uses it).
    loss = keras.losses.BinaryCrossentropy(from_logits=args.bug == "sigmoid-twice")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr), loss=loss,
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy"),
                           keras.metrics.AUC(name="auc")])
    callbacks = common.recording.keras_callbacks(
        args.out, task="classification", loss_name="binary_crossentropy", num_classes=2)
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, shuffle=True, verbose=0,
                        callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f auc %.3f val loss %.4f val auc %.3f val acc %.3f" % (
            e + 1, h["loss"][e], h["auc"][e], h["val_loss"][e], h["val_auc"][e],
            h["val_accuracy"][e]))
    pred = np.clip(model.predict(x_val, batch_size=1024, verbose=0)[:, 0], 1e-7, 1 - 1e-7)
    val_auc = float(roc_auc_score(y_val, pred))
    val_logloss = float(log_loss(y_val, pred))
    baseline = float(log_loss(y_val, np.full(len(y_val), y_tr.mean())))
    print("held-out AUC %.4f, log-loss %.4f (the click rate: %.4f)" % (
        val_auc, val_logloss, baseline))
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_auc=val_auc, val_logloss=val_logloss,
                                      baseline_logloss=baseline))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kdeepfm-labels-shuffled", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: training data quality / preprocessing (features and "
               "labels misaligned); Stack Overflow: 'shuffled X but not y'",
     "bug": "the training clicks are permuted on their own, apart from the rows: the labels "
            "carry nothing of the fields, the held-out AUC is 0.499 and the log-loss 0.5593, "
            "worse than predicting the click rate (0.5502; the fixed twin: AUC 0.768, log-loss "
            "0.4627)",
     "fix": "no permutation of the labels (or the same one for the rows)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug labels-shuffled --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "kdeepfm-adam-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate too low; Humbatova et al. 2020: "
               "suboptimal learning rate",
     "bug": "Adam(learning_rate=1e-5): the loss falls from 0.690 to 0.628 in 10 epochs, the "
            "held-out AUC is 0.506 and the log-loss 0.6245, worse than predicting the click "
            "rate (0.5455; the fixed twin at 1e-3: AUC 0.779, log-loss 0.4499)",
     "fix": "Adam(learning_rate=1e-3)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--lr 1e-5 --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kdeepfm", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "DeepFM written out by hand (offset field indices, a shared embedding "
                    "table, the FM's sum-square trick, a deep MLP, DeepCTR's prediction layer, "
                    "binary cross-entropy) on a generated click log, that trains well",
     "healthy": [
         {"id": "seed1",
          "args": "--seed 1 --record-every 4",
          "description": "Adam at 1e-3, embeddings of 8, batches of 256, 10 epochs: held-out "
                         "AUC 0.758, log-loss 0.4640 (the click rate: 0.5416)"},
     ]},
]


if __name__ == "__main__":
    main()
