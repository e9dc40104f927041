"""A small residual 1-D CNN in PyTorch classifying vibration recordings of a machine, with the
activations and pooling written as ``torch.nn.functional`` calls and a per-epoch
``torch.optim.lr_scheduler``.

The recordings are generated here, as an accelerometer sampled through a 16-bit converter
would give them: 128 samples of a shaft rotating at a random speed (3 to 6 revolutions per
window) with a random amplitude and phase, plus noise, stored as int16 counts (about +-8000).
Four machine states: ``normal`` (the rotation and noise), ``imbalance`` (a second harmonic as
strong as the first), ``bearing`` (a train of short impulses, 9 to 14 per window) and
``looseness`` (the rotation amplitude-modulated at 1 to 2 cycles per window, with a burst of
noise); 300 recordings of each, stored state after state as if read from one folder per
state. The last fifth of each state's recordings validate, the rest train. The program
converts the counts to floats and scales them by the training set's standard deviation
(``--input``: ``scaled``; ``counts`` feeds them as they are).

The network (``SignalResNet``, an ``nn.Module``): a stem ``Conv1d`` (kernel 7), two residual
blocks (``ResBlock``: conv, BatchNorm, ReLU, conv, BatchNorm, the shortcut added, ReLU;
``--no-bn`` drops the BatchNorms), ``F.max_pool1d`` after the stem and the first block, global
average pooling and a ``Linear`` head. ``forward()`` applies ``F.relu``, ``F.max_pool1d`` and
``F.adaptive_avg_pool1d``; the loss is ``F.cross_entropy``. A hand-written batching generator
walks a permutation of the training set each epoch; the optimizer is SGD (with momentum),
Adam or AdamW and the learning rate follows ``StepLR`` (halved every 3 epochs) or
``CosineAnnealingLR`` (over the run), stepped once per epoch. The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--input``, ``--lr``, ``--init``).
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
STATES = ("normal", "imbalance", "bearing", "looseness")
BUG = None


def recordings(n, length, seed):
    """(int16 counts [n, 1, length], state labels [n]), stored state by state (as read from
    one folder per state)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(STATES)), n // len(STATES))
    t = np.arange(length) / length
    x = np.empty((n, length))
    for i in range(n):
        rev = rng.uniform(3.0, 6.0)
        amp = rng.uniform(0.5, 1.0)
        phase = rng.uniform(0, 2 * math.pi)
        s = amp * np.sin(2 * math.pi * rev * t + phase)
        if y[i] == 1:
            s += amp * rng.uniform(0.8, 1.2) * np.sin(4 * math.pi * rev * t + 2 * phase)
        elif y[i] == 2:
            period = int(length / rng.uniform(9, 14))
            start = int(rng.integers(0, period))
            s[start::period] += rng.uniform(1.0, 1.6) * rng.choice([-1.0, 1.0])
        elif y[i] == 3:
            s *= 1.0 + 0.8 * np.sin(2 * math.pi * rng.uniform(1.0, 2.0) * t)
            at = int(rng.integers(0, length - 24))
            s[at:at + 24] += 0.5 * rng.standard_normal(24)
        s += 0.3 * rng.standard_normal(length)
        x[i] = s
    counts = np.clip(np.round(x * 5000.0), -32768, 32767).astype(np.int16)
    return counts[:, None, :], y


def relu(x):
    if BUG == "relu-result-discarded":
        F.relu(x)   # BUG: F.relu returns a new tensor; the result is thrown away
        return x
    return F.relu(x)


class ResBlock(nn.Module):
    def __init__(self, channels, bn=True):
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=1, bias=not bn)
        self.bn1 = nn.BatchNorm1d(channels) if bn else None
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1, bias=not bn)
        self.bn2 = nn.BatchNorm1d(channels) if bn else None

    def forward(self, x):
        out = self.conv1(x)
        if self.bn1 is not None:
            out = self.bn1(out)
        out = relu(out)
        out = self.conv2(out)
        if self.bn2 is not None:
            out = self.bn2(out)
        return relu(out + x)


