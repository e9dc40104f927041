"""A small PyTorch CNN on scikit-learn's 8x8 digits stored as 8-bit images, fed by a custom
``Dataset`` whose ``__getitem__`` converts each image, split by ``random_split``, trained with
SGD momentum and ``ReduceLROnPlateau`` stepped on the validation loss.

Data: the 1797 digits, their 0..16 pixels stored as an 8-bit image (``uint8`` 0..255, as an
image file would hold them). ``DigitImages`` (a ``Dataset``) returns ``(image, label)``; its
``__getitem__`` applies ``transform``: ``to_tensor`` (float, scaled to [-1, 1] as ``Normalize(0.5, 0.5)``
would) and, for training, a one-pixel random shift of every other image. ``random_split`` with a seeded generator cuts it into 80% train and
20% validation (``--subset`` keeps a seeded subset of the whole set first). The model
(``SmallConvNet``): ``conv1`` (``--channels``, 3x3, ReLU), ``conv2`` (2x channels, 3x3, ReLU,
2x2 max pooling), ``fc`` (``--hidden`` units, ReLU) and ``classifier`` (10 logits),
cross-entropy. SGD with momentum ``--momentum`` at ``--lr``; ``ReduceLROnPlateau(factor 0.5,
patience 1)`` stepped once per epoch on the validation loss. The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset, random_split  # noqa: E402

np = common.np


def to_tensor(img):
    x = torch.from_numpy(img.astype(np.float32) / 255.0).unsqueeze(0)
    return (x - 0.5) / 0.5


def raw_tensor(img):
    # BUG (raw-pixels): the image converted without the division: pixels 0..255.
    return torch.from_numpy(img.astype(np.float32)).unsqueeze(0)


class RandomShift:
    """Shifts the image by up to one pixel (zero padding), for training only."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def __call__(self, t):
        if self.rng.random() < 0.5:
            return t
        dy, dx = self.rng.integers(-1, 2, size=2)
        return torch.roll(t, shifts=(int(dy), int(dx)), dims=(1, 2))


class DigitImages(Dataset):
    def __init__(self, images, labels, convert, augment=None):
        self.images, self.labels = images, labels
        self.convert, self.augment = convert, augment

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        x = self.convert(self.images[i])
        if self.augment is not None:
            x = self.augment(x)
        return x, int(self.labels[i])


class SmallConvNet(nn.Module):
    def __init__(self, channels, hidden, softmax_output=False):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(2 * channels * 16, hidden)
        self.classifier = nn.Linear(hidden, 10)
        self.softmax_output = softmax_output

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.relu(self.fc(x.flatten(1)))
        logits = self.classifier(x)
        if self.softmax_output:
            # BUG (ce-on-softmax): probabilities returned for "nicer" predictions, and
            # CrossEntropyLoss applies log-softmax to them once more.
            return torch.softmax(logits, dim=1)
        return logits


