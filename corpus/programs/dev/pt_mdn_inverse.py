"""A PyTorch mixture-density network (Bishop 1994) for a one-to-many inverse problem, with a
hand-written mixture negative log-likelihood and its own shuffled index batching.

The data are generated here: a position ``y`` in [0, 1] and the reading of a sensor that sees
``y + 0.3 sin(2 pi y)`` plus noise (standard deviation 0.03), in millivolts (400 mV + 1200 mV
per unit). The task is the inverse: ``y`` from the reading, which has up to three answers for
one reading, so a single Gaussian (or MSE) averages the branches. 2000 readings, 80% train.
The readings are standardized with the training part's mean and standard deviation.

The model (``MixtureDensityNet``, an ``nn.Module``): ``--depth`` hidden ``Linear`` layers
(``hidden0``, ``hidden1``, ...) of ``--width`` units with ``--activation`` (tanh by default),
then three heads for ``K`` = ``--components`` Gaussians: ``pi_head`` (mixture logits),
``mu_head`` (means) and ``sigma_head`` (log standard deviations; sigma = exp of it). The loss
``mdn_nll`` is the negative log of the mixture density, computed with ``torch.logsumexp`` over
``log_softmax(pi) + log N(y | mu, sigma)``; it goes below zero once the mixture is sharper
than a unit density. Adam (``--optimizer rmsprop`` for RMSprop), ``clip_grad_norm_`` at
``--clip``. Batches are drawn from ``torch.randperm`` every epoch. The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

LOG_2PI = math.log(2 * math.pi)


def sensor_readings(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.uniform(0.0, 1.0, size=n)
    seen = y + 0.3 * np.sin(2 * np.pi * y) + rng.normal(0.0, 0.03, size=n)
    millivolts = 400.0 + 1200.0 * seen
    return millivolts.astype(np.float32)[:, None], y.astype(np.float32)


class MixtureDensityNet(nn.Module):
    def __init__(self, width, depth, components, activation, raw_sigma=False):
        super().__init__()
        layers, d = [], 1
        for i in range(depth):
            self.add_module("hidden%d" % i, nn.Linear(d, width))
            layers.append("hidden%d" % i)
            d = width
        self.hidden = layers
        self.act = {"tanh": torch.tanh, "relu": torch.relu,
                    "identity": lambda t: t}[activation]
        self.pi_head = nn.Linear(width, components)
        self.mu_head = nn.Linear(width, components)
        self.sigma_head = nn.Linear(width, components)
        self.raw_sigma = raw_sigma

    def forward(self, x):
        h = x
        for name in self.hidden:
            h = self.act(getattr(self, name)(h))
        logits, mu = self.pi_head(h), self.mu_head(h)
        if self.raw_sigma:
            # BUG (sigma-not-positive): the sigma head's output used as the standard deviation
            # itself (no exp / softplus): nothing keeps it positive.
            sigma = self.sigma_head(h)
        else:
            sigma = torch.exp(self.sigma_head(h).clamp(-7.0, 7.0))
        return logits, mu, sigma


def mdn_nll(logits, mu, sigma, y):
    """Mean negative log-likelihood of y under the mixture, by log-sum-exp."""
    y = y[:, None]
    log_pi = torch.log_softmax(logits, dim=1)
    log_n = -0.5 * ((y - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * LOG_2PI
    return -torch.logsumexp(log_pi + log_n, dim=1).mean()


def main():
    p = common.parser(__doc__)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--components", type=int, default=4)
    p.add_argument("--activation", default="tanh", choices=("tanh", "relu", "identity"))
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop"))
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None, choices=("raw-millivolts", "sigma-not-positive"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = sensor_readings(args.n, args.seed)
    cut = int(0.8 * args.n)
    x_tr, x_va, y_tr, y_va = x[:cut], x[cut:], y[:cut], y[cut:]
    if args.bug != "raw-millivolts":
        mean, std = x_tr.mean(0), x_tr.std(0)
        x_tr, x_va = (x_tr - mean) / std, (x_va - mean) / std
    # BUG (raw-millivolts): without the lines above the readings (400..2000 mV) go into the
    # tanh layers as they are.
    x_tr, x_va = torch.from_numpy(x_tr), torch.from_numpy(x_va)
    y_tr, y_va = torch.from_numpy(y_tr), torch.from_numpy(y_va)

    model = MixtureDensityNet(args.width, args.depth, args.components, args.activation,
                              raw_sigma=args.bug == "sigma-not-positive")
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    else:
        optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr)
    steps_per_epoch = cut // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="mdn_nll",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(cut, generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            optimizer.zero_grad()
            loss = mdn_nll(*model(xb), yb)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = mdn_nll(*model(x_va), y_va).item()
                model.train()
            rec.step(loss, inputs=xb, targets=yb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: nll %.4f val %.4f" % (epoch + 1, np.mean(history.epochs[-1][0]),
                                                val_loss))
    rec.close()
    common.report(history.result(layers=model.hidden + ["pi_head", "mu_head", "sigma_head"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "mdninv-raw-millivolts", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: missing input normalization; DeepLocalize benchmark "
               "posts on unscaled inputs into tanh layers",
     "bug": "the sensor readings (400 to 2000 mV) go into the tanh layers unstandardized: "
            "the first layer's units are saturated at +-1 for every reading, the mixture can "
            "hardly depend on the input and the training NLL ends at 0.12 (validation 0.08, "
            "about the NLL of the uniform marginal) against the twin's -0.96 (validation -1.12)",
     "fix": "standardize the readings with the training part's mean and standard deviation",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug raw-millivolts --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "mdninv-sigma-not-positive", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: wrong activation of an output layer (the standard "
               "deviation head of a mixture-density network without exp/softplus); "
               "DeepDiagnosis: numerical errors (log of a negative value)",
     "bug": "the sigma head's raw output is used as the standard deviation: about half of "
            "them are negative, torch.log(sigma) is NaN and the loss is NaN from the first "
            "step on",
     "fix": "sigma = exp(sigma_head(h)) (clamped log standard deviation)",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": {"layer_name": "sigma_head", "layer_index": 4},
     "pairs": [
         {"id": "adam-bs32",
          "buggy": "--bug sigma-not-positive --batch-size 32 --record-every 4",
          "fixed": "--batch-size 32 --record-every 4"},
     ]},
    {"family": "mdninv-adam-lr-too-high", "split": "dev", "architecture": "regression",
     "origin": "AUTOTRAINER / DeepFD: learning rate too high",
     "bug": "Adam at 0.05 (meant 5e-3), gradient norm clipped at 5: the steps of Adam do not "
            "shrink with the clipped gradient, the mixture weights and widths jump from batch "
            "to batch and the training NLL only reaches -0.21 (first epoch 0.39) against the "
            "twin's -1.09",
     "fix": "learning rate 5e-3",
     "symptom": "oscillation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 0.05 --seed 1 --record-every 4",
          "fixed": "--lr 5e-3 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-mdninv", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "a mixture-density network for the inverse of a folded sensor curve that "
                    "trains well (the NLL goes below zero)",
     "healthy": [
         {"id": "rmsprop-seed1",
          "args": "--optimizer rmsprop --lr 2e-3 --seed 1 --record-every 4",
          "description": "RMSprop 2e-3"},
         {"id": "relu-w48-seed2",
          "args": "--activation relu --width 48 --seed 2 --record-every 4",
          "description": "ReLU hidden layers of 48 units"},
         {"id": "k3-bs32-seed3",
          "args": "--components 3 --batch-size 32 --lr 3e-3 --seed 3 --epochs 8 --record-every 4",
          "description": "three components, batches of 32, Adam 3e-3, 8 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
