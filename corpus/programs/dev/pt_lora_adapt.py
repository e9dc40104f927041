"""A PyTorch MLP pre-trained on one task, then adapted to a shifted task with LoRA adapters
(Hu et al. 2021) on its frozen Linear layers, as the minimal LoRA implementations write it.

Data: one ``make_classification`` draw (20 features, 10 informative, 5 classes, two clusters a
class) read as sensor rows, each column in its own units (scaled by 1 to 400 and shifted).
Task A is its first 2000 rows. Task B is 1200 other rows of the same process after a shift:
the informative columns rotated by a fixed random rotation (the sensors remounted at another
angle) and the classes renamed (a new label scheme, ``perm[y]``), 900 to train and 300 to
validate. A ``StandardScaler`` is fitted on task A's rows and applied to both tasks.

Pre-training (not recorded, as a checkpoint would be loaded): ``BaseNet`` (``fc1`` 20 ->
``--width``, ReLU, ``fc2`` ``--width`` -> ``--width``, ReLU, ``head`` -> 5 logits), Adam at
1e-3, batches of 64, ``--pretrain-epochs`` epochs on task A. Adaptation (recorded): every base
weight frozen (``requires_grad_(False)``), then ``fc1``, ``fc2`` and ``head`` wrapped in a
``LoRALinear``: ``y = base(x) + (dropout(x) @ A^T @ B^T) * alpha / r`` with ``lora_A``
(r x in, Kaiming-uniform with a = sqrt(5), as ``nn.Linear`` initialises its weight) and
``lora_B`` (out x r, zeros), so the adapted model starts as the base model. Only the adapters
train, with ``torch.optim.AdamW`` (``--lr``, weight decay 0.01), ``nn.CrossEntropyLoss``,
batches of ``--batch-size``, ``--epochs`` epochs; the metric is task B's validation accuracy.
The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np
CLASSES = 5
FEATURES = 20
INFORMATIVE = 10


def sensor_tasks(seed):
    """(x_a, y_a), (x_b, y_b): task A and the shifted task B, in the sensors' units."""
    from sklearn.datasets import make_classification
    x, y = make_classification(
        n_samples=3200, n_features=FEATURES, n_informative=INFORMATIVE, n_redundant=4,
        n_classes=CLASSES, n_clusters_per_class=2, class_sep=1.6, flip_y=0.01,
        shuffle=False, random_state=seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    x_a, y_a = x[:2000], y[:2000]
    x_b, y_b = x[2000:].copy(), y[2000:]
    # the shift: the informative columns rotated, the classes renamed
    q, _ = np.linalg.qr(rng.standard_normal((INFORMATIVE, INFORMATIVE)))
    x_b[:, :INFORMATIVE] = x_b[:, :INFORMATIVE] @ q
    perm = rng.permutation(CLASSES)
    y_b = perm[y_b]
    scales = rng.uniform(1.0, 400.0, size=FEATURES)
    offsets = rng.uniform(-100.0, 300.0, size=FEATURES)
    units = lambda v: (v * scales + offsets).astype(np.float32)  # noqa: E731
    return (units(x_a), y_a.astype(np.int64)), (units(x_b), y_b.astype(np.int64))


class BaseNet(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(FEATURES, width)
        self.fc2 = nn.Linear(width, width)
        self.head = nn.Linear(width, CLASSES)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = torch.relu(self.fc2(h))
        return self.head(h)


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update ``B @ A`` scaled by alpha / r."""

    def __init__(self, base, r=4, alpha=8, dropout=0.0, zero_init_a=False):
        super().__init__()
        self.base = base
        self.r = r
        self.scaling = alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        if zero_init_a:
            # BUG (zero-init-both): A initialised to zeros like B ("the adapter must start as
            # a no-op"): with both factors 0 neither gets a gradient, dL/dB = g (A x)^T = 0
            # and dL/dA = B^T g x^T = 0, so the adapters never move.
            nn.init.zeros_(self.lora_A)
        else:
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x):
        out = self.base(x)
        return out + (self.lora_dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling


def accuracy(logits, y):
    return (logits.argmax(1) == y).float().mean()


def pretrain(model, x, y, epochs, seed):
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                        batch_size=64, shuffle=True, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            crit(model(xb), yb).backward()
            opt.step()


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--pretrain-epochs", type=int, default=15)
    p.add_argument("--rank", type=int, default=4)
    p.add_argument("--alpha", type=float, default=8.0)
    p.add_argument("--lora-dropout", type=float, default=0.05)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None,
                   choices=("zero-init-both", "unscaled-task-b"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    from sklearn.preprocessing import StandardScaler
    (x_a, y_a), (x_b, y_b) = sensor_tasks(args.seed)
    scaler = StandardScaler().fit(x_a)
    x_a = scaler.transform(x_a).astype(np.float32)
    if args.bug != "unscaled-task-b":
        x_b = scaler.transform(x_b).astype(np.float32)
    # BUG (unscaled-task-b): the scaler is applied to task A only; task B's rows reach the
    # pre-trained network in the sensors' own units (scales up to 400, offsets up to 300).
    xb_tr, xb_val, yb_tr, yb_val = common.split(x_b, y_b, val=0.25, seed=args.seed)

    model = BaseNet(args.width)
    pretrain(model, x_a, y_a, args.pretrain_epochs, args.seed)
    model.eval()
    with torch.no_grad():
        xv, yv = torch.from_numpy(xb_val), torch.from_numpy(yb_val)
        print("base model: task A acc %.3f, task B val acc %.3f" % (
            accuracy(model(torch.from_numpy(x_a)), torch.from_numpy(y_a)).item(),
            accuracy(model(xv), yv).item()))

    # LoRA: freeze the base, wrap the Linear layers, train the adapters only
    for param in model.parameters():
        param.requires_grad_(False)
    for name in ("fc1", "fc2", "head"):
        setattr(model, name, LoRALinear(getattr(model, name), r=args.rank, alpha=args.alpha,
                                        dropout=args.lora_dropout,
                                        zero_init_a=args.bug == "zero-init-both"))
    lora_params = [p for n, p in model.named_parameters() if "lora_" in n]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print("trainable parameters: %d of %d" % (trainable,
                                              sum(p.numel() for p in model.parameters())))
    optimizer = torch.optim.AdamW(lora_params, lr=args.lr, weight_decay=0.01)
    criterion = nn.CrossEntropyLoss()

    g = torch.Generator().manual_seed(args.seed + 1)
    loader = DataLoader(TensorDataset(torch.from_numpy(xb_tr), torch.from_numpy(yb_tr)),
                        batch_size=args.batch_size, shuffle=True, generator=g)
    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=CLASSES,
        batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b, (xb, yb) in enumerate(loader):
            optimizer.zero_grad()
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            acc = accuracy(logits, yb)
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vl = model(xv)
                    val_loss = criterion(vl, yv).item()
                    val_acc = accuracy(vl, yv).item()
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
    {"family": "lora-zero-init-both", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong weight initialization (LoRA's A factor "
               "initialised to zeros like B, so both factors of the product are 0)",
     "bug": "lora_A initialised to zeros as well as lora_B: with both factors 0 neither gets a "
            "gradient and the adapters of fc1, fc2 and head never move; the model stays the "
            "pre-trained base, task-B validation accuracy 0.167 (loss 4.78) against the twin's "
            "0.843",
     "fix": "lora_A initialised Kaiming-uniform (a = sqrt(5)), lora_B zeros",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "rank4-adamw",
          "buggy": "--bug zero-init-both --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "lora-unscaled-task-b", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing preprocessing (the pre-training StandardScaler "
               "not applied to the new task's inputs); DeepLocalize benchmark: unnormalized "
               "input",
     "bug": "the StandardScaler fitted on task A is applied to task A only; task B reaches the "
            "frozen network in the sensors' units (scales up to 400): the first epoch's mean "
            "loss is 857 and the adapters end at task-B validation accuracy 0.293 (loss 2.30) "
            "against the twin's 0.883",
     "fix": "scaler.transform(x_b) before splitting task B",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "rank4-adamw-seed1",
          "buggy": "--bug unscaled-task-b --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "lora-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "AdamW at 0.3 for the rank-8 adapters (alpha 16; meant 1e-2): the first epoch's mean "
            "loss is 92.6, the loss then sits at ln 5 (1.610) and the task-B validation "
            "accuracy at chance, 0.203, against the twin's 0.833",
     "fix": "learning rate 1e-2",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "rank8-alpha16-seed2",
          "buggy": "--lr 0.3 --rank 8 --alpha 16 --seed 2 --record-every 4",
          "fixed": "--lr 1e-2 --rank 8 --alpha 16 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-lora", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "LoRA adapters on a frozen pre-trained MLP that adapt it to a shifted task",
     "healthy": [
         {"id": "rank8-alpha16-seed3",
          "args": "--rank 8 --alpha 16 --seed 3 --record-every 4",
          "description": "rank 8, alpha 16, AdamW at 1e-2"},
         {"id": "dropout01-bs64-seed4",
          "args": "--lora-dropout 0.1 --batch-size 64 --seed 4 --record-every 4",
          "description": "rank 4, LoRA dropout 0.1, batches of 64, AdamW at 1e-2"},
     ]},
]


if __name__ == "__main__":
    main()
