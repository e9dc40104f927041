"""Node2Vec in Keras 3, written the way the keras.io example "Graph representation learning with
node2vec" is: biased second-order random walks (return parameter ``p``, in-out parameter ``q``)
over a graph, skip-gram pairs with negative sampling counted into (target, context, label,
weight) examples, a ``tf.data`` pipeline of ``({"target", "context"}, label, weight)`` batches,
and a model of one ``Embedding`` table (``item_embeddings``) looked up for the target and the
context, their ``Dot`` as the logit, ``BinaryCrossentropy(from_logits=True)`` and Adam.

The graph is generated here: a stochastic block model of 4 communities of 40 nodes (an edge
inside a community with probability 0.08, across with 0.02), the community the node's label.
After training, the learned embeddings of 70% of the nodes fit a scikit-learn
``LogisticRegression``; its accuracy on the other 30% (stratified) is the run's
``val_accuracy`` (chance 0.25). The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
COMMUNITIES, PER_COMMUNITY = 4, 40


def make_graph(seed):
    """A stochastic block model: adjacency sets, edge weights and the community of each node."""
    rng = np.random.default_rng(5100 + seed)
    n = COMMUNITIES * PER_COMMUNITY
    community = np.repeat(np.arange(COMMUNITIES), PER_COMMUNITY)
    prob = np.where(community[:, None] == community[None, :], 0.08, 0.02)
    upper = np.triu(rng.random((n, n)) < prob, 1)
    adj = upper | upper.T
    # a ring through every node keeps the graph connected, as real graphs usually are
    for i in range(n):
        j = (i + 1) % n
        adj[i, j] = adj[j, i] = True
    neighbors = {i: list(np.flatnonzero(adj[i])) for i in range(n)}
    weights = {(i, j): 1.0 for i in range(n) for j in neighbors[i]}
    return neighbors, weights, community


def next_step(neighbors, weights, previous, current, p, q):
    """The example's biased transition: 1/p back, 1 to a common neighbour, 1/q outwards."""
    candidates = neighbors[current]
    probs = []
    for neighbor in candidates:
        if neighbor == previous:
            probs.append(weights[(current, neighbor)] / p)
        elif (neighbor, previous) in weights:
            probs.append(weights[(current, neighbor)])
        else:
            probs.append(weights[(current, neighbor)] / q)
    probs = np.array(probs) / sum(probs)
    return candidates[np.random.choice(len(candidates), p=probs)]


def random_walk(neighbors, weights, num_walks, num_steps, p, q):
    walks = []
    nodes = list(neighbors)
    for _ in range(num_walks):
        np.random.shuffle(nodes)
        for node in nodes:
            walk = [node]
            while len(walk) < num_steps:
                current = walk[-1]
                previous = walk[-2] if len(walk) > 1 else None
                walk.append(next_step(neighbors, weights, previous, current, p, q))
            walks.append(walk)
    return walks


def skipgrams(sequence, vocabulary_size, window_size, negative_samples):
    """Positive (target, context) pairs within the window and random negatives, label 1/0."""
    pairs, labels = [], []
    for i, wi in enumerate(sequence):
        lo, hi = max(0, i - window_size), min(len(sequence), i + window_size + 1)
        for j in range(lo, hi):
            if j != i:
                pairs.append((wi, sequence[j]))
                labels.append(1)
    num_negative = int(len(pairs) * negative_samples)
    words = [c[0] for c in pairs]
    np.random.shuffle(words)
    pairs += [(words[i % len(words)], np.random.randint(0, vocabulary_size))
              for i in range(num_negative)]
    labels += [0] * num_negative
    return pairs, labels


def generate_examples(sequences, window_size, num_negative_samples, vocabulary_size, bug):
    example_weights = defaultdict(int)
    for sequence in sequences:
        pairs, labels = skipgrams(sequence, vocabulary_size, window_size, num_negative_samples)
        for pair, label in zip(pairs, labels):
            target, context = min(pair[0], pair[1]), max(pair[0], pair[1])
            if target == context:
                continue
            # BUG (labels-all-ones): every pair, negatives too, kept with the label 1.
            if bug == "labels-all-ones":
                label = 1
            example_weights[(target, context, label)] += 1
    targets, contexts, labels, weights = [], [], [], []
    for (target, context, label), weight in example_weights.items():
        targets.append(target)
        contexts.append(context)
        labels.append(label)
        weights.append(weight)
    return (np.array(targets, "int32"), np.array(contexts, "int32"),
            np.array(labels, "float32"), np.array(weights, "float32"))


