"""A two-layer graph convolutional network (Kipf and Welling, "Semi-Supervised Classification
with Graph Convolutional Networks", ICLR 2017) for node classification, in the layout of the
authors' ``pygcn`` code: a ``GraphConvolution`` module with its own ``weight`` and ``bias``
parameters (uniform in +-1/sqrt(out_features)), ``output = adj @ (input @ weight) + bias``,
a dense renormalized adjacency matrix ``D^-1/2 (A + I) D^-1/2`` built once, ReLU and dropout
between the two layers, ``log_softmax`` at the end and ``F.nll_loss`` on the labelled nodes.
Training is full-batch: one optimizer step per epoch over the whole graph, the validation
nodes evaluated after every step.

The graph is generated here: a stochastic block model of ``--nodes`` nodes in four equal
communities (an edge inside a community with probability ``--p-in``, between communities with
``--p-out``), undirected, no self-loops. Every node has ``--features`` noisy features: its
community's mean vector plus Gaussian noise three times as large, so that a node's own features
alone classify it poorly and the neighbourhood has to be averaged. Of the nodes, 25% are
labelled for training, 25% validate and the rest are held out. The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--lr``, ``--weight-decay``).
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

COMMUNITIES = 4


def stochastic_block_model(nodes, p_in, p_out, n_features, seed):
    """(edges as an (n, n) 0/1 array, features (n, f), community labels (n,))."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(COMMUNITIES), nodes // COMMUNITIES)
    rng.shuffle(labels)
    same = labels[:, None] == labels[None, :]
    prob = np.where(same, p_in, p_out)
    upper = np.triu(rng.random((nodes, nodes)) < prob, k=1)
    edges = (upper | upper.T).astype(np.float32)
    centres = rng.normal(0.0, 1.0, size=(COMMUNITIES, n_features))
    features = centres[labels] + rng.normal(0.0, 3.0, size=(nodes, n_features))
    return edges, features.astype(np.float32), labels.astype(np.int64)


def normalize_adjacency(edges):
    """The renormalization trick: D^-1/2 (A + I) D^-1/2 with D the degrees of A + I."""
    a = edges + np.eye(len(edges), dtype=np.float32)
    d = a.sum(1)
    d_inv_sqrt = 1.0 / np.sqrt(d)
    return (a * d_inv_sqrt[:, None] * d_inv_sqrt[None, :]).astype(np.float32)


class GraphConvolution(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.weight.size(1))
        self.weight.data.uniform_(-stdv, stdv)
        self.bias.data.uniform_(-stdv, stdv)

    def forward(self, x, adj):
        support = torch.mm(x, self.weight)
        return torch.mm(adj, support) + self.bias


class GCN(nn.Module):
    def __init__(self, n_features, hidden, n_classes, dropout):
        super().__init__()
        self.gc1 = GraphConvolution(n_features, hidden)
        self.gc2 = GraphConvolution(hidden, n_classes)
        self.dropout = dropout

    def forward(self, x, adj):
        x = F.relu(self.gc1(x, adj))
        x = F.dropout(x, self.dropout, training=self.training)
        x = self.gc2(x, adj)
        return F.log_softmax(x, dim=1)


def accuracy(output, labels):
    return (output.argmax(1) == labels).double().mean()