class SignalResNet(nn.Module):
    def __init__(self, channels, classes, bn=True):
        super().__init__()
        self.stem = nn.Conv1d(1, channels, 7, padding=3)
        self.block1 = ResBlock(channels, bn)
        self.block2 = ResBlock(channels, bn)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        x = relu(self.stem(x))
        x = F.max_pool1d(x, 2)
        x = self.block1(x)
        x = F.max_pool1d(x, 2)
        x = self.block2(x)
        x = F.adaptive_avg_pool1d(x, 1).flatten(1)
        x = self.fc(x)
        return x


def batches(x, y, batch_size, generator, shuffle=True):
    if shuffle:
        order = torch.randperm(len(x), generator=generator)
    else:
        order = torch.arange(len(x))   # the stored order: state by state
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]


def main():
    global BUG
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=1200)
    p.add_argument("--length", type=int, default=128)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--no-bn", action="store_true")
    p.add_argument("--input", default="scaled", choices=("scaled", "counts"))
    p.add_argument("--init", default="default", choices=("default", "kaiming", "normal"),
                   help="default: PyTorch's; kaiming: He normal; normal: nn.init.normal_ (std 1)")
    p.add_argument("--optimizer", default="adam", choices=("sgd", "momentum", "adam", "adamw"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--scheduler", default="step", choices=("step", "cosine"))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("relu-result-discarded", "no-shuffle"))
    args = p.parse_args()
    BUG = args.bug
    common.torch_setup(args.seed)

    counts, labels = recordings(args.samples, args.length, args.seed)
    # The last fifth of each state's recordings validate; the rest train, in the stored order.
    held = np.concatenate([np.flatnonzero(labels == k)[-len(labels) // len(STATES) // 5:]
                           for k in range(len(STATES))])
    keep = np.setdiff1d(np.arange(len(labels)), held)
    x_tr, x_val, y_tr, y_val = counts[keep], counts[held], labels[keep], labels[held]
    x_tr, x_val = x_tr.astype(np.float32), x_val.astype(np.float32)
    if args.input == "scaled":
        scale = float(x_tr.std())
        x_tr, x_val = x_tr / scale, x_val / scale
    # else (--input counts): the int16 counts go in as floats, about +-8000
    X, Y = torch.from_numpy(x_tr), torch.from_numpy(y_tr).long()
    X_val, Y_val = torch.from_numpy(x_val), torch.from_numpy(y_val).long()

    model = SignalResNet(args.channels, len(STATES), bn=not args.no_bn)
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            if args.init == "kaiming":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif args.init == "normal":
                nn.init.normal_(m.weight)     # mean 0, std 1
            if m.bias is not None and args.init != "default":
                nn.init.zeros_(m.bias)

    params = model.parameters()
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, lr=args.lr, weight_decay=args.weight_decay)
    elif args.optimizer == "momentum":
        optimizer = torch.optim.SGD(params, lr=args.lr, momentum=0.9,
                                    weight_decay=args.weight_decay)
    elif args.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay or 0.01)
    if args.scheduler == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    steps_per_epoch = -(-len(X) // args.batch_size)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss",
        steps_per_epoch=steps_per_epoch, num_classes=len(STATES), batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        # BUG (no-shuffle): the batches walk the training set in its stored order, state by
        # state, every epoch.
        for i, (xb, yb) in enumerate(batches(X, Y, args.batch_size, g,
                                             shuffle=args.bug != "no-shuffle")):
            optimizer.zero_grad()
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            optimizer.step()
            acc = (out.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if i == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vout = model(X_val)
                    val_loss = F.cross_entropy(vout, Y_val).item()
                    val_acc = (vout.argmax(1) == Y_val).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        scheduler.step()
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.4f acc %.3f val_loss %.4f val_acc %.3f lr %.3g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, optimizer.param_groups[0]["lr"]))
    rec.close()
    layers = [name for name, m in model.named_modules()
              if isinstance(m, (nn.Conv1d, nn.BatchNorm1d, nn.Linear))]
    common.report(history.result(layers=layers))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "sig1d-relu-result-discarded", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing activation function (F.relu(x) called as if it "
               "worked in place, its result thrown away, in forward() and in both residual "
               "blocks)",
     "bug": "every F.relu(...) result is discarded: the stem, the four convolutions and the "
            "shortcuts are one linear map and only F.max_pool1d is left as a non-linearity; "
            "the network ends at validation accuracy 0.900 (training loss 0.298) against the "
            "twin's 0.992 (0.085)",
     "fix": "x = F.relu(x): keep the activation's result",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-step",
          "buggy": "--bug relu-result-discarded --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "sig1d-int16-counts-unscaled", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing input normalization (the 16-bit converter's "
               "counts, about +-8000, fed as floats)",
     "bug": "the recordings go in as int16 counts converted to float (no division by the "
            "training set's standard deviation): the stem's outputs are in the thousands, the "
            "residual shortcuts carry them past the BatchNorms to the head, the first epoch's "
            "loss is 573 and the network ends at validation accuracy 0.58 (loss 22) against "
            "the twin's 0.98 (0.17)",
     "fix": "scale the counts by the training set's standard deviation",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-bs64",
          "buggy": "--input counts --batch-size 64 --record-every 2",
          "fixed": "--input scaled --batch-size 64 --record-every 2"},
     ]},
    {"family": "sig1d-sgd-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: oscillating loss; DeepFD fault type: learning rate too high",
     "bug": "SGD momentum 0.9 at a learning rate of 2 (meant 0.02), halved every 3 epochs by "
            "StepLR: the first epoch's loss is 6.2 and the run ends at validation accuracy "
            "0.53 of four classes (training loss 0.97) against the twin's 0.996 (0.048)",
     "fix": "learning rate 0.02",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum-step",
          "buggy": "--optimizer momentum --lr 2 --record-every 2",
          "fixed": "--optimizer momentum --lr 0.02 --record-every 2"},
     ]},
    {"family": "sig1d-normal-init-std1", "split": "dev", "architecture": "cnn",
     "origin": "DeepDiagnosis: improper weight initialization (nn.init.normal_ on every "
               "convolution and Linear weight, its default standard deviation 1)",
     "bug": "nn.init.normal_(m.weight) on the convolutions and the head of the residual "
            "network without BatchNorm: each ReLU convolution multiplies the activations by "
            "several times, the first epoch's loss is 3133 and the run ends at validation "
            "accuracy 0.57 with a loss of 17 against the twin's 0.94 (0.23)",
     "fix": "PyTorch's default initialization (no nn.init.normal_ loop)",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["saturation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "no-bn-adam",
          "buggy": "--no-bn --init normal --record-every 2",
          "fixed": "--no-bn --init default --record-every 2"},
     ]},
    {"family": "sig1d-unshuffled-by-state", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data not shuffled (recordings stored one "
               "machine state after the other)",
     "bug": "the batching generator walks the training set in its stored order, state by "
            "state, every epoch: each stretch of batches holds one class, the network follows "
            "the latest state and ends at training accuracy 0.55 (loss 1.27) and validation "
            "accuracy 0.66 against the twin's 0.99 (loss 0.09)",
     "fix": "a new permutation of the training set every epoch (shuffle=True)",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-cosine",
          "buggy": "--bug no-shuffle --scheduler cosine --record-every 2",
          "fixed": "--scheduler cosine --record-every 2"},
     ]},
    {"family": "healthy-sig1d", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a residual 1-D CNN with functional activations and a per-epoch LR "
                    "scheduler that trains well on vibration recordings",
     "healthy": [
         {"id": "adamw-cosine-bs64-seed1",
          "args": "--optimizer adamw --scheduler cosine --batch-size 64 --seed 1 --record-every 2",
          "description": "AdamW (weight decay 0.01) with CosineAnnealingLR, batches of 64"},
         {"id": "momentum-channels24-seed2",
          "args": "--optimizer momentum --lr 0.02 --channels 24 --seed 2 --record-every 2",
          "description": "SGD momentum 0.02 with StepLR, 24 channels"},
         {"id": "sgd-cosine-seed3",
          "args": "--optimizer sgd --lr 0.1 --scheduler cosine --seed 3 --record-every 2",
          "description": "plain SGD 0.1 with CosineAnnealingLR"},
         {"id": "no-bn-cosine-seed4",
          "args": "--no-bn --scheduler cosine --seed 4 --record-every 2",
          "description": "residual blocks without BatchNorm, Adam 3e-3, CosineAnnealingLR"},
         {"id": "kaiming-bs16-seed5",
          "args": "--init kaiming --batch-size 16 --lr 1e-3 --seed 5 --record-every 2",
          "description": "Kaiming-normal weights, Adam 1e-3, batches of 16"},
     ]},
]


if __name__ == "__main__":
    main()
