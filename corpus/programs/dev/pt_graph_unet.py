"""Graph U-Nets (Gao and Ji, "Graph U-Nets", ICML 2019) for node classification, written as
the authors' PyTorch implementation (github.com/HongyangGao/Graph-U-Nets, ``src/utils/ops.py``:
``GraphUnet``, ``GCN``, ``Pool``, ``Unpool``, ``top_k_graph``, ``norm_g``) and PyG's
``GraphUNet`` write it, on a dense adjacency matrix: a ``GCN`` layer is dropout, then
``g @ h``, then its ``proj`` (``nn.Linear``) and an activation (ELU); a gPool layer (``Pool``)
scores every node by its projection on a learned vector p, ``y = X p / ||p||`` (its ``proj``,
a ``Linear(dim, 1)`` without bias), keeps the top ``k`` fraction of the nodes in the order of
their scores, gates their features by ``tanh(y)`` (the only path by which p gets a gradient),
and takes the kept nodes' rows and columns of the graph's second power (``A^2``: two-hop
neighbours stay connected), renormalized (``norm_g``: ``D^-1/2 A D^-1/2``, self-loops
included); a gUnpool layer (``Unpool``) puts the features back at the kept nodes' original
positions, zeros elsewhere. ``GraphUnet``: a start ``GCN`` (``s_gcn``), one level of
``down_gcns`` and ``pools`` for every ratio of ``--ks``, a ``bottom_gcn``, then for every level
from the deepest an ``unpools`` and ``up_gcns`` followed by the skip connection (the addition of
the same level's down output), the start's output added at the top, dropout and a ``Linear``
classifier ``out_l``.

The graphs are generated here: a stochastic block model of ``--nodes`` (1000) nodes in four
equal communities, each node with about ``--deg-in`` (5) neighbours in its community and
``--deg-out`` (0.5) outside it, undirected, no self-loops; every node has 16 features, its
community's mean vector (of norm ``--signal``, 0.4) plus standard normal noise, so that a
node's own features hardly classify it and the neighbourhoods of many hops, which the pooled
levels reach, have to be averaged. The adjacency is renormalized with self-loops
(``norm_g(A + I)``). 30% of the nodes are labelled for training, 20% validate and 50% are held
out. Three levels (``--ks 0.5,0.5,0.5``: 500, 250 and 125 nodes), 32 units, dropout 0.3. Full
batch: one step per epoch, ``F.cross_entropy`` on the labelled nodes, Adam (``--lr``, 0.01)
with weight decay 1e-3 (the PyG example's), ``--epochs`` (150) epochs; after every step the
validation nodes' loss and accuracy (under ``torch.no_grad``, dropout off), at the end the
held-out accuracy (``test_accuracy``) and how far every pool's projection vector moved during
training (``p_change``). The mistakes of the families in CASES are selected with ``--bug`` or
show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

CLASSES = 4
FEATURES = 16

BUG = None


def block_model(nodes, deg_in, deg_out, signal, seed):
    """(adjacency (n, n) 0/1 float32 without self-loops, features (n, 16), labels (n,))."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(CLASSES), nodes // CLASSES)
    rng.shuffle(labels)
    size = nodes // CLASSES
    p_in = deg_in / (size - 1)
    p_out = deg_out / (nodes - size)
    same = labels[:, None] == labels[None, :]
    prob = np.where(same, p_in, p_out)
    upper = np.triu(rng.random((nodes, nodes)) < prob, 1)
    adj = (upper | upper.T).astype(np.float32)
    means = rng.normal(size=(CLASSES, FEATURES))
    means = signal * means / np.linalg.norm(means, axis=1, keepdims=True)
    x = means[labels] + rng.normal(size=(nodes, FEATURES))
    return adj, x.astype(np.float32), labels.astype(np.int64)


def norm_g(g):
    degrees = torch.sum(g, 1)
    d = degrees.pow(-0.5)
    return d[:, None] * g * d[None, :]


def top_k_graph(scores, g, h, k):
    num_nodes = g.shape[0]
    values, idx = torch.topk(scores, max(2, int(k * num_nodes)))
    new_h = h[idx, :]
    if BUG == "sorted-idx":
        # BUG (sorted-idx): the kept indices sorted into the graph's node order after the
        # features were taken in the order of the scores: row i of new_h is not node idx[i].
        idx, _ = torch.sort(idx)
    values = torch.unsqueeze(values, -1)
    if BUG != "no-gate":
        new_h = torch.mul(new_h, torch.tanh(values))
    # BUG (no-gate): the gate tanh(y) left out of the kept features: top-k's indices have no
    # gradient, so the projection vector p never gets one.
    un_g = g.bool().float()
    un_g = torch.matmul(un_g, un_g).bool().float()
    un_g = un_g[idx, :]
    un_g = un_g[:, idx]
    if BUG == "no-renorm":
        # BUG (no-renorm): the pooled two-hop graph used as it is, 0/1 with 20 to 125
        # neighbours a node, not renormalized: every GCN below sums instead of averaging.
        g = un_g
    else:
        g = norm_g(un_g)
    return g, new_h, idx


