"""DeepONet (Lu et al. 2021) in PyTorch, learning the antiderivative operator
G(u)(y) = integral of u from 0 to y on [0, 1].

The setting is the one of DeepXDE's antiderivative example (``examples/operator/
antiderivative_unaligned.py``) and the public PyTorch ports of it, written by hand: every input
function is a random sum of sines, u(x) = sum_k a_k sin(2 pi k x + phi_k) for k = 1..5 with
a_k ~ N(0, 1/k) and a phase phi_k, evaluated at ``--sensors`` (64) fixed, evenly spaced sensors;
its antiderivative is computed with the cumulative trapezoid rule on a fine grid of 1001 points,
and every function comes with 20 query points y (uniform in [0, 1]) and G(u)(y) at them
(interpolated on the fine grid). 500 functions train (10000 triples (u, y, G(u)(y))) and 100
others (another seed) are held out.

``DeepONet``: the ``branch`` MLP (``Linear`` sensors-64-64-64, tanh between) over the sensor
values and the ``trunk`` MLP (``Linear`` 1-64-64-64, tanh between, a linear last layer) over
the query point; the output is the dot product of the two over their 64 features plus a
scalar bias (``b0``), as DeepXDE's ``DeepONet`` writes it. ``MSELoss``, Adam (``--lr``),
minibatches of ``--batch-size`` triples shuffled each epoch. After every epoch the held-out
MSE is the validation loss; the result line adds ``val_rel_l2``, the held-out relative L2
error (predicting zero gives 1.0). The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


def make_data(functions, sensors, seed, queries=20, bug=None):
    rng = np.random.default_rng(seed)
    fine = np.linspace(0, 1, 1001)
    grid = np.linspace(0, 1, sensors)
    us, ys, gs = [], [], []
    for _ in range(functions):
        k = np.arange(1, 6)
        a = rng.normal(0, 1, 5) / np.sqrt(k)
        phi = rng.uniform(0, 2 * np.pi, 5)

        def u(x):
            return (a * np.sin(2 * np.pi * k * x[:, None] + phi)).sum(1)

        uf = u(fine)
        antider = np.concatenate([[0.0], np.cumsum((uf[1:] + uf[:-1]) / 2 * np.diff(fine))])
        y = rng.uniform(0, 1, queries)
        g = np.interp(y, fine, antider)
        us.append(np.repeat(u(grid)[None], queries, 0))
        ys.append(y)
        gs.append(g)
    us, ys, gs = np.concatenate(us), np.concatenate(ys), np.concatenate(gs)
    if bug == "queries-shuffled":
        # BUG (queries-shuffled): the query points shuffled on their own, no longer matched
        # with their targets G(u)(y).
        ys = ys[rng.permutation(len(ys))]
    t = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
    return t(us), t(ys)[:, None], t(gs)[:, None]


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class DeepONet(nn.Module):
    def __init__(self, sensors, width, bug=None):
        super().__init__()
        self.branch = mlp([sensors, width, width, width])
        self.trunk = mlp([1, width, width, width])
        self.b0 = nn.Parameter(torch.zeros(1))
        self.bug = bug

    def forward(self, u, y):
        b = self.branch(u)
        t = self.trunk(y)
        if self.bug == "sum-over-batch":
            # BUG (sum-over-batch): the elementwise product summed over the batch (dim 0)
            # instead of over the features.
            return torch.sum(b * t, dim=0) + self.b0
        return torch.sum(b * t, dim=1, keepdim=True) + self.b0


def main():
    p = common.parser(__doc__)
    p.add_argument("--sensors", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--bug", default=None, choices=("sum-over-batch", "queries-shuffled"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    u, y, g = make_data(500, args.sensors, seed=args.seed, bug=args.bug)
    v_u, v_y, v_g = make_data(100, args.sensors, seed=1000 + args.seed, queries=20,
                              bug=args.bug)

    model = DeepONet(args.sensors, args.width, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.MSELoss()
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(u) + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="MSELoss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_mse = rel_l2 = None
    for epoch in range(args.epochs):
        perm = torch.randperm(len(u), generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            ub, yb, gb = u[idx], y[idx], g[idx]
            optimizer.zero_grad()
            pred = model(ub, yb)
            loss = criterion(pred, gb)
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                with torch.no_grad():
                    v_pred = model(v_u, v_y)
                    val_mse = criterion(v_pred, v_g).item()
                    diff = v_pred - v_g
                    rel_l2 = (torch.linalg.norm(diff)
                              / torch.linalg.norm(v_g.expand_as(diff))).item()
                val_loss = val_mse
            rec.step(loss, inputs=ub, targets=gb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: train mse %.5f  held-out mse %.5f  rel l2 %.4f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_mse, rel_l2))
    rec.close()
    common.report(history.result(val_rel_l2=rel_l2))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "deeponet-sum-over-batch", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: wrong tensor shape / reduction dimension (the branch "
               "and trunk outputs of a DeepONet multiplied and summed over the batch instead "
               "of the features)",
     "bug": "torch.sum(b * t, dim=0): one 64-vector for the whole batch, broadcast by MSELoss "
            "against every target (PyTorch warns of the broadcast); the MSE falls from 0.500 "
            "in the first epoch to 0.0281 in the 40th, no lower than predicting zero, held-out "
            "MSE 0.0331 and relative L2 error 1.026 against the twin's 0.00121 and 0.196",
     "fix": "torch.sum(b * t, dim=1, keepdim=True) + self.b0",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug sum-over-batch --record-every 8",
          "fixed": "--record-every 8"},
     ]},
    {"family": "deeponet-queries-shuffled", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: wrong training data (inputs not matched with their "
               "targets)",
     "bug": "the query points permuted on their own after the triples are built: the MSE falls "
            "only from 0.0228 to 0.0153 (twin 0.0186 to 0.00153), held-out MSE 0.0151 and "
            "relative L2 error 0.713 against the twin's 0.00185 and 0.250",
     "fix": "keep every query point with its target",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug queries-shuffled --seed 1 --record-every 8",
          "fixed": "--seed 1 --record-every 8"},
     ]},
    {"family": "healthy-deeponet", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "a DeepONet that learns the antiderivative operator",
     "healthy": [
         {"id": "width96-seed2",
          "args": "--width 96 --seed 2 --record-every 8",
          "description": "96 units per layer of the branch and the trunk"},
     ]},
]


if __name__ == "__main__":
    main()
