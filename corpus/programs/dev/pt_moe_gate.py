"""A PyTorch mixture-of-experts classifier: a softmax gate (``gate``, one ``Linear``) weighs the
class logits of ``--experts`` small expert MLPs (``experts.0.fc1``, ``experts.0.fc2`` ...), with
the common load-balancing term (the squared coefficient of variation of the gate's mean
weights, times ``--balance``) added to the cross-entropy, on data from scikit-learn's
``make_classification``, an ``ExponentialLR`` schedule stepped once per epoch, and the loop
written as two functions, ``train_one_epoch`` and ``validate``, that return dictionaries of
metrics.

The data: ``make_classification`` with 3000 samples, 16 features (8 informative, 4
redundant), ``--classes`` classes of 2 clusters each (``random_state`` the seed), features
shifted and scaled into "their own units" (each column multiplied by a factor from 0.5 to 500
and shifted by up to 1000, as raw measurements are); 20% validate (stratified); the columns
are standardized with the training part's mean and standard deviation (``--scaling``). Every
expert is ``Linear(16, --width)`` + ReLU + ``Linear(--width, classes)``. Optimizer
``--optimizer`` (``adam``, ``sgd`` with momentum 0.9, ``rmsprop``) at ``--lr``,
``--weight-decay``, ``ExponentialLR(gamma=--gamma)``. The mistakes of the families in CASES
are selected with ``--bug`` or show in a setting.
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


def measurements(classes, seed):
    from sklearn.datasets import make_classification
    x, y = make_classification(n_samples=3000, n_features=16, n_informative=8, n_redundant=4,
                               n_classes=classes, n_clusters_per_class=2, class_sep=1.5,
                               random_state=seed)
    rng = np.random.default_rng(seed + 100)
    scale = np.exp(rng.uniform(np.log(0.5), np.log(500.0), size=16))
    shift = rng.uniform(-1000.0, 1000.0, size=16)
    return x * scale + shift, y


class Expert(nn.Module):
    def __init__(self, n_in, width, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, width)
        self.fc2 = nn.Linear(width, n_out)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class MixtureOfExperts(nn.Module):
    def __init__(self, n_in, n_out, experts, width):
        super().__init__()
        self.gate = nn.Linear(n_in, experts)
        self.experts = nn.ModuleList(Expert(n_in, width, n_out) for _ in range(experts))

    def forward(self, x):
        weights = torch.softmax(self.gate(x), dim=-1)                  # (batch, experts)
        outs = torch.stack([e(x) for e in self.experts], dim=1)        # (batch, experts, classes)
        return (weights.unsqueeze(-1) * outs).sum(1), weights


def balance_loss(weights):
    importance = weights.mean(0)
    return importance.var() / (importance.mean() ** 2 + 1e-10)


def train_one_epoch(model, loader, optimizer, args, rec, val_fn):
    model.train()
    losses, accs = [], []
    val = {}
    for i, (xb, yb) in enumerate(loader):
        logits, weights = model(xb)
        task = F.cross_entropy(logits, yb)
        loss = task + args.balance * balance_loss(weights)
        # BUG (missing-zero-grad): zero_grad() was moved out of the loop, above it.
        if args.bug != "missing-zero-grad":
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        acc = (logits.argmax(1) == yb).float().mean()
        if i == len(loader) - 1:
            val = val_fn()
        rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val.get("loss"),
                 val_accuracy=val.get("accuracy"))
        losses.append(loss.item())
        accs.append(acc.item())
    return {"losses": losses, "accuracies": accs, **val}


@torch.no_grad()
def validate(model, x, y, args):
    model.eval()
    logits, weights = model(x)
    loss = F.cross_entropy(logits, y) + args.balance * balance_loss(weights)
    model.train()
    return {"loss": loss.item(), "accuracy": (logits.argmax(1) == y).float().mean().item(),
            "gate_use": weights.mean(0).tolist()}


def main():
    p = common.parser(__doc__)
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--experts", type=int, default=4)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--balance", type=float, default=0.01)
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "rmsprop"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--gamma", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--scaling", default="standard", choices=("standard", "none"))
    p.add_argument("--bug", default=None, choices=("missing-zero-grad",))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = measurements(args.classes, args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    if args.scaling == "standard":
        x_tr, x_val = common.standardize(x_tr, x_val)
    # else BUG (--scaling none): the raw measurements go into the gate and the experts.
    x_tr, x_val = (torch.tensor(a, dtype=torch.float32) for a in (x_tr, x_val))
    y_tr, y_val = (torch.tensor(a, dtype=torch.int64) for a in (y_tr, y_val))
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=args.batch_size, shuffle=True,
                        generator=g)

    model = MixtureOfExperts(16, args.classes, args.experts, args.width)
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr,
                                     weight_decay=args.weight_decay)
    elif args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                                    weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr,
                                        weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.gamma)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss",
        steps_per_epoch=len(loader), num_classes=args.classes, batch_size=args.batch_size)
    history = common.History()
    if args.bug == "missing-zero-grad":
        optimizer.zero_grad()
    for epoch in range(args.epochs):
        stats = train_one_epoch(model, loader, optimizer, args, rec,
                                lambda: validate(model, x_val, y_val, args))
        scheduler.step()
        for loss, acc in zip(stats["losses"], stats["accuracies"]):
            history.step(loss, acc)
        history.epoch(stats["loss"], stats["accuracy"])
        print("epoch %d: loss %.4f acc %.3f | val loss %.4f acc %.3f | gate %s | lr %.2g" % (
            epoch + 1, np.mean(stats["losses"]), np.mean(stats["accuracies"]), stats["loss"],
            stats["accuracy"], " ".join("%.2f" % w for w in stats["gate_use"]),
            scheduler.get_last_lr()[0]))
    rec.close()
    names = ["gate"] + ["experts.%d.fc%d" % (e, k) for e in range(args.experts) for k in (1, 2)]
    common.report(history.result(layers=names))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "moegate-raw-measurements", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing input normalization (features in their own "
               "units, factors 0.5 to 500 and offsets up to 1000); DeepLocalize benchmark posts "
               "on unscaled inputs",
     "bug": "the raw measurements go into the gate and the experts under SGD momentum 0.9 at "
            "0.05: the first epoch's mean loss is 1.2e11, the gate saturates on one expert, "
            "the loss ends at 1.43 and the validation accuracy at 0.25 (chance for 4 classes; "
            "the twin 0.89)",
     "fix": "standardize the columns with the training part's mean and standard deviation",
     "symptom": "saturation",
     "acceptable_symptoms": ["numerical_error", "exploding_gradient", "not_learning",
                             "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--optimizer sgd --lr 0.05 --scaling none --record-every 4",
          "fixed": "--optimizer sgd --lr 0.05 --record-every 4"},
     ]},
    {"family": "moegate-missing-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (called once before the "
               "loop instead of in it)",
     "bug": "optimizer.zero_grad() once before training instead of every step, SGD momentum "
            "0.9 at 0.02, batches of 32: the gradients of all earlier batches are summed and "
            "the updates grow: the mean loss rises from 3.3 in the first epoch to 2.9e6 in the "
            "eighth, the validation accuracy ends at 0.44 (the twin: loss 0.31, 0.88)",
     "fix": "optimizer.zero_grad() before every backward pass",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["numerical_error", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-bs32",
          "buggy": "--optimizer sgd --lr 0.02 --batch-size 32 --bug missing-zero-grad --record-every 4",
          "fixed": "--optimizer sgd --lr 0.02 --batch-size 32 --record-every 4"},
     ]},
    {"family": "moegate-weight-decay-dominates", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER / DeepFD: a regularization term that dominates the loss "
               "(weight_decay=0.5 typed for 5e-4)",
     "bug": "Adam with weight_decay 0.5 (meant 5e-4): every weight is pulled to zero, the gate "
            "stays uniform and the loss settles at ln 4 = 1.386, the accuracy at 0.25 "
            "(chance); the twin reaches about 0.9",
     "fix": "weight_decay 5e-4",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--weight-decay 0.5 --record-every 4",
          "fixed": "--weight-decay 5e-4 --record-every 4"},
     ]},
    {"family": "moegate-exponentiallr-gamma-typo", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (ExponentialLR gamma=0.1 "
               "typed for 0.9)",
     "bug": "ExponentialLR(gamma=0.1) stepped per epoch: the learning rate is 3e-4 after the "
            "first epoch and 3e-11 after the eighth, training stops after the first epochs: "
            "the validation loss stays at 0.64 and the accuracy at 0.80 from the first epoch on "
            "(the twin: 0.33 and 0.90)",
     "fix": "ExponentialLR(gamma=0.9)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--gamma 0.1 --record-every 4",
          "fixed": "--gamma 0.9 --record-every 4"},
     ]},
    {"family": "healthy-moegate", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a softmax-gated mixture of expert MLPs on make_classification data",
     "healthy": [
         {"id": "rmsprop-3experts-seed1",
          "args": "--optimizer rmsprop --lr 1e-3 --experts 3 --seed 1 --record-every 4",
          "description": "three experts, RMSprop 1e-3"},
         {"id": "sgd-bs32-width64-seed2",
          "args": "--optimizer sgd --lr 0.02 --batch-size 32 --width 64 --epochs 6 --seed 2 --record-every 4",
          "description": "SGD momentum 0.9 at 0.02, batches of 32, experts 64 wide"},
         {"id": "adam-3classes-bs128-seed3",
          "args": "--lr 5e-3 --gamma 0.95 --classes 3 --batch-size 128 --epochs 12 --seed 3 --record-every 4",
          "description": "3 classes, Adam 5e-3 with gamma 0.95, batches of 128"},
     ]},
]


if __name__ == "__main__":
    main()
