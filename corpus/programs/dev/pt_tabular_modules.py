"""A tabular classifier in PyTorch built from ``nn.ModuleList`` and ``nn.ModuleDict``, fed by a
``torch.utils.data.DataLoader``.

``TabularNet`` keeps its hidden layers in a ``ModuleList`` (``blocks.0``, ``blocks.1``...), the
activation functions it can use in a ``ModuleDict`` looked up by name (``--act``), and a
``head``; the training loop iterates over a ``DataLoader`` of a ``TensorDataset`` and evaluates
the validation set once per epoch. Data: scikit-learn's ``wine`` (13 features, 3 classes),
``breast_cancer`` (30 features, 2 classes) or ``classification`` (common.load: 20 features, 3
classes). The features are standardized with the training set's mean and deviation unless
``--no-scaling``. The mistakes of the families in CASES are selected with ``--bug`` or show in
a setting (``--no-scaling``, ``--act``, ``--depth``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


class TabularNet(nn.Module):
    def __init__(self, n_in, width, depth, n_out, act):
        super().__init__()
        sizes = [n_in] + [width] * depth
        self.blocks = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.acts = nn.ModuleDict({"relu": nn.ReLU(), "tanh": nn.Tanh(),
                                   "sigmoid": nn.Sigmoid(), "identity": nn.Identity()})
        self.act = act
        self.head = nn.Linear(sizes[-1], n_out)

    def forward(self, x):
        for block in self.blocks:
            x = self.acts[self.act](block(x))
        return self.head(x)


def main():
    p = common.parser(__doc__)
    p.add_argument("--data", default="wine", choices=("wine", "breast_cancer", "classification"))
    p.add_argument("--no-scaling", action="store_true", help="feed the raw features")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--act", default="relu", choices=("relu", "tanh", "sigmoid", "identity"))
    p.add_argument("--init", default="default", choices=("default", "he"))
    p.add_argument("--optimizer", default="adam", choices=("sgd", "momentum", "adam", "rmsprop"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("missing-zero-grad",))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load(args.data, seed=args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    if not args.no_scaling:
        x_tr, x_val = common.standardize(x_tr, x_val)
    train = TensorDataset(torch.tensor(x_tr, dtype=torch.float32), torch.tensor(y_tr))
    X_val, Y_val = torch.tensor(x_val, dtype=torch.float32), torch.tensor(y_val)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))
    classes = int(y.max()) + 1

    model = TabularNet(x.shape[1], args.width, args.depth, classes, args.act)
    if args.init == "he":
        for block in model.blocks:
            nn.init.kaiming_normal_(block.weight, nonlinearity="relu")
            nn.init.zeros_(block.bias)
    criterion = nn.CrossEntropyLoss()
    params = model.parameters()
    optimizer = {"sgd": lambda: torch.optim.SGD(params, lr=args.lr),
                 "momentum": lambda: torch.optim.SGD(params, lr=args.lr, momentum=0.9),
                 "adam": lambda: torch.optim.Adam(params, lr=args.lr),
                 "rmsprop": lambda: torch.optim.RMSprop(params, lr=args.lr)}[args.optimizer]()
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification", loss_name="CrossEntropyLoss",
        steps_per_epoch=len(loader), num_classes=classes, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for i, (xb, yb) in enumerate(loader):
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            # BUG (missing-zero-grad): no optimizer.zero_grad(): every backward() adds to the
            # gradients of all the batches before it.
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if i == len(loader) - 1:
                model.eval()
                with torch.no_grad():
                    out = model(X_val)
                    val_loss = criterion(out, Y_val).item()
                    val_acc = (out.argmax(1) == Y_val).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
    rec.close()
    # The modules that own parameters, in the order forward() runs them.
    layers = ["blocks.%d" % i for i in range(len(model.blocks))] + ["head"]
    common.report(history.result(layers=layers))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "tabnet-unscaled-features", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing input normalization (breast_cancer's raw "
               "features, up to about 4000)",
     "bug": "the raw features go in (the standardization step skipped): the first layer's "
            "pre-activations are in the hundreds, the first epoch's loss is about 25 and the "
            "network ends predicting the majority class",
     "fix": "standardize the features with the training set's mean and deviation",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "breast-cancer-sgd",
          "buggy": "--data breast_cancer --no-scaling --optimizer sgd --lr 0.01 --record-every 2",
          "fixed": "--data breast_cancer --optimizer sgd --lr 0.01 --record-every 2"},
     ]},
    {"family": "tabnet-missing-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradient accumulation)",
     "bug": "the DataLoader loop never calls optimizer.zero_grad(): each backward() adds to "
            "the gradients of all earlier batches, the updates grow with the step count and "
            "the loss reaches the thousands",
     "fix": "optimizer.zero_grad() before the forward pass",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "wine-momentum",
          "buggy": "--optimizer momentum --lr 0.01 --bug missing-zero-grad --record-every 2",
          "fixed": "--optimizer momentum --lr 0.01 --record-every 2"},
     ]},
    {"family": "tabnet-deep-sigmoid-vanishing", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: vanishing gradient (a deep stack of sigmoid layers)",
     "bug": "eight sigmoid hidden layers in the ModuleList with plain SGD: the gradient "
            "shrinks by a factor of 4 or more per layer, the first layers receive almost "
            "nothing and the loss stays at ln 3",
     "fix": "ReLU with He initialization in the hidden layers",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-sgd-depth8",
          "buggy": "--data classification --depth 8 --act sigmoid --optimizer sgd --lr 0.05 --record-every 2",
          "fixed": "--data classification --depth 8 --act relu --init he --optimizer sgd --lr 0.05 --record-every 2"},
     ]},
    {"family": "tabnet-identity-activation", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing activation function (no non-linearity anywhere: "
               "the ModuleDict entry 'identity' chosen for every hidden layer)",
     "bug": "act='identity': the hidden layers are linear, the network is a linear classifier "
            "of a problem with two clusters per class and ends near 0.7 training accuracy",
     "fix": "act='relu'",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-adam",
          "buggy": "--data classification --act identity --record-every 2",
          "fixed": "--data classification --record-every 2"},
     ]},
    {"family": "healthy-tabnet", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a ModuleList/ModuleDict tabular classifier fed by a DataLoader that trains well",
     "healthy": [
         {"id": "wine-rmsprop-width64",
          "args": "--optimizer rmsprop --lr 1e-3 --width 64 --record-every 2"},
         {"id": "breast-cancer-tanh-bs32-seed1",
          "args": "--data breast_cancer --act tanh --batch-size 32 --seed 1 --record-every 2"},
         {"id": "classification-momentum-depth3-seed2",
          "args": "--data classification --depth 3 --optimizer momentum --lr 0.02 --seed 2 --record-every 2"},
     ]},
]


if __name__ == "__main__":
    main()