class GCN(nn.Module):
    def __init__(self, in_dim, out_dim, act, p):
        super().__init__()
        self.proj = nn.Linear(in_dim, out_dim)
        self.act = act
        self.drop = nn.Dropout(p=p) if p > 0.0 else nn.Identity()

    def forward(self, g, h):
        h = self.drop(h)
        h = torch.matmul(g, h)
        h = self.proj(h)
        h = self.act(h)
        return h


class Pool(nn.Module):
    def __init__(self, k, in_dim, p):
        super().__init__()
        self.k = k
        self.proj = nn.Linear(in_dim, 1, bias=False)
        self.drop = nn.Dropout(p=p) if p > 0 else nn.Identity()

    def forward(self, g, h):
        Z = self.drop(h)
        weights = self.proj(Z).squeeze(-1) / self.proj.weight.norm()
        return top_k_graph(weights, g, h, self.k)


class Unpool(nn.Module):
    def forward(self, g, h, pre_h, idx):
        new_h = h.new_zeros([g.shape[0], h.shape[1]])
        new_h[idx] = h
        return g, new_h


class GraphUnet(nn.Module):
    def __init__(self, ks, in_dim, n_classes, dim, act, drop_p):
        super().__init__()
        self.ks = ks
        self.s_gcn = GCN(in_dim, dim, act, drop_p)
        self.bottom_gcn = GCN(dim, dim, act, drop_p)
        self.down_gcns = nn.ModuleList()
        self.up_gcns = nn.ModuleList()
        self.pools = nn.ModuleList()
        self.unpools = nn.ModuleList()
        self.l_n = len(ks)
        for i in range(self.l_n):
            self.down_gcns.append(GCN(dim, dim, act, drop_p))
            self.up_gcns.append(GCN(dim, dim, act, drop_p))
            self.pools.append(Pool(ks[i], dim, drop_p))
            self.unpools.append(Unpool())
        self.drop = nn.Dropout(p=drop_p)
        self.out_l = nn.Linear(dim, n_classes)

    def forward(self, g, h):
        h = self.s_gcn(g, h)
        adj_ms, indices_list, down_outs = [], [], []
        org_h = h
        for i in range(self.l_n):
            h = self.down_gcns[i](g, h)
            adj_ms.append(g)
            down_outs.append(h)
            g, h, idx = self.pools[i](g, h)
            indices_list.append(idx)
        h = self.bottom_gcn(g, h)
        for i in range(self.l_n):
            up_idx = self.l_n - i - 1
            g, idx = adj_ms[up_idx], indices_list[up_idx]
            g, h = self.unpools[i](g, h, down_outs[up_idx], idx)
            h = self.up_gcns[i](g, h)
            h = h.add(down_outs[up_idx])
        h = h.add(org_h)
        logits = self.out_l(self.drop(h))
        if BUG == "softmax-twice":
            # BUG (softmax-twice): the classifier ends in a softmax and F.cross_entropy,
            # which applies log_softmax itself, is given its probabilities.
            return F.softmax(logits, dim=-1)
        return logits


