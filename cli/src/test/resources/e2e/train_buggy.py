"""End-to-end fixture: a small buggy training run recorded with dltrace.pytorch.

The bug of Stack Overflow 48385830 in miniature: an MLP with no activation functions trained
with MSE and SGD at lr=3 on generated 3-class data. The outputs of the last layer ("out")
overflow to Inf within a few steps and the loss becomes NaN. With --kill-at N the process
dies at step N without any cleanup (like SIGKILL), to check crash tolerance. With
--no-zero-grad the loop never calls opt.zero_grad(): every update applies the running sum of
the gradients so far.

    python3 train_buggy.py REPO_ROOT OUT.arrows [--fixed] [--no-zero-grad] [--kill-at N]
"""

import argparse
import os
import sys
from collections import OrderedDict

parser = argparse.ArgumentParser()
parser.add_argument("repo")
parser.add_argument("out")
parser.add_argument("--fixed", action="store_true")
parser.add_argument("--no-zero-grad", action="store_true")
parser.add_argument("--kill-at", type=int, default=-1)
args = parser.parse_args()
sys.path.insert(0, os.path.join(args.repo, "recorders"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import dltrace.pytorch as dltrace  # noqa: E402

torch.manual_seed(1)
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
centers = torch.randn(3, 8) * 2
labels = torch.arange(300) % 3
x = centers[labels] + torch.randn(300, 8)
y = nn.functional.one_hot(labels, 3).float()

if args.fixed:
    # The accepted answer: a sigmoid hidden layer and a categorical cross-entropy (here on the
    # raw scores, as PyTorch's cross_entropy takes them) instead of MSE.
    model = nn.Sequential(OrderedDict([("hidden", nn.Linear(8, 16)), ("sigmoid", nn.Sigmoid()),
                                       ("out", nn.Linear(16, 3))]))
    lr = 0.5
else:
    model = nn.Sequential(OrderedDict([("hidden", nn.Linear(8, 16)), ("out", nn.Linear(16, 3))]))
    lr = 3.0
opt = torch.optim.SGD(model.parameters(), lr=lr)
rec = dltrace.attach(model, args.out, optimizer=opt, task="classification",
                     loss_name="CrossEntropyLoss" if args.fixed else "mse",
                     steps_per_epoch=10, num_classes=3, flush_every=5)
for epoch in range(6):
    for b in range(10):
        step = epoch * 10 + b
        if step == args.kill_at:
            os._exit(9)
        xb, yb = x[b * 30:(b + 1) * 30], y[b * 30:(b + 1) * 30]
        if not args.no_zero_grad:
            opt.zero_grad()
        out = model(xb)
        if args.fixed:
            loss = nn.functional.cross_entropy(out, yb.argmax(1))
        else:
            loss = nn.functional.mse_loss(out, yb)
        loss.backward()
        opt.step()
        acc = (out.argmax(1) == yb.argmax(1)).float().mean()
        rec.step(loss, accuracy=acc, inputs=xb, targets=yb)
rec.close()
print("final loss %s" % float(loss))
