"""SimCLR-style contrastive pre-training (Chen et al. 2020) on scikit-learn's digits, without
labels: two random augmentations of every image, a small convolutional encoder and a
projection head, and the NT-Xent loss written by hand; the labels are used only by a
nearest-centroid probe on the encoder's features, once per epoch.

Data: digits (8x8, pixels 0..16) divided by 16, stratified 80/20 split. Each view
(``augment``) shifts the image by up to one pixel in each direction, zeroes a random 3x3
patch and adds Gaussian noise (std 0.1). The model (``SimCLR``, an ``nn.Module`` of two
parts): the encoder ``conv1`` (Conv2d 1 -> 16, 3x3), ReLU, ``conv2`` (Conv2d 16 -> 32, 3x3,
stride 2), ReLU, flatten, ``feat`` (Linear -> ``--width``), ReLU; the projection head
``proj1`` (Linear), ReLU, ``proj2`` (Linear -> 32). The loss: the 2N projections are
L2-normalized, their cosine similarities divided by the temperature (``--tau``, 0.5), each
view's own similarity masked out, and cross-entropy picks the other view of the same image
among the 2N-1 others. The training accuracy is the fraction of views whose most similar
other view is their partner. The probe: the class centroids of the normalized training
features, validation accuracy of the nearest centroid (the program's ``val_accuracy``); the
validation loss is the NT-Xent of fixed views of the validation images. Adam. The mistakes
of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
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
    """A random view of a batch of 1x8x8 images."""
    n = len(x)
    out = torch.empty_like(x)
    shifts = torch.randint(-1, 2, (n, 2), generator=g)
    for i in range(n):
        out[i] = torch.roll(x[i], shifts=(int(shifts[i, 0]), int(shifts[i, 1])), dims=(1, 2))
    corner = torch.randint(0, 7, (n, 2), generator=g)
    for i in range(n):
        r, c = int(corner[i, 0]), int(corner[i, 1])
        out[i, :, r:r + 2, c:c + 2] = 0.0
    return out + 0.05 * torch.randn(out.shape, generator=g)


class SimCLR(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.feat = nn.Linear(32 * 4 * 4, width)
        self.proj1 = nn.Linear(width, width)
        self.proj2 = nn.Linear(width, 32)

    def encode(self, x):
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        return F.relu(self.feat(h.flatten(1)))

    def forward(self, x):
        return self.proj2(F.relu(self.proj1(self.encode(x))))


def nt_xent(z1, z2, tau):
    """Normalized temperature-scaled cross-entropy over the 2N views; also the top-1
    accuracy of finding the partner view."""
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / tau
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), -1e9)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    loss = F.cross_entropy(sim, partner)
    acc = (sim.argmax(1) == partner).float().mean().item()
    return loss, acc


def probe_accuracy(model, x_train, y_train, x_val, y_val):
    with torch.no_grad():
        f_train = F.normalize(model.encode(x_train), dim=1)
        f_val = F.normalize(model.encode(x_val), dim=1)
    centroids = torch.stack([f_train[y_train == c].mean(0) for c in range(10)])
    pred = (f_val @ F.normalize(centroids, dim=1).t()).argmax(1)
    return (pred == y_val).float().mean().item()


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--tau", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--bug", default=None, choices=("no-zero-grad", "views-misaligned"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits", args.seed)
    x_train, x_val, y_train, y_val = common.split(x, y, seed=args.seed)
    xt = torch.tensor(x_train / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    xv = torch.tensor(x_val / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    yt = torch.tensor(y_train, dtype=torch.long)
    yv = torch.tensor(y_val, dtype=torch.long)
    g = torch.Generator().manual_seed(args.seed)
    gv = torch.Generator().manual_seed(1234)
    v1_val, v2_val = augment(xv, gv), augment(xv, gv)

    model = SimCLR(args.width)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = len(xt) // args.batch_size   # the last partial batch is dropped
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification", loss_name="nt_xent",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=g)
        for b in range(steps_per_epoch):
            xb = xt[perm[b * args.batch_size:(b + 1) * args.batch_size]]
            v1 = augment(xb, g)
            if args.bug == "views-misaligned":
                # BUG: the second view is drawn from a freshly shuffled copy of the batch
                # (``xb[torch.randperm(...)]``, meant to vary the augmentation order), so a
                # view's "partner" is another image.
                v2 = augment(xb[torch.randperm(len(xb), generator=g)], g)
            else:
                v2 = augment(xb, g)
            # BUG (no-zero-grad): optimizer.zero_grad() was lost when the loop was rewritten.
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            loss, acc = nt_xent(model(v1), model(v2), args.tau)
            loss.backward()
            optimizer.step()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = nt_xent(model(v1_val), model(v2_val), args.tau)[0].item()
                val_acc = probe_accuracy(model, xt, yt, xv, yv)
                model.train()
            rec.step(loss, accuracy=acc, inputs=v1, val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        print("epoch %d: nt-xent %.4f top1 %.3f val %.4f probe %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "simclrdig-missing-zero-grad", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / Humbatova et al. 2020: optimizer.zero_grad() missing, gradients "
               "accumulate over the steps",
     "bug": "optimizer.zero_grad() dropped: Adam follows the running sum of all past "
            "gradients, the NT-Xent loss only moves from 5.45 to 5.33 in 15 epochs and the "
            "partner top-1 accuracy falls from 0.065 to 0.023 (probe 0.61), where the twin's "
            "loss falls from 5.43 to 4.38 and its top-1 rises to 0.19 (probe 0.83)",
     "fix": "optimizer.zero_grad() before the forward pass",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["not_learning", "oscillation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug no-zero-grad --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "simclrdig-views-misaligned", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: labels not matching the inputs (the contrastive "
               "partner of a view is another image: the second view drawn from a reshuffled "
               "batch)",
     "bug": "the second view is augmented from xb[torch.randperm(...)]: the NT-Xent target of "
            "each view is a view of another image, nothing can be learned, the loss stays at "
            "5.54 = log(255) for 15 epochs and the partner top-1 accuracy at 0.003 (probe "
            "0.61), where the twin's loss falls from 5.43 to 4.31 and its top-1 rises to 0.23 "
            "(probe 0.81)",
     "fix": "both views augmented from the same batch xb",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug views-misaligned --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "simclrdig-adam-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam at 1e-5 (meant 2e-3): in 15 epochs the NT-Xent loss falls only from 5.5409 "
            "to 5.5402 and the partner top-1 accuracy stays at 0.07 (the probe on the almost "
            "untrained random features reads 0.88), where the twin's loss falls from 5.45 to "
            "4.37 and its top-1 rises to 0.21",
     "fix": "learning rate 2e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed3",
          "buggy": "--lr 1e-5 --seed 3 --record-every 4",
          "fixed": "--lr 2e-3 --seed 3 --record-every 4"},
     ]},
    {"family": "healthy-simclrdig", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "SimCLR pre-training on digits whose NT-Xent loss falls steadily and whose "
                    "partner top-1 accuracy climbs",
     "healthy": [
         {"id": "lr5e-3-seed4",
          "args": "--lr 5e-3 --seed 4 --record-every 4",
          "description": "Adam 5e-3"},
         {"id": "width96-bs64-seed5",
          "args": "--width 96 --batch-size 64 --seed 5 --record-every 4",
          "description": "96 features, batches of 64 (127 candidates per view)"},
     ]},
]


if __name__ == "__main__":
    main()
