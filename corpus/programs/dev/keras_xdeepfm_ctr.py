"""An xDeepFM click-through model in Keras 3 (Lian et al., "xDeepFM: Combining Explicit and
Implicit Feature Interactions for Recommender Systems", KDD 2018), written the way the DeepCTR
package (shenweichen/DeepCTR, ``deepctr.models.xdeepfm`` and ``deepctr.layers.CIN``) writes it:
one embedding per sparse field stacked into a field x embedding matrix X0, a Compressed
Interaction Network (CIN) whose layer k is ``X^k_h = sum_{i,j} W^{k,h}_{ij} (X^{k-1}_i o X0_j)``
(the outer product over fields along each embedding dimension, compressed by a 1x1
convolution, here an ``einsum`` with a kernel of shape (H_{k-1} * m, H_k)), sum-pooled over the
embedding dimension; a linear part (a 1-dimensional embedding per field value and a ``Dense`` on
the dense fields) and a DNN on the flattened embeddings and the dense fields, the three logits
added and passed through a sigmoid (DeepCTR's ``PredictionLayer``). Sizes: embeddings of
``--emb`` (8), CIN layers of ``--cin`` (16,16) feature maps with ReLU (DeepCTR's default
``cin_activation``), a DNN of ``--dnn`` (64,32) ReLU units with dropout 0.1, an L2 of 1e-5 on the
embeddings. Binary cross-entropy, Adam(``--lr``), batches of 256, 20 epochs, ``model.fit``; the
AUC of the held-out impressions (``keras.metrics.AUC``, ``val_auc`` on the result line).

Data (generated here): 8000 ad impressions with six sparse fields (user segment of 10, site of
15, ad category of 12, device of 4, hour bucket of 6, ad slot of 3) and three dense fields in
their own units (the user's monthly spend in dollars, about 3000; the ad's price in cents,
about 2500; the page's dwell time in milliseconds, about 4000). The click's log-odds are a small
effect per field value, two second-order crosses (user segment x ad category, site x device,
a table of random effects each), a third-order cross (segment x category x slot, on a quarter of
the triples), a negative effect of the price and a positive one of the dwell time; about 20% of
the impressions are clicks. 20% held out (stratified); the dense fields are standardized with
the training part's mean and std. The mistakes of the families in CASES are selected with
``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

SPARSE = (("user_segment", 10), ("site", 15), ("ad_category", 12), ("device", 4),
          ("hour", 6), ("slot", 3))
DENSE = (("spend", 3000.0, 1200.0), ("price", 2500.0, 1400.0), ("dwell", 4000.0, 2000.0))


def impressions(n, seed):
    """Sparse field ids (n, 6), dense fields in their units (n, 3) and the clicks (n,)."""
    rng = np.random.default_rng(seed)
    world = np.random.default_rng(1000)          # the same click model for every seed
    sparse = np.stack([rng.integers(0, c, size=n) for _, c in SPARSE], axis=1)
    z = rng.normal(size=(n, len(DENSE)))
    dense = np.stack([m + s * z[:, i] for i, (_, m, s) in enumerate(DENSE)], axis=1)
    dense = np.abs(dense) + 50.0
    logit = np.full(n, -2.2)
    for f, (_, c) in enumerate(SPARSE):
        logit += world.normal(scale=0.3, size=c)[sparse[:, f]]
    seg_cat = world.normal(scale=1.3, size=(10, 12))
    site_dev = world.normal(scale=1.0, size=(15, 4))
    triple = world.normal(scale=1.5, size=(10, 12, 3)) * (world.random((10, 12, 3)) < 0.25)
    logit += seg_cat[sparse[:, 0], sparse[:, 2]] + site_dev[sparse[:, 1], sparse[:, 3]]
    logit += triple[sparse[:, 0], sparse[:, 2], sparse[:, 5]]
    logit += -0.6 * z[:, 1] + 0.4 * z[:, 2]
    click = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("int64")
    return sparse.astype("int32"), dense.astype("float32"), click


def build_model(keras, tf, emb_dim, cin_sizes, dnn_units, bug):
    from keras import layers

    class CIN(layers.Layer):
        """DeepCTR's Compressed Interaction Network (split_half=False), sum-pooled."""

        def __init__(self, layer_size, **kwargs):
            super().__init__(**kwargs)
            self.layer_size = tuple(layer_size)

        def build(self, input_shape):
            m = int(input_shape[1])
            sizes = (m,) + self.layer_size
            self.filters, self.biases = [], []
            for k, h in enumerate(self.layer_size):
                self.filters.append(self.add_weight(
                    name="filter%d" % k, shape=(sizes[k] * m, h),
                    initializer="glorot_uniform"))
                self.biases.append(self.add_weight(name="bias%d" % k, shape=(h,),
                                                   initializer="zeros"))

        def call(self, x0):
            m = x0.shape[1]
            hidden, pooled = x0, []
            for w, b in zip(self.filters, self.biases):
                # outer product of the fields of X^{k-1} and X0 along each embedding dimension
                z = tf.einsum("bhd,bmd->bhmd", hidden, x0)
                z = tf.reshape(z, (-1, hidden.shape[1] * m, x0.shape[2]))
                hidden = tf.nn.relu(tf.einsum("bkd,kh->bhd", z, w) + b[None, :, None])
                pooled.append(tf.reduce_sum(hidden, axis=2))
            return tf.concat(pooled, axis=1)

    sparse_in = keras.Input(shape=(len(SPARSE),), dtype="int32", name="sparse")
    dense_in = keras.Input(shape=(len(DENSE),), name="dense")
    embs, lin = [], []
    offset = 0
    for f, (name, card) in enumerate(SPARSE):
        ids = layers.Lambda(lambda t, f=f: t[:, f], name="ids_" + name)(sparse_in)
        embs.append(layers.Embedding(card, emb_dim, name="emb_" + name,
                                     embeddings_regularizer=keras.regularizers.l2(1e-5))(ids))
        offset += card
    x0 = layers.Lambda(lambda es: tf.stack(es, axis=1), name="stack_fields")(embs)
    # linear part: one weight per field value (a 1-dimensional embedding over all fields' ids)
    offsets = np.cumsum([0] + [c for _, c in SPARSE[:-1]]).astype("int32")
    flat_ids = layers.Lambda(lambda t: t + offsets[None, :], name="flat_ids")(sparse_in)
    lin_sparse = layers.Embedding(offset, 1, name="linear_emb")(flat_ids)
    lin_sparse = layers.Lambda(lambda t: tf.reduce_sum(t, axis=[1, 2])[:, None],
                               name="linear_sum")(lin_sparse)
    lin_dense = layers.Dense(1, name="linear_dense")(dense_in)
    linear_logit = layers.Add(name="linear_logit")([lin_sparse, lin_dense])
    cin_out = CIN(cin_sizes, name="cin")(x0)
    cin_logit = layers.Dense(1, use_bias=False, name="cin_logit")(cin_out)
    h = layers.Concatenate(name="dnn_input")([layers.Flatten(name="flat_emb")(x0), dense_in])
    for i, u in enumerate(dnn_units):
        h = layers.Dense(u, activation="relu", name="dnn_%d" % i)(h)
        h = layers.Dropout(0.1, name="dnn_dropout_%d" % i)(h)
    dnn_logit = layers.Dense(1, use_bias=False, name="dnn_logit")(h)
    logit = layers.Add(name="logit")([linear_logit, cin_logit, dnn_logit])
    out = layers.Activation("sigmoid", name="prediction")(logit)
    return keras.Model([sparse_in, dense_in], out, name="xdeepfm")


