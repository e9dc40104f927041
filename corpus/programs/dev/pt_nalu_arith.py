"""The Neural Arithmetic Logic Unit (NALU, Trask et al. 2018) in PyTorch, learning addition and
multiplication of sums of input slices.

The model is written as the PyTorch re-implementations write it (``kevinzakka/NALU-pytorch``,
``models/nac.py`` and ``models/nalu.py``): a ``NeuralAccumulatorCell`` holds ``W_hat`` and
``M_hat`` and computes ``W = tanh(W_hat) * sigmoid(M_hat)`` and ``F.linear(x, W)``; a
``NeuralArithmeticLogicUnitCell`` holds the gate matrix ``G`` and a NAC, and returns
``g * a + (1 - g) * m`` with the gate ``g = sigmoid(F.linear(x, G))``, the additive path
``a = nac(x)`` and the multiplicative path ``m = exp(nac(log(|x| + eps)))`` (eps 1e-10, the NAC's
weights shared by both paths). ``NALU`` stacks two cells in ``model`` (``--in-dim`` 10 ->
``--hidden`` 4 -> 2), the recorder's layers ``model.0.nac``, ``model.0``, ``model.1.nac``,
``model.1`` (the NAC first, as the recorder indexes them).

The data follow the paper's static arithmetic task: inputs of 10 readings uniform in [0, 1),
a share ``--zero-frac`` (0.2) of them exactly 0 (missing readings); a = the sum of readings 0..3,
b = the sum of readings 3..6 (overlapping slices, as in the paper), and two targets per row,
a + b and a * b (at most 8 and 16). 2000 rows train, 500 others (another seed) are held out.
``MSELoss`` over both targets, Adam (``--lr`` 0.03; the repository uses 1e-2), minibatches of
``--batch-size`` 64 shuffled each epoch (32 steps), ``--epochs`` 40 (1280 steps). After every
epoch the held-out MSE is the validation loss; the result line adds ``val_mse``, ``mean_mse`` (the
held-out MSE of predicting the training targets' mean) and the held-out MSE of each target
(``val_mse_add``, ``val_mse_mul``). The mistakes of the families in CASES are selected with
``--bug``.
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import init  # noqa: E402
from torch.nn.parameter import Parameter  # noqa: E402

np = common.np

BUG = None


def make_data(n, seed, in_dim=10, zero_frac=0.2):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(n, in_dim))
    x[rng.uniform(size=(n, in_dim)) < zero_frac] = 0.0
    a = x[:, 0:4].sum(1)
    b = x[:, 3:7].sum(1)
    y = np.stack([a + b, a * b], 1)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


class NeuralAccumulatorCell(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.W_hat = Parameter(torch.Tensor(out_dim, in_dim))
        self.M_hat = Parameter(torch.Tensor(out_dim, in_dim))
        self.register_parameter("bias", None)
        init.kaiming_uniform_(self.W_hat, a=math.sqrt(5))
        init.kaiming_uniform_(self.M_hat, a=math.sqrt(5))

    def forward(self, x):
        W = torch.tanh(self.W_hat) * torch.sigmoid(self.M_hat)
        return F.linear(x, W, self.bias)


class NeuralArithmeticLogicUnitCell(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.eps = 1e-10
        self.G = Parameter(torch.Tensor(out_dim, in_dim))
        self.nac = NeuralAccumulatorCell(in_dim, out_dim)
        self.register_parameter("bias", None)
        init.kaiming_uniform_(self.G, a=math.sqrt(5))

    def forward(self, x):
        a = self.nac(x)
        if BUG == "gate-no-sigmoid":
            # BUG (gate-no-sigmoid): the gate used as the raw linear map G x, without its
            # sigmoid: not a mixing weight in (0, 1).
            g = F.linear(x, self.G, self.bias)
        else:
            g = torch.sigmoid(F.linear(x, self.G, self.bias))
        add_sub = g * a
        if BUG == "log-no-abs":
            # BUG (log-no-abs): log(x + eps) without the absolute value, on inputs that the
            # first cell's outputs make negative.
            log_input = torch.log(x + self.eps)
        elif BUG == "no-eps":
            # BUG (no-eps): log(|x|) without eps, on inputs that hold exact zeros.
            log_input = torch.log(torch.abs(x))
        else:
            log_input = torch.log(torch.abs(x) + self.eps)
        m = torch.exp(self.nac(log_input))
        mul_div = (1 - g) * m
        return add_sub + mul_div


class NALU(nn.Module):
    def __init__(self, num_layers, in_dim, hidden_dim, out_dim):
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.model = nn.Sequential(*[NeuralArithmeticLogicUnitCell(dims[i], dims[i + 1])
                                     for i in range(num_layers)])

    def forward(self, x):
        return self.model(x)


def main():
    global BUG
    p = common.parser(__doc__)
    p.add_argument("--in-dim", type=int, default=10)
    p.add_argument("--hidden", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.03)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--zero-frac", type=float, default=0.2)
    p.add_argument("--bug", default=None, choices=("log-no-abs", "no-eps", "gate-no-sigmoid"))
    args = p.parse_args()
    BUG = args.bug
    common.torch_setup(args.seed)

    x, y = make_data(2000, args.seed, args.in_dim, args.zero_frac)
    val_x, val_y = make_data(500, 1000 + args.seed, args.in_dim, args.zero_frac)

    model = NALU(2, args.in_dim, args.hidden, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.MSELoss()
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(x) + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="MSELoss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_mse = None
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x[idx], y[idx]
            optimizer.zero_grad()
            out = model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    val_mse = criterion(model(val_x), val_y).item()
                model.train()
                val_loss = val_mse
            rec.step(loss, inputs=xb, targets=yb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: train mse %.4f  held-out mse %.4f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_mse))
    rec.close()

    with torch.no_grad():
        pred = model(val_x)
        per_target = ((pred - val_y) ** 2).mean(0)
    mean_mse = ((val_y - y.mean(0)) ** 2).mean().item()
    print("held-out mse %.4f (predicting the mean: %.4f)" % (val_mse, mean_mse))
    common.report(history.result(val_mse=val_mse, mean_mse=mean_mse,
                                 val_mse_add=per_target[0].item(),
                                 val_mse_mul=per_target[1].item()))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "nalu-log-no-abs", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: wrong model formula (the NALU's multiplicative path "
               "written log(x + eps) without the absolute value)",
     "bug": "the log-space path takes log(x + eps) without abs: the second cell's inputs (the "
            "first cell's outputs) are negative for some rows from the first step, their log "
            "is NaN and so is every loss from the first step (every epoch's MSE and the "
            "held-out MSE NaN), against the twin's MSE falling from 151.2 to 0.140 and a "
            "held-out MSE of 0.095 (predicting the mean 1.814)",
     "fix": "torch.log(torch.abs(x) + self.eps)",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug log-no-abs --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "nalu-no-eps", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: wrong model formula (eps dropped from log(|x| + eps) "
               "on inputs with exact zeros)",
     "bug": "log(|x|) without eps on inputs of which a fifth are exactly 0: log 0 = -inf, "
            "weighted by NAC weights of both signs it gives -inf + inf = NaN, and every loss is "
            "NaN from the first step (the held-out MSE NaN), against the twin's MSE falling "
            "from 5.76 to 0.083 and a held-out MSE of 0.074 (predicting the mean 1.864)",
     "fix": "torch.log(torch.abs(x) + self.eps) with eps 1e-10",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug no-eps --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "nalu-gate-no-sigmoid", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: missing activation (the NALU's gate used without its "
               "sigmoid)",
     "bug": "the gate is the raw G x instead of sigmoid(G x): unbounded, it scales the "
            "exponential path by large factors of both signs, the first epoch's mean MSE is "
            "3.85e9 and the run then stays stuck at 6.4 (last epoch 6.39, held-out MSE 6.447, "
            "worse than predicting the mean, 1.917), against the twin's MSE falling from 61.7 "
            "to 0.382 and a held-out MSE of 0.339",
     "fix": "g = torch.sigmoid(F.linear(x, self.G, self.bias))",
     "symptom": "not_learning", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug gate-no-sigmoid --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-nalu", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "two stacked NALU cells learning a + b and a * b of input slice sums",
     "healthy": [
         {"id": "hidden8-seed5",
          "args": "--hidden 8 --seed 5 --record-every 4",
          "description": "8 hidden units between the two NALU cells"},
     ]},
]


if __name__ == "__main__":
    main()
