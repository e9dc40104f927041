"""A PyTorch embedding network on scikit-learn's digits trained with ``nn.TripletMarginLoss``
on triplets mined at random per batch, ``torch.optim.Adagrad``, scored by the nearest class
centroid.

scikit-learn's digits (8x8, pixels 0..16, flattened to 64) are split 80/20 (stratified) and
scaled by 1/16. The embedding network (``Embedder``): ``Linear`` layers ``fc1`` (64 ->
``--width``), ``fc2`` (``--width`` -> ``--width``) with ``--act`` after each and ``emb``
(``--width`` -> 16), the embedding L2-normalized. Every batch of anchors gets, for each anchor,
a positive drawn at random among the training digits of its class and a negative drawn at
random among the others (numpy, seeded); the loss is ``nn.TripletMarginLoss(margin=0.5)``. The
training accuracy is the share of the batch's triplets whose positive is nearer to the anchor
than the negative; after each epoch the validation accuracy assigns every validation digit to
the nearest centroid of the training embeddings of each class. The mistakes of the families in
CASES show in a setting (``--lr``, ``--weight-decay``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

np = common.np


class Embedder(nn.Module):
    def __init__(self, width, act):
        super().__init__()
        self.fc1 = nn.Linear(64, width)
        self.fc2 = nn.Linear(width, width)
        self.emb = nn.Linear(width, 16)
        self.act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "elu": nn.ELU}[act]()

    def forward(self, x):
        h = self.act(self.fc1(x))
        h = self.act(self.fc2(h))
        return F.normalize(self.emb(h), dim=1)


def centroid_accuracy(model, x_tr, y_tr, x_val, y_val):
    with torch.no_grad():
        e_tr, e_val = model(x_tr), model(x_val)
        cents = torch.stack([e_tr[y_tr == c].mean(0) for c in range(10)])
        pred = torch.cdist(e_val, cents).argmin(1)
        return (pred == y_val).float().mean().item()


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--act", default="relu", choices=("relu", "sigmoid", "elu"))
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=6)
    args = p.parse_args()
    common.torch_setup(args.seed)
    rng = np.random.default_rng(args.seed)

    x, y = common.load("digits")
    x_tr, x_val, y_tr, y_val = common.split(x / 16.0, y, seed=args.seed)
    by_class = [np.flatnonzero(y_tr == c) for c in range(10)]
    others = [np.flatnonzero(y_tr != c) for c in range(10)]
    xt = torch.tensor(x_tr, dtype=torch.float32)
    xv = torch.tensor(x_val, dtype=torch.float32)
    yt, yv = torch.tensor(y_tr), torch.tensor(y_val)

    model = Embedder(args.width, args.act)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=args.lr,
                                    weight_decay=args.weight_decay)
    criterion = nn.TripletMarginLoss(margin=0.5)
    n = len(y_tr)
    steps_per_epoch = -(-n // args.batch_size)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="TripletMarginLoss", steps_per_epoch=steps_per_epoch, num_classes=10,
        batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        perm = rng.permutation(n)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            pos = np.array([rng.choice(by_class[c]) for c in y_tr[idx]])
            neg = np.array([rng.choice(others[c]) for c in y_tr[idx]])
            optimizer.zero_grad()
            emb = model(torch.cat([xt[idx], xt[pos], xt[neg]]))
            a, pe, ne = emb.split(len(idx))
            loss = criterion(a, pe, ne)
            loss.backward()
            optimizer.step()
            acc = ((a - pe).norm(dim=1) < (a - ne).norm(dim=1)).float().mean().item()
            val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                val_acc = centroid_accuracy(model, xt, yt, xv, yv)
                model.train()
            rec.step(loss, acc, inputs=xt[idx], targets=yt[idx], val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(None, val_acc)
        print("epoch %d: loss %.4f acc %.3f val_acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]), val_acc))
    rec.close()
    common.report(history.result(layers=["fc1", "fc2", "emb"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "tripdig-huge-weight-decay", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 / DeepFD: a regularization term that dominates the loss "
               "(Adagrad's weight_decay=0.5, meant 5e-4)",
     "bug": "Adagrad with weight_decay 0.5: the decay pulls every weight to zero faster than "
            "the triplet loss can use it, the embeddings collapse to one point, the loss sits at "
            "the margin 0.50 and the triplet accuracy at 0.00 from the 5th epoch, the "
            "nearest-centroid validation accuracy ends at 0.10 (the twin: loss 0.02, "
            "validation accuracy 0.97)",
     "fix": "weight_decay 0 (or 5e-4)",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adagrad",
          "buggy": "--weight-decay 0.5 --seed 4 --record-every 4",
          "fixed": "--weight-decay 0 --seed 4 --record-every 4"},
     ]},
    {"family": "tripdig-lr-zero", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate wrongly set (zero)",
     "bug": "Adagrad with lr 0: the weights never change, the triplet loss stays at 0.42 to "
            "0.43 and the nearest-centroid validation accuracy at 0.64 (random embeddings) for "
            "6 epochs (the twin: loss 0.02, validation accuracy 0.95)",
     "fix": "Adagrad at 0.05",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adagrad",
          "buggy": "--lr 0 --seed 3 --record-every 4",
          "fixed": "--lr 0.05 --seed 3 --record-every 4"},
     ]},
    {"family": "healthy-tripdig", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a triplet-loss embedding network on digits that trains well",
     "healthy": [
         {"id": "elu-w32-lr01-seed1",
          "args": "--act elu --width 32 --lr 0.1 --seed 1 --record-every 4",
          "description": "ELU, 32 units, Adagrad 0.1"},
         {"id": "bs32-lr003-seed2",
          "args": "--batch-size 32 --lr 0.03 --epochs 5 --seed 2 --record-every 4",
          "description": "batches of 32, Adagrad 0.03, 5 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