def main():
    p = common.parser(__doc__)
    p.add_argument("--n", type=int, default=8000)
    p.add_argument("--emb", type=int, default=8)
    p.add_argument("--cin", type=common.ints, default=[16, 16])
    p.add_argument("--dnn", type=common.ints, default=[64, 32])
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None, choices=("raw-dense", "cce-one-unit"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf

    sparse, dense, click = impressions(args.n, args.seed)
    idx = np.arange(args.n)
    i_tr, i_val, _, _ = common.split(idx, click, val=0.2, seed=args.seed)
    s_tr, s_val, d_tr, d_val = sparse[i_tr], sparse[i_val], dense[i_tr], dense[i_val]
    y_tr, y_val = click[i_tr].astype("float32"), click[i_val].astype("float32")
    # BUG (raw-dense): the dense fields go in in their own units (dollars, cents,
    # milliseconds, values in the thousands): the standardization is skipped.
    if args.bug != "raw-dense":
        d_tr, d_val = common.standardize(d_tr, d_val)
    d_tr, d_val = d_tr.astype("float32"), d_val.astype("float32")
    print("clicks: %.3f of %d training impressions" % (y_tr.mean(), len(y_tr)))

    model = build_model(keras, tf, args.emb, args.cin, args.dnn, args.bug)
    loss = keras.losses.BinaryCrossentropy()
    loss_name = "binary_crossentropy"
    if args.bug == "cce-one-unit":
        # BUG (cce-one-unit): categorical cross-entropy on the single sigmoid unit: Keras
        # renormalizes the one probability to 1, so the loss is 0 for every impression.
        loss = keras.losses.CategoricalCrossentropy()
        loss_name = "categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr), loss=loss,
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy"),
                           keras.metrics.AUC(name="auc")])
    callbacks = common.recording.keras_callbacks(args.out, task="classification",
                                                 loss_name=loss_name)
    history = model.fit({"sparse": s_tr, "dense": d_tr}, y_tr,
                        validation_data=({"sparse": s_val, "dense": d_val}, y_val),
                        epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                        callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f auc %.3f val loss %.4f val acc %.3f val auc %.3f"
              % (e + 1, h["loss"][e], h["auc"][e], h["val_loss"][e], h["val_accuracy"][e],
                 h["val_auc"][e]))
    steps = -(-len(y_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_auc=float(h["val_auc"][-1])))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kxdfm-raw-dense", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER / Humbatova et al. 2020: training data (missing preprocessing: "
               "unnormalized input); Stack Overflow reports of CTR models whose dense "
               "features (prices, counts, durations) go in unscaled next to embeddings",
     "bug": "the dense fields go in in their own units (spend in dollars about 3000, price in "
            "cents about 2500, dwell time in ms about 4000) without standardization: the "
            "linear part and the DNN's ReLU units see inputs in the thousands, the first-epoch "
            "loss is 561 and the last 44.8, training accuracy 0.699 and validation AUC 0.599 "
            "(the fixed twin: loss 0.646 -> 0.371, validation AUC 0.815)",
     "fix": "standardize the dense fields with the training part's mean and std",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug raw-dense --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kxdfm-cce-one-unit", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: model (wrong loss function); the Stack Overflow "
               "question \"loss is 0 with categorical_crossentropy and one sigmoid output\" "
               "(categorical cross-entropy for a binary task with a single output unit)",
     "bug": "CategoricalCrossentropy on the single sigmoid unit: Keras renormalizes the one "
            "probability to 1, so the loss is exactly 0 from the first step, the gradients are "
            "zero and nothing changes; training accuracy 0.609 (the initial predictions) and "
            "validation AUC 0.645, the untrained model's (the fixed twin: loss 0.547 -> 0.394, "
            "validation AUC 0.815)",
     "fix": "BinaryCrossentropy()",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["unchanged_values", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--bug cce-one-unit --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kxdfm", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "an xDeepFM (CIN + DNN + linear part) click model in Keras on generated "
                    "ad impressions, that trains well",
     "healthy": [
         {"id": "emb12-cin24-seed2",
          "args": "--emb 12 --cin 24,24 --seed 2 --record-every 4",
          "description": "12-dimensional embeddings and CIN layers of 24 maps, seed 2: loss "
                         "0.571 -> 0.368, validation accuracy 0.799 and AUC 0.811"},
     ]},
]


if __name__ == "__main__":
    main()
