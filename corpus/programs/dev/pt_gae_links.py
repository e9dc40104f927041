"""A graph autoencoder for link prediction (Kipf and Welling, "Variational Graph Auto-Encoders",
NIPS 2016 workshop; the non-variational GAE), in the layout of the common ``gae-pytorch`` ports:
a two-layer GCN encoder written by hand (``GraphConvolution`` modules with a Glorot-initialized
``weight`` and no bias, ``output = adj @ (input @ weight)`` with ``torch.sparse.mm`` on the
renormalized sparse adjacency ``D^-1/2 (A + I) D^-1/2`` of the training edges), ReLU after the
first layer and none after the second, and an inner-product decoder ``sigmoid(z_i . z_j)``.
Training is full-batch, one Adam step per epoch: ``F.binary_cross_entropy_with_logits`` over
the training edges (label 1) and as many node pairs drawn at random each epoch (label 0).

The graph is generated here: a stochastic block model of ``--nodes`` nodes in ``--blocks``
equal communities (an edge inside a community with probability ``--p-in``, between communities
with ``--p-out``), undirected, no self-loops; every node has 16 noisy features (its community's
mean vector plus Gaussian noise twice as large), standardized per column. 10% of the edges are
held out for validation (with as many fixed non-edges), the other 90% form the training graph.
The metric is the ROC AUC of the held-out edges against the held-out non-edges (printed, and
``val_auc`` in the result line); the accuracy is that of ``logit > 0`` on the training pairs
and on the validation pairs. The mistakes of the families in CASES are selected with ``--bug``
or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


def stochastic_block_model(nodes, blocks, p_in, p_out, seed):
    """(undirected edge list (m, 2) with i < j, node features (n, 16))."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(blocks), int(math.ceil(nodes / blocks)))[:nodes]
    rng.shuffle(labels)
    prob = np.where(labels[:, None] == labels[None, :], p_in, p_out)
    upper = np.triu(rng.random((nodes, nodes)) < prob, k=1)
    edges = np.argwhere(upper)
    centres = rng.normal(0.0, 1.0, size=(blocks, 16))
    features = centres[labels] + rng.normal(0.0, 2.0, size=(nodes, 16))
    features = (features - features.mean(0)) / features.std(0)
    return edges, features.astype(np.float32)


def mask_test_edges(edges, nodes, val_frac, rng):
    """Splits the edges into training and held-out ones; draws as many held-out non-edges."""
    perm = rng.permutation(len(edges))
    n_val = int(round(val_frac * len(edges)))
    val_edges, train_edges = edges[perm[:n_val]], edges[perm[n_val:]]
    existing = set(map(tuple, edges))
    val_false = []
    while len(val_false) < n_val:
        i, j = rng.integers(0, nodes, size=2)
        if i == j:
            continue
        a, b = min(i, j), max(i, j)
        if (a, b) in existing or (a, b) in val_false:
            continue
        val_false.append((a, b))
    return train_edges, val_edges, np.array(val_false)


