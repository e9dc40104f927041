"""A PyTorch classifier of an imbalanced four-class tabular set, balanced by a
``WeightedRandomSampler``, trained with SGD with momentum and weight decay.

The data are generated here (``sklearn.datasets.make_classification``): 2400 rows, 12 features
(8 informative), four classes of which the last ("fault") is about six times rarer than the
others. The features are then given physical units (each column multiplied by a scale between
1 and 900 and shifted), as sensor readings would be. 25% of the rows (stratified) validate.
The training ``DataLoader`` draws its batches with a ``WeightedRandomSampler`` whose per-row
weight is the inverse frequency of the row's class (with replacement, one epoch = as many rows
as the training set), so every class appears about equally often in a batch.

The network (``SensorNet``) normalizes its raw input with a ``BatchNorm1d`` (``bn_in``), then
``fc1`` (``--width`` units, ReLU), ``fc2`` (``--width`` // 2 units, ReLU) and the ``out``
logits, trained with ``nn.CrossEntropyLoss`` and ``torch.optim.SGD`` (``--momentum``,
``--weight-decay``). The mistakes of the families in CASES are selected with ``--bug`` or show
in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler  # noqa: E402

np = common.np
CLASSES = 4


def sensor_data(seed):
    from sklearn.datasets import make_classification
    x, y = make_classification(
        n_samples=2400, n_features=12, n_informative=8, n_redundant=2, n_classes=CLASSES,
        n_clusters_per_class=1, weights=[0.31, 0.31, 0.31, 0.07], class_sep=1.2,
        flip_y=0.01, random_state=seed)
    rng = np.random.default_rng(seed)
    scales = rng.uniform(1.0, 900.0, size=x.shape[1])
    offsets = rng.uniform(-50.0, 400.0, size=x.shape[1])
    return (x * scales + offsets).astype(np.float32), y.astype(np.int64)


class SensorNet(nn.Module):
    def __init__(self, features, width, softmax_output=False):
        super().__init__()
        self.bn_in = nn.BatchNorm1d(features)
        self.fc1 = nn.Linear(features, width)
        self.fc2 = nn.Linear(width, width // 2)
        self.out = nn.Linear(width // 2, CLASSES)
        self.softmax_output = softmax_output

    def forward(self, x):
        h = torch.relu(self.fc1(self.bn_in(x)))
        h = torch.relu(self.fc2(h))
        logits = self.out(h)
        # BUG (softmax-then-ce): probabilities returned from forward() (for predict_proba)
        # and then given to CrossEntropyLoss, which applies log-softmax again.
        return torch.softmax(logits, dim=1) if self.softmax_output else logits


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("no-zero-grad", "softmax-then-ce", "bn-input-eval"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = sensor_data(args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, val=0.25, seed=args.seed)
    counts = np.bincount(y_tr, minlength=CLASSES)
    print("class counts:", counts.tolist())
    row_weights = (1.0 / counts)[y_tr]
    g = torch.Generator().manual_seed(args.seed)
    sampler = WeightedRandomSampler(torch.as_tensor(row_weights, dtype=torch.double),
                                    num_samples=len(y_tr), replacement=True, generator=g)
    train_ds = TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr))
    loader = DataLoader(train_ds, batch_size=args.batch_size, sampler=sampler, drop_last=True)
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val)

    model = SensorNet(x.shape[1], args.width, softmax_output=args.bug == "softmax-then-ce")
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay)
    criterion = nn.CrossEntropyLoss()

    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        if args.bug == "bn-input-eval":
            # BUG: the input BatchNorm is put in inference mode for training (copied from a
            # fine-tuning recipe that freezes the statistics): it keeps its initial running
            # mean 0 and variance 1, so the raw sensor units pass through unnormalized.
            model.bn_in.eval()
        for b, (xb, yb) in enumerate(loader):
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            # BUG (no-zero-grad): optimizer.zero_grad() forgotten: every batch's gradient is
            # added to all the earlier ones.
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vl = model(xv)
                    val_loss = criterion(vl, yv).item()
                    val_acc = (vl.argmax(1) == yv).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "wrsimb-no-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / Humbatova et al. 2020: missing optimizer.zero_grad() in a PyTorch "
               "training loop (gradients accumulate across batches)",
     "bug": "optimizer.zero_grad() forgotten: every batch's gradient is added to all earlier "
            "ones under SGD momentum 0.9 (48 and 24 hidden units); the training loss rises "
            "from 4.0 in the first epoch to 2.2e6 in the 4th and is 171 in the 8th, the "
            "accuracy falls from 0.39 to 0.25 (validation 0.31, loss 233) against the twin's "
            "0.96",
     "fix": "optimizer.zero_grad() before every forward pass",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-momentum-width48",
          "buggy": "--bug no-zero-grad --width 48 --record-every 4",
          "fixed": "--width 48 --record-every 4"},
     ]},
    {"family": "wrsimb-softmax-then-ce", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark / Humbatova et al. 2020: cross-entropy on an already "
               "softmaxed output (nn.CrossEntropyLoss given probabilities)",
     "bug": "forward() returns softmax probabilities and nn.CrossEntropyLoss applies "
            "log-softmax again: the loss cannot fall below about 0.74 and ends at 0.86 (accuracy "
            "0.89, validation loss 0.88, accuracy 0.86) while the twin reaches 0.17 (accuracy "
            "0.95, validation 0.92)",
     "fix": "return the logits from forward(); apply softmax only for predictions",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-momentum-seed1",
          "buggy": "--bug softmax-then-ce --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "wrsimb-bn-input-eval", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: BatchNorm in inference mode during training (the input "
               "normalization layer set to eval() by a copied fine-tuning recipe); missing "
               "input normalization",
     "bug": "model.bn_in.eval() during training: the input BatchNorm keeps running mean 0 and "
            "variance 1 and passes the raw sensor units (scales up to 900) through; the first "
            "epoch's mean loss is 1e23, the ReLU units die and the loss sticks at 1.386 (ln 4) "
            "with accuracy 0.27 (validation 0.31)",
     "fix": "leave bn_in in training mode (model.train()) so it normalizes each batch",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "dead_or_zero",
                                                       "exploding_gradient"],
     "root_cause": {"layer_name": "bn_in", "layer_index": 0},
     "pairs": [
         {"id": "sgd-momentum",
          "buggy": "--bug bn-input-eval --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "wrsimb-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "SGD momentum 0.9 at 1.5 (meant 0.05), batches of 32: the loss jumps (first epoch "
            "3.90, 8th 1.48, above ln 4) and the accuracy stays at chance, 0.26 (validation "
            "0.31) against the twin's 0.95",
     "fix": "learning rate 0.05",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-momentum-bs32",
          "buggy": "--lr 1.5 --batch-size 32 --record-every 4",
          "fixed": "--lr 0.05 --batch-size 32 --record-every 4"},
     ]},
    {"family": "healthy-wrsimb", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "an imbalanced four-class classifier balanced by a WeightedRandomSampler "
                    "that trains well",
     "healthy": [
         {"id": "width64-seed1",
          "args": "--width 64 --seed 1 --record-every 4",
          "description": "64 and 32 hidden units, SGD momentum 0.9 at 0.05"},
         {"id": "lr002-bs32-seed2",
          "args": "--lr 0.02 --batch-size 32 --seed 2 --record-every 4",
          "description": "SGD momentum 0.9 at 0.02, batches of 32"},
         {"id": "momentum05-lr01-seed3",
          "args": "--momentum 0.5 --lr 0.1 --seed 3 --record-every 4",
          "description": "SGD momentum 0.5 at 0.1"},
         {"id": "wd1e-3-bs128-seed4",
          "args": "--weight-decay 1e-3 --batch-size 128 --lr 0.1 --seed 4 --record-every 4",
          "description": "weight decay 1e-3, batches of 128, SGD momentum 0.9 at 0.1"},
     ]},
]


if __name__ == "__main__":
    main()
