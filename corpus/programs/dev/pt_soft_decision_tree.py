"""A soft decision tree (Frosst and Hinton 2017) in PyTorch, classifying generated tabular data.

The tree follows "Distilling a Neural Network Into a Soft Decision Tree" as the public PyTorch
re-implementations write it (``xuyxu/Soft-Decision-Tree``, ``kimhc6028/soft-decision-tree``):
a complete binary tree of depth ``--depth`` (4: 15 inner nodes, 16 leaves). Every inner node i
is a linear filter with a sigmoid, ``p_i(x) = sigmoid(beta * (w_i x + b_i))`` (all filters
one ``nn.Linear``, ``inner``; ``beta`` the inverse temperature, ``--beta``), the probability of
taking the right branch; the path probability of a node is its parent's times p (right child)
or 1 - p (left child), multiplied down the tree level by level. Every leaf holds a learned
class distribution, the softmax over the classes of its parameters (``leaves``). The loss is
the paper's: the cross-entropy of each leaf's distribution with the label, weighted by the
leaf's path probability, plus the penalty that pushes every inner node towards a 50/50 split,
``-lambda * 2^-depth * (0.5 log alpha_i + 0.5 log(1 - alpha_i))`` with ``alpha_i`` the
batch's path-probability weighted mean of ``p_i`` (``--penalty``, lambda 0.1). The prediction
is the arg max of the mixture of the leaf distributions weighted by the path probabilities.

Data (generated): scikit-learn ``make_classification``, 1000 points with 10 features (6
informative, 2 redundant), 4 classes of 2 clusters each (``class_sep`` 1.5), 800 train and 200
held out (stratified),
standardized with the training statistics. Adam (``--lr``), minibatches of ``--batch-size``
shuffled each epoch. After every epoch the held-out loss and accuracy (chance 0.25) are passed
to the recorder. The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--lr``, ``--beta``, ``--penalty``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


class Leaves(nn.Module):
    """The leaves' class distributions: a softmax over the classes of each leaf's parameters."""

    def __init__(self, n_leaves, classes, bug=None):
        super().__init__()
        self.phi = nn.Parameter(0.1 * torch.randn(n_leaves, classes))
        self.bug = bug

    def forward(self):
        if self.bug == "leaf-softmax-over-leaves":
            # BUG (leaf-softmax-over-leaves): the softmax taken over the leaves (dim 0)
            # instead of over the classes of each leaf.
            return torch.softmax(self.phi, dim=0)
        return torch.softmax(self.phi, dim=1)


class SoftDecisionTree(nn.Module):
    def __init__(self, features, classes, depth, beta, bug=None):
        super().__init__()
        self.depth, self.beta, self.bug = depth, beta, bug
        self.n_inner = 2 ** depth - 1
        self.inner = nn.Linear(features, self.n_inner)
        self.leaves = Leaves(2 ** depth, classes, bug)

    def forward(self, x):
        p = torch.sigmoid(self.beta * self.inner(x))          # (batch, inner nodes)
        mu = x.new_ones(len(x), 1)                            # path probability of the root
        node_mu = []                                          # path probability of each inner node
        begin = 0
        for level in range(self.depth):
            end = begin + 2 ** level
            p_level = p[:, begin:end]
            node_mu.append(mu)
            if self.bug == "right-branch-p":
                # BUG (right-branch-p): both children given mu * p, the left one p instead of
                # 1 - p: the two branches no longer split the parent's probability.
                mu = torch.stack([mu * p_level, mu * p_level], dim=2).flatten(1)
            else:
                mu = torch.stack([mu * (1 - p_level), mu * p_level], dim=2).flatten(1)
            begin = end
        return mu, torch.cat(node_mu, dim=1), p, self.leaves()

    def penalty(self, node_mu, p):
        alpha = (node_mu * p).sum(0) / node_mu.sum(0).clamp_min(1e-8)
        alpha = alpha.clamp(1e-6, 1 - 1e-6)
        depth = torch.cat([torch.full((2 ** d,), float(d)) for d in range(self.depth)])
        return -(2.0 ** -depth * (0.5 * torch.log(alpha) + 0.5 * torch.log(1 - alpha))).sum()


def tree_loss(mu, leaf_dist, y):
    """The path-probability weighted cross-entropy of the leaves (Frosst and Hinton, eq. 2)."""
    log_q = torch.log(leaf_dist.clamp_min(1e-12))[:, y].t()    # (batch, leaves)
    return -(mu * log_q).sum(1).mean()


def main():
    p = common.parser(__doc__)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--penalty", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--bug", default=None, choices=(
        "right-branch-p", "leaf-softmax-over-leaves", "penalty-sign"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    from sklearn.datasets import make_classification
    x, y = make_classification(n_samples=1000, n_features=10, n_informative=6, n_redundant=2,
                               n_classes=4, n_clusters_per_class=2, class_sep=1.5,
                               random_state=args.seed)
    x_tr, x_va, y_tr, y_va = common.split(x, y, seed=args.seed)
    x_tr, x_va = common.standardize(x_tr, x_va)
    x_tr = torch.tensor(x_tr, dtype=torch.float32)
    x_va = torch.tensor(x_va, dtype=torch.float32)
    y_tr = torch.tensor(y_tr, dtype=torch.long)
    y_va = torch.tensor(y_va, dtype=torch.long)
    classes = int(y_tr.max()) + 1

    model = SoftDecisionTree(x_tr.shape[1], classes, args.depth, args.beta, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(x_tr) + args.batch_size - 1) // args.batch_size
    sign = -1.0 if args.bug == "penalty-sign" else 1.0

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="soft decision tree path-weighted cross-entropy",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size, num_classes=classes)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_tr), generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            optimizer.zero_grad()
            mu, node_mu, pr, leaf_dist = model(xb)
            # BUG (penalty-sign): the balancing penalty subtracted instead of added (the
            # minus sign of -lambda dropped), which rewards splits that send everything
            # one way.
            loss = tree_loss(mu, leaf_dist, yb) + sign * args.penalty * model.penalty(node_mu, pr)
            loss.backward()
            optimizer.step()
            acc = ((mu @ leaf_dist).argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vmu, _, _, vleaf = model(x_va)
                    val_loss = tree_loss(vmu, vleaf, y_va).item()
                    val_acc = ((vmu @ vleaf).argmax(1) == y_va).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: loss %.4f  acc %.3f  val loss %.4f  val acc %.3f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
                val_loss, val_acc))
    rec.close()
    common.report(history.result())



# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "sdt-right-branch-p", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong model formula (both children of a soft decision "
               "node given the probability p instead of 1 - p and p)",
     "bug": "the left child's path probability is mu * p instead of mu * (1 - p): the leaf "
            "weights no longer sum to one and the loss falls by sending every path probability "
            "towards zero (1.201 to 0.400, held-out 0.043) while the accuracy stays at chance, "
            "0.264 (held-out 0.275), against the twin's 0.951 (held-out 0.935)",
     "fix": "torch.stack([mu * (1 - p_level), mu * p_level], dim=2)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug right-branch-p --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "sdt-leaf-softmax-over-leaves", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong tensor dimension (a softmax over the wrong axis)",
     "bug": "the leaves' softmax taken over dim 0, the leaves, instead of dim 1, the classes: "
            "each leaf's vector is no distribution over the classes, the accuracy ends at 0.298 "
            "(held-out 0.295, chance 0.25) against the twin's 0.874 (held-out 0.825)",
     "fix": "torch.softmax(self.phi, dim=1)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": {"layer_name": "leaves", "layer_index": 1},
     "pairs": [
         {"id": "adam",
          "buggy": "--bug leaf-softmax-over-leaves --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "healthy-sdt", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a soft decision tree classifying generated tabular data",
     "healthy": [
         {"id": "depth5-seed2",
          "args": "--depth 5 --seed 2 --record-every 4",
          "description": "depth 5 (31 inner nodes, 32 leaves)"},
     ]},
]


if __name__ == "__main__":
    main()
