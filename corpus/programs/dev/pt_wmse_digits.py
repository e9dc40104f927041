"""W-MSE self-supervised pre-training (Ermolov, Siarohin, Sangineto and Sebe, "Whitening for
Self-Supervised Representation Learning", ICML 2021) on scikit-learn's digits, written as the
paper's PyTorch repository (``htdt/self-supervised``: ``methods/whitening.py``'s
``Whitening2d`` and ``methods/w_mse.py``'s ``WMSE``) writes it, then a linear probe on the
frozen encoder.

Data: digits (8x8, pixels 0..16) divided by 16, a stratified 80/20 split. A view
(``augment``, written in torch) shifts each image by up to one pixel in each direction
(``torch.roll``), rotates it by a small random angle (up to 15 degrees, ``affine_grid`` and
``grid_sample``) and adds Gaussian noise (std 0.1); the two views of a batch are two
independent draws. The networks: the ``Encoder`` (``conv1`` Conv2d 1 -> 16 3x3, ReLU,
``conv2`` Conv2d 16 -> 32 3x3 stride 2, ReLU, flatten, ``fc`` Linear -> ``--width``, ReLU)
gives the representation; the ``head`` (the repository's projection head: Linear ->
``--head-size``, BatchNorm1d, ReLU, Linear -> ``--emb``) gives the embeddings. The loss, as
``w_mse.py`` writes it: the embeddings of both views are concatenated, the batch is cut into
random sub-batches of ``--w-size`` (``w_iter`` 1), each view's sub-batch is whitened
(``Whitening2d``: centred, its covariance matrix's Cholesky factor L, the embeddings
multiplied by L^-1, ``eps`` 0) and the loss is ``norm_mse_loss``, 2 - 2 times the mean cosine
between the two views' whitened embeddings. Adam (``--lr``, weight decay 1e-6), batches of
``--batch-size`` (the last partial batch dropped). Once per epoch the validation loss is the
W-MSE loss of fixed views of the validation images (whitened as one batch), and the validation
accuracy a linear probe: a logistic regression (scikit-learn) on the standardized encoder
representations of ``--labels-per-class`` labelled training digits a class, scored on the
validation digits. The result line adds the probe of the untrained encoder
(``probe_untrained``) and the mean per-dimension standard deviation of the validation
embeddings before whitening (``embedding_std``). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
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


def augment(x, g, max_deg=15.0):
    """A random view of a batch of 1x8x8 images: shift, small rotation, noise."""
    n = len(x)
    shifts = torch.randint(-1, 2, (n, 2), generator=g)
    out = torch.stack([torch.roll(x[i], shifts=(int(shifts[i, 0]), int(shifts[i, 1])),
                                  dims=(1, 2)) for i in range(n)])
    angle = (torch.rand(n, generator=g) * 2 - 1) * max_deg * math.pi / 180
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(n)], 1),
                         torch.stack([sin, cos, torch.zeros(n)], 1)], 1)
    grid = F.affine_grid(theta, out.shape, align_corners=False)
    out = F.grid_sample(out, grid, align_corners=False)
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


class Whitening2d(nn.Module):
    """methods/whitening.py: batch whitening by the inverse Cholesky factor of the covariance."""

    def __init__(self, num_features, eps=0.0):
        super().__init__()
        self.num_features = num_features
        self.eps = eps

    def forward(self, x):
        m = x.mean(0, keepdim=True)
        xn = x - m
        f_cov = xn.T @ xn / (x.shape[0] - 1)
        eye = torch.eye(self.num_features, dtype=x.dtype)
        f_cov_shrinked = (1 - self.eps) * f_cov + self.eps * eye
        inv_sqrt = torch.linalg.solve_triangular(
            torch.linalg.cholesky(f_cov_shrinked), eye, upper=False)
        return xn @ inv_sqrt.T


def norm_mse_loss(x0, x1):
    x0 = F.normalize(x0)
    x1 = F.normalize(x1)
    return 2 - 2 * (x0 * x1).sum(dim=-1).mean()


class WMSE(nn.Module):
    def __init__(self, width, head_size, emb, w_size, bug=None):
        super().__init__()
        self.model = Encoder(width)
        self.head = nn.Sequential(nn.Linear(width, head_size), nn.BatchNorm1d(head_size),
                                  nn.ReLU(), nn.Linear(head_size, emb))
        self.whitening = Whitening2d(emb, eps=0.0)
        self.w_size = w_size
        self.bug = bug

    def forward(self, samples, g=None):
        bs = len(samples[0])
        h = [self.model(x) for x in samples]
        h = self.head(torch.cat(h))
        w_size = self.w_size if g is not None else bs
        z = torch.empty_like(h)
        perm = (torch.randperm(bs, generator=g) if g is not None
                else torch.arange(bs)).view(-1, w_size)
        for idx in perm:
            for i in range(len(samples)):
                if self.bug == "no-whitening":
                    # BUG (no-whitening): the sub-batch's embeddings go to the loss as they
                    # are, the whitening step skipped: nothing keeps them from collapsing.
                    z[idx + i * bs] = h[idx + i * bs]
                else:
                    z[idx + i * bs] = self.whitening(h[idx + i * bs])
        loss = norm_mse_loss(z[:bs], z[bs:])
        return loss, h


def probe_accuracy(model, x_lab, y_lab, x_val, y_val):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    model.eval()
    with torch.no_grad():
        f_lab = model.model(x_lab).numpy()
        f_val = model.model(x_val).numpy()
    model.train()
    if not (np.isfinite(f_lab).all() and np.isfinite(f_val).all()):
        return 0.0
    scaler = StandardScaler().fit(f_lab)
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(scaler.transform(f_lab), y_lab)
    return float(clf.score(scaler.transform(f_val), y_val))


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--head-size", type=int, default=128)
    p.add_argument("--emb", type=int, default=16)
    p.add_argument("--w-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--labels-per-class", type=int, default=5)
    p.add_argument("--bug", default=None, choices=("no-whitening", "same-view"))
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

    model = WMSE(args.width, args.head_size, args.emb, args.w_size, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-6)
    steps_per_epoch = len(xt) // args.batch_size   # the last partial batch is dropped
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="w_mse_loss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
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
                # BUG (same-view): the first view fed twice instead of a second draw.
                v2 = v1
            else:
                v2 = augment(xb, g)
            loss, _ = model([v1, v2], g)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    try:
                        val_loss = model([v1_val, v2_val])[0].item()
                    except RuntimeError:          # a covariance that is not positive definite
                        val_loss = float("nan")
                model.train()
                val_acc = probe_accuracy(model, x_lab, y_lab, xv, y_val)
            rec.step(loss, inputs=v1, val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: w-mse %.4f val %.4f probe %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc))
    rec.close()
    model.eval()
    with torch.no_grad():
        emb = model.head(model.model(xv))
    emb_std = float(emb.std(dim=0).mean())
    print("embedding std (validation): %.4f" % emb_std)
    common.report(history.result(probe_untrained=probe0, embedding_std=emb_std))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "wmse-no-whitening", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (model: wrong loss function, a step of it left out); "
               "W-MSE without its whitening step is a plain cosine loss between two views, "
               "which collapses (Ermolov et al. 2021, section 3)",
     "bug": "the whitening of each sub-batch skipped (the embeddings go to norm_mse_loss as "
            "they are): all embeddings turn to one direction, the loss falls from 0.321 in the "
            "first epoch to 0.00027 in the 20th and the 5-labels-a-class linear probe ends at "
            "0.650, below the untrained encoder's 0.769, where the twin's loss falls from "
            "1.680 to 0.628 and its probe reaches 0.867",
     "fix": "z[idx + i * bs] = self.whitening(h[idx + i * bs])",
     "symptom": "not_learning", "acceptable_symptoms": ["vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug no-whitening --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "wmse-same-view", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (training data: wrong preprocessing, the augmentation "
               "drawn once for both views)",
     "bug": "the first augmented view fed twice instead of a second draw: the two whitened "
            "views are identical, the loss is 0.0 from the first step, the only update left is "
            "the weight decay's, which Adam turns into full steps, and the embeddings shrink "
            "to nothing (mean per-dimension std of the validation embeddings 6.1e-6 against "
            "0.683); the linear probe ends at 0.756, below the untrained encoder's 0.764, "
            "where the twin's loss falls from 1.661 to 0.644 and its probe reaches 0.908",
     "fix": "v2 = augment(xb, g)",
     "symptom": "not_learning", "acceptable_symptoms": ["vanishing_gradient", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug same-view --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "healthy-wmse", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "W-MSE pre-training on digits whose loss falls and whose linear probe "
                    "rises above the untrained encoder's",
     "healthy": [
         {"id": "width96-seed2",
          "args": "--width 96 --seed 2 --record-every 4",
          "description": "Adam 2e-3, 96 representation features, 16-dimensional embeddings "
                         "whitened in sub-batches of 64: loss from 1.611 to 0.607, probe "
                         "0.844 (untrained 0.800)"},
     ]},
]


if __name__ == "__main__":
    main()
