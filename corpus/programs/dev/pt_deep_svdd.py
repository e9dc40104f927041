"""Deep SVDD one-class anomaly detection (Ruff et al. 2018) on scikit-learn's digits, written
as the reference repository (``Deep-SVDD-PyTorch``) writes it.

One digit (``--normal-class``) is the normal class, every other digit an anomaly. The 8x8
images are scaled to [0, 1]. 80% of the normal digits (stratified by nothing: the normal class
only) train; the held-out set is the other 20% of the normal digits together with 20% of each
anomalous digit, and its labels are used only for the ROC AUC.

The network (``DigitsLeNet``, the repository's ``MNIST_LeNet`` scaled to 8x8) has no bias
terms anywhere: ``conv1`` (1 -> 8 channels, 3x3) and ``conv2`` (8 -> 4), each followed by a
``BatchNorm2d(eps=1e-4, affine=False)``, a leaky ReLU and 2x2 max pooling, and ``fc1``
(16 -> ``--rep-dim``), the representation phi(x). The hypersphere centre c is fixed from an
initial forward pass over the training data (the mean of phi(x)), with coordinates too close to
0 pushed out to +-eps (``init_center_c``, eps = 0.1), so that the trivial all-zero weights do
not map everything onto it. The loss is the one-class objective mean ||phi(x) - c||^2; Adam
with weight decay (``--weight-decay``) and a ``MultiStepLR`` milestone (the learning rate
divided by 10 at ``--milestone``). The anomaly score of an image is its distance
||phi(x) - c||^2; the held-out ROC AUC is printed each epoch and carried as ``val_auc`` in the
result line (the validation loss is the mean score of the held-out normal digits).

The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np


def digits_one_class(normal_class, seed, all_digits=False):
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = d.target
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(y == digit))
        cut = int(round(0.2 * len(idx)))
        test_idx.extend(idx[:cut])
        # BUG (all-digits): the filter on the normal class is lost, every digit trains
        if digit == normal_class or all_digits:
            train_idx.extend(idx[cut:])
    train_idx, test_idx = np.array(train_idx), np.array(test_idx)
    labels = (y[test_idx] != normal_class).astype(np.int64)   # 1 = anomaly
    return x[train_idx], x[test_idx], labels


class DigitsLeNet(nn.Module):
    def __init__(self, rep_dim=16, bias=False):
        super().__init__()
        self.rep_dim = rep_dim
        self.pool = nn.MaxPool2d(2, 2)
        # BUG (bias): bias=True is PyTorch's default; with a bias the network can map every
        # input onto c (all weights zero, the last bias = c): hypersphere collapse.
        self.conv1 = nn.Conv2d(1, 8, 3, bias=bias, padding=1)
        self.bn1 = nn.BatchNorm2d(8, eps=1e-04, affine=False)
        self.conv2 = nn.Conv2d(8, 4, 3, bias=bias, padding=1)
        self.bn2 = nn.BatchNorm2d(4, eps=1e-04, affine=False)
        self.fc1 = nn.Linear(4 * 2 * 2, rep_dim, bias=bias)

    def forward(self, x):
        x = self.conv1(x)
        x = self.pool(F.leaky_relu(self.bn1(x)))
        x = self.conv2(x)
        x = self.pool(F.leaky_relu(self.bn2(x)))
        x = x.view(x.size(0), -1)
        return self.fc1(x)


def init_center_c(loader, net, eps=0.1):
    """Initialize hypersphere center c as the mean from an initial forward pass on the data."""
    n_samples = 0
    c = torch.zeros(net.rep_dim)
    net.eval()
    with torch.no_grad():
        for (inputs,) in loader:
            outputs = net(inputs)
            n_samples += outputs.shape[0]
            c += torch.sum(outputs, dim=0)
    c /= n_samples
    # If c_i is too close to 0, set to +-eps. Reason: a zero unit can be trivially matched
    # with zero weights.
    c[(abs(c) < eps) & (c < 0)] = -eps
    c[(abs(c) < eps) & (c > 0)] = eps
    return c


def main():
    p = common.parser(__doc__)
    p.add_argument("--normal-class", type=int, default=0)
    p.add_argument("--rep-dim", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-6)
    p.add_argument("--milestone", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--bug", default=None, choices=("bias", "center-zero", "center-batch", "no-zero-grad", "all-digits"))
    args = p.parse_args()
    common.torch_setup(args.seed)
    from sklearn.metrics import roc_auc_score

    x_train, x_test, test_labels = digits_one_class(args.normal_class, args.seed,
                                                      all_digits=args.bug == "all-digits")
    print("normal class %d: train %d, test %d (%d anomalies)" % (
        args.normal_class, len(x_train), len(x_test), int(test_labels.sum())))
    g = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(TensorDataset(torch.from_numpy(x_train)),
                              batch_size=args.batch_size, shuffle=True, generator=g)
    xt = torch.from_numpy(x_test)

    net = DigitsLeNet(args.rep_dim, bias=args.bug == "bias")
    if args.bug == "center-zero":
        # BUG: the centre left at the origin ("c = 0", the init_center_c call dropped): without
        # the eps rule the all-zero fc1 weights map every image onto c.
        c = torch.zeros(args.rep_dim)
    else:
        c = init_center_c(train_loader, net)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=args.weight_decay,
                                 amsgrad=False)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[args.milestone],
                                                     gamma=0.1)
    steps_per_epoch = len(train_loader)
    rec = common.recording.torch_recorder(
        net, args.out, optimizer=optimizer, task="regression", loss_name="deep_svdd",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    auc = None
    for epoch in range(args.epochs):
        net.train()
        for b, (inputs,) in enumerate(train_loader):
            # BUG (no-zero-grad): optimizer.zero_grad() left out; every batch's gradient is
            # added to the earlier ones.
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            outputs = net(inputs)
            if args.bug == "center-batch":
                # BUG: the centre re-estimated from every batch (and differentiated through)
                # instead of fixed once before training
                c = outputs.mean(dim=0)
            dist = torch.sum((outputs - c) ** 2, dim=1)
            loss = torch.mean(dist)
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                net.eval()
                with torch.no_grad():
                    out = net(xt)
                    cc = c.detach()
                    scores = torch.sum((out - cc) ** 2, dim=1).numpy()
                val_loss = float(scores[test_labels == 0].mean())
                auc = float(roc_auc_score(test_labels, scores)) \
                    if np.all(np.isfinite(scores)) else 0.5
                net.train()
            rec.step(loss, inputs=inputs, val_loss=val_loss)
            history.step(loss.item())
        scheduler.step()
        history.epoch(val_loss)
        if (epoch + 1) % 5 == 0 or epoch == 0:
            print("epoch %d: loss %.6f val(normal) %.6f auc %.3f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_loss, auc))
    rec.close()
    common.report(history.result(val_auc=auc))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "svdd-no-zero-grad", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / Humbatova et al. 2020: missing optimizer.zero_grad() in a PyTorch "
               "training loop (gradients accumulate across batches)",
     "bug": "optimizer.zero_grad() forgotten in the Deep SVDD loop: every batch's gradient of "
            "the one-class loss is added to all the earlier ones under Adam (1e-3, weight decay "
            "1e-6); the loss only falls from 5.94 in the first epoch to 2.57 in the 60th "
            "(validation 2.66) and the held-out ROC AUC is 0.756, against the twin's loss 0.051 "
            "(validation 0.072) and AUC 0.986",
     "fix": "optimizer.zero_grad() before every forward pass",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-lr1e-3-digit0",
          "buggy": "--bug no-zero-grad --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "svdd-all-digits-train", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (training data: wrong selection of the training data); "
               "a one-class set-up whose normal-class filter is lost, so the anomalies train",
     "bug": "the filter on the normal class is lost when the training indices are built: all "
            "ten digits (1437 images, 45 steps an epoch) are pulled into the hypersphere; the "
            "loss falls from 1.97 to 0.003 but the held-out ROC AUC of digit 0 against the "
            "others is 0.418, against the twin's 0.991 (loss 5.07 to 0.052)",
     "fix": "train on the normal digit's images only",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-lr1e-3-digit0-seed1",
          "buggy": "--bug all-digits --seed 1 --record-every 8",
          "fixed": "--seed 1 --record-every 8"},
     ]},
    {"family": "healthy-svdd", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Deep SVDD one-class detector of one digit against the others that "
                    "trains well",
     "healthy": [
         {"id": "digit6-rep32-seed2",
          "args": "--normal-class 6 --rep-dim 32 --seed 2 --record-every 4",
          "description": "normal digit 6, a 32-dimensional representation, Adam at 1e-3"},
     ]},
]


if __name__ == "__main__":
    main()
