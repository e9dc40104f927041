"""Listwise learning to rank with a Keras 3 scoring network and the ListNet loss (Cao et al.
2007, "Learning to rank: from pairwise approach to listwise approach"), written the way
TF-Ranking's ``SoftmaxLoss`` and the Keras ranking tutorials (keras.io/examples, "Learning to
rank"; the TensorFlow Recommenders listwise-ranking tutorial) write it: one MLP scores every
document of a list (``Dense`` layers on the 3-D tensor of a batch of lists), the scores of a
list go into a softmax over the list axis, and the loss is the cross-entropy between that
softmax and the relevance labels normalised over the list (``labels / sum(labels)``), a custom
Keras loss function; padded documents (relevance -1) are masked out of both. Adam(``--lr``),
``model.fit``.

Data: synthetic queries the program generates: each query has 10 to 16 documents (padded to 16
with relevance -1 and zero features) with 12 features, a query-level offset added to all of its
documents' features; relevance 0-4 is a hidden nonlinear score (a random two-layer tanh network
of the features minus the query offset) plus Gaussian noise, cut at fixed quantiles. 600
training queries, 200 held out. The model (functional API): ``dense`` (64, ReLU), ``dense_1``
(32, ReLU), ``dense_2`` (1) on every document, reshaped to (batch, 16). After every epoch the
program computes the held-out NDCG@5 (gains 2^rel - 1, padded documents excluded); the result
line adds the last one (``val_ndcg5``) and the NDCG@5 of random scores (``random_ndcg5``).
The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

LIST = 16


def make_queries(n, features, rng, net):
    """Features (n, LIST, features), labels (n, LIST) with -1 for padding."""
    w1, b1, w2 = net
    x = np.zeros((n, LIST, features), dtype="float32")
    y = np.full((n, LIST), -1.0, dtype="float32")
    for q in range(n):
        k = rng.integers(10, LIST + 1)
        offset = rng.normal(0, 1.0, size=features)
        docs = rng.normal(0, 1, size=(k, features))
        score = np.tanh(docs @ w1 + b1) @ w2 + rng.normal(0, 0.3, size=k)
        grades = np.digitize(score, [-0.6, 0.0, 0.6, 1.2]).astype("float32")
        x[q, :k] = docs + offset
        y[q, :k] = grades
    return x, y


def ndcg_at(scores, labels, k=5):
    out = []
    for s, l in zip(scores, labels):
        m = l >= 0
        s, l = s[m], l[m]
        gains = 2.0 ** l - 1
        ideal = np.sort(gains)[::-1][:k]
        disc = 1.0 / np.log2(np.arange(2, 2 + len(ideal)))
        idcg = float((ideal * disc).sum())
        if idcg == 0:
            continue
        order = np.argsort(-s, kind="stable")[:k]
        out.append(float((gains[order] * disc[:len(order)]).sum()) / idcg)
    return float(np.mean(out))


def make_loss(tf, bug=None):
    def listnet_loss(y_true, y_pred):
        if bug == "no-padding-mask":
            # BUG (no-padding-mask): the padded documents (relevance -1) are left in the
            # labels and in the softmax.
            labels, scores = y_true, y_pred
        else:
            mask = y_true >= 0
            labels = tf.where(mask, y_true, 0.0)
            scores = tf.where(mask, y_pred, -1e9)
        if bug == "softmax-batch-axis":
            # BUG (softmax-batch-axis): the softmax is taken over axis 0, the lists of the
            # batch, instead of the documents of each list.
            log_p = tf.nn.log_softmax(scores, axis=0)
        else:
            log_p = tf.nn.log_softmax(scores, axis=-1)
        target = labels / (tf.reduce_sum(labels, axis=-1, keepdims=True) + 1e-7)
        return -tf.reduce_sum(target * log_p, axis=-1)
    return listnet_loss


def main():
    p = common.parser(__doc__)
    p.add_argument("--features", type=int, default=12)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--n-train", type=int, default=600)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None,
                   choices=("no-padding-mask", "softmax-batch-axis", "lists-shuffled"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    rng = np.random.default_rng(args.seed)
    net = (rng.normal(0, 1, size=(args.features, 16)) / np.sqrt(args.features),
           rng.normal(0, 0.5, size=16), rng.normal(0, 1, size=16) / 2.0)
    x_tr, y_tr = make_queries(args.n_train, args.features, rng, net)
    x_val, y_val = make_queries(200, args.features, rng, net)
    if args.bug == "lists-shuffled":
        # BUG (lists-shuffled): the training lists' features are shuffled in place, apart
        # from their relevance labels.
        rng.shuffle(x_tr)

    inputs = keras.Input(shape=(LIST, args.features))
    h = layers.Dense(args.units, activation="relu")(inputs)
    h = layers.Dense(args.units // 2, activation="relu")(h)
    s = layers.Dense(1)(h)
    outputs = layers.Reshape((LIST,))(s)
    model = keras.Model(inputs, outputs)
    optimizer = keras.optimizers.Adam(learning_rate=args.lr)
    model.compile(optimizer=optimizer, loss=make_loss(tf, args.bug))

    ndcgs = []
    scorer = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: ndcgs.append(
        ndcg_at(model.predict(x_val, verbose=0), y_val)))
    callbacks = common.recording.keras_callbacks(
        args.out, optimizer=optimizer, batch_size=args.batch_size, task="classification",
        loss_name="listnet_loss")
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0, callbacks=[scorer] + callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f val loss %.4f val NDCG@5 %.3f" % (
            e + 1, h["loss"][e], h["val_loss"][e], ndcgs[e]))
    random_ndcg = ndcg_at(np.random.default_rng(99).normal(size=y_val.shape), y_val)
    print("held-out NDCG@5 %.3f (random scores %.3f)" % (ndcgs[-1], random_ndcg))
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_ndcg5=ndcgs[-1], random_ndcg5=random_ndcg))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "klistwise-no-padding-mask", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function calculation (padding not masked); "
               "TF-Ranking issues: 'negative loss with padded lists' (labels -1 for padding)",
     "bug": "the padded documents (relevance -1) are left in the labels and the softmax: "
            "the normalised 'distribution' has negative entries (and a sum that can be zero "
            "or negative), so the loss is unbounded below; it falls from 2.316 to -4.551 "
            "(held-out -5.556) while the held-out NDCG@5 drops from 0.718 after the first "
            "epoch to 0.660 (the fixed twin: loss 2.501 to 2.415, NDCG@5 0.896; random "
            "scores 0.477)",
     "fix": "mask the padded documents: their labels to 0 and their scores to -1e9 before the "
            "softmax",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug no-padding-mask --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "klistwise-adam-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow): a learning rate far too high; "
               "AUTOTRAINER / DeepDiagnosis: learning rate too high",
     "bug": "Adam(learning_rate=0.5): the first epoch's mean loss is 10.9, the ReLU units "
            "die and from the tenth epoch the loss sits at 2.555 (held-out 2.544) with the "
            "held-out NDCG@5 at 0.682, near random scores' 0.655 (the fixed twin: 0.951)",
     "fix": "Adam(learning_rate=2e-3)",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--lr 0.5 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-klistwise", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a ListNet scoring MLP on synthetic graded query lists with padding "
                    "masked, that trains well",
     "healthy": [
         {"id": "units32-seed3",
          "args": "--units 32 --seed 3 --record-every 4",
          "description": "32 and 16 units, Adam at 2e-3, 20 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
