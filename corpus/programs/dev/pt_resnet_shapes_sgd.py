"""A small ResNet (He et al. 2016) in PyTorch trained with SGD on CIFAR-like coloured shapes.

The model follows the CIFAR ResNets of torchvision's ``resnet.py`` and kuangliu's
``pytorch-cifar`` (``models/resnet.py``): a 3x3 stem conv + BN + ReLU, then ``BasicBlock``s of
conv-BN-ReLU-conv-BN whose shortcut is the identity, or a 1x1 strided conv + BN when the shape
changes, with the ReLU after the addition; three stages (``--width``, 2x and 4x channels, the
last two with stride 2), global average pooling and a linear head. The training loop is
pytorch-cifar's ``main.py``: SGD with momentum 0.9 and weight decay 5e-4, a ``MultiStepLR``
(the rate divided by 10 at half and at three quarters of the epochs) stepped once per epoch,
cross-entropy, random crop with padding 2 and horizontal flip, written here as tensor ops on
each batch, and a validation pass under ``model.eval()`` / ``torch.no_grad()`` after every
epoch (its loss and accuracy are the validation metrics).

The data are drawn by the program: 3-channel 16x16 images of 5 classes (a filled disc, a
filled square, a triangle, a cross, a ring) of random colour, size and position on a random
dark background, with Gaussian pixel noise, stored as 0-255 values as an image data set would
be; they are scaled to [0, 1] and normalized with the per-channel mean and standard deviation
of the training set (as the CIFAR transforms do with their fixed constants). 1200 images
train, 400 others (another seed) validate. The mistakes of the families in CASES are selected
with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

np = common.np

CLASSES = 5
SIZE = 16


def draw_shapes(n, seed, noise=18.0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    images = np.zeros((n, 3, SIZE, SIZE), dtype=np.float32)
    labels = rng.integers(0, CLASSES, size=n)
    for i in range(n):
        background = rng.uniform(0, 80, size=3)
        colour = rng.uniform(120, 255, size=3)
        r = rng.uniform(3.0, 5.5)
        cy, cx = rng.uniform(r, SIZE - r, size=2)
        dy, dx = yy - cy, xx - cx
        c = labels[i]
        if c == 0:
            mask = dy ** 2 + dx ** 2 <= r ** 2
        elif c == 1:
            mask = (np.abs(dy) <= r * 0.8) & (np.abs(dx) <= r * 0.8)
        elif c == 2:
            mask = (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.55)
        elif c == 3:
            mask = ((np.abs(dy) <= 1.0) | (np.abs(dx) <= 1.0)) & (np.abs(dy) <= r) & (np.abs(dx) <= r)
        else:
            d = np.sqrt(dy ** 2 + dx ** 2)
            mask = (d <= r) & (d >= r - 1.6)
        img = np.where(mask[None], colour[:, None, None], background[:, None, None])
        img = img + noise * rng.standard_normal(img.shape)
        images[i] = np.clip(img, 0, 255)
    return images, labels


def augment(x, gen):
    """Random crop with padding 2 and a random horizontal flip, per image."""
    n = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2))
    offsets = torch.randint(0, 5, (n, 2), generator=gen)
    out = torch.stack([padded[i, :, oy:oy + SIZE, ox:ox + SIZE]
                       for i, (oy, ox) in enumerate(offsets.tolist())])
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(3)
    return out


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride, bias=False),
                nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, blocks, width=16, num_classes=CLASSES):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._make_layer(width, blocks, 1)
        self.layer2 = self._make_layer(2 * width, blocks, 2)
        self.layer3 = self._make_layer(4 * width, blocks, 2)
        self.linear = nn.Linear(4 * width, num_classes)

    def _make_layer(self, planes, blocks, stride):
        layers = []
        for s in [stride] + [1] * (blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("eval-never-train", "scheduler-per-batch"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    train_x, train_y = draw_shapes(1200, seed=args.seed)
    val_x, val_y = draw_shapes(400, seed=1000 + args.seed)
    train_x = torch.tensor(train_x) / 255.0
    val_x = torch.tensor(val_x) / 255.0
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True)
    train_x = (train_x - mean) / std
    val_x = (val_x - mean) / std
    train_y = torch.tensor(train_y)
    val_y = torch.tensor(val_y)

    model = ResNet(args.blocks, args.width)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    milestones = [args.epochs // 2, (3 * args.epochs) // 4]
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(train_x) + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=CLASSES,
        batch_size=args.batch_size)
    history = common.History()
    model.train()
    for epoch in range(args.epochs):
        if args.bug != "eval-never-train":
            model.train()
        # BUG (eval-never-train): model.train() is not called again after the first
        # validation pass: from the second epoch on, every BatchNorm normalizes with the
        # running statistics of the first epoch (and keeps them), the network trains in
        # inference mode.
        perm = torch.randperm(len(train_x), generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = augment(train_x[idx], gen), train_y[idx]
            optimizer.zero_grad()
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            if args.bug == "scheduler-per-batch":
                # BUG (scheduler-per-batch): the epoch scheduler stepped after every batch:
                # its milestones (in epochs) pass within the first epoch and the rate falls
                # to a hundredth before the first validation.
                scheduler.step()
            acc = (logits.argmax(1) == yb).float().mean().item()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vout = model(val_x)
                    val_loss = criterion(vout, val_y).item()
                    val_acc = (vout.argmax(1) == val_y).float().mean().item()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb,
                     val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item(), acc)
        if args.bug != "scheduler-per-batch":
            scheduler.step()
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f  val %.4f acc %.3f  lr %.2g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, optimizer.param_groups[0]["lr"]))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "resnetsgd-eval-never-train", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training in inference mode (model.eval() called for "
               "validation and model.train() never called again)",
     "bug": "model.train() is not called again after the first validation pass: from the "
            "second epoch every BatchNorm normalizes with the running statistics of the first "
            "epoch's 19 steps, the activations grow unchecked under SGD at 0.05 and the loss is "
            "NaN from the second epoch on (first epoch 1.271), validation accuracy 0.200 of "
            "five classes against the twin's 0.998",
     "fix": "call model.train() at the start of every epoch",
     "symptom": "numerical_error", "acceptable_symptoms": ["saturation", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-width16",
          "buggy": "--bug eval-never-train --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "resnetsgd-scheduler-per-batch", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (an epoch scheduler "
               "stepped after every batch)",
     "bug": "MultiStepLR (milestones 4 and 6 epochs) stepped after every batch: the rate "
            "falls from 0.05 to 5e-4 after the sixth step, the training loss only goes from "
            "1.525 to 1.192 in 8 epochs and the validation accuracy ends at 0.522 (loss 1.132) "
            "against the twin's 0.998 (0.0149)",
     "fix": "step the scheduler once per epoch",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed1",
          "buggy": "--bug scheduler-per-batch --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-resnetsgd", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small CIFAR-style ResNet trained with SGD and a MultiStepLR on shapes",
     "healthy": [
         {"id": "width8-blocks2-lr01-seed2",
          "args": "--width 8 --blocks 2 --lr 0.1 --seed 2 --record-every 4",
          "description": "8, 16 and 32 channels, two BasicBlocks a stage, SGD at 0.1"},
     ]},
]


if __name__ == "__main__":
    main()
