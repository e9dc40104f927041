"""ConvNet for the 8x8 digits in PyTorch: a Module class, a DataLoader, train/evaluate functions.

Two 3x3 convolutions with ReLU (12 and 24 channels; max pooling after the first, the second
one unpadded), dropout and a linear classifier. Options select the optimizer, learning rate and its
schedule, batch size, BatchNorm and the initialization; ``--bug`` selects one of the mistakes
of the families in CASES.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


class ConvNet(nn.Module):
    def __init__(self, n_classes=10, batchnorm=False, dropout=0.2):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 12, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(12) if batchnorm else nn.Identity()
        self.conv2 = nn.Conv2d(12, 24, kernel_size=3)
        self.bn2 = nn.BatchNorm2d(24) if batchnorm else nn.Identity()
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(24 * 2 * 2, n_classes)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.relu(self.bn2(self.conv2(x))).flatten(1)
        return self.classifier(self.dropout(x))


def main():
    p = common.parser(__doc__)
    p.add_argument("--pixels", default="unit", choices=("unit", "raw255", "standard"))
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batchnorm", action="store_true")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--scheduler", default="none", help="none, exp:GAMMA (per epoch), onecycle")
    p.add_argument("--init", default="default", help="default, zeros, kaiming")
    p.add_argument("--bug", default=None, choices=(
        "bce-class-index", "missing-zero-grad", "scheduler-per-batch", "conv2-negative-bias",
        "bn-eval"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    images, labels = common.load("digits")
    images = images.reshape(-1, 1, 8, 8).astype("float32")
    if args.pixels == "unit":
        images = images / 16.0
    elif args.pixels == "raw255":
        images = images * (255.0 / 16.0)
    else:
        images = (images - images.mean()) / images.std()
    x_train, x_test, y_train, y_test = common.split(images, labels, val=0.25, seed=args.seed)
    train_set = TensorDataset(torch.tensor(x_train), torch.tensor(y_train))
    test_set = TensorDataset(torch.tensor(x_test), torch.tensor(y_test))
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))

    bce = args.bug == "bce-class-index"
    # BUG (bce-class-index): one output unit and BCEWithLogitsLoss on the class index 0..9.
    model = ConvNet(1 if bce else 10, batchnorm=args.batchnorm, dropout=args.dropout)
    if args.init == "zeros":
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
    elif args.init == "kaiming":
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    if args.bug == "conv2-negative-bias":
        # BUG: conv2's bias initialized to -4 (meant as +0.1, a common ReLU trick, with the
        # wrong sign and scale): every unit starts below zero and never fires.
        nn.init.constant_(model.conv2.bias, -4.0)
    criterion = nn.BCEWithLogitsLoss() if bce else nn.CrossEntropyLoss()

    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    elif args.optimizer == "momentum":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                                    weight_decay=args.weight_decay)
    elif args.optimizer == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr,
                                      weight_decay=args.weight_decay)
    elif args.optimizer == "rmsprop":
        optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr,
                                        weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr,
                                     weight_decay=args.weight_decay)
    kind, _, value = args.scheduler.partition(":")
    scheduler = None
    if kind == "exp":
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=float(value))
    elif kind == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=args.lr, total_steps=args.epochs * len(loader))

    def outputs_to_labels(out):
        return out.squeeze(1).round().clamp(0, 9).long() if bce else out.argmax(1)

    def evaluate():
        model.eval()
        with torch.no_grad():
            xs, ys = test_set.tensors
            out = model(xs)
            target = ys.float().unsqueeze(1) if bce else ys
            loss = criterion(out, target).item()
            acc = (outputs_to_labels(out) == ys).float().mean().item()
        return loss, acc

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name=type(criterion).__name__, steps_per_epoch=len(loader), num_classes=10)
    history = common.History()

    def train_one_epoch():
        model.train()
        if args.bug == "bn-eval":
            # BUG: BatchNorm layers switched to eval mode "to keep their statistics fixed"
            model.bn1.eval()
            model.bn2.eval()
        for i, (xb, yb) in enumerate(loader):
            target = yb.float().unsqueeze(1) if bce else yb
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            out = model(xb)
            loss = criterion(out, target)
            loss.backward()
            optimizer.step()
            if scheduler is not None and (kind == "onecycle" or args.bug == "scheduler-per-batch"):
                # BUG (scheduler-per-batch): the per-epoch ExponentialLR is stepped every batch
                scheduler.step()
            acc = (outputs_to_labels(out.detach()) == yb).float().mean()
            val = evaluate() if i == len(loader) - 1 else (None, None)
            if args.bug == "bn-eval":
                model.bn1.eval()
                model.bn2.eval()
            else:
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=target, val_loss=val[0],
                     val_accuracy=val[1])
            history.step(loss.item(), acc.item())
        return val

    for epoch in range(args.epochs):
        val_loss, val_acc = train_one_epoch()
        if scheduler is not None and kind == "exp" and args.bug != "scheduler-per-batch":
            scheduler.step()
        history.epoch(val_loss, val_acc)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "convnet-missing-zero-grad", "split": "test", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradient accumulation)",
     "bug": "optimizer.zero_grad() left out of the training loop: the gradients of all steps "
            "add up, the accumulated gradient grows with the step count and SGD with momentum "
            "diverges",
     "fix": "optimizer.zero_grad() before the forward pass",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum",
          "buggy": "--optimizer momentum --lr 0.05 --bug missing-zero-grad",
          "fixed": "--optimizer momentum --lr 0.05"},
     ]},
    {"family": "convnet-lr-decay-per-batch", "split": "test", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (a per-epoch decay "
               "stepped every batch, the learning rate reaches 0)",
     "bug": "ExponentialLR(gamma=0.7), meant per epoch, is stepped after every batch: the "
            "learning rate falls below 1e-8 within 50 steps and the weights freeze",
     "fix": "scheduler.step() once per epoch",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-exp",
          "buggy": "--optimizer sgd --lr 0.1 --scheduler exp:0.7 --bug scheduler-per-batch",
          "fixed": "--optimizer sgd --lr 0.1 --scheduler exp:0.7"},
     ]},
    {"family": "convnet-zero-init", "split": "test", "architecture": "cnn",
     "origin": "DeepFD fault type: weight initialization (all weights and biases zero)",
     "bug": "every convolution and linear layer initialized to zero: all activations are 0, "
            "no gradient reaches the convolutions, only the classifier's bias learns",
     "fix": "PyTorch's default initialization",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "unchanged_values", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop", "buggy": "--init zeros --optimizer rmsprop --lr 0.002",
          "fixed": "--optimizer rmsprop --lr 0.002"},
     ]},
    {"family": "convnet-bn-frozen", "split": "test", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: BatchNorm layer in inference mode during training",
     "bug": "the BatchNorm layers are switched to eval() in every epoch 'to keep their "
            "statistics fixed', on 0..255 pixels the network relies on them to normalize: "
            "the convolution outputs are not normalized and SGD diverges to NaN",
     "fix": "the BatchNorm layers left in training mode",
     "symptom": "numerical_error",
     "acceptable_symptoms": ["saturation", "exploding_gradient", "not_learning"],
     "root_cause": {"layer_name": "bn1", "layer_index": 1},
     "pairs": [
         {"id": "raw-pixels-momentum",
          "buggy": "--pixels raw255 --batchnorm --optimizer momentum --lr 0.01 --bug bn-eval",
          "fixed": "--pixels raw255 --batchnorm --optimizer momentum --lr 0.01"},
     ]},
    {"family": "convnet-lr-too-high", "split": "test", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "SGD with momentum at learning rate 1.0: the loss jumps and the network ends at "
            "chance",
     "fix": "learning rate 0.02",
     "symptom": "oscillation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "exploding_gradient", "numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum", "buggy": "--optimizer momentum --lr 1.0",
          "fixed": "--optimizer momentum --lr 0.02"},
     ]},
    {"family": "healthy-convnet-digits", "split": "test", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a ConvNet on the 8x8 digits that trains well",
     "healthy": [
         {"id": "adam", "args": ""},
         {"id": "batchnorm-onecycle", "args": "--batchnorm --optimizer sgd --lr 0.1 --scheduler onecycle",
          "description": "one-cycle schedule: warm-up then annealing to ~0"},
         {"id": "adamw-wd", "args": "--optimizer adamw --lr 0.003 --weight-decay 0.05"},
         {"id": "rmsprop-bs8", "args": "--optimizer rmsprop --lr 0.001 --batch-size 8 --epochs 2"},
         {"id": "kaiming-sgd-exp", "args": "--init kaiming --optimizer momentum --lr 0.02 --scheduler exp:0.8"},
         {"id": "standardized-no-dropout", "args": "--pixels standard --dropout 0 --lr 0.002"},
     ]},
]


if __name__ == "__main__":
    main()