def main():
    p = common.parser(__doc__)
    p.add_argument("--subset", type=int, default=900)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("raw-pixels", "ce-on-softmax"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    from sklearn.datasets import load_digits
    digits = load_digits()
    images = (digits.images * 255.0 / 16.0).round().astype(np.uint8)
    pick = np.random.default_rng(args.seed).permutation(len(images))[:args.subset]
    images, labels = images[pick], digits.target[pick]

    convert = raw_tensor if args.bug == "raw-pixels" else to_tensor
    full = DigitImages(images, labels, convert)
    n_val = len(full) // 5
    g = torch.Generator().manual_seed(args.seed)
    train_set, val_set = random_split(full, [len(full) - n_val, n_val], generator=g)
    # the training subset gets its own augmenting view of the same images
    train_set.dataset = DigitImages(images, labels, convert, RandomShift(args.seed))
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=g)
    val_loader = DataLoader(val_set, batch_size=256)

    model = SmallConvNet(args.channels, args.hidden,
                         softmax_output=args.bug == "ce-on-softmax")
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    criterion = nn.CrossEntropyLoss()
    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=10,
        batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b, (xb, yb) in enumerate(loader):
            optimizer.zero_grad()
            out = model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            acc = (out.argmax(1) == yb).float().mean().item()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                total, correct, n = 0.0, 0, 0
                with torch.no_grad():
                    for vx, vy in val_loader:
                        vo = model(vx)
                        total += criterion(vo, vy).item() * len(vy)
                        correct += (vo.argmax(1) == vy).sum().item()
                        n += len(vy)
                val_loss, val_acc = total / n, correct / n
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb,
                     val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item(), acc)
        scheduler.step(val_loss)
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f acc %.3f lr %.3g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, optimizer.param_groups[0]["lr"]))
    rec.close()
    common.report(history.result(layers=["conv1", "conv2", "fc", "classifier"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "splitdig-uint8-not-scaled", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow posts of images fed as 0-255 pixels); "
               "Humbatova et al. 2020: missing input normalization",
     "bug": "the Dataset's transform converts the uint8 image to float without dividing by 255 "
            "(and without Normalize): pixels 0..255 enter conv1, the first-epoch loss is 5.3, "
            "the training accuracy ends at 0.43 and the validation accuracy at 0.51 after 10 "
            "epochs against the twin's 0.92 and 0.96",
     "fix": "x / 255, then (x - 0.5) / 0.5, in the transform",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgdm",
          "buggy": "--bug raw-pixels --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "splitdig-ce-on-softmax", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow posts of softmax before "
               "CrossEntropyLoss); Humbatova et al. 2020: wrong loss function for the output",
     "bug": "forward() returns softmax probabilities and nn.CrossEntropyLoss takes them as "
            "logits: the loss is squeezed between 1.46 and 2.30, the gradients are tiny, the "
            "training loss only falls from 2.30 to 2.03 in 10 epochs (validation accuracy "
            "0.54 against the twin's 0.97)",
     "fix": "return the logits; softmax only for predictions",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgdm-seed1",
          "buggy": "--bug ce-on-softmax --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "splitdig-sgd-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "SGD momentum 0.9 at 0.6 (meant 0.05): after a first epoch at 0.18 accuracy the "
            "updates throw the network out, the loss stays at 2.3 and the accuracy at chance "
            "(0.09 training, 0.07 validation) although ReduceLROnPlateau halves the rate four "
            "times; the twin ends at 0.90 / 0.91",
     "fix": "learning rate 0.05",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgdm-seed2",
          "buggy": "--lr 0.6 --seed 2 --record-every 4",
          "fixed": "--lr 0.05 --seed 2 --record-every 4"},
     ]},
    {"family": "splitdig-sgd-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "SGD momentum 0.95 at 2e-4 (meant 2e-2) with batches of 16: in 10 epochs the loss "
            "only falls from 2.31 to 2.29 and the validation accuracy reaches 0.19 against the "
            "twin's 0.97",
     "fix": "learning rate 0.02",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgdm095-bs16",
          "buggy": "--lr 0.0002 --momentum 0.95 --batch-size 16 --record-every 4",
          "fixed": "--lr 0.02 --momentum 0.95 --batch-size 16 --record-every 4"},
     ]},
    {"family": "healthy-splitdig", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a digits CNN fed by a custom Dataset split by random_split, SGD momentum "
                    "with ReduceLROnPlateau, that trains well",
     "healthy": [
         {"id": "sgd01-seed3",
          "args": "--lr 0.1 --seed 3 --record-every 4",
          "description": "SGD momentum 0.9 at 0.1"},
         {"id": "c12-h48-seed4",
          "args": "--channels 12 --hidden 48 --seed 4 --record-every 4",
          "description": "12 and 24 channels, 48 hidden units"},
         {"id": "bs64-m08-seed5",
          "args": "--batch-size 64 --lr 0.1 --momentum 0.8 --seed 5 --record-every 4",
          "description": "batches of 64, SGD momentum 0.8 at 0.1"},
     ]},
]


if __name__ == "__main__":
    main()
