"""GraphSAGE (Hamilton, Ying and Leskovec, "Inductive Representation Learning on Large Graphs",
NeurIPS 2017) with neighbour sampling, the way minimal repositories write it without PyTorch
Geometric: an adjacency list, mini-batches of target nodes, fixed-size sampled neighbourhoods
for two hops and mean aggregators.

The graph is generated here: a stochastic block model of 1200 nodes in five communities of
different sizes (an edge inside a community with probability 0.03, between communities with
0.004), kept as an adjacency list (a Python list of neighbour sets, as in ``graphsage-simple``).
Every node has 24 features: its community's centre plus Gaussian noise twice as large, so its
own features classify it poorly (about 0.55) and its neighbourhood has to be averaged. 60% of
the nodes train, 40% are held out (their labels never seen; the neighbourhoods are sampled from
the whole graph, as transductive GraphSAGE does).

A mini-batch is ``--batch-size`` shuffled training nodes. For each, ``--fanout2`` neighbours are
sampled (with replacement, ``random.choices``, from the node's adjacency list), and for each of
those and each target ``--fanout1`` neighbours of theirs: the node sets of the two hops are
built as id lists, the raw features looked up, and two ``SageLayer``s (``layer1``, ``layer2``)
each compute ``relu(W [h_self ; mean(h_neigh)])`` followed by an L2 normalization of the
embedding (``F.normalize(dim=1)``), the first on the hop-2 and hop-1 nodes, the second on the
targets; ``classifier`` (``nn.Linear``) gives the logits, ``nn.CrossEntropyLoss``, Adam
(``--lr``). The held-out accuracy is evaluated once per epoch with sampled neighbourhoods
(a fixed generator). The mistakes of the families in CASES are selected with ``--bug`` or show
in a setting (``--lr``).
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

COMMUNITIES = 5
FEATURES = 24


def sbm_graph(seed, nodes=1200, p_in=0.03, p_out=0.004):
    """(adjacency list of sets, features (n, f) float32, labels (n,) int64)."""
    rng = np.random.default_rng(seed)
    sizes = np.array([0.3, 0.25, 0.2, 0.15, 0.1]) * nodes
    labels = np.repeat(np.arange(COMMUNITIES), sizes.astype(int))
    rng.shuffle(labels)
    same = labels[:, None] == labels[None, :]
    upper = np.triu(rng.random((nodes, nodes)) < np.where(same, p_in, p_out), k=1)
    adj_lists = [set() for _ in range(nodes)]
    for a, b in zip(*np.nonzero(upper)):
        adj_lists[a].add(int(b))
        adj_lists[b].add(int(a))
    for v in range(nodes):                      # no isolated nodes: a self-loop instead
        if not adj_lists[v]:
            adj_lists[v].add(v)
    centres = rng.normal(0.0, 1.0, size=(COMMUNITIES, FEATURES))
    feats = centres[labels] + rng.normal(0.0, 2.0, size=(nodes, FEATURES))
    return adj_lists, feats.astype(np.float32), labels.astype(np.int64)


def sample_neighbors(nodes, adj_lists, k, rnd):
    """k neighbours of every node (with replacement), as an (len(nodes), k) id list."""
    return [rnd.choices(sorted(adj_lists[v]), k=k) for v in nodes]


class SageLayer(nn.Module):
    """Mean aggregator: h' = normalize(relu(W [h_self ; mean(h_neigh)]))."""

    def __init__(self, in_dim, out_dim, bug=None):
        super().__init__()
        self.weight = nn.Linear(2 * in_dim, out_dim)
        self.bug = bug

    def forward(self, h_self, h_neigh):        # h_self: [n, d], h_neigh: [n, k, d]
        agg = h_neigh.mean(dim=1)
        h = torch.relu(self.weight(torch.cat([h_self, agg], dim=1)))
        if self.bug == "normalize-dim0":
            # BUG: the L2 normalization taken over the nodes of the batch (dim=0) instead of
            # over each embedding's features (dim=1).
            return F.normalize(h, p=2, dim=0)
        return F.normalize(h, p=2, dim=1)


