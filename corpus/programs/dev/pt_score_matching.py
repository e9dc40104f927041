"""Denoising score matching with a noise-conditional score network (Vincent 2011; Song & Ermon
2019, NCSN) in PyTorch, small, as the NCSN tutorials write it for 2-D toy data, sampled at the
end by annealed Langevin dynamics.

The data are generated here: a mixture of 8 Gaussians (std 0.1) whose means lie evenly on a
circle of radius 2, 4096 training points and 1024 held-out points (another seed). The noise
levels are a geometric ladder of ``--levels`` sigmas from ``--sigma-max`` (2.0) down to
``--sigma-min`` (0.05), as ``np.exp(np.linspace(log(sigma_max), log(sigma_min), L))``.

``ScoreNet`` is the tutorials' noise-conditional MLP: ``net.0`` Linear(3, ``--width``),
Softplus, ``net.2`` Linear, Softplus, ``net.4`` Linear(``--width``, 2) over the point and its
noise level (the concatenation [x, sigma]) giving the score, the gradient of the log-density of
the noised data. The loss (``dsm_loss``, as ``anneal_dsm_score_estimation`` of the NCSN
repository): for every point of a batch a level is drawn uniformly from the ladder and its own
Gaussian noise, ``x_noisy = x + sigma * z``; the target score is ``-(x_noisy - x) / sigma^2``;
the loss is ``0.5 * ((score - target)^2).sum(-1) * sigma^2`` averaged over the batch (the
sigma^2 weighting makes every level's term of the same size). Adam (``--lr``), minibatches of
``--batch-size`` points shuffled each epoch (32 steps an epoch with 128), 60 epochs. After every epoch the
same loss on the held-out points (a fixed noise draw) is the validation loss. At the end 512
samples are drawn by annealed Langevin dynamics (Song & Ermon's Algorithm 1: from uniform noise
in [-4, 4]^2, ``--langevin-steps`` steps per level of size ``eps * sigma_i^2 / sigma_L^2`` (``--eps`` 3e-3),
``x += step / 2 * score + sqrt(step) * z``) and the result line adds ``sample_dist``, the mean
distance of a sample to its nearest held-out point (NaN when samples run off to infinity),
and ``coverage_dist``, the mean distance of a held-out point to
its nearest sample (mode coverage), and ``val_dsm``. The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


def eight_gaussians(n, seed, radius=2.0, std=0.1):
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 8, size=n)
    angle = 2 * np.pi * k / 8
    centres = radius * np.stack([np.cos(angle), np.sin(angle)], 1)
    return torch.tensor(centres + std * rng.standard_normal((n, 2)), dtype=torch.float32)


class ScoreNet(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(3, width), nn.Softplus(),
            nn.Linear(width, width), nn.Softplus(),
            nn.Linear(width, 2))

    def forward(self, x, sigma, bug=None):
        if bug == "sigma-not-conditioned":
            # BUG (sigma-not-conditioned): the noise level not given to the network (a constant
            # in its place), so one field has to serve every level of the ladder.
            return self.net(torch.cat([x, torch.ones_like(sigma)], dim=1)) / sigma
        return self.net(torch.cat([x, sigma], dim=1)) / sigma


def dsm_loss(model, x, sigmas, gen, bug=None):
    labels = torch.randint(0, len(sigmas), (len(x),), generator=gen)
    sigma = sigmas[labels].view(-1, 1)
    x_noisy = x + sigma * torch.randn(x.shape, generator=gen)
    if bug == "target-sign-flipped":
        # BUG (target-sign-flipped): the target written +(x_noisy - x) / sigma^2, the negative
        # of the score of the noised data (it points away from the data).
        target = (x_noisy - x) / sigma ** 2
    else:
        target = -(x_noisy - x) / sigma ** 2
    score = model(x_noisy, sigma, bug=bug)
    if bug == "no-sigma2-weighting":
        # BUG (no-sigma2-weighting): the lambda(sigma) = sigma^2 weighting dropped: the
        # smallest levels' terms (targets of size 1 / sigma) dominate the loss.
        return (0.5 * ((score - target) ** 2).sum(dim=-1)).mean()
    return (0.5 * ((score - target) ** 2).sum(dim=-1) * sigma.squeeze(1) ** 2).mean()


@torch.no_grad()
def annealed_langevin(model, sigmas, n, steps, eps, gen, bug=None):
    x = torch.rand((n, 2), generator=gen) * 8 - 4
    for sigma in sigmas:
        step = eps * (sigma / sigmas[-1]) ** 2
        s = torch.full((n, 1), float(sigma))
        for _ in range(steps):
            z = torch.randn(x.shape, generator=gen)
            x = x + 0.5 * step * model(x, s, bug=bug) + torch.sqrt(step) * z
    return x


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--levels", type=int, default=10)
    p.add_argument("--sigma-max", type=float, default=2.0)
    p.add_argument("--sigma-min", type=float, default=0.05)
    p.add_argument("--langevin-steps", type=int, default=100)
    p.add_argument("--eps", type=float, default=3e-3)
    p.add_argument("--bug", default=None, choices=(
        "target-sign-flipped", "no-sigma2-weighting", "sigma-not-conditioned"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x = eight_gaussians(4096, seed=args.seed)
    test_x = eight_gaussians(1024, seed=1000 + args.seed)
    sigmas = torch.tensor(np.exp(np.linspace(np.log(args.sigma_max), np.log(args.sigma_min),
                                             args.levels)), dtype=torch.float32)

    model = ScoreNet(args.width)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(x) + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="MSELoss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_dsm = None
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x), generator=gen)
        for b in range(steps_per_epoch):
            xb = x[perm[b * args.batch_size:(b + 1) * args.batch_size]]
            optimizer.zero_grad()
            loss = dsm_loss(model, xb, sigmas, gen, bug=args.bug)
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                with torch.no_grad():
                    val_dsm = dsm_loss(model, test_x, sigmas,
                                       torch.Generator().manual_seed(7), bug=args.bug).item()
                val_loss = val_dsm
            rec.step(loss, inputs=xb, targets=xb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: train dsm %.4f  held-out dsm %.4f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_dsm))
    rec.close()

    samples = annealed_langevin(model, sigmas, 512, args.langevin_steps, args.eps,
                                torch.Generator().manual_seed(2000 + args.seed), bug=args.bug)
    d = torch.cdist(samples, test_x)
    sample_dist = d.min(dim=1).values.mean().item()
    coverage_dist = d.min(dim=0).values.mean().item()
    if not np.isfinite(sample_dist):
        sample_dist = coverage_dist = float("nan")
    print("annealed Langevin samples: mean distance to the data %.4f, coverage %.4f" % (
        sample_dist, coverage_dist))
    common.report(history.result(val_dsm=val_dsm, sample_dist=sample_dist,
                                 coverage_dist=coverage_dist))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "dsm-target-sign-flipped", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong target (the denoising score matching target "
               "written +(x_noisy - x) / sigma^2, the sign of the score flipped)",
     "bug": "target = +(x_noisy - x) / sigma ** 2: the network learns the negative of the score, which fits exactly as well (the DSM loss falls as the twin's, 0.943 in the first epoch, 0.748 in the 60th, held-out 0.782 against 0.936, 0.747 and 0.780), but annealed Langevin dynamics then pushes the samples away from the data: they run off to infinity and the sample distance is NaN, against the twin's mean distance to the held-out data of 0.256 (coverage 0.090)",
     "fix": "target = -(x_noisy - x) / sigma ** 2",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug target-sign-flipped --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "dsm-no-sigma2-weighting", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (the lambda(sigma) = sigma^2 "
               "weighting of the noise-conditional score matching loss dropped)",
     "bug": "the loss 0.5 * ||score - target||^2 without the sigma^2 weighting: the smallest levels' terms (targets of size 1 / sigma, irreducible noise up to 1 / sigma^2 = 400) swamp the loss, which stays at 75.4 in the first epoch and 72.5 in the 60th (held-out 82.9), and the large-sigma levels that carry the samples between the modes are barely fitted: the annealed Langevin samples end at a mean distance of 6.13 from the held-out data (coverage 0.260) against the twin's 0.249 (coverage 0.087; loss 0.903 to 0.742, held-out 0.761)",
     "fix": "weight every point's term by sigma ** 2",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug no-sigma2-weighting --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-dsm", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a noise-conditional score network trained by denoising score matching "
                    "whose annealed Langevin samples land on the eight modes",
     "healthy": [
         {"id": "width256-seed2",
          "args": "--width 256 --seed 2 --record-every 4",
          "description": "256 units per hidden layer"},
     ]},
]


if __name__ == "__main__":
    main()