def main():
    global BUG
    p = common.parser(__doc__)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--deg-in", type=float, default=5.0)
    p.add_argument("--deg-out", type=float, default=0.5)
    p.add_argument("--signal", type=float, default=0.4)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--ks", type=common.floats, default=[0.5, 0.5, 0.5])
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--bug", default=None,
                   choices=("no-gate", "sorted-idx", "no-renorm", "softmax-twice"))
    args = p.parse_args()
    BUG = args.bug
    common.torch_setup(args.seed)

    adj, x, y = block_model(args.nodes, args.deg_in, args.deg_out, args.signal, args.seed)
    g = norm_g(torch.from_numpy(adj) + torch.eye(args.nodes))
    h = torch.from_numpy(x)
    labels = torch.from_numpy(y)
    perm = torch.from_numpy(np.random.default_rng(args.seed + 100).permutation(args.nodes))
    n_tr, n_val = int(0.3 * args.nodes), int(0.2 * args.nodes)
    idx_train, idx_val, idx_test = perm[:n_tr], perm[n_tr:n_tr + n_val], perm[n_tr + n_val:]

    model = GraphUnet(args.ks, FEATURES, CLASSES, args.dim, F.elu, args.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    p_start = [pool.proj.weight.detach().clone() for pool in model.pools]

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="cross_entropy", steps_per_epoch=1, num_classes=CLASSES,
        batch_size=len(idx_train))
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()
        out = model(g, h)
        loss = F.cross_entropy(out[idx_train], labels[idx_train])
        loss.backward()
        optimizer.step()
        acc = (out[idx_train].argmax(1) == labels[idx_train]).float().mean().item()
        model.eval()
        with torch.no_grad():
            out = model(g, h)
            val_loss = F.cross_entropy(out[idx_val], labels[idx_val]).item()
            val_acc = (out[idx_val].argmax(1) == labels[idx_val]).float().mean().item()
        rec.step(loss, accuracy=acc, inputs=h, targets=labels[idx_train], val_loss=val_loss,
                 val_accuracy=val_acc)
        history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        if (epoch + 1) % 10 == 0:
            print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
                epoch + 1, loss.item(), acc, val_loss, val_acc))
    rec.close()
    model.eval()
    with torch.no_grad():
        test_acc = (model(g, h)[idx_test].argmax(1) == labels[idx_test]).float().mean().item()
    p_change = [float((pool.proj.weight.detach() - w0).norm())
                for pool, w0 in zip(model.pools, p_start)]
    print("held-out accuracy %.3f, projection vectors moved by %s" % (test_acc, p_change))
    common.report(history.result(test_accuracy=test_acc, p_change=p_change))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "gunet-sorted-idx", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020 (model: wrong indexing of a layer's output): the kept "
               "node indices sorted into node order after the features were gathered in the "
               "order of the scores, so features, pooled graph and unpooling disagree",
     "bug": "top_k_graph sorts idx after new_h = h[idx]: at every pooled level row i of the "
            "features belongs to another node than row i of the pooled adjacency, and gUnpool "
            "puts it back at that other node's position; the pooled path carries noise, the "
            "loss goes from 1.38 to 0.84 (training accuracy 0.65) and the validation accuracy "
            "ends at 0.575 of four communities (held-out 0.632), against the twin's loss 0.43, "
            "validation accuracy 0.870 (held-out 0.880)",
     "fix": "no sort: keep idx in the order of the scores, as the features were taken",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug sorted-idx --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "gunet-no-renorm", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020: missing normalization (the pooled graph's 0/1 two-hop "
               "adjacency used without norm_g); DeepFD fault type: data preprocessing",
     "bug": "the pooled levels propagate with the raw 0/1 matrix of A^2 restricted to the kept "
            "nodes (some 20, 90 and 125 neighbours a node at the three levels): every GCN "
            "below the top sums instead of averaging, the first step's loss is 246.6, and "
            "the network ends at chance (loss 1.56, validation loss 1.377, validation "
            "accuracy 0.275 of four communities, held-out 0.312), against the twin's loss "
            "1.40 -> 0.22 and validation accuracy 0.905 (held-out 0.884)",
     "fix": "g = norm_g(un_g) after pooling",
     "symptom": "saturation", "acceptable_symptoms": ["exploding_gradient", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug no-renorm --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "gunet-lr-too-high", "split": "dev", "architecture": "gcn",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "Adam at 0.3 (meant 0.01): the loss jumps from 1.39 to 1388 by the tenth epoch "
            "and is still 8.96 in the last (validation loss 6.62), the validation accuracy "
            "ends at 0.575 of four communities (held-out 0.670), against the twin's loss "
            "0.31 and validation accuracy 0.865 (held-out 0.906)",
     "fix": "learning rate 0.01",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--lr 0.3 --seed 2 --record-every 4",
          "fixed": "--lr 0.01 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-gunet", "split": "dev", "architecture": "gcn",
     "origin": "healthy run",
     "description": "a Graph U-Net (gPool, gUnpool, skip connections) classifying the nodes of "
                    "a generated stochastic block model",
     "healthy": [
         {"id": "ks06-dim48-seed4",
          "args": "--ks 0.6,0.5,0.5 --dim 48 --seed 4 --record-every 4",
          "description": "48 units, the first pool keeping 60%: loss 1.40 -> 0.30, validation "
                         "accuracy 0.920 (held-out 0.894)"},
     ]},
]


if __name__ == "__main__":
    main()