class GraphSAGE(nn.Module):
    def __init__(self, hidden, classes, bug=None):
        super().__init__()
        self.layer1 = SageLayer(FEATURES, hidden, bug)
        self.layer2 = SageLayer(hidden, hidden, bug)
        self.classifier = nn.Linear(hidden, classes)
        self.bug = bug

    def forward(self, feats, targets, adj_lists, k1, k2, rnd):
        # hop 1: the sampled neighbours of the targets; hop 2: of each of those and the targets
        hop1 = sample_neighbors(targets, adj_lists, k2, rnd)            # [B][k2]
        flat1 = [v for row in hop1 for v in row]                        # B * k2 ids
        layer1_nodes = list(targets) + flat1
        hop2 = sample_neighbors(layer1_nodes, adj_lists, k1, rnd)       # [B + B*k2][k1]
        x_self = feats[torch.as_tensor(layer1_nodes)]
        x_neigh = feats[torch.as_tensor(hop2)]                          # [B + B*k2, k1, f]
        h1 = self.layer1(x_self, x_neigh)                               # [B + B*k2, hidden]
        b = len(targets)
        h_targets, h_neigh = h1[:b], h1[b:].reshape(b, k2, -1)
        z = self.layer2(h_targets, h_neigh)
        return self.classifier(z)


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--fanout1", type=int, default=10)
    p.add_argument("--fanout2", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("labels-unshuffled", "normalize-dim0"))
    args = p.parse_args()
    common.torch_setup(args.seed)
    rnd = random.Random(args.seed)

    adj_lists, feats_np, labels_np = sbm_graph(args.seed)
    n = len(labels_np)
    order = np.random.default_rng(args.seed).permutation(n)
    train_nodes, test_nodes = order[:int(0.6 * n)], order[int(0.6 * n):]
    feats = torch.from_numpy(feats_np)
    labels = torch.from_numpy(labels_np)
    degrees = [len(a) for a in adj_lists]
    print("nodes %d, edges %d, mean degree %.1f" % (n, sum(degrees) // 2, np.mean(degrees)))

    model = GraphSAGE(args.hidden, COMMUNITIES, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    steps_per_epoch = len(train_nodes) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        num_classes=COMMUNITIES, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        train_nodes_list = [int(v) for v in train_nodes]
        rnd.shuffle(train_nodes_list)
        for b in range(steps_per_epoch):
            batch_nodes = train_nodes_list[b * args.batch_size:(b + 1) * args.batch_size]
            if args.bug == "labels-unshuffled":
                # BUG: the labels are sliced from the training nodes in their original order,
                # not from the shuffled batch of nodes the model is given.
                batch_labels = labels[train_nodes[b * args.batch_size:(b + 1) * args.batch_size]]
            else:
                batch_labels = labels[batch_nodes]
            optimizer.zero_grad()
            logits = model(feats, batch_nodes, adj_lists, args.fanout1, args.fanout2, rnd)
            loss = criterion(logits, batch_labels)
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == batch_labels).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    eval_rnd = random.Random(1000 + args.seed)
                    vl = model(feats, list(test_nodes), adj_lists, args.fanout1, args.fanout2,
                               eval_rnd)
                    yv = labels[torch.as_tensor(test_nodes)]
                    val_loss = criterion(vl, yv).item()
                    val_acc = (vl.argmax(1) == yv).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=feats[torch.as_tensor(batch_nodes)],
                     targets=batch_labels, val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f held-out %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "sage-labels-unshuffled", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020 (training data: wrong labels / data and labels out of "
               "step after shuffling)",
     "bug": "the batch's labels are sliced from the training nodes in their original order "
            "while the model is given the shuffled batch of nodes, so every node is trained "
            "on another node's label: the loss stays at 1.55 (first epoch 1.56), accuracy "
            "0.30 (held-out 0.31, the largest community's share) against the twin's 0.98 "
            "(held-out 0.93)",
     "fix": "batch_labels = labels[batch_nodes]",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam1e-2",
          "buggy": "--bug labels-unshuffled --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "healthy-sage", "split": "dev", "architecture": "gcn",
     "origin": "healthy run",
     "description": "a GraphSAGE node classifier with sampled two-hop neighbourhoods that "
                    "trains well",
     "healthy": [
         {"id": "h32-lr3e-3-seed1",
          "args": "--hidden 32 --lr 3e-3 --seed 1 --record-every 4",
          "description": "32 hidden units, Adam at 3e-3: held-out accuracy 0.93"},
     ]},
]


if __name__ == "__main__":
    main()