def main():
    p = common.parser(__doc__)
    p.add_argument("--p", type=float, default=1.0, help="return parameter")
    p.add_argument("--q", type=float, default=1.0, help="in-out parameter")
    p.add_argument("--num-walks", type=int, default=5)
    p.add_argument("--num-steps", type=int, default=10)
    p.add_argument("--window", type=int, default=2)
    p.add_argument("--negatives", type=float, default=2.0)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None,
                   choices=("no-from-logits", "zeros-init", "labels-all-ones"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    neighbors, weights, community = make_graph(args.seed)
    vocabulary_size = len(neighbors)
    walks = random_walk(neighbors, weights, args.num_walks, args.num_steps, args.p, args.q)
    targets, contexts, labels, example_weights = generate_examples(
        walks, args.window, args.negatives, vocabulary_size, args.bug)
    print("%d walks, %d examples, %.0f%% positive" % (len(walks), len(targets),
                                                      100 * labels.mean()))

    def create_dataset(targets, contexts, labels, weights, batch_size):
        inputs = {"target": targets, "context": contexts}
        dataset = tf.data.Dataset.from_tensor_slices((inputs, labels, weights))
        dataset = dataset.shuffle(buffer_size=batch_size * 2, seed=args.seed)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    dataset = create_dataset(targets, contexts, labels, example_weights, args.batch_size)

    def create_model(vocabulary_size, embedding_dim):
        inputs = {
            "target": layers.Input(name="target", shape=(), dtype="int32"),
            "context": layers.Input(name="context", shape=(), dtype="int32"),
        }
        # BUG (zeros-init): embeddings_initializer="zeros" for the table.
        init = "zeros" if args.bug == "zeros-init" else "he_normal"
        item_embeddings = layers.Embedding(
            input_dim=vocabulary_size, output_dim=embedding_dim,
            embeddings_initializer=init,
            embeddings_regularizer=keras.regularizers.l2(1e-6), name="item_embeddings")
        target_embeddings = item_embeddings(inputs["target"])
        context_embeddings = item_embeddings(inputs["context"])
        logits = layers.Dot(axes=1, normalize=False, name="dot_similarity")(
            [target_embeddings, context_embeddings])
        return keras.Model(inputs=inputs, outputs=logits)

    model = create_model(vocabulary_size, args.dim)
    # BUG (no-from-logits): BinaryCrossentropy() on the raw dot products.
    loss = keras.losses.BinaryCrossentropy(from_logits=args.bug != "no-from-logits")
    model.compile(optimizer=keras.optimizers.Adam(args.lr), loss=loss)
    history = model.fit(dataset, epochs=args.epochs, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))

    # node classification on the learned embeddings
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    embeddings = model.get_layer("item_embeddings").get_weights()[0]
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    features = embeddings / np.where(norms == 0, 1.0, norms)
    x_tr, x_te, y_tr, y_te = train_test_split(features, community, test_size=0.3,
                                              random_state=args.seed, stratify=community)
    clf = LogisticRegression(max_iter=1000).fit(x_tr, y_tr)
    node_acc = float(clf.score(x_te, y_te))
    for e in range(len(history.history["loss"])):
        print("epoch %d: loss %.4f" % (e + 1, history.history["loss"][e]))
    print("node classification accuracy %.3f" % node_acc)
    steps = -(-len(targets) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, val_accuracy=node_acc,
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kn2v-no-from-logits", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (from_logits left at its default on "
               "a model that outputs logits); Stack Overflow: BinaryCrossentropy on raw scores",
     "bug": "keras.losses.BinaryCrossentropy() without from_logits=True on the Dot layer's raw "
            "dot products: the loss clips them to [1e-7, 1 - 1e-7] as probabilities, so every "
            "pair whose score leaves [0, 1] passes no gradient; the loss goes from 16.2 to 6.5 "
            "and the node classification accuracy is 0.60 (the fixed twin: 0.94)",
     "fix": "BinaryCrossentropy(from_logits=True)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug no-from-logits --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "kn2v-zeros-init", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: bad weight initialization; Humbatova et al. "
               "2020: wrong weight initialisation (embeddings_initializer='zeros')",
     "bug": "embeddings_initializer='zeros' for the embedding table: the gradient of a dot "
            "product with respect to one embedding is the other embedding, 0, so no embedding "
            "ever moves; the loss stays at 3.5337 for 10 epochs and the node classification "
            "accuracy is 0.25, chance (the fixed twin: 0.90)",
     "fix": "embeddings_initializer='he_normal', as in the example",
     "symptom": "unchanged_values", "acceptable_symptoms": ["dead_or_zero", "not_learning",
                                                           "vanishing_gradient"],
     "root_cause": {"layer_name": "item_embeddings", "layer_index": 0},
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug zeros-init --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kn2v-labels-all-ones", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: training data quality, wrong labels (the negative "
               "samples kept with the positive label)",
     "bug": "every skip-gram pair, the random negatives too, counted with the label 1: the "
            "only way down for the loss is to make every dot product large, the embeddings "
            "grow into one direction and the logits saturate; the loss falls from 4.41 to 0.030 "
            "while the node classification accuracy is 0.50 (the fixed twin: 0.92)",
     "fix": "the negatives keep their label 0",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--bug labels-all-ones --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kn2v", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "node2vec on a stochastic block model graph (biased walks, skip-gram pairs "
                    "with negative sampling, a shared Embedding and a Dot) that trains well",
     "healthy": [
         {"id": "p05-q2-dim24-seed4",
          "args": "--p 0.5 --q 2 --dim 24 --seed 4 --record-every 4",
          "description": "p=0.5, q=2 (walks that explore outwards), 24 dimensions"},
         {"id": "walks8-lr2e-2-seed5",
          "args": "--num-walks 8 --lr 0.02 --seed 5 --record-every 4",
          "description": "8 walks per node, Adam(0.02)"},
     ]},
]


if __name__ == "__main__":
    main()
