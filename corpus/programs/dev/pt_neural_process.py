"""A conditional neural process (CNP, Garnelo et al. 2018) in PyTorch, on functions drawn from a
Gaussian-process prior.

The data are generated as DeepMind's neural-process notebook does it (``GPCurvesReader``):
every training batch holds ``--batch-size`` functions drawn from a GP with a squared-exponential
kernel (length scale 0.4, signal scale 1.0, noise 2e-2) at 40 points x uniform in [-2, 2]; each
function gets a random number of context points (3 to ``--max-context``) and the targets are
all 40 points (the context among them). ``--steps-per-epoch`` (40) fresh batches make an epoch.

``CNP`` is the minimal model of the paper's repositories: the ``encoder`` (an MLP over the
concatenated (x, y) context pairs, ``--width`` units, ReLU) gives one representation per pair,
which is averaged over the context points into ``r``; the ``decoder`` (an MLP over the
concatenated (r, x_target)) gives a mean and a log-scale per target, and the standard deviation
is bounded as the notebook does it, ``0.1 + 0.9 * softplus(log_sigma)``. The loss is the
Gaussian negative log-likelihood of the targets (written out), Adam (``--lr``). After every
epoch 256 unseen functions (another seed), each with 10 context points, are scored: the mean
held-out negative log-likelihood of their non-context points is the validation loss, and the
result line adds the held-out log-likelihood (``val_log_lik``) and MSE of the mean
(``val_mse``; predicting zero: about 1.0). The mistakes of the families in CASES are selected
with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

NUM_POINTS = 40


class GPCurvesReader:
    """Batches of functions sampled from a GP prior, split into context and targets."""

    def __init__(self, batch_size, max_context, seed, l_scale=0.4, sigma_scale=1.0):
        self.batch_size = batch_size
        self.max_context = max_context
        self.l_scale = l_scale
        self.sigma_scale = sigma_scale
        self.gen = torch.Generator().manual_seed(seed)

    def _kernel(self, x, noise=2e-2):
        diff = x[:, :, None, 0] - x[:, None, :, 0]
        k = self.sigma_scale ** 2 * torch.exp(-0.5 * (diff / self.l_scale) ** 2)
        return k + noise ** 2 * torch.eye(x.shape[1])

    def generate(self, num_context=None):
        b = self.batch_size
        if num_context is None:
            num_context = int(torch.randint(3, self.max_context + 1, (1,), generator=self.gen))
        x = torch.rand(b, NUM_POINTS, 1, generator=self.gen) * 4 - 2
        chol = torch.linalg.cholesky(self._kernel(x).double()).float()
        y = chol @ torch.randn(b, NUM_POINTS, 1, generator=self.gen)
        # the points are in random order, so the first num_context are a random context set
        return (x[:, :num_context], y[:, :num_context]), x, y


class CNP(nn.Module):
    def __init__(self, width, bounded_sigma=True, aggregate_over_batch=False):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(2, width), nn.ReLU(),
            nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, width))
        self.decoder = nn.Sequential(
            nn.Linear(width + 1, width), nn.ReLU(),
            nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, 2))
        self.bounded_sigma = bounded_sigma
        self.aggregate_over_batch = aggregate_over_batch

    def forward(self, context_x, context_y, target_x):
        b, c, _ = context_x.shape
        pairs = torch.cat([context_x, context_y], dim=-1).view(b * c, 2)
        h = self.encoder(pairs)                                        # (B * C, width)
        if self.aggregate_over_batch:
            # BUG (mean-over-batch): the flattened representations averaged over dim 0, all the
            # pairs of the batch, instead of per function: every function gets the same r.
            r = h.mean(dim=0).expand(b, -1)
        else:
            r = h.view(b, c, -1).mean(dim=1)                           # (B, width)
        r = r.unsqueeze(1).expand(-1, target_x.shape[1], -1)
        out = self.decoder(torch.cat([r, target_x], dim=-1))
        mu, log_sigma = out[..., :1], out[..., 1:]
        if self.bounded_sigma:
            sigma = 0.1 + 0.9 * nn.functional.softplus(log_sigma)
        else:
            # BUG (sigma-unbounded): the decoder's second output used as the standard deviation
            # as it is, nothing keeps it positive.
            sigma = log_sigma
        return mu, sigma


def gaussian_nll(mu, sigma, y):
    return (0.5 * math.log(2 * math.pi) + torch.log(sigma)
            + 0.5 * ((y - mu) / sigma) ** 2).mean()


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-context", type=int, default=10)
    p.add_argument("--steps-per-epoch", type=int, default=40)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--bug", default=None, choices=("mean-over-batch", "sigma-unbounded"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    model = CNP(args.width, bounded_sigma=args.bug != "sigma-unbounded",
                aggregate_over_batch=args.bug == "mean-over-batch")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    train_data = GPCurvesReader(args.batch_size, args.max_context, seed=args.seed)
    test_data = GPCurvesReader(256, 10, seed=1000 + args.seed)
    (test_cx, test_cy), test_x, test_y = test_data.generate(num_context=10)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="GaussianNLL",
        steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_ll = val_mse = None
    for epoch in range(args.epochs):
        model.train()
        for step in range(args.steps_per_epoch):
            (cx, cy), tx, ty = train_data.generate()
            optimizer.zero_grad()
            mu, sigma = model(cx, cy, tx)
            loss = gaussian_nll(mu, sigma, ty)
            loss.backward()
            optimizer.step()
            val_loss = None
            if step == args.steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    mu_t, sigma_t = model(test_cx, test_cy, test_x)
                    mu_t, sigma_t, y_t = mu_t[:, 10:], sigma_t[:, 10:], test_y[:, 10:]
                    val_loss = gaussian_nll(mu_t, sigma_t, y_t).item()
                    val_ll = -val_loss
                    val_mse = (mu_t - y_t).pow(2).mean().item()
                model.train()
            rec.step(loss, inputs=(torch.cat([cx, cy], -1), tx), targets=ty, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: nll %.4f  held-out log-lik %.4f  mse %.4f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_ll, val_mse))
    rec.close()
    common.report(history.result(val_log_lik=val_ll, val_mse=val_mse))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "cnp-mean-over-batch", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong tensor shape / wrong reduction axis (the "
               "aggregation of a set encoder taken over the flattened batch instead of per "
               "element)",
     "bug": "the encoder's representations of the flattened (B * C) context pairs averaged over "
            "dim 0, every pair of the batch, instead of per function: every function of the "
            "batch gets the same r and the decoder can only learn the prior; the NLL stays at "
            "1.42 (first epoch 1.417, 30th 1.416), the held-out log-likelihood ends at "
            "-1.380 and the held-out MSE at 0.921 (predicting zero: about 1.0), against the "
            "twin's -1.054 and 0.492",
     "fix": "average the representations per function over its context points "
            "(h.view(B, C, -1).mean(dim=1))",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug mean-over-batch --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "cnp-adam-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "Adam at 0.05 (meant 3e-3): the ReLU encoder and decoder fall to predicting the "
            "prior, the NLL goes from 1.47 in the first epoch to 1.42 in the 30th, the "
            "held-out log-likelihood ends at -1.415 and the held-out MSE at 0.991, against the "
            "twin's -1.067 and 0.523",
     "fix": "Adam at 3e-3",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 0.05 --seed 1 --record-every 4",
          "fixed": "--lr 3e-3 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-cnp", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a conditional neural process on GP-prior functions that learns to "
                    "predict from its context",
     "healthy": [
         {"id": "width128-bs32-seed2",
          "args": "--width 128 --batch-size 32 --seed 2 --record-every 4",
          "description": "128 units, batches of 32 functions"},
     ]},
]


if __name__ == "__main__":
    main()
