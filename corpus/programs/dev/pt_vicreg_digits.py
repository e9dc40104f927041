"""VICReg self-supervised pre-training (Bardes, Ponce & LeCun 2022) on scikit-learn's digits,
written as the paper's PyTorch repository (``facebookresearch/vicreg``, ``main_vicreg.py``) and
its re-implementations write it, then a linear probe on the frozen encoder.

Data: digits (8x8, pixels 0..16) divided by 16, a stratified 80/20 split. A view
(``augment``, written in torch) shifts each image by up to one pixel in each direction
(``torch.roll``), cuts out a random 3x3 square (set to 0) and adds Gaussian noise (std 0.1);
the two views of a batch are two independent draws. The networks: the ``Encoder``
(``conv1`` Conv2d 1 -> 16 3x3, ReLU, ``conv2`` Conv2d 16 -> 32 3x3 stride 2, ReLU, flatten,
``fc`` Linear -> ``--width``, ReLU) gives the representation; the ``expander`` (the paper's
"projector": Linear -> ``--exp-dim``, BatchNorm1d, ReLU, Linear -> ``--exp-dim``,
BatchNorm1d, ReLU, Linear -> ``--exp-dim`` without bias) gives the embeddings. The loss, as
``main_vicreg.py`` writes it: ``sim_coeff * F.mse_loss(x, y)`` (invariance) + ``std_coeff *``
the mean hinge ``relu(1 - sqrt(var + 1e-4))`` of each embedding dimension's standard deviation
over the batch, averaged over both branches (variance) + ``cov_coeff *`` the squared
off-diagonal entries of each branch's covariance matrix of the centred embeddings, divided by
the dimension (covariance), with the paper's 25 / 25 / 1. Adam (``--lr``), batches of
``--batch-size`` (the last partial batch dropped). Once per epoch the validation loss is the
VICReg loss of fixed views of the validation images, and the validation accuracy a linear
probe: a logistic regression (scikit-learn) on the standardized encoder representations of
``--labels-per-class`` labelled training digits a class, scored on the validation digits. The
result line adds the probe of the untrained encoder (``probe_untrained``) and the mean
per-dimension standard deviation of the validation embeddings (``embedding_std``). The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


def augment(x, g):
    """A random view of a batch of 1x8x8 images: shift, cut-out, noise."""
    n = len(x)
    out = torch.empty_like(x)
    shifts = torch.randint(-1, 2, (n, 2), generator=g)
    for i in range(n):
        out[i] = torch.roll(x[i], shifts=(int(shifts[i, 0]), int(shifts[i, 1])), dims=(1, 2))
    # cut-out: a 3x3 square at a random place set to 0
    corner = torch.randint(0, 6, (n, 2), generator=g)
    rows = torch.arange(8).view(1, 8, 1)
    cols = torch.arange(8).view(1, 1, 8)
    r0, c0 = corner[:, 0].view(n, 1, 1), corner[:, 1].view(n, 1, 1)
    hole = (rows >= r0) & (rows < r0 + 3) & (cols >= c0) & (cols < c0 + 3)
    out = out * (~hole).unsqueeze(1).float()
    return out + 0.1 * torch.randn(out.shape, generator=g)


class Encoder(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.fc = nn.Linear(32 * 4 * 4, width)

    def forward(self, x):
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        return F.relu(self.fc(h.flatten(1)))


def Projector(width, dim):
    """main_vicreg.py's Projector: Linear-BN-ReLU blocks, the last Linear without bias."""
    return nn.Sequential(
        nn.Linear(width, dim), nn.BatchNorm1d(dim), nn.ReLU(True),
        nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.ReLU(True),
        nn.Linear(dim, dim, bias=False))


def off_diagonal(x):
    n, m = x.shape
    assert n == m
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


class VICReg(nn.Module):
    def __init__(self, width, dim, sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0, bug=None):
        super().__init__()
        self.num_features = dim
        self.backbone = Encoder(width)
        self.projector = Projector(width, dim)
        self.sim_coeff, self.std_coeff, self.cov_coeff = sim_coeff, std_coeff, cov_coeff
        self.bug = bug

    def forward(self, x, y):
        x = self.projector(self.backbone(x))
        y = self.projector(self.backbone(y))
        batch_size = x.shape[0]

        repr_loss = F.mse_loss(x, y)

        if self.bug == "cov-not-centered":
            # BUG (cov-not-centered): the embeddings are not centred before the variance and
            # covariance terms: x.T @ x is then the second moment, not the covariance.
            xc, yc = x, y
        else:
            xc = x - x.mean(dim=0)
            yc = y - y.mean(dim=0)
        if self.bug == "std-over-features":
            # BUG (std-over-features): the standard deviation taken over each sample's
            # features (dim=1) instead of each feature over the batch (dim=0).
            std_x = torch.sqrt(xc.var(dim=1) + 0.0001)
            std_y = torch.sqrt(yc.var(dim=1) + 0.0001)
        else:
            std_x = torch.sqrt(xc.var(dim=0) + 0.0001)
            std_y = torch.sqrt(yc.var(dim=0) + 0.0001)
        std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2

        cov_x = (xc.T @ xc) / (batch_size - 1)
        cov_y = (yc.T @ yc) / (batch_size - 1)
        cov_loss = off_diagonal(cov_x).pow_(2).sum().div(self.num_features) \
            + off_diagonal(cov_y).pow_(2).sum().div(self.num_features)

        if self.bug == "no-variance":
            # BUG (no-variance): the variance term left out of the sum (only invariance and
            # covariance): nothing keeps the embeddings from shrinking to a point.
            loss = self.sim_coeff * repr_loss + self.cov_coeff * cov_loss
        else:
            loss = (self.sim_coeff * repr_loss + self.std_coeff * std_loss
                    + self.cov_coeff * cov_loss)
        return loss


