"""A Deep Interest Network (DIN, Zhou et al. 2018) in PyTorch for click-through prediction on
generated user behaviour sequences.

The model follows the paper and its PyTorch ports (``shenweichen/DeepCTR-Torch``'s ``DIN`` and
``AttentionSequencePoolingLayer``, the ``zhougr1993/DeepInterestNetwork`` reference): every
item is the concatenation of an item embedding (``item_emb``) and a category embedding
(``cat_emb``), 8 units each, index 0 being the padding; the local activation unit
(``att.0`` Linear 64-36, ``att.1`` PReLU, ``att.2`` Linear 36-1) scores each history item h
against the candidate c from ``[h, c, h - c, h * c]``; the scores of padded positions are set
to zero with the history mask and the weighted history is sum-pooled (no softmax, as in the
paper); the MLP (``mlp.0`` Linear 48-64, ``mlp.1`` PReLU, ``mlp.2`` Linear 64-32, ``mlp.3``
PReLU, ``mlp.4`` Linear 32-1) over [pooled interest, candidate, user-profile embedding
(``user_emb``, the user's age bucket)] gives one logit; ``BCEWithLogitsLoss``; Adam
(``--lr`` 1e-3), mini-batches of ``--batch-size`` (256) shuffled every epoch.

Data: 300 items in 12 categories; 2500 users, each with one or two interest categories; every
user's history holds 10 to 20 items (85% from the user's interests, the rest uniform), padded
with 0 to 20; four candidates per user, half of them from the user's interests; a candidate is
clicked with probability sigmoid(4 * share of the history in its category + 1.5 * its
item quality - 2). 8000 samples train and the 2000 of the last 500 users are held out (their
BCE is the validation loss, their accuracy at 0.5 the validation accuracy). The result line
adds ``val_auc`` and ``val_logloss``. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

np = common.np

ITEMS, CATS, USERS, MAX_LEN, AGES = 300, 12, 2500, 20, 6


def make_data(seed):
    rng = np.random.default_rng(seed)
    item_cat = rng.integers(CATS, size=ITEMS + 1)
    item_cat[0] = -1
    quality = rng.standard_normal(ITEMS + 1)
    by_cat = [np.nonzero(item_cat == c)[0] for c in range(CATS)]
    hist, cand, age, y = [], [], [], []
    for u in range(USERS):
        interests = rng.choice(CATS, size=rng.integers(1, 3), replace=False)
        length = rng.integers(10, MAX_LEN + 1)
        h = []
        for _ in range(length):
            if rng.random() < 0.85:
                h.append(rng.choice(by_cat[rng.choice(interests)]))
            else:
                h.append(rng.integers(1, ITEMS + 1))
        hcats = item_cat[h]
        a = rng.integers(AGES)
        for k in range(4):
            if k % 2 == 0:
                c = rng.choice(by_cat[rng.choice(interests)])
            else:
                c = rng.integers(1, ITEMS + 1)
            share = np.mean(hcats == item_cat[c])
            p = 1 / (1 + np.exp(-(4 * share + 1.5 * quality[c] - 2)))
            hist.append(h + [0] * (MAX_LEN - length))
            cand.append(c)
            age.append(a)
            y.append(float(rng.random() < p))
    cat_of = torch.tensor(np.where(item_cat < 0, 0, item_cat + 1))
    return (torch.tensor(np.array(hist)), torch.tensor(np.array(cand)),
            torch.tensor(np.array(age)), torch.tensor(np.array(y), dtype=torch.float32), cat_of)


class DIN(nn.Module):
    def __init__(self, cat_of, dim=8, bug=None):
        super().__init__()
        self.register_buffer("cat_of", cat_of)
        self.bug = bug
        self.item_emb = nn.Embedding(ITEMS + 1, dim)
        self.cat_emb = nn.Embedding(CATS + 1, dim)
        self.user_emb = nn.Embedding(AGES, 2 * dim)
        self.att = nn.Sequential(nn.Linear(8 * dim, 36), nn.PReLU(), nn.Linear(36, 1))
        self.mlp = nn.Sequential(nn.Linear(6 * dim, 64), nn.PReLU(), nn.Linear(64, 32),
                                 nn.PReLU(), nn.Linear(32, 1))

    def embed(self, items):
        return torch.cat([self.item_emb(items), self.cat_emb(self.cat_of[items])], -1)

    def forward(self, hist, cand, age):
        h = self.embed(hist)                       # (B, T, 2d)
        c = self.embed(cand)                       # (B, 2d)
        ce = c.unsqueeze(1).expand_as(h)
        scores = self.att(torch.cat([h, ce, h - ce, h * ce], -1)).squeeze(-1)   # (B, T)
        mask = hist > 0
        if self.bug == "softmax-over-batch":
            # BUG (softmax-over-batch): the attention weights normalized with a softmax over
            # dim 0, the users of the batch, instead of being left per history item.
            scores = torch.softmax(scores.masked_fill(~mask, -1e9), dim=0)
        elif self.bug != "no-padding-mask":
            scores = scores * mask
        # BUG (no-padding-mask): without the line above the padded positions (item 0) are
        # weighted and summed into the interest like real items.
        interest = (scores.unsqueeze(-1) * h).sum(1)
        logit = self.mlp(torch.cat([interest, c, self.user_emb(age)], -1)).squeeze(-1)
        if self.bug == "double-sigmoid":
            # BUG (double-sigmoid): the output already squashed by a sigmoid and then given to
            # BCEWithLogitsLoss, which applies its own.
            return torch.sigmoid(logit)
        return logit


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--dim", type=int, default=8)
    p.add_argument("--bug", default=None, choices=(
        "no-padding-mask", "softmax-over-batch", "double-sigmoid", "labels-shuffled"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    hist, cand, age, y, cat_of = make_data(args.seed)
    cut = 4 * (USERS - 500)
    tr = (hist[:cut], cand[:cut], age[:cut], y[:cut])
    va = (hist[cut:], cand[cut:], age[cut:], y[cut:])
    print("click rate %.3f (train), %.3f (held out)" % (tr[3].mean(), va[3].mean()))

    model = DIN(cat_of, args.dim, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.BCEWithLogitsLoss()
    steps_per_epoch = (cut + args.batch_size - 1) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="BCEWithLogitsLoss", steps_per_epoch=steps_per_epoch, num_classes=2,
        batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    auc = logloss = None
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(cut, generator=g)
        batches = torch.split(perm, args.batch_size)
        for b, idx in enumerate(batches):
            hb, cb, ab, yb = tr[0][idx], tr[1][idx], tr[2][idx], tr[3][idx]
            if args.bug == "labels-shuffled":
                # BUG (labels-shuffled): the clicks of the batch taken in another order than
                # their candidates (a second permutation of the batch).
                yb = yb[torch.randperm(len(yb), generator=g)]
            out = model(hb, cb, ab)
            loss = criterion(out, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            acc = ((out > (0.5 if args.bug == "double-sigmoid" else 0.0)).float() == yb)
            acc = acc.float().mean().item()
            val_loss = val_acc = None
            if b == len(batches) - 1:
                model.eval()
                with torch.no_grad():
                    vo = model(va[0], va[1], va[2])
                    val_loss = criterion(vo, va[3]).item()
                    prob = torch.sigmoid(vo)
                    val_acc = ((prob > 0.5).float() == va[3]).float().mean().item()
                    pc = prob.clamp(1e-7, 1 - 1e-7)
                    logloss = -(va[3] * pc.log() + (1 - va[3]) * (1 - pc).log()).mean().item()
                    auc = float(roc_auc_score(va[3].numpy(), prob.numpy())) \
                        if bool(torch.isfinite(prob).all()) else None
                model.train()
            rec.step(loss, accuracy=acc, inputs=hb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.4f val %.4f acc %.3f auc %s" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc,
            "%.4f" % auc if auc is not None else "nan"), flush=True)
    rec.close()
    common.report(history.result(val_auc=auc, val_logloss=logloss))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "din-labels-shuffled", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: training data and labels misaligned (the clicks "
               "permuted against their candidates)",
     "bug": "the clicks of every training batch are taken in another order than their "
            "candidates: the BCE stays at the click rate's entropy (0.679 in the first epoch, "
            "0.676 in the 12th), the held-out AUC is 0.490 and the log-loss 0.681, against the "
            "twin's 0.795 and 0.546",
     "fix": "keep every click with its own candidate (no second permutation)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug labels-shuffled --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "din-double-sigmoid", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function for the output (BCEWithLogitsLoss "
               "on an output that is already a sigmoid)",
     "bug": "forward() returns torch.sigmoid(logit) and BCEWithLogitsLoss applies the "
            "sigmoid again, so every probability lies in [0.5, 0.73]: the BCE only falls from "
            "0.718 to 0.658, the held-out AUC is 0.688 and the log-loss 0.675, against the "
            "twin's 0.771 and 0.579",
     "fix": "return the logit (no sigmoid in forward)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed3",
          "buggy": "--bug double-sigmoid --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-din", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a Deep Interest Network predicting clicks from generated behaviour "
                    "sequences",
     "healthy": [
         {"id": "lr2e-3-dim12-seed1",
          "args": "--lr 2e-3 --dim 12 --seed 1 --record-every 4",
          "description": "Adam at 2e-3, embeddings of 12"},
     ]},
]


if __name__ == "__main__":
    main()
