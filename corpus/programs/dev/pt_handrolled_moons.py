"""A small PyTorch MLP on make_moons / make_circles trained by a hand-written update loop, with
no ``torch.optim`` optimizer at all, the way introductory tutorials write it.

The data are scikit-learn's ``make_moons`` (noise 0.2) or ``make_circles`` (noise 0.08, factor
0.5), 800 points, 20% held out, standardized with the training part's mean and standard
deviation. The model is an ``nn.Sequential`` of ``Linear`` layers (``fc1``, ``fc2`` of
``--width`` units, ``--act`` between them) and a ``Linear`` output of two logits (``out``),
cross-entropy. The loop shuffles the training points itself with ``torch.randperm``, slices
mini-batches, calls ``loss.backward()`` and then, under ``torch.no_grad()``, moves every
parameter by ``p -= lr * p.grad`` and resets ``p.grad = None``. The learning rate is a plain
float (``--lr``); it is handed to the recorder as ``learning_rate=`` since there is no
optimizer to read it from. The mistakes of the families in CASES are selected with ``--bug``
or show in a setting (``--lr``, ``--act``).
"""

import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


def make_model(width, act):
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "none": nn.Identity}
    return nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(2, width)), ("act1", acts[act]()),
        ("fc2", nn.Linear(width, width)), ("act2", acts[act]()),
        ("out", nn.Linear(width, 2)),
    ]))


def main():
    p = common.parser(__doc__)
    p.add_argument("--data", default="moons", choices=("moons", "circles"))
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--act", default="relu", choices=("relu", "tanh", "none"))
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--bug", default=None, choices=("grad-never-reset", "raw-coordinates"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load(args.data, seed=args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    if args.bug == "raw-coordinates":
        # BUG (raw-coordinates): the points are scaled to "pixels" of a 1000x1000 plot for a
        # figure and the scaled copy is what gets trained on; no standardization after it.
        x_tr, x_val = x_tr * 1000.0, x_val * 1000.0
    else:
        x_tr, x_val = common.standardize(x_tr, x_val)
    x_tr = torch.tensor(x_tr, dtype=torch.float32)
    x_val = torch.tensor(x_val, dtype=torch.float32)
    y_tr = torch.tensor(y_tr, dtype=torch.long)
    y_val = torch.tensor(y_val, dtype=torch.long)

    model = make_model(args.width, args.act)
    lr = args.lr
    n = len(x_tr)
    steps_per_epoch = -(-n // args.batch_size)
    rec = common.recording.torch_recorder(
        model, args.out, task="classification", loss_name="CrossEntropyLoss",
        steps_per_epoch=steps_per_epoch, num_classes=2, batch_size=args.batch_size,
        learning_rate=lr)
    history = common.History()
    for epoch in range(args.epochs):
        perm = torch.randperm(n)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            logits = model(xb)
            loss = nn.functional.cross_entropy(logits, yb)
            loss.backward()
            with torch.no_grad():
                for param in model.parameters():
                    param -= lr * param.grad
                    if args.bug != "grad-never-reset":
                        param.grad = None
                    # BUG (grad-never-reset): the gradients are never reset, so every step
                    # adds this batch's gradient to the sum of all the earlier ones.
            acc = (logits.argmax(1) == yb).float().mean().item()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                with torch.no_grad():
                    v = model(x_val)
                    val_loss = nn.functional.cross_entropy(v, y_val).item()
                    val_acc = (v.argmax(1) == y_val).float().mean().item()
            rec.step(loss, acc, inputs=xb, targets=yb, val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.4f acc %.3f val_loss %.4f val_acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result(layers=["fc1", "fc2", "out"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "handsgd-grad-never-reset", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing zero_grad (gradients accumulate across steps); "
               "DeepFD fault type: wrong optimizer usage, in a loop that updates the "
               "parameters by hand (p -= lr * p.grad) and forgets p.grad = None",
     "bug": "the hand-written update never resets p.grad: each step moves the weights by the "
            "sum of all earlier gradients, the training loss rises from 0.51 in the first epoch "
            "to 0.71 in the 15th and the validation accuracy falls from 0.87 to 0.50 (the twin "
            "ends at loss 0.22, validation accuracy 0.92)",
     "fix": "p.grad = None after each update (the twin)",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "moons",
          "buggy": "--bug grad-never-reset --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "handsgd-raw-coordinates", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing input normalization; DeepLocalize benchmark "
               "(StackOverflow posts on unscaled inputs killing ReLU units)",
     "bug": "the points are trained on as 1000x1000 plot coordinates without standardization: "
            "the first-epoch loss averages 2.7e15, one update throws the weights so far that "
            "every one of fc2's ReLU units outputs 0 on the validation set, the loss sits at "
            "0.69 and the validation accuracy at 0.50 (chance) for 15 epochs (the twin: loss "
            "0.25, validation accuracy 0.89)",
     "fix": "standardize the inputs with the training part's mean and standard deviation",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["exploding_gradient", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "moons",
          "buggy": "--bug raw-coordinates --seed 4 --record-every 4",
          "fixed": "--seed 4 --record-every 4"},
     ]},
    {"family": "handsgd-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis / AUTOTRAINER fault type: learning rate too high",
     "bug": "lr = 8 in the hand-written update (meant 0.1): the loss jumps around for 15 "
            "epochs (first epoch 4.55, last 2.08), the training accuracy ends at 0.47 and the "
            "validation accuracy at 0.50 (the twin: loss 0.25, validation accuracy 0.91)",
     "fix": "lr = 0.1",
     "symptom": "oscillation",
     "acceptable_symptoms": ["exploding_gradient", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "moons-relu",
          "buggy": "--lr 8 --seed 5 --record-every 4",
          "fixed": "--lr 0.1 --seed 5 --record-every 4"},
     ]},
    {"family": "handsgd-no-activation", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing activation function; DeepLocalize benchmark "
               "(a stack of Linear layers without non-linearity on a non-linear problem)",
     "bug": "the activations between the Linear layers are nn.Identity (--act none): the "
            "network is linear and cannot separate the two circles, the loss stays at 0.70 to "
            "0.69 and the validation accuracy at 0.50 for 15 epochs (the twin with ReLU: loss "
            "0.04, validation accuracy 1.00)",
     "fix": "nn.ReLU between the Linear layers",
     "symptom": "missing_activation",
     "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "circles",
          "buggy": "--data circles --act none --record-every 4",
          "fixed": "--data circles --act relu --record-every 4"},
     ]},
    {"family": "healthy-handsgd", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a small MLP on moons or circles trained by a hand-written update loop",
     "healthy": [
         {"id": "circles-tanh-bs16-seed1",
          "args": "--data circles --act tanh --lr 0.3 --batch-size 16 --seed 1 --record-every 4",
          "description": "tanh, lr 0.3, batches of 16 on circles"},
         {"id": "moons-wide-lr005-seed2",
          "args": "--width 32 --lr 0.05 --epochs 20 --seed 2 --record-every 4",
          "description": "32 units, lr 0.05, 20 epochs"},
         {"id": "moons-tanh-bs64-seed3",
          "args": "--act tanh --batch-size 64 --lr 0.3 --seed 3 --record-every 4",
          "description": "tanh, lr 0.3, batches of 64"},
     ]},
]


if __name__ == "__main__":
    main()
