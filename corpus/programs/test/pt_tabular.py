"""A classifier for tabular data in PyTorch: a Module with named layers, a DataLoader, and a
validation pass per epoch.

``--depth`` hidden layers of ``--width`` units with one activation module (``--act``), the
optimizer, learning rate and batch size from the command line, an optional weight
initialization. The mistakes of the families in CASES are in ``--bug``, ``--init`` and
``--no-scaling``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


class Classifier(nn.Module):
    def __init__(self, n_in, width, depth, n_out, act, out_act=None):
        super().__init__()
        self.hidden = nn.ModuleList(
            [nn.Linear(n_in if i == 0 else width, width) for i in range(depth)])
        self.act = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(),
                    "elu": nn.ELU(), "selu": nn.SELU()}[act]
        self.output = nn.Linear(width, n_out)
        self.out_act = out_act

    def forward(self, x):
        for layer in self.hidden:
            x = self.act(layer(x))
        x = self.output(x)
        return self.out_act(x) if self.out_act is not None else x


def main():
    p = common.parser(__doc__)
    p.add_argument("--dataset", default="classification")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--act", default="relu")
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--init", default="default", help="default, normal:STD, xavier, kaiming")
    p.add_argument("--no-scaling", action="store_true", help="feed the raw features")
    p.add_argument("--class-weights", action="store_true")
    p.add_argument("--bug", default=None, choices=("shuffled-labels", "softmax-one-unit"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load(args.dataset, seed=args.seed)
    x_train, x_val, y_train, y_val = common.split(x, y, seed=args.seed)
    if not args.no_scaling:
        x_train, x_val = common.standardize(x_train, x_val)
    if args.bug == "shuffled-labels":
        # BUG: the training rows are shuffled and the labels are shuffled separately
        # (two calls to permutation instead of one index for both).
        rng = common.np.random.default_rng(args.seed)
        x_train = x_train[rng.permutation(len(x_train))]
        y_train = y_train[rng.permutation(len(y_train))]
    classes = int(y.max() + 1)
    one_unit = args.bug == "softmax-one-unit"
    if one_unit:
        # BUG (the SO 38648195 model): a binary task with one output unit under softmax,
        # trained with MSE; a softmax over one unit is always 1.
        model = Classifier(x.shape[1], args.width, args.depth, 1, args.act, nn.Softmax(dim=1))
        criterion = nn.MSELoss()
        t_train = torch.tensor(y_train, dtype=torch.float32).unsqueeze(1)
        t_val = torch.tensor(y_val, dtype=torch.float32).unsqueeze(1)
    else:
        model = Classifier(x.shape[1], args.width, args.depth, classes, args.act)
        weights = None
        if args.class_weights:
            counts = common.np.bincount(y_train, minlength=classes)
            weights = torch.tensor(len(y_train) / (classes * counts), dtype=torch.float32)
        criterion = nn.CrossEntropyLoss(weight=weights)
        t_train, t_val = torch.tensor(y_train), torch.tensor(y_val)
    kind, _, value = args.init.partition(":")
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if kind == "normal":
                nn.init.normal_(m.weight, std=float(value))
                nn.init.zeros_(m.bias)
            elif kind == "xavier":
                nn.init.xavier_normal_(m.weight)
            elif kind == "kaiming":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    loader = DataLoader(TensorDataset(torch.tensor(x_train, dtype=torch.float32), t_train),
                        batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))
    X_val = torch.tensor(x_val, dtype=torch.float32)
    opts = {"sgd": lambda ps: torch.optim.SGD(ps, lr=args.lr),
            "momentum": lambda ps: torch.optim.SGD(ps, lr=args.lr, momentum=0.9),
            "nesterov": lambda ps: torch.optim.SGD(ps, lr=args.lr, momentum=0.9, nesterov=True),
            "adam": lambda ps: torch.optim.Adam(ps, lr=args.lr),
            "adamw": lambda ps: torch.optim.AdamW(ps, lr=args.lr),
            "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=args.lr),
            "adagrad": lambda ps: torch.optim.Adagrad(ps, lr=args.lr)}
    optimizer = opts[args.optimizer](model.parameters())

    def predictions(out):
        return (out.squeeze(1) > 0.5).long() if one_unit else out.argmax(1)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name=type(criterion).__name__, steps_per_epoch=len(loader), num_classes=classes)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for i, (xb, yb) in enumerate(loader):
            optimizer.zero_grad()
            out = model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            acc = (predictions(out) == yb.reshape(-1).long()).float().mean()
            val_loss = val_acc = None
            if i == len(loader) - 1:
                model.eval()
                with torch.no_grad():
                    vo = model(X_val)
                    val_loss = criterion(vo, t_val).item()
                    val_acc = (predictions(vo) == torch.tensor(y_val)).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "tabular-deep-relu-large-init", "split": "test", "architecture": "mlp",
     "origin": "AUTOTRAINER: exploding gradient (weights initialized too large in a deep ReLU "
               "network)",
     "bug": "six ReLU layers initialized from N(0, 1): the activations grow about 5x per layer, "
            "the first loss is huge and the gradients overflow to NaN",
     "fix": "Kaiming (He) initialization",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum",
          "buggy": "--depth 6 --init normal:1.0 --optimizer momentum --lr 0.01",
          "fixed": "--depth 6 --init kaiming --optimizer momentum --lr 0.01"},
     ]},
    {"family": "tabular-tanh-raw-features", "split": "test", "architecture": "mlp",
     "origin": "DeepDiagnosis: saturated activation (a stack of tanh layers on raw features)",
     "bug": "three tanh layers on the raw wine features (proline up to 1680): the first layer's "
            "units are pinned at +-1 for every sample, nothing useful reaches the classifier",
     "fix": "features standardized",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "wine-sgd",
          "buggy": "--dataset wine --depth 3 --act tanh --no-scaling --optimizer sgd --lr 0.01 "
                   "--epochs 13 --batch-size 8",
          "fixed": "--dataset wine --depth 3 --act tanh --optimizer sgd --lr 0.01 --epochs 13 "
                   "--batch-size 8"},
     ]},
    {"family": "tabular-softmax-one-unit", "split": "test", "architecture": "mlp",
     "origin": "Stack Overflow 38648195 (DeepLocalize benchmark), new port: breast cancer data "
               "in PyTorch",
     "benchmark": "DeepLocalize SO 38648195",
     "bug": "a binary classifier with one output unit under softmax, trained with MSE: a "
            "softmax over one unit is always 1, its gradient is exactly 0 and nothing trains",
     "fix": "two output units with CrossEntropyLoss (the same as the accepted answer's sigmoid "
            "and binary cross-entropy)",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["unchanged_values", "not_learning"],
     "root_cause": {"layer_name": "output", "layer_index": 2},
     "pairs": [
         {"id": "breast-cancer-adam",
          "buggy": "--dataset breast_cancer --bug softmax-one-unit",
          "fixed": "--dataset breast_cancer"},
     ]},
    {"family": "healthy-tabular-classifier", "split": "test", "architecture": "mlp",
     "origin": "healthy run",
     "description": "an MLP classifier that trains well",
     "healthy": [
         {"id": "classification-adam", "args": ""},
         {"id": "imbalanced-class-weights", "args": "--dataset imbalanced --class-weights",
          "description": "class imbalance 9:1 with a weighted loss"},
         {"id": "blobs-selu-nesterov", "args": "--dataset blobs --act selu --optimizer nesterov --lr 0.01"},
         {"id": "digits-elu-adamw", "args": "--dataset digits --depth 1 --width 64 --act elu --optimizer adamw --lr 0.003 --epochs 3"},
         {"id": "wine-adam-bs4", "args": "--dataset wine --batch-size 4 --lr 0.003 --epochs 5"},
     ]},
]


if __name__ == "__main__":
    main()
