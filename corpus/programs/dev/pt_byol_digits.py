"""BYOL self-supervised pre-training (Grill et al. 2020) on scikit-learn's digits, written as the
popular PyTorch BYOL repositories write it (an online network, a target network that is its
exponential moving average, a predictor, a stop-gradient on the target and the normalized MSE
symmetrized over two views), then a linear probe on the frozen encoder.

Data: digits (8x8, pixels 0..16) divided by 16, a stratified 80/20 split. A view (``augment``)
shifts each image by up to one pixel in each direction (``torch.roll``), scales its intensity
by a factor in [0.8, 1.2] and adds Gaussian noise (std 0.1). The networks: the ``Encoder``
(``conv1`` Conv2d 1 -> 16 3x3, ReLU, ``conv2`` Conv2d 16 -> 32 3x3 stride 2, ReLU, flatten,
``fc`` Linear -> ``--width``, ReLU), the projector and the predictor as ``MLPHead``s (Linear ->
``--hidden``, BatchNorm1d, ReLU, Linear -> ``--proj-dim``). ``BYOL`` (an ``nn.Module``) holds
``online_encoder``, ``online_projector``, ``online_predictor`` and the target
(``target_encoder``, ``target_projector``: deep copies of the online ones, updated after every
optimizer step by ``update_moving_average`` with ``--tau``). The loss of a pair of views is
``2 - 2 cos(p, z')`` between the online prediction of one view and the target projection of
the other, summed over both directions and averaged over the batch. Adam on the online
parameters. Once per epoch the validation loss is the BYOL loss of fixed views of the
validation images, and the validation accuracy a linear probe: a logistic regression
(scikit-learn) on the standardized encoder features of 5 labelled training digits a class,
scored on the validation digits. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


def augment(x, g):
    """A random view of a batch of 1x8x8 images: shift, contrast, noise."""
    n = len(x)
    out = torch.empty_like(x)
    shifts = torch.randint(-1, 2, (n, 2), generator=g)
    for i in range(n):
        out[i] = torch.roll(x[i], shifts=(int(shifts[i, 0]), int(shifts[i, 1])), dims=(1, 2))
    scale = 0.8 + 0.4 * torch.rand((n, 1, 1, 1), generator=g)
    return out * scale + 0.1 * torch.randn(out.shape, generator=g)


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


class MLPHead(nn.Module):
    def __init__(self, in_dim, hidden, out_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden),
                                 nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))

    def forward(self, x):
        return self.net(x)


def set_requires_grad(model, val):
    for p in model.parameters():
        p.requires_grad = val


def update_moving_average(ema_model, model, tau):
    """ema = tau * ema + (1 - tau) * current, parameter by parameter."""
    for ema_p, p in zip(ema_model.parameters(), model.parameters()):
        ema_p.data = tau * ema_p.data + (1.0 - tau) * p.data


def loss_fn(x, y):
    x = F.normalize(x, dim=-1, p=2)
    y = F.normalize(y, dim=-1, p=2)
    return 2 - 2 * (x * y).sum(dim=-1)


class BYOL(nn.Module):
    def __init__(self, width, hidden, proj_dim, stop_gradient=True):
        super().__init__()
        self.online_encoder = Encoder(width)
        self.online_projector = MLPHead(width, hidden, proj_dim)
        self.online_predictor = MLPHead(proj_dim, hidden, proj_dim)
        self.target_encoder = copy.deepcopy(self.online_encoder)
        self.target_projector = copy.deepcopy(self.online_projector)
        self.stop_gradient = stop_gradient
        if stop_gradient:
            set_requires_grad(self.target_encoder, False)
            set_requires_grad(self.target_projector, False)

    def online_parameters(self):
        return (list(self.online_encoder.parameters()) + list(self.online_projector.parameters())
                + list(self.online_predictor.parameters()))

    def update_target(self, tau, swapped=False):
        if swapped:
            # BUG (ema-swapped): the arguments in the wrong order: the online network is
            # moved towards the target, and the target keeps its initial random weights.
            update_moving_average(self.online_encoder, self.target_encoder, tau)
            update_moving_average(self.online_projector, self.target_projector, tau)
        else:
            update_moving_average(self.target_encoder, self.online_encoder, tau)
            update_moving_average(self.target_projector, self.online_projector, tau)

    def target_projections(self, v1, v2):
        z1 = self.target_projector(self.target_encoder(v1))
        z2 = self.target_projector(self.target_encoder(v2))
        return z1, z2

    def forward(self, v1, v2):
        p1 = self.online_predictor(self.online_projector(self.online_encoder(v1)))
        p2 = self.online_predictor(self.online_projector(self.online_encoder(v2)))
        if self.stop_gradient:
            with torch.no_grad():
                z1, z2 = self.target_projections(v1, v2)
            z1, z2 = z1.detach(), z2.detach()
        else:
            # BUG (no-stop-gradient): the target projections are computed with gradients
            # (no torch.no_grad(), no detach(), the target's requires_grad left on and its
            # parameters handed to the optimizer): both branches are trained towards each
            # other.
            z1, z2 = self.target_projections(v1, v2)
        loss = loss_fn(p1, z2) + loss_fn(p2, z1)
        return loss.mean()


def probe_accuracy(model, x_lab, y_lab, x_val, y_val):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    model.eval()
    with torch.no_grad():
        f_lab = model.online_encoder(x_lab).numpy()
        f_val = model.online_encoder(x_val).numpy()
    model.train()
    scaler = StandardScaler().fit(f_lab)
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(scaler.transform(f_lab), y_lab)
    return float(clf.score(scaler.transform(f_val), y_val))


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--proj-dim", type=int, default=32)
    p.add_argument("--tau", type=float, default=0.99)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--labels-per-class", type=int, default=5)
    p.add_argument("--bug", default=None, choices=("no-stop-gradient", "ema-swapped"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits", args.seed)
    x_train, x_val, y_train, y_val = common.split(x, y, seed=args.seed)
    xt = torch.tensor(x_train / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    xv = torch.tensor(x_val / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    # the few labelled digits of the probe: the first labels_per_class of each class
    lab = np.concatenate([np.flatnonzero(y_train == c)[:args.labels_per_class]
                          for c in range(10)])
    x_lab, y_lab = xt[lab], y_train[lab]
    g = torch.Generator().manual_seed(args.seed)
    gv = torch.Generator().manual_seed(1234)
    v1_val, v2_val = augment(xv, gv), augment(xv, gv)

    learner = BYOL(args.width, args.hidden, args.proj_dim,
                   stop_gradient=args.bug != "no-stop-gradient")
    if args.bug == "no-stop-gradient":
        optimizer = torch.optim.Adam(learner.parameters(), lr=args.lr)
    else:
        optimizer = torch.optim.Adam(learner.online_parameters(), lr=args.lr)
    steps_per_epoch = len(xt) // args.batch_size   # the last partial batch is dropped
    rec = common.recording.torch_recorder(
        learner, args.out, optimizer=optimizer, task="regression", loss_name="byol_loss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    print("probe before training: %.3f" % probe_accuracy(learner, x_lab, y_lab, xv, y_val))
    for epoch in range(args.epochs):
        learner.train()
        perm = torch.randperm(len(xt), generator=g)
        for b in range(steps_per_epoch):
            xb = xt[perm[b * args.batch_size:(b + 1) * args.batch_size]]
            v1, v2 = augment(xb, g), augment(xb, g)
            loss = learner(v1, v2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            learner.update_target(args.tau, swapped=args.bug == "ema-swapped")
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                learner.eval()
                with torch.no_grad():
                    val_loss = learner(v1_val, v2_val).item()
                learner.train()
                val_acc = probe_accuracy(learner, x_lab, y_lab, xv, y_val)
            rec.step(loss, inputs=v1, val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: byol %.4f val %.4f probe %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "byol-no-stop-gradient", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (training: wrong gradient flow); BYOL/SimSiam collapse "
               "without the stop-gradient on the target branch (Grill et al. 2020, Chen & He "
               "2021), a frequent question on byol-pytorch and Stack Overflow",
     "bug": "the target projections are computed with gradients (no torch.no_grad(), no "
            "detach(), the target left trainable and handed to Adam): both branches are pulled "
            "towards each other, the representation collapses, the BYOL loss falls from 1.26 to "
            "0.0037 and the 5-labels-a-class linear probe ends at 0.722 (0.764 on the untrained "
            "encoder), where the twin's loss falls from 2.51 to 0.72 and its probe reaches 0.864",
     "fix": "the target projections under torch.no_grad() and detached (stop-gradient), the "
            "target frozen and only the online parameters given to Adam",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug no-stop-gradient --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "byol-adam-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam at 1e-5 (meant 2e-3): in 25 epochs the BYOL loss only falls from 3.79 to 3.17 "
            "and the linear probe stays at 0.769, the untrained encoder's level, where the "
            "twin's loss falls from 2.55 to 0.77 and its probe reaches 0.842",
     "fix": "learning rate 2e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed3",
          "buggy": "--lr 1e-5 --seed 3 --record-every 4",
          "fixed": "--lr 2e-3 --seed 3 --record-every 4"},
     ]},
    {"family": "healthy-byol", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "BYOL pre-training on digits whose loss falls steadily and whose linear "
                    "probe rises above the untrained encoder's",
     "healthy": [
         {"id": "adam-seed2",
          "args": "--seed 2 --record-every 4",
          "description": "Adam 2e-3, tau 0.99, 64 features"},
         {"id": "tau0996-width96-seed3",
          "args": "--tau 0.996 --width 96 --seed 3 --record-every 4",
          "description": "tau 0.996 (the paper's base value), 96 features"},
     ]},
]


if __name__ == "__main__":
    main()
