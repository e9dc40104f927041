"""A small PyTorch CNN with ``nn.GroupNorm`` on scikit-learn's digits upsampled to 16x16, with
random-crop (and optional flip) augmentation written in torch, under ``torch.optim.RAdam`` or
``NAdam``.

The 8x8 digits (grey levels 0..16) are divided by 16, upsampled to 16x16 with
``F.interpolate(mode="bilinear")`` and normalized with one mean and standard deviation of the
training part; 20% validate. Each training batch is augmented by an ``augment`` function: every
image is padded by 2 pixels and a random 16x16 window is cut out of it (``torch.randint``
offsets per image), and with ``--flip P`` a share P of the images is mirrored left to right
(off by default: a mirrored digit is not always the same digit). The model (``GNNet``, an
``nn.Module``): two blocks of ``Conv2d`` (``conv1``, ``conv2``), ``GroupNorm`` (``gn1``,
``gn2``, 4 groups), ReLU and ``MaxPool2d``, then a ``Linear`` head (``fc``),
``nn.CrossEntropyLoss``. ``--optimizer`` RAdam or NAdam with ``--lr``; ``ExponentialLR`` with
``--gamma`` per epoch. The mistakes of the families in CASES are selected with ``--bug`` or
show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


def augment(x, y, flip, gen, bug=None):
    """Random 16x16 crops of the images padded by 2, and a share ``flip`` mirrored."""
    n = len(x)
    padded = F.pad(x, (2, 2, 2, 2))
    dx = torch.randint(0, 5, (n,), generator=gen)
    dy = torch.randint(0, 5, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(16)[None, :])          # n x 16
    cols = (dx[:, None] + torch.arange(16)[None, :])
    out = padded[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]]
    out = out.unsqueeze(1)
    if flip > 0:
        mask = torch.rand(n, generator=gen) < flip
        if bug == "flip-reorders-batch":
            # BUG (flip-reorders-batch): the flipped images are put first and the others
            # after them, but the labels keep the batch's original order.
            out = torch.cat([out[mask].flip(-1), out[~mask]])
        else:
            out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    return out, y


class GNNet(nn.Module):
    def __init__(self, width, classes=10, groups=4):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.gn1 = nn.GroupNorm(groups, width)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.gn2 = nn.GroupNorm(groups, 2 * width)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(2 * width * 4 * 4, classes)

    def forward(self, x):
        x = self.pool(F.relu(self.gn1(self.conv1(x))))
        x = self.pool(F.relu(self.gn2(self.conv2(x))))
        return self.fc(x.flatten(1))


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--optimizer", default="RAdam", choices=("RAdam", "NAdam"))
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--gamma", type=float, default=0.9)
    p.add_argument("--flip", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("flip-reorders-batch", "mse-on-softmax"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)
    y = torch.tensor(digits.target, dtype=torch.long)
    g = torch.Generator().manual_seed(args.seed)
    perm = torch.randperm(len(x), generator=g)
    x, y = x[perm], y[perm]
    cut = int(0.8 * len(x))
    mean, std = x[:cut].mean(), x[:cut].std()
    x = (x - mean) / std
    x_train, y_train, x_val, y_val = x[:cut], y[:cut], x[cut:], y[cut:]

    model = GNNet(args.width)
    optimizer = getattr(torch.optim, args.optimizer)(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.gamma)
    ce = nn.CrossEntropyLoss()

    def criterion(logits, yb):
        if args.bug == "mse-on-softmax":
            # BUG (mse-on-softmax): the softmax probabilities regressed onto one-hot rows.
            return F.mse_loss(F.softmax(logits, dim=1), F.one_hot(yb, 10).float())
        return ce(logits, yb)

    steps_per_epoch = (len(x_train) + args.batch_size - 1) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="MSELoss" if args.bug == "mse-on-softmax" else "CrossEntropyLoss",
        steps_per_epoch=steps_per_epoch, num_classes=10, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=g)
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = augment(x_train[idx], y_train[idx], args.flip, g, args.bug)
            optimizer.zero_grad()
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vlogits = model(x_val)
                    val_loss = criterion(vlogits, y_val).item()
                    val_acc = (vlogits.argmax(1) == y_val).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        scheduler.step()
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "gndigits-flip-reorders-batch", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: labels not matching the inputs (an augmentation that "
               "reorders the images of a batch but not their labels)",
     "bug": "the flip augmentation (a share of 0.2) concatenates the flipped images before "
            "the others while the labels keep the batch's order: most images train on another "
            "image's label, the accuracy stays at 0.10 (validation 0.17) after 10 epochs "
            "against the twin's 0.83 (validation 0.93)",
     "fix": "torch.where(mask, flipped, images): each image keeps its place",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "radam-flip02",
          "buggy": "--flip 0.2 --bug flip-reorders-batch --record-every 4",
          "fixed": "--flip 0.2 --record-every 4"},
     ]},
    {"family": "gndigits-nadam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high (NAdam at 2.0)",
     "bug": "NAdam at 2.0 (meant 0.01): the updates throw the weights far from any useful "
            "setting, the accuracy stays at 0.09 (validation 0.09, loss 2.33) after 10 epochs "
            "against the twin's validation 0.98",
     "fix": "learning rate 0.01",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "nadam",
          "buggy": "--optimizer NAdam --lr 2.0 --record-every 4",
          "fixed": "--optimizer NAdam --lr 0.01 --record-every 4"},
     ]},
    {"family": "gndigits-radam-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "RAdam at 1e-4 (meant 0.01): after 10 epochs the loss is still 2.36 and the "
            "accuracy 0.08 (validation 0.02) against the twin's validation 0.97",
     "fix": "learning rate 0.01",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "radam-seed1",
          "buggy": "--lr 1e-4 --seed 1 --record-every 4",
          "fixed": "--lr 0.01 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-gndigits", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a GroupNorm CNN on upsampled, randomly cropped digits that trains well",
     "healthy": [
         {"id": "nadam-lr3e-3-seed2",
          "args": "--optimizer NAdam --lr 3e-3 --seed 2 --record-every 4",
          "description": "NAdam 3e-3"},
         {"id": "width12-bs32-seed3",
          "args": "--width 12 --batch-size 32 --seed 3 --record-every 4",
          "description": "12 and 24 channels, batches of 32"},
         {"id": "gamma08-lr2e-2-seed4",
          "args": "--gamma 0.8 --lr 0.02 --seed 4 --record-every 4",
          "description": "RAdam 0.02 decayed by 0.8 per epoch"},
     ]},
]


if __name__ == "__main__":
    main()