def main():
    p = common.parser(__doc__)
    p.add_argument("--nodes", type=int, default=800)
    p.add_argument("--p-in", type=float, default=0.04)
    p.add_argument("--p-out", type=float, default=0.008)
    p.add_argument("--features", type=int, default=24)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "rmsprop"))
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--bug", default=None,
                   choices=("raw-adjacency", "labels-misaligned", "missing-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    edges, features, labels = stochastic_block_model(
        args.nodes, args.p_in, args.p_out, args.features, args.seed)
    if args.bug == "raw-adjacency":
        # BUG: the edge matrix is used as it is: no self-loops, no degree normalization, so
        # every layer sums (rather than averages) its 10 to 20 neighbours.
        adj = torch.from_numpy(edges)
    else:
        adj = torch.from_numpy(normalize_adjacency(edges))
    # features row-normalized to zero mean and unit variance per column, as usual
    features = (features - features.mean(0)) / features.std(0)
    x = torch.from_numpy(features)
    y = torch.from_numpy(labels)

    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(args.nodes)
    n_train, n_val = args.nodes // 4, args.nodes // 4
    idx_train = torch.from_numpy(perm[:n_train])
    idx_val = torch.from_numpy(perm[n_train:n_train + n_val])
    train_mask = torch.zeros(args.nodes, dtype=torch.bool)
    train_mask[idx_train] = True
    if args.bug == "labels-misaligned":
        # BUG: the outputs are picked with the boolean mask (node order) but the labels with
        # the shuffled index list: the i-th output is compared with another node's label.
        train_labels = y[idx_train]
    else:
        train_labels = y[train_mask]

    model = GCN(args.features, args.hidden, COMMUNITIES, args.dropout)
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr,
                                     weight_decay=args.weight_decay)
    elif args.optimizer == "rmsprop":
        optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr,
                                        weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                                    weight_decay=args.weight_decay)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification", loss_name="NLLLoss",
        steps_per_epoch=1, num_classes=COMMUNITIES, batch_size=n_train)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        if args.bug != "missing-zero-grad":
            optimizer.zero_grad()
        # BUG (missing-zero-grad): without zero_grad() every epoch's gradient is added to all
        # the earlier ones.
        output = model(x, adj)
        loss_train = F.nll_loss(output[train_mask], train_labels)
        acc_train = accuracy(output[train_mask], train_labels)
        loss_train.backward()
        optimizer.step()

        model.eval()
        with torch.no_grad():
            output = model(x, adj)
            loss_val = F.nll_loss(output[idx_val], y[idx_val]).item()
            acc_val = accuracy(output[idx_val], y[idx_val]).item()
        rec.step(loss_train, accuracy=acc_train, inputs=x, targets=train_labels,
                 val_loss=loss_val, val_accuracy=acc_val)
        history.step(loss_train.item(), acc_train.item())
        history.epoch(loss_val, acc_val)
        if (epoch + 1) % 25 == 0:
            print("epoch %d: loss_train %.4f acc_train %.3f loss_val %.4f acc_val %.3f" % (
                epoch + 1, loss_train.item(), acc_train.item(), loss_val, acc_val))
    rec.close()
    model.eval()
    with torch.no_grad():
        output = model(x, adj)
        held_out = torch.from_numpy(perm[n_train + n_val:])
        test_acc = accuracy(output[held_out], y[held_out]).item()
    result = history.result(test_accuracy=test_acc)
    # the "epochs" of a full-batch run are single steps: report the last ten as the final epoch
    last = [e[0][0] for e in history.epochs[-10:]]
    result["loss"] = float(np.mean(last))
    result["first_loss"] = float(np.mean([e[0][0] for e in history.epochs[:10]]))
    common.report(result)


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "gcnsbm-raw-adjacency", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020: missing input normalization (the graph's adjacency "
               "matrix used without self-loops and without the symmetric degree normalization "
               "of Kipf and Welling's renormalization trick); DeepFD fault type: data "
               "preprocessing",
     "bug": "the raw 0/1 edge matrix is the propagation matrix: every layer sums its 10 to 20 "
            "neighbours instead of averaging them, so the two layers multiply the scale of "
            "the logits by a few hundred; under SGD momentum 0.1 the first-epoch losses average 14100 and the loss is NaN before the end "
            "(validation accuracy 0.285 of four communities), against the twin's 0.990",
     "fix": "propagate with D^-1/2 (A + I) D^-1/2",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--optimizer sgd --lr 0.1 --bug raw-adjacency --record-every 2",
          "fixed": "--optimizer sgd --lr 0.1 --record-every 2"},
     ]},
    {"family": "gcnsbm-labels-misaligned", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020: wrong labels (outputs selected with a boolean mask in "
               "node order, labels with the shuffled index list); DeepDiagnosis / DeepFD fault "
               "type: wrong training data",
     "bug": "the training outputs are output[train_mask] (node order) but the labels "
            "y[idx_train] (the shuffled order), so every output is compared with another "
            "node's label: the training accuracy creeps to 0.58 by memorizing "
            "the wrong labels while the validation accuracy ends at 0.215 of four communities "
            "(loss 1.61), against the twin's 0.990",
     "fix": "take the labels with the same selection as the outputs, y[train_mask]",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug labels-misaligned --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "gcnsbm-missing-zero-grad", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad(); DeepFD fault type: "
               "training process",
     "bug": "optimizer.zero_grad() left out of the full-batch loop: every epoch's gradient is "
            "added to all the earlier ones and SGD momentum 0.9 at 0.1 takes ever larger "
            "steps: the loss of the last ten "
            "epochs averages 167 and the validation accuracy ends at 0.205 of four communities, "
            "against the twin's 0.960",
     "fix": "optimizer.zero_grad() at the start of every epoch",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed1",
          "buggy": "--optimizer sgd --lr 0.1 --seed 1 --bug missing-zero-grad --record-every 2",
          "fixed": "--optimizer sgd --lr 0.1 --seed 1 --record-every 2"},
     ]},
    {"family": "gcnsbm-weight-decay-typo", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020: regularization too strong (weight_decay=5e-1 typed for "
               "the paper's 5e-4); DeepFD fault type: hyperparameter",
     "bug": "Adam's weight_decay 0.5 instead of 5e-4: the L2 term pulls every weight to zero "
            "faster than the labels move it: the loss stays at 1.38 (ln 4 = 1.386) and the validation "
            "accuracy ends at 0.195 of four communities, against the twin's 0.940",
     "fix": "weight_decay 5e-4",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--weight-decay 0.5 --seed 2 --record-every 2",
          "fixed": "--weight-decay 5e-4 --seed 2 --record-every 2"},
     ]},
    {"family": "gcnsbm-adam-lr-too-low", "split": "dev", "architecture": "gcn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low; AUTOTRAINER: slow "
               "convergence",
     "bug": "Adam at 1e-4 (meant 1e-2) for 150 full-batch epochs: the loss of the last ten epochs "
            "averages 1.41 (the first ten 1.45) and the validation accuracy ends at 0.300 of four "
            "communities, against the twin's 0.960",
     "fix": "learning rate 0.01",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed3",
          "buggy": "--lr 1e-4 --seed 3 --record-every 2",
          "fixed": "--lr 0.01 --seed 3 --record-every 2"},
     ]},
    {"family": "healthy-gcnsbm", "split": "dev", "architecture": "gcn",
     "origin": "healthy run",
     "description": "a two-layer GCN on a stochastic block model that trains well",
     "healthy": [
         {"id": "rmsprop-h32-seed4",
          "args": "--optimizer rmsprop --lr 0.01 --hidden 32 --seed 4 --record-every 2",
          "description": "RMSprop 0.01, 32 hidden units"},
         {"id": "adam-h64-dropout0.3-seed5",
          "args": "--lr 0.02 --hidden 64 --dropout 0.3 --seed 5 --record-every 2",
          "description": "Adam 0.02, 64 hidden units, dropout 0.3"},
         {"id": "sgd-lr0.2-seed6",
          "args": "--optimizer sgd --lr 0.2 --epochs 120 --seed 6 --record-every 2",
          "description": "SGD momentum 0.9 at 0.2, 120 epochs"},
         {"id": "adam-nodes1200-no-decay-seed7",
          "args": "--nodes 1200 --p-in 0.03 --p-out 0.005 --weight-decay 0 --seed 7 --record-every 2",
          "description": "a larger, sparser graph of 1200 nodes, no weight decay"},
     ]},
]


if __name__ == "__main__":
    main()
