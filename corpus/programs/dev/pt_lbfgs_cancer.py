"""A small PyTorch MLP on scikit-learn's breast-cancer data trained full-batch with L-BFGS.

The 569 tumours (30 measurements in their own units: radii in mm, areas in mm^2, ...) are split
80/20 (stratified) and standardized by hand with the training part's column means and standard
deviations. The model is an ``nn.Sequential`` built from an ``OrderedDict``: ``fc1`` (30 to
``--width``), tanh (``--act``), ``fc2`` (``--width`` to ``--width``), tanh, ``out`` (two scores),
``nn.CrossEntropyLoss``. The whole training set is one batch: ``torch.optim.LBFGS(lr=--lr,
max_iter=--max-iter, history_size=10, line_search_fn='strong_wolfe')`` with a closure that
clears the gradients, computes the loss (plus ``--l2`` times the squared weights, the L2 term of
the original script) and back-propagates; one ``optimizer.step(closure)`` per outer iteration
(``--steps``), each followed by a validation pass. The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--l2``).
"""

import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


def build(width, act):
    Act = {"tanh": nn.Tanh, "relu": nn.ReLU}[act]
    return nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(30, width)), ("act1", Act()),
        ("fc2", nn.Linear(width, width)), ("act2", Act()),
        ("out", nn.Linear(width, 2)),
    ]))


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--act", default="tanh", choices=("tanh", "relu"))
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--max-iter", type=int, default=5)
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--l2", type=float, default=1e-4)
    p.add_argument("--bug", default=None,
                   choices=("raw-features", "labels-split-apart", "zero-init"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("breast_cancer")
    x_tr, x_va, y_tr, y_va = common.split(x, y, seed=args.seed)
    if args.bug == "labels-split-apart":
        # BUG (labels-split-apart): the labels are split by a second call without the
        # stratification and seed of the first: they no longer belong to their rows.
        from sklearn.model_selection import train_test_split
        y_tr, y_va = train_test_split(y, test_size=0.2, random_state=args.seed + 1)
    if args.bug != "raw-features":
        mu, sd = x_tr.mean(axis=0), x_tr.std(axis=0)
        x_tr = (x_tr - mu) / sd
        x_va = (x_va - mu) / sd
    # BUG (raw-features): the measurements go in in their own units (areas up to 2500).
    xt = torch.tensor(x_tr, dtype=torch.float32)
    yt = torch.tensor(y_tr, dtype=torch.int64)
    xv = torch.tensor(x_va, dtype=torch.float32)
    yv = torch.tensor(y_va, dtype=torch.int64)

    model = build(args.width, args.act)
    if args.bug == "zero-init":
        # BUG (zero-init): every weight and bias set to zero "for a reproducible start".
        with torch.no_grad():
            for prm in model.parameters():
                prm.zero_()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=args.lr, max_iter=args.max_iter,
                                  history_size=10, line_search_fn="strong_wolfe")
    criterion = nn.CrossEntropyLoss()
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]

    def closure():
        optimizer.zero_grad()
        loss = criterion(model(xt), yt)
        loss = loss + args.l2 * sum((w ** 2).sum() for w in weights)
        loss.backward()
        return loss

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=1, num_classes=2, batch_size=len(xt))
    history = common.History()
    for step in range(args.steps):
        model.train()
        loss = optimizer.step(closure)
        with torch.no_grad():
            acc = (model(xt).argmax(1) == yt).float().mean().item()
            model.eval()
            vout = model(xv)
            val_loss = criterion(vout, yv).item()
            val_acc = (vout.argmax(1) == yv).float().mean().item()
        rec.step(loss, accuracy=acc, inputs=xt, targets=yt, val_loss=val_loss,
                 val_accuracy=val_acc)
        history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        if step % 5 == 4 or step == 0:
            print("step %d: loss %.4f acc %.3f val %.4f val_acc %.3f" % (
                step + 1, loss.item(), acc, val_loss, val_acc))
    rec.close()
    common.report(history.result(layers=["fc1", "fc2", "out"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "lbfgsbc-raw-features", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing input normalization; DeepLocalize benchmark "
               "posts on unscaled tabular features (breast-cancer measurements in their units)",
     "bug": "the standardization is skipped: areas up to 2500 mm^2 drive the first tanh layer "
            "into saturation, in 15 L-BFGS steps the loss stays at 0.69 to 0.657 and the "
            "accuracy at 0.631 (validation 0.632, the share of the larger class) where the twin "
            "reaches a loss of 0.003 and a validation accuracy of 0.965",
     "fix": "standardize the columns with the training part's means and standard deviations",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "lbfgs",
          "buggy": "--bug raw-features --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "lbfgsbc-labels-split-apart", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong labels for the training data (features and labels "
               "split by two train_test_split calls with different random states)",
     "bug": "the labels are split by a second train_test_split call with another random state: "
            "they no longer belong to their rows; L-BFGS memorizes them (training accuracy "
            "0.991, loss 0.094) but the validation loss rises to 4.46 and the validation "
            "accuracy ends at 0.544 (seed 1) where the twin's is 0.982",
     "fix": "split features and labels in one train_test_split call",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "lbfgs-seed1",
          "buggy": "--seed 1 --bug labels-split-apart --record-every 2",
          "fixed": "--seed 1 --record-every 2"},
     ]},
    {"family": "lbfgsbc-zero-init", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: wrong weight initialization (all zeros); "
               "AUTOTRAINER: symmetric initialization",
     "bug": "every weight and bias set to zero: the tanh units output 0 and get no gradient, "
            "only the output bias moves; the loss stays at 0.661 from the second step on and the "
            "accuracy at 0.626 (validation 0.632) where the twin reaches 0.004 and 0.982",
     "fix": "PyTorch's default initialization",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "unchanged_values", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "w12-seed5",
          "buggy": "--width 12 --seed 5 --bug zero-init --record-every 2",
          "fixed": "--width 12 --seed 5 --record-every 2"},
     ]},
    {"family": "lbfgsbc-l2-dominates", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong regularization factor (an L2 term of 1.0 added in "
               "the closure, meant 1e-4)",
     "bug": "the closure adds 1.0 times the squared weights (meant 1e-4): L-BFGS drives every "
            "weight to zero, the loss falls from 11.6 to 0.661 (the entropy of the class shares) "
            "and the accuracy stays at 0.626 (validation 0.632) where the twin reaches 0.974",
     "fix": "L2 factor 1e-4",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed6",
          "buggy": "--seed 6 --l2 1.0 --record-every 2",
          "fixed": "--seed 6 --record-every 2"},
     ]},
    {"family": "healthy-lbfgsbc", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a full-batch L-BFGS MLP on the breast-cancer data that trains well",
     "healthy": [
         {"id": "w8-seed2",
          "args": "--width 8 --seed 2 --record-every 2",
          "description": "8 units per layer"},
         {"id": "relu-w24-seed3",
          "args": "--act relu --width 24 --seed 3 --record-every 2",
          "description": "ReLU, 24 units per layer"},
         {"id": "maxiter8-lr05-l2-seed4",
          "args": "--max-iter 8 --lr 0.5 --l2 1e-3 --seed 4 --record-every 2",
          "description": "8 iterations per step, lr 0.5, L2 1e-3"},
     ]},
]


if __name__ == "__main__":
    main()
