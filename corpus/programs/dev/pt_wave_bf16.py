"""A PyTorch 1-D convolutional classifier of synthetic waveforms, trained in mixed precision
with ``torch.autocast(device_type="cpu", dtype=torch.bfloat16)`` and ``OneCycleLR``.

The waveforms are generated here: 256 samples of one of five shapes (sine, square, sawtooth,
triangle, a decaying burst), with random frequency, phase and amplitude (0.5 to 2 V), a DC
offset and Gaussian noise, in millivolts as a digitizer delivers them; ``nn.BatchNorm1d`` on the input
(``bn_in``) normalizes them. The model (``WaveNet``): ``bn_in``, three blocks of ``Conv1d``
(``conv1``..``conv3``, kernel 7, padding 3), ``BatchNorm1d`` and an activation, max-pooling
by 2 after the first two, global average pooling and a ``Linear`` head (``head``). The forward
pass and the loss run under ``torch.autocast(device_type="cpu", dtype=torch.bfloat16)``, the
weights and the optimizer's state stay in float32 (no gradient scaler: bfloat16 has float32's
range). ``OneCycleLR`` (``max_lr`` = ``--lr``) is stepped after every batch. A
``torch.utils.data.random_split`` cuts 20% for validation. The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset, random_split  # noqa: E402

np = common.np

SHAPES = ("sine", "square", "sawtooth", "triangle", "burst")
LENGTH = 256


def make_waveforms(n, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH) / LENGTH
    labels = rng.integers(0, len(SHAPES), size=n)
    freq = rng.uniform(2.0, 8.0, size=(n, 1))
    phase = rng.uniform(0.0, 1.0, size=(n, 1))
    amp = rng.uniform(0.5, 2.0, size=(n, 1))
    cyc = (freq * t + phase) % 1.0
    waves = {
        0: np.sin(2 * math.pi * cyc),
        1: np.where(cyc < 0.5, 1.0, -1.0),
        2: 2 * cyc - 1,
        3: 4 * np.abs(cyc - 0.5) - 1,
        4: np.sin(2 * math.pi * cyc) * np.exp(-4 * t),
    }
    x = np.zeros((n, LENGTH))
    for k in range(len(SHAPES)):
        x[labels == k] = waves[k][labels == k]
    x = amp * x + rng.uniform(-1.0, 1.0, size=(n, 1)) + rng.normal(0, 0.15, size=(n, LENGTH))
    return (1000.0 * x).astype(np.float32)[:, None, :], labels.astype(np.int64)    # millivolts


class WaveNet(nn.Module):
    def __init__(self, channels, activation):
        super().__init__()
        c1, c2, c3 = channels
        self.bn_in = nn.BatchNorm1d(1)
        self.conv1, self.bn1 = nn.Conv1d(1, c1, 7, padding=3), nn.BatchNorm1d(c1)
        self.conv2, self.bn2 = nn.Conv1d(c1, c2, 7, padding=3), nn.BatchNorm1d(c2)
        self.conv3, self.bn3 = nn.Conv1d(c2, c3, 7, padding=3), nn.BatchNorm1d(c3)
        self.act = activation
        self.pool = nn.MaxPool1d(2)
        self.head = nn.Linear(c3, len(SHAPES))

    def forward(self, x):
        x = self.bn_in(x)
        x = self.pool(self.act(self.bn1(self.conv1(x))))
        x = self.pool(self.act(self.bn2(self.conv2(x))))
        x = self.act(self.bn3(self.conv3(x)))
        return self.head(x.mean(dim=2))


def main():
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--channels", type=common.ints, default=[16, 32, 32])
    p.add_argument("--optimizer", default="adamw", choices=("adamw", "sgd"))
    p.add_argument("--lr", type=float, default=1e-2, help="OneCycleLR's max_lr")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--bug", default=None,
                   choices=("no-activation", "onecycle-per-epoch"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = make_waveforms(args.samples, args.seed)
    data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    n_val = len(data) // 5
    g = torch.Generator().manual_seed(args.seed)
    train_set, val_set = random_split(data, [len(data) - n_val, n_val], generator=g)
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=g)
    val_loader = DataLoader(val_set, batch_size=256)

    # BUG (no-activation): nn.Identity() where the activation should be, left from a
    # refactoring that made the activation a constructor argument.
    model = WaveNet(args.channels, nn.Identity() if args.bug == "no-activation" else nn.ReLU())
    if args.optimizer == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=len(loader))
    criterion = nn.CrossEntropyLoss()

    def evaluate():
        model.eval()
        total, correct = 0.0, 0
        with torch.no_grad(), torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            for xb, yb in val_loader:
                out = model(xb)
                total += criterion(out.float(), yb).item() * len(yb)
                correct += (out.argmax(1) == yb).sum().item()
        return total / len(val_set), correct / len(val_set)

    # a sanity check of the untrained model before training
    print("untrained: val %.4f val_acc %.3f" % evaluate())
    model.train()

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=len(loader), num_classes=len(SHAPES),
        batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        for b, (xb, yb) in enumerate(loader):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
                out = model(xb)
                loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            if args.bug != "onecycle-per-epoch":
                scheduler.step()
            acc = (out.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == len(loader) - 1:
                val_loss, val_acc = evaluate()
                model.train()
            rec.step(loss.float(), accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        if args.bug == "onecycle-per-epoch":
            # BUG: the one-cycle schedule, built for epochs x steps_per_epoch steps, is
            # stepped once per epoch, so the rate never leaves its warm-up start, max_lr / 25.
            scheduler.step()
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f val_acc %.3f lr %.3g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, optimizer.param_groups[0]["lr"]))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "wave-no-activation", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing activation function (nn.Identity() passed where "
               "the activation should be); DeepFD fault type: activation",
     "bug": "nn.Identity() as the blocks' activation: the three convolutions and their "
            "BatchNorms are one linear map, only the max-pooling is not; the training loss "
            "ends at 0.57 and the validation accuracy at 0.730 of five shapes, against the "
            "twin's 0.17 and 0.938",
     "fix": "nn.ReLU() as the activation",
     "symptom": "missing_activation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw",
          "buggy": "--bug no-activation --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "wave-onecycle-max-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high; AUTOTRAINER: "
               "oscillating loss",
     "bug": "OneCycleLR with max_lr=5 on SGD with Nesterov momentum (meant 0.05): as the rate "
            "rises to 5 the validation loss jumps to 31.9 after the first epoch, and the "
            "validation accuracy ends at 0.417 of five shapes (training loss 1.71 to 0.96), "
            "against the twin's 0.930",
     "fix": "max_lr=0.05",
     "symptom": "oscillation",
     "acceptable_symptoms": ["exploding_gradient", "not_learning", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--optimizer sgd --lr 5 --record-every 2",
          "fixed": "--optimizer sgd --lr 0.05 --record-every 2"},
     ]},
    {"family": "wave-onecycle-stepped-per-epoch", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (a per-batch one-cycle "
               "schedule stepped once per epoch)",
     "bug": "OneCycleLR built for epochs x steps_per_epoch steps but stepped once per epoch: "
            "the rate stays near its warm-up start (0.002 to 0.0025 instead of rising to 0.05 "
            "and annealing); the training loss falls only from 1.37 to 0.55 and the validation "
            "accuracy ends at 0.778 of five shapes, against the twin's 0.18 and 0.973 (seed 5)",
     "fix": "scheduler.step() after every batch",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed5",
          "buggy": "--optimizer sgd --lr 0.05 --bug onecycle-per-epoch --seed 5 --record-every 2",
          "fixed": "--optimizer sgd --lr 0.05 --seed 5 --record-every 2"},
     ]},
    {"family": "healthy-wave", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a 1-D CNN waveform classifier under bfloat16 autocast and OneCycleLR "
                    "that trains well",
     "healthy": [
         {"id": "adamw-c32-64-seed1",
          "args": "--lr 3e-3 --channels 32,64,64 --seed 1 --record-every 2",
          "description": "wider convolutions, AdamW with max_lr 3e-3"},
         {"id": "sgd-bs64-lr0.1-seed2",
          "args": "--optimizer sgd --lr 0.1 --batch-size 64 --seed 2 --record-every 2",
          "description": "SGD Nesterov momentum, max_lr 0.1, batches of 64"},
         {"id": "adamw-c8-16-bs16-seed3",
          "args": "--lr 2e-2 --batch-size 16 --channels 8,16,16 --seed 3 --record-every 2",
          "description": "narrow convolutions, AdamW with max_lr 2e-2, batches of 16"},
         {"id": "adamw-seed4",
          "args": "--seed 4 --record-every 2",
          "description": "the default network, AdamW with max_lr 1e-2"},
     ]},
]


if __name__ == "__main__":
    main()
