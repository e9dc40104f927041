"""A Set Transformer (Lee et al. 2019) that counts the clusters in a point set, its blocks
written as the authors' reference code (``juho-lee/set_transformer``, ``modules.py``) writes
them: ``MAB`` (multihead attention block: ``fc_q``, ``fc_k``, ``fc_v``, heads split along the
feature axis and stacked on the batch axis, ``softmax(Q K^T / sqrt(dim_V))``, the residual
``Q + A V``, optional ``LayerNorm`` ``ln0``, ``O + relu(fc_o(O))``, optional ``ln1``), ``SAB``,
``ISAB`` (``--inducing`` learned inducing points ``I`` attend to the set, the set attends to
them) and ``PMA`` (one learned seed vector ``S`` pools the set by attention).

Data: generated point sets of ``--set-size`` 2-D points drawn from 1 to 4 Gaussian clusters
(centres uniform in [-3, 3]^2 at least 1.5 apart, spread 0.25, every cluster at least two
points, the points in random order); the label is the number of clusters minus one. 3000 sets
train and 600 validate. The model: ``enc`` = ISAB(2 -> ``--hidden``), ISAB(``--hidden``);
``dec`` = PMA(one seed), Linear(-> 4); ``nn.CrossEntropyLoss``, ``torch.optim.Adam``. A
permutation of a set's points cannot change its prediction. The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np
MAX_CLUSTERS = 4
SOFTMAX_DIM = 2


class MAB(nn.Module):
    def __init__(self, dim_Q, dim_K, dim_V, num_heads, ln=False):
        super(MAB, self).__init__()
        self.dim_V = dim_V
        self.num_heads = num_heads
        self.fc_q = nn.Linear(dim_Q, dim_V)
        self.fc_k = nn.Linear(dim_K, dim_V)
        self.fc_v = nn.Linear(dim_K, dim_V)
        if ln:
            self.ln0 = nn.LayerNorm(dim_V)
            self.ln1 = nn.LayerNorm(dim_V)
        self.fc_o = nn.Linear(dim_V, dim_V)

    def forward(self, Q, K):
        Q = self.fc_q(Q)
        K, V = self.fc_k(K), self.fc_v(K)

        dim_split = self.dim_V // self.num_heads
        Q_ = torch.cat(Q.split(dim_split, 2), 0)
        K_ = torch.cat(K.split(dim_split, 2), 0)
        V_ = torch.cat(V.split(dim_split, 2), 0)

        # BUG (softmax-query-dim): SOFTMAX_DIM = 1 normalizes each key's column over the
        # queries instead of each query's row over the keys.
        A = torch.softmax(Q_.bmm(K_.transpose(1, 2)) / math.sqrt(self.dim_V), SOFTMAX_DIM)
        O = torch.cat((Q_ + A.bmm(V_)).split(Q.size(0), 0), 2)
        O = O if getattr(self, 'ln0', None) is None else self.ln0(O)
        O = O + F.relu(self.fc_o(O))
        O = O if getattr(self, 'ln1', None) is None else self.ln1(O)
        return O


class SAB(nn.Module):
    def __init__(self, dim_in, dim_out, num_heads, ln=False):
        super(SAB, self).__init__()
        self.mab = MAB(dim_in, dim_in, dim_out, num_heads, ln=ln)

    def forward(self, X):
        return self.mab(X, X)


class ISAB(nn.Module):
    def __init__(self, dim_in, dim_out, num_heads, num_inds, ln=False):
        super(ISAB, self).__init__()
        self.I = nn.Parameter(torch.Tensor(1, num_inds, dim_out))
        nn.init.xavier_uniform_(self.I)
        self.mab0 = MAB(dim_out, dim_in, dim_out, num_heads, ln=ln)
        self.mab1 = MAB(dim_in, dim_out, dim_out, num_heads, ln=ln)

    def forward(self, X):
        H = self.mab0(self.I.repeat(X.size(0), 1, 1), X)
        return self.mab1(X, H)


class PMA(nn.Module):
    def __init__(self, dim, num_heads, num_seeds, ln=False):
        super(PMA, self).__init__()
        self.S = nn.Parameter(torch.Tensor(1, num_seeds, dim))
        nn.init.xavier_uniform_(self.S)
        self.mab = MAB(dim, dim, dim, num_heads, ln=ln)

    def forward(self, X):
        return self.mab(self.S.repeat(X.size(0), 1, 1), X)


class SetTransformer(nn.Module):
    def __init__(self, dim_input, num_outputs, dim_output, num_inds=8, dim_hidden=64,
                 num_heads=4, ln=False):
        super(SetTransformer, self).__init__()
        self.enc = nn.Sequential(
            ISAB(dim_input, dim_hidden, num_heads, num_inds, ln=ln),
            ISAB(dim_hidden, dim_hidden, num_heads, num_inds, ln=ln))
        self.dec = nn.Sequential(
            PMA(dim_hidden, num_heads, num_outputs, ln=ln),
            nn.Linear(dim_hidden, dim_output))

    def forward(self, X):
        return self.dec(self.enc(X))


def cluster_sets(n, set_size, seed):
    rng = np.random.default_rng(seed)
    xs = np.zeros((n, set_size, 2), np.float32)
    ys = np.zeros(n, np.int64)
    for i in range(n):
        k = int(rng.integers(1, MAX_CLUSTERS + 1))
        centres = []
        while len(centres) < k:
            c = rng.uniform(-3.0, 3.0, size=2)
            if all(np.linalg.norm(c - d) >= 1.5 for d in centres):
                centres.append(c)
        member = np.concatenate([np.repeat(np.arange(k), 2),
                                 rng.integers(0, k, size=set_size - 2 * k)])
        rng.shuffle(member)
        xs[i] = np.asarray(centres)[member] + rng.normal(0.0, 0.25, size=(set_size, 2))
        ys[i] = k - 1
    return xs, ys


def main():
    global SOFTMAX_DIM
    p = common.parser(__doc__)
    p.add_argument("--set-size", type=int, default=20)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--inducing", type=int, default=8)
    p.add_argument("--ln", action="store_true", help="LayerNorm in every MAB")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("softmax-query-dim", "no-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)
    if args.bug == "softmax-query-dim":
        SOFTMAX_DIM = 1

    x, y = cluster_sets(3600, args.set_size, args.seed)
    x_tr, y_tr, x_val, y_val = x[:3000], y[:3000], x[3000:], y[3000:]
    loader = DataLoader(TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr)),
                        batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val)

    model = SetTransformer(2, 1, MAX_CLUSTERS, num_inds=args.inducing, dim_hidden=args.hidden,
                           num_heads=args.heads, ln=args.ln)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()

    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        num_classes=MAX_CLUSTERS, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b, (xb, yb) in enumerate(loader):
            # BUG (no-zero-grad): optimizer.zero_grad() left out of the loop.
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            logits = model(xb).squeeze(1)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vl = model(xv).squeeze(1)
                    val_loss = criterion(vl, yv).item()
                    val_acc = (vl.argmax(1) == yv).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "settf-missing-zero-grad", "split": "dev", "architecture": "transformer",
     "origin": "DeepFD / Humbatova et al. 2020: optimizer.zero_grad() missing in a PyTorch "
               "training loop (gradients accumulate across steps)",
     "bug": "optimizer.zero_grad() left out of the loop: the gradients add up under Adam 1e-3; "
            "the loss goes from 1.47 in the first epoch to 2563 in the 10th (validation 6618) "
            "and the accuracy stays near chance, 0.28 (validation 0.24), where the twin ends at "
            "a loss of 0.21 and a validation accuracy of 0.90",
     "fix": "optimizer.zero_grad() before the forward pass",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug no-zero-grad --record-every 8",
          "fixed": "--record-every 8"},
     ]},
    {"family": "settf-adam-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "Adam at 0.02 (meant 1e-3): the validation accuracy climbs to 0.86 in epoch 4, "
            "then swings (0.77, 0.70, 0.83, 0.81, 0.75) and collapses to 0.315 in the 10th "
            "(validation loss 12.7, training loss 1.45, accuracy 0.69), where the twin ends at "
            "a loss of 0.21 and a validation accuracy of 0.90",
     "fix": "learning rate 1e-3",
     "symptom": "oscillation", "acceptable_symptoms": ["exploding_gradient", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--lr 0.02 --record-every 8",
          "fixed": "--lr 1e-3 --record-every 8"},
     ]},
    {"family": "healthy-settf", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a Set Transformer counting the clusters of point sets that trains well",
     "healthy": [
         {"id": "ln-seed1",
          "args": "--ln --seed 1 --record-every 8",
          "description": "LayerNorm in every MAB, Adam 1e-3 (validation accuracy 0.888)"},
     ]},
]


if __name__ == "__main__":
    main()