def probe_accuracy(model, x_lab, y_lab, x_val, y_val):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    model.eval()
    with torch.no_grad():
        f_lab = model.backbone(x_lab).numpy()
        f_val = model.backbone(x_val).numpy()
    model.train()
    scaler = StandardScaler().fit(f_lab)
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(scaler.transform(f_lab), y_lab)
    return float(clf.score(scaler.transform(f_val), y_val))


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--exp-dim", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--labels-per-class", type=int, default=5)
    p.add_argument("--bug", default=None,
                   choices=("std-over-features", "cov-not-centered", "no-variance",
                            "same-view"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits", args.seed)
    x_train, x_val, y_train, y_val = common.split(x, y, seed=args.seed)
    xt = torch.tensor(x_train / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    xv = torch.tensor(x_val / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    lab = np.concatenate([np.flatnonzero(y_train == c)[:args.labels_per_class]
                          for c in range(10)])
    x_lab, y_lab = xt[lab], y_train[lab]
    g = torch.Generator().manual_seed(args.seed)
    gv = torch.Generator().manual_seed(1234)
    v1_val, v2_val = augment(xv, gv), augment(xv, gv)

    model = VICReg(args.width, args.exp_dim, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = len(xt) // args.batch_size   # the last partial batch is dropped
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="vicreg_loss",
        loss_added=True, steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    probe0 = probe_accuracy(model, x_lab, y_lab, xv, y_val)
    print("probe before training: %.3f" % probe0)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=g)
        for b in range(steps_per_epoch):
            xb = xt[perm[b * args.batch_size:(b + 1) * args.batch_size]]
            v1 = augment(xb, g)
            if args.bug == "same-view":
                # BUG (same-view): the second view is the first one again, not a second
                # draw of the augmentation: the invariance term is zero from the start.
                v2 = v1
            else:
                v2 = augment(xb, g)
            loss = model(v1, v2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = model(v1_val, v2_val).item()
                model.train()
                val_acc = probe_accuracy(model, x_lab, y_lab, xv, y_val)
            rec.step(loss, inputs=v1, val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: vicreg %.4f val %.4f probe %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc))
    rec.close()
    model.eval()
    with torch.no_grad():
        emb = model.projector(model.backbone(xv))
    emb_std = float(emb.std(dim=0).mean())
    print("embedding std (validation): %.4f" % emb_std)
    common.report(history.result(probe_untrained=probe0, embedding_std=emb_std))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "vicreg-no-variance", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (model: wrong loss function, a term missing); VICReg's "
               "ablation without the variance term collapses (Bardes et al. 2022, Table 4)",
     "bug": "the variance term left out of the VICReg loss (only 25 * invariance + 1 * "
            "covariance): the embeddings shrink to a point (mean per-dimension std of the "
            "validation embeddings 0.010 against 0.566), the loss falls from 3.31 to 0.0056 and "
            "the 5-labels-a-class linear probe ends at 0.711, below the untrained encoder's "
            "0.764, where the twin's loss falls from 21.7 to 17.8 and its probe reaches 0.853",
     "fix": "add std_coeff * std_loss (the hinge on each dimension's standard deviation over "
            "the batch) to the loss",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug no-variance --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "vicreg-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "Adam at 0.1 (meant 1e-3): the first epoch's loss averages 48.3 and the last "
            "20.0, and the linear probe falls from the untrained encoder's 0.769 to 0.703, "
            "where the twin's loss falls from 21.8 to 17.8 and its probe reaches 0.839",
     "fix": "learning rate 1e-3",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 0.1 --seed 1 --record-every 4",
          "fixed": "--lr 1e-3 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-vicreg", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "VICReg pre-training on digits whose loss falls and whose linear probe "
                    "rises above the untrained encoder's",
     "healthy": [
         {"id": "width96-seed2",
          "args": "--width 96 --seed 2 --record-every 4",
          "description": "Adam 1e-3, 96 representation features, 128-wide expander"},
     ]},
]


if __name__ == "__main__":
    main()
