"""A residual MLP classifier in PyTorch: pre-norm blocks (LayerNorm, Linear, ReLU, Linear) with
skip connections, trained by a small ``Trainer`` class.

Data made by scikit-learn's generators: ``quantiles`` (make_gaussian_quantiles: 3 classes by the
distance from the origin, 8 features, no linear boundary) or ``hastie`` (make_hastie_10_2: the
binary Hastie et al. 10.2 problem, 10 features). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--reduction``, ``--stem-bias``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402


def make_data(name, seed):
    from sklearn import datasets
    if name == "quantiles":
        x, y = datasets.make_gaussian_quantiles(n_samples=1200, n_features=8, n_classes=3,
                                                random_state=seed)
    elif name == "hastie":
        x, y = datasets.make_hastie_10_2(n_samples=1200, random_state=seed)
        y = (y > 0).astype(int)
    else:
        raise SystemExit("unknown data: %s" % name)
    return x.astype("float32"), y.astype("int64")


class Block(nn.Module):
    """x + fc2(relu(fc1(norm(x))))"""

    def __init__(self, dim, expand):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * expand)
        self.fc2 = nn.Linear(dim * expand, dim)

    def forward(self, x):
        return x + self.fc2(F.relu(self.fc1(self.norm(x))))


class ResMLP(nn.Module):
    def __init__(self, n_in, dim, blocks, n_out):
        super().__init__()
        self.stem = nn.Linear(n_in, dim)
        self.blocks = nn.Sequential(*[Block(dim, 2) for _ in range(blocks)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_out)

    def forward(self, x):
        h = F.relu(self.stem(x))
        return self.head(self.norm(self.blocks(h)))


class Trainer:
    def __init__(self, model, optimizer, criterion, batch_size, seed, bug, recorder):
        self.model, self.optimizer, self.criterion = model, optimizer, criterion
        self.batch_size, self.bug, self.rec = batch_size, bug, recorder
        self.generator = torch.Generator().manual_seed(seed)
        self.history = common.History()

    def train_step(self, xb, yb):
        if self.bug != "missing-zero-grad":
            self.optimizer.zero_grad(set_to_none=True)
        # BUG (missing-zero-grad): the gradients of every earlier batch stay in .grad and
        # the new ones are added to them.
        logits = self.model(xb)
        loss = self.criterion(logits, yb)
        loss.backward()
        self.optimizer.step()
        return logits.detach(), loss

    def evaluate(self, x, y):
        self.model.eval()
        with torch.no_grad():
            logits = self.model(x)
            loss = self.criterion(logits, y).item()
            acc = (logits.argmax(1) == y).float().mean().item()
        self.model.train()
        return loss, acc

    def fit(self, x, y, x_val, y_val, epochs):
        for _ in range(epochs):
            self.model.train()
            order = torch.randperm(len(x), generator=self.generator)
            batches = list(zip(torch.split(x[order], self.batch_size),
                               torch.split(y[order], self.batch_size)))
            for i, (xb, yb) in enumerate(batches):
                logits, loss = self.train_step(xb, yb)
                acc = (logits.argmax(1) == yb).float().mean()
                val_loss = val_acc = None
                if i == len(batches) - 1:
                    val_loss, val_acc = self.evaluate(x_val, y_val)
                self.rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                              val_accuracy=val_acc)
                self.history.step(loss.item(), acc.item())
            self.history.epoch(val_loss, val_acc)


def main():
    p = common.parser(__doc__)
    p.add_argument("--data", default="quantiles", choices=("quantiles", "hastie"))
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--optimizer", default="adam", choices=("sgd", "momentum", "adam", "adamw"))
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--reduction", default="mean", choices=("mean", "sum"))
    p.add_argument("--stem-bias", type=float, default=None,
                   help="initialize the stem's bias to this constant")
    p.add_argument("--bug", default=None, choices=("missing-zero-grad", "nll-on-logits"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = make_data(args.data, args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    mean, std = x_tr.mean(0), x_tr.std(0)
    x_tr, x_val = (x_tr - mean) / std, (x_val - mean) / std
    X, Y = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    X_val, Y_val = torch.from_numpy(x_val), torch.from_numpy(y_val)
    classes = int(y.max()) + 1

    model = ResMLP(X.shape[1], args.dim, args.blocks, classes)
    if args.stem_bias is not None:
        nn.init.constant_(model.stem.bias, args.stem_bias)
    if args.bug == "nll-on-logits":
        # BUG: NLLLoss expects log-probabilities; the head's raw logits go in unchanged.
        criterion = nn.NLLLoss(reduction=args.reduction)
    else:
        criterion = nn.CrossEntropyLoss(reduction=args.reduction)
    params = model.parameters()
    optimizer = {"sgd": lambda: torch.optim.SGD(params, lr=args.lr),
                 "momentum": lambda: torch.optim.SGD(params, lr=args.lr, momentum=0.9),
                 "adam": lambda: torch.optim.Adam(params, lr=args.lr),
                 "adamw": lambda: torch.optim.AdamW(params, lr=args.lr)}[args.optimizer]()
    steps_per_epoch = -(-len(X) // args.batch_size)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name=type(criterion).__name__, steps_per_epoch=steps_per_epoch,
        num_classes=classes, batch_size=args.batch_size)
    trainer = Trainer(model, optimizer, criterion, args.batch_size, args.seed, args.bug, rec)
    trainer.fit(X, Y, X_val, Y_val, args.epochs)
    rec.close()
    common.report(trainer.history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "resmlp-missing-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradient accumulation)",
     "bug": "Trainer.train_step never clears the gradients: each step adds the new gradient to "
            "the sum of all earlier ones, so the gradient norms grow with the step count and "
            "the momentum updates overshoot more and more",
     "fix": "optimizer.zero_grad() at the start of train_step",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "quantiles-momentum",
          "buggy": "--optimizer momentum --lr 0.02 --bug missing-zero-grad",
          "fixed": "--optimizer momentum --lr 0.02"},
     ]},
    {"family": "resmlp-loss-sum-large-batch", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function / hyperparameters (a loss summed "
               "over the batch instead of averaged, so the step is batch-size times larger)",
     "bug": "CrossEntropyLoss(reduction='sum') with batches of 128 and a learning rate tuned "
            "for a mean: every gradient is 128 times larger, the effective learning rate is "
            "128 x 0.05, the first updates overshoot so far that the loss reaches about 1e11 "
            "and then NaN",
     "fix": "reduction='mean' (the default)",
     "symptom": "numerical_error",
     "acceptable_symptoms": ["exploding_gradient", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "quantiles-momentum-bs128",
          "buggy": "--optimizer momentum --lr 0.05 --batch-size 128 --epochs 20 --reduction sum",
          "fixed": "--optimizer momentum --lr 0.05 --batch-size 128 --epochs 20"},
     ]},
    {"family": "resmlp-dying-relu-stem", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: dying ReLU (a layer's bias initialized to a large negative value)",
     "bug": "the stem's bias initialized to -6 (meant +0.1 as a small positive constant): the "
            "stem's ReLU outputs 0 for every standardized input, the residual blocks see a "
            "zero vector and no gradient reaches the stem",
     "fix": "the stem's default bias initialization",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "vanishing_gradient", "unchanged_values"],
     "root_cause": {"layer_name": "stem", "layer_index": 0},
     "pairs": [
         {"id": "quantiles-adam",
          "buggy": "--stem-bias -6",
          "fixed": ""},
     ]},
    {"family": "resmlp-nll-on-logits", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (NLLLoss on raw logits, the "
               "log_softmax missing)",
     "bug": "NLLLoss on the head's raw logits: the loss is minus the true class's logit, "
            "unbounded below, so it goes negative and keeps falling (to about -26) as the "
            "logits grow, and the accuracy stays below the fixed run's",
     "fix": "CrossEntropyLoss (log_softmax and NLLLoss together)",
     "symptom": "loss_mismatch",
     "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "hastie-adam",
          "buggy": "--data hastie --bug nll-on-logits",
          "fixed": "--data hastie"},
     ]},
    {"family": "healthy-resmlp", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a residual MLP classifier that trains well",
     "healthy": [
         {"id": "quantiles-adamw-bs64-seed1",
          "args": "--optimizer adamw --lr 0.003 --batch-size 64 --epochs 10 --seed 1"},
         {"id": "hastie-momentum-3blocks",
          "args": "--data hastie --blocks 3 --optimizer momentum --lr 0.01"},
         {"id": "quantiles-sgd-dim48",
          "args": "--dim 48 --optimizer sgd --lr 0.1 --epochs 8"},
     ]},
]


if __name__ == "__main__":
    main()
