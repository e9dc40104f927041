"""Regression with a plain nn.Sequential in PyTorch (diabetes, Friedman #1, make_regression).

Features standardized with scikit-learn's StandardScaler, targets standardized too (unless
``--raw-targets``), an nn.Sequential of Linear/activation pairs (layers named by position:
``0``, ``2``, ``4``...), mini-batches from a DataLoader, a validation MSE per epoch.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--dataset", default="friedman", choices=("diabetes", "friedman", "waves", "regression"))
    p.add_argument("--widths", default="64,32")
    p.add_argument("--activation", default="ReLU", help="a torch.nn class name, or none")
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=7)
    p.add_argument("--raw-targets", action="store_true")
    p.add_argument("--loss", default="mse", choices=("mse", "huber", "l1"))
    p.add_argument("--scheduler", default="none", help="none, plateau, cosine")
    p.add_argument("--bug", default=None, choices=("target-shape",))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load(args.dataset, seed=args.seed)
    x_train, x_val, y_train, y_val = common.split(x, y, seed=args.seed, stratify=False)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    if not args.raw_targets:
        y_scaler = StandardScaler().fit(y_train.reshape(-1, 1))
        y_train = y_scaler.transform(y_train.reshape(-1, 1)).ravel()
        y_val = y_scaler.transform(y_val.reshape(-1, 1)).ravel()

    def as_target(v):
        t = torch.tensor(v, dtype=torch.float32)
        # BUG (target-shape): targets left as shape (N,), the model outputs (N, 1); MSELoss
        # broadcasts the pair to (N, N), so every prediction is pulled towards every target.
        return t if args.bug == "target-shape" else t.unsqueeze(1)

    train = TensorDataset(torch.tensor(x_train, dtype=torch.float32), as_target(y_train))
    X_val, Y_val = torch.tensor(x_val, dtype=torch.float32), as_target(y_val)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))

    modules, width = [], x.shape[1]
    for w in common.ints(args.widths):
        modules.append(nn.Linear(width, w))
        if args.activation != "none":
            modules.append(getattr(nn, args.activation)())
        width = w
    modules.append(nn.Linear(width, 1))
    model = nn.Sequential(*modules)

    criterion = {"mse": nn.MSELoss(), "huber": nn.HuberLoss(), "l1": nn.L1Loss()}[args.loss]
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    elif args.optimizer == "momentum":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                                    weight_decay=args.weight_decay)
    elif args.optimizer == "rmsprop":
        optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr,
                                        weight_decay=args.weight_decay)
    elif args.optimizer == "adagrad":
        optimizer = torch.optim.Adagrad(model.parameters(), lr=args.lr)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = None
    if args.scheduler == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    elif args.scheduler == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression",
        loss_name=type(criterion).__name__, steps_per_epoch=len(loader))
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for i, (xb, yb) in enumerate(loader):
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            val_loss = None
            if i == len(loader) - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = criterion(model(X_val), Y_val).item()
                model.train()
            rec.step(loss, inputs=xb, targets=yb, val_loss=val_loss)
            history.step(loss.item())
        if scheduler is not None:
            scheduler.step(val_loss) if args.scheduler == "plateau" else scheduler.step()
        history.epoch(val_loss)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "regressor-target-shape", "split": "test", "architecture": "regression",
     "origin": "Humbatova et al. 2020: wrong tensor shape (targets of shape (N,) against "
               "outputs of shape (N, 1), broadcast by MSELoss)",
     "bug": "the targets are left as a 1-D tensor: MSELoss broadcasts (N, 1) against (N,) to "
            "(N, N), every prediction is fit to every target and the model predicts the mean",
     "fix": "targets unsqueezed to (N, 1)",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "diabetes-adam", "buggy": "--dataset diabetes --bug target-shape --batch-size 16",
          "fixed": "--dataset diabetes --batch-size 16"},
     ]},
    {"family": "regressor-no-activation", "split": "test", "architecture": "regression",
     "origin": "Humbatova et al. 2020: missing activation function (no non-linearity anywhere)",
     "bug": "the Sequential has Linear layers only (activation 'none'): a linear model of a "
            "target with no linear part, the loss stays at the target's variance",
     "fix": "ReLU between the Linear layers",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "waves-adam", "buggy": "--dataset waves --activation none --lr 0.003",
          "fixed": "--dataset waves --lr 0.003"},
     ]},
    {"family": "regressor-tiny-batch-high-lr", "split": "test", "architecture": "regression",
     "origin": "AUTOTRAINER: oscillating loss (tiny batches with a high learning rate)",
     "bug": "batches of 4 with Adam at learning rate 0.05: every step overshoots",
     "fix": "learning rate 0.003",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "waves-adam-bs4",
          "buggy": "--dataset waves --batch-size 4 --lr 0.05 --epochs 2",
          "fixed": "--dataset waves --batch-size 4 --lr 0.003 --epochs 2"},
     ]},
    {"family": "healthy-regressor", "split": "test", "architecture": "regression",
     "origin": "healthy run",
     "description": "an MLP regression that trains well",
     "healthy": [
         {"id": "friedman-adam", "args": ""},
         {"id": "diabetes-momentum", "args": "--dataset diabetes --optimizer momentum --lr 0.005 --batch-size 16"},
         {"id": "waves-tanh-rmsprop", "args": "--dataset waves --activation Tanh --optimizer rmsprop --lr 0.003"},
         {"id": "regression-huber-plateau", "args": "--dataset regression --loss huber --scheduler plateau --lr 0.003"},
         {"id": "friedman-adagrad-cosine", "args": "--optimizer adagrad --lr 0.05 --scheduler cosine"},
         {"id": "regression-linear-long", "args": "--dataset regression --widths '' --optimizer sgd --lr 0.01 --epochs 50",
          "description": "linear regression (one Linear layer), 1000 steps: a long healthy run"},
     ]},
]


if __name__ == "__main__":
    main()
