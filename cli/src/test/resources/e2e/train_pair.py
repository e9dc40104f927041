"""Two runs of one small MLP from the same seed, recorded with the PyTorch recorder, for
`dl-analyze compare`: run b is run a with fc2's weights multiplied by --factor just before the
forward pass of step --change-at (a change in one layer at a known step). Everything before that
step is the same computation in both runs.

    python train_pair.py REPO OUT_DIR [--change-at N] [--steps N] [--factor F]

Writes OUT_DIR/a.arrows and OUT_DIR/b.arrows; prints `changed fc2 at step N`.
"""

import argparse
import os
import sys

parser = argparse.ArgumentParser()
parser.add_argument("repo")
parser.add_argument("out")
parser.add_argument("--change-at", type=int, default=40)
parser.add_argument("--steps", type=int, default=80)
parser.add_argument("--factor", type=float, default=3.0)
args = parser.parse_args()
sys.path.insert(0, args.repo + "/recorders")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from dltrace.pytorch import attach  # noqa: E402

torch.set_num_threads(1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(20, 32)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


torch.manual_seed(1)
x = torch.randn(512, 20)
y = (x[:, :5].sum(1) > 0).long()


def train(path, change_at):
    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    rec = attach(model, path, optimizer=opt, task="classification",
                 loss_name="CrossEntropyLoss", flush_every=20)
    for step in range(args.steps):
        i = (step * 32) % 512
        xb, yb = x[i:i + 32], y[i:i + 32]
        if step == change_at:
            with torch.no_grad():
                model.fc2.weight.mul_(args.factor)
        opt.zero_grad()
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        opt.step()
        rec.step(loss, accuracy=(out.argmax(1) == yb).float().mean(), inputs=xb, targets=yb)
    rec.close()


os.makedirs(args.out, exist_ok=True)
train(os.path.join(args.out, "a.arrows"), -1)
train(os.path.join(args.out, "b.arrows"), args.change_at)
print("changed fc2 at step %d" % args.change_at, flush=True)