def preprocess_graph(train_edges, nodes, self_loops=True):
    """The renormalized adjacency D^-1/2 (A + I) D^-1/2 as a sparse COO tensor."""
    rows = np.concatenate([train_edges[:, 0], train_edges[:, 1]])
    cols = np.concatenate([train_edges[:, 1], train_edges[:, 0]])
    if self_loops:
        rows = np.concatenate([rows, np.arange(nodes)])
        cols = np.concatenate([cols, np.arange(nodes)])
    deg = np.bincount(rows, minlength=nodes).astype(np.float64)
    d_inv_sqrt = 1.0 / np.sqrt(np.maximum(deg, 1.0))
    vals = d_inv_sqrt[rows] * d_inv_sqrt[cols]
    index = torch.from_numpy(np.stack([rows, cols]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.from_numpy(vals.astype(np.float32)),
                                   (nodes, nodes)).coalesce()


def raw_adjacency(train_edges, nodes):
    rows = np.concatenate([train_edges[:, 0], train_edges[:, 1]])
    cols = np.concatenate([train_edges[:, 1], train_edges[:, 0]])
    index = torch.from_numpy(np.stack([rows, cols]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.ones(len(rows)), (nodes, nodes)).coalesce()


class GraphConvolution(nn.Module):
    """A GCN layer without bias: adj @ (input @ weight)."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x, adj):
        return torch.sparse.mm(adj, torch.mm(x, self.weight))


class InnerProductDecoder(nn.Module):
    """Logits of the pairs (i, j): z_i . z_j (the sigmoid is in the loss)."""

    def forward(self, z, pairs):
        return (z[pairs[:, 0]] * z[pairs[:, 1]]).sum(1)


class GAE(nn.Module):
    def __init__(self, in_features, hidden1, hidden2, dropout):
        super().__init__()
        self.gc1 = GraphConvolution(in_features, hidden1)
        self.gc2 = GraphConvolution(hidden1, hidden2)
        self.dropout = dropout
        self.dc = InnerProductDecoder()

    def encode(self, x, adj):
        h = F.relu(self.gc1(F.dropout(x, self.dropout, self.training), adj))
        return self.gc2(F.dropout(h, self.dropout, self.training), adj)

    def forward(self, x, adj, pairs):
        return self.dc(self.encode(x, adj), pairs)


def roc_auc(pos_logits, neg_logits):
    from sklearn.metrics import roc_auc_score
    scores = np.concatenate([pos_logits, neg_logits])
    truth = np.concatenate([np.ones(len(pos_logits)), np.zeros(len(neg_logits))])
    return float(roc_auc_score(truth, scores))


def main():
    p = common.parser(__doc__)
    p.add_argument("--nodes", type=int, default=400)
    p.add_argument("--blocks", type=int, default=8)
    p.add_argument("--p-in", type=float, default=0.2)
    p.add_argument("--p-out", type=float, default=0.002)
    p.add_argument("--hidden1", type=int, default=32)
    p.add_argument("--hidden2", type=int, default=16)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--bug", default=None,
                   choices=("no-negatives", "raw-adjacency", "double-sigmoid",
                            "labels-swapped"))
    args = p.parse_args()
    common.torch_setup(args.seed)
    rng = np.random.default_rng(args.seed)

    edges, features = stochastic_block_model(args.nodes, args.blocks, args.p_in, args.p_out,
                                             args.seed)
    train_edges, val_edges, val_false = mask_test_edges(edges, args.nodes, 0.1, rng)
    print("nodes %d, edges %d (train %d, held out %d)" % (
        args.nodes, len(edges), len(train_edges), len(val_edges)))
    if args.bug == "raw-adjacency":
        # BUG: the 0/1 adjacency of the training edges is propagated as it is (no self-loops,
        # no degree normalization): every layer sums its 10 to 20 neighbours' messages.
        adj = raw_adjacency(train_edges, args.nodes)
    else:
        adj = preprocess_graph(train_edges, args.nodes)
    x = torch.from_numpy(features)
    pos = torch.from_numpy(train_edges.astype(np.int64))
    val_pairs = torch.from_numpy(np.concatenate([val_edges, val_false]).astype(np.int64))
    val_labels = torch.cat([torch.ones(len(val_edges)), torch.zeros(len(val_false))])

    model = GAE(features.shape[1], args.hidden1, args.hidden2, args.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(args.seed)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="BCEWithLogitsLoss", steps_per_epoch=1, num_classes=2,
        batch_size=2 * len(train_edges))
    history = common.History()
    auc = None
    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()
        # negative sampling: as many random node pairs as training edges, drawn anew each epoch
        neg = torch.randint(0, args.nodes, (len(train_edges), 2), generator=g)
        if args.bug == "no-negatives":
            # BUG: only the observed edges are reconstructed (the negative pairs were dropped
            # when the loss was rewritten from the dense adjacency to an edge list)
            pairs, labels = pos, torch.ones(len(pos))
        else:
            pairs = torch.cat([pos, neg])
            labels = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
            if args.bug == "labels-swapped":
                # BUG: the labels are concatenated in the opposite order of the pairs
                labels = torch.cat([torch.zeros(len(neg)), torch.ones(len(pos))])
        logits = model(x, adj, pairs)
        if args.bug == "double-sigmoid":
            # BUG: the decoder's sigmoid (as in the paper's formula) applied before a loss
            # that applies it again
            logits = torch.sigmoid(logits)
            loss = F.binary_cross_entropy_with_logits(logits, labels)
            acc = ((logits > 0.5).float() == labels).float().mean()
        else:
            loss = F.binary_cross_entropy_with_logits(logits, labels)
            acc = ((logits > 0).float() == labels).float().mean()
        loss.backward()
        optimizer.step()

        model.eval()
        with torch.no_grad():
            vl = model(x, adj, val_pairs)
            if args.bug == "double-sigmoid":
                vl = torch.sigmoid(vl)
                val_acc = ((vl > 0.5).float() == val_labels).float().mean().item()
            else:
                val_acc = ((vl > 0).float() == val_labels).float().mean().item()
            val_loss = F.binary_cross_entropy_with_logits(vl, val_labels).item()
            auc = roc_auc(vl[:len(val_edges)].numpy(), vl[len(val_edges):].numpy())
        rec.step(loss, accuracy=acc, inputs=x, targets=labels, val_loss=val_loss,
                 val_accuracy=val_acc)
        history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        if (epoch + 1) % 20 == 0:
            print("epoch %d: loss %.4f acc %.3f val loss %.4f acc %.3f auc %.3f" % (
                epoch + 1, loss.item(), acc.item(), val_loss, val_acc, auc))
    rec.close()
    common.report(history.result(val_auc=auc))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "gae-no-negatives", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020 (training data / loss function: the loss sees one class "
               "only); a known graph-autoencoder mistake of link-prediction code that drops the "
               "negative sampling",
     "bug": "the loss reconstructs only the observed training edges (label 1), the sampled "
            "non-edges are left out: the training loss falls to 0 (7e-9) with a training "
            "accuracy of 1.0 from the first epoch, while every pair scores positive: the "
            "validation accuracy is 0.500, the validation loss 15.0 and the held-out AUC 0.547, "
            "against the twin's AUC 0.937 (validation accuracy 0.907)",
     "fix": "BCE-with-logits over the training edges and as many random node pairs labelled 0",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-lr1e-2",
          "buggy": "--bug no-negatives --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "gae-raw-adjacency", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020 (missing preprocessing: the graph's adjacency not "
               "normalized); pygcn / gae issues on the renormalization trick",
     "bug": "the 0/1 adjacency of the training edges is propagated as it is (no self-loops, no "
            "D^-1/2 normalization), so both GCN layers sum their 10 to 20 neighbours and the "
            "inner products are huge: the first epoch's loss is 2718, the last 3.95 (training "
            "accuracy 0.71), the held-out AUC 0.798 (validation accuracy 0.719, loss 3.30), "
            "against the twin's AUC 0.900 (validation accuracy 0.879, loss 0.468)",
     "fix": "propagate with the renormalized D^-1/2 (A + I) D^-1/2",
     "symptom": "saturation", "acceptable_symptoms": ["exploding_gradient", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-lr1e-2-seed1",
          "buggy": "--bug raw-adjacency --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-gae", "split": "dev", "architecture": "gcn",
     "origin": "healthy run",
     "description": "a graph autoencoder for link prediction on a stochastic block model that "
                    "trains well",
     "healthy": [
         {"id": "hidden64-32-seed3",
          "args": "--hidden1 64 --hidden2 32 --seed 3 --record-every 4",
          "description": "GCN layers of 64 and 32 units, Adam at 0.01, 200 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
