"""A vanilla GAN on a ring of eight Gaussians, with two Adam optimizers and alternating
discriminator and generator steps in one hand-written loop.

The data are generated here: 8192 points in the plane, drawn from eight Gaussians (standard
deviation 0.1) centred on a circle of radius 2, the classic toy of mode coverage. The
generator (``generator``, an ``nn.Sequential``: 8-dimensional noise, two ``Linear`` layers
of ``--hidden`` units with ReLU, a ``Linear`` to the plane) and the discriminator
(``discriminator``: two ``Linear`` layers with LeakyReLU(0.2) and a ``Linear`` to one logit)
are kept in one ``nn.ModuleDict`` so that both are recorded. ``nn.BCEWithLogitsLoss``; each
batch first updates the discriminator (real points labelled 1, generated ones, detached,
labelled 0) with its Adam, then the generator (its points labelled 1, the non-saturating
loss) with its own Adam, both with betas (0.5, 0.999). The generator's loss is the step's
loss. The step's accuracy is the mode coverage of the batch's generated points: the share of
the eight modes that received at least 5% of them within 0.4 of the mode's centre; the
validation accuracy is the same on 2048 fresh generated points. The mistakes of the families
in CASES are selected with ``--bug`` or show in a setting (``--lr-d``, ``--lr-g``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

NOISE = 8
CENTRES = torch.tensor([[2.0 * math.cos(2 * math.pi * k / 8), 2.0 * math.sin(2 * math.pi * k / 8)]
                        for k in range(8)])


def ring(n, rng):
    k = rng.integers(0, 8, size=n)
    pts = CENTRES.numpy()[k] + 0.1 * rng.standard_normal((n, 2))
    return pts.astype(np.float32)


def coverage(points):
    d = torch.cdist(points, CENTRES)
    near = d < 0.4
    share = near.float().mean(0)
    return (share >= 0.05).float().mean().item()


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr-d", type=float, default=1e-3)
    p.add_argument("--lr-g", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("sigmoid-then-bce-logits", "d-missing-zero-grad", "linear-generator"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    rng = np.random.default_rng(args.seed)
    data = torch.from_numpy(ring(8192, rng))

    h = args.hidden
    g_act = nn.Identity if args.bug == "linear-generator" else nn.ReLU
    # BUG (linear-generator): nn.Identity where the ReLUs belong (a placeholder left in
    # while trying activations): the generator is one linear map of Gaussian noise.
    generator = nn.Sequential(nn.Linear(NOISE, h), g_act(), nn.Linear(h, h), g_act(),
                              nn.Linear(h, 2))
    d_layers = [nn.Linear(2, h), nn.LeakyReLU(0.2), nn.Linear(h, h), nn.LeakyReLU(0.2),
                nn.Linear(h, 1)]
    if args.bug == "sigmoid-then-bce-logits":
        # BUG: a Sigmoid at the end of the discriminator, kept from a version with
        # nn.BCELoss, and nn.BCEWithLogitsLoss applies the sigmoid again.
        d_layers.append(nn.Sigmoid())
    discriminator = nn.Sequential(*d_layers)
    gan = nn.ModuleDict({"generator": generator, "discriminator": discriminator})

    opt_d = torch.optim.Adam(discriminator.parameters(), lr=args.lr_d, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(generator.parameters(), lr=args.lr_g, betas=(0.5, 0.999))
    criterion = nn.BCEWithLogitsLoss()
    steps_per_epoch = len(data) // args.batch_size
    rec = common.recording.torch_recorder(
        gan, args.out, optimizer=[opt_g, opt_d], loss_name="BCEWithLogitsLoss",
        objective="adversarial", steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)

    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(data), generator=g)
        for b in range(steps_per_epoch):
            real = data[perm[b * args.batch_size:(b + 1) * args.batch_size]]
            n = len(real)
            ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)

            # discriminator step
            if args.bug != "d-missing-zero-grad":
                opt_d.zero_grad()
            # BUG (d-missing-zero-grad): opt_d.zero_grad() is missing: the discriminator's
            # gradients of every step, and those the generator's loss leaves in it, add up.
            fake = generator(torch.randn(n, NOISE))
            d_loss = (criterion(discriminator(real), ones)
                      + criterion(discriminator(fake.detach()), zeros))
            d_loss.backward()
            opt_d.step()

            # generator step
            opt_g.zero_grad()
            g_loss = criterion(discriminator(fake), ones)
            g_loss.backward()
            opt_g.step()

            cov = coverage(fake.detach())
            val_cov = None
            if b == steps_per_epoch - 1:
                with torch.no_grad():
                    val_cov = coverage(generator(torch.randn(2048, NOISE)))
            rec.step(g_loss, accuracy=cov, inputs=real, val_accuracy=val_cov)
            history.step(g_loss.item(), cov)
        history.epoch(None, val_cov)
        print("epoch %d: G loss %.4f D loss %.4f coverage %.3f val coverage %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), d_loss.item(),
            np.mean(history.epochs[-1][1]), val_cov))
    rec.close()
    common.report(history.result(
        d_loss=d_loss.item(),
        layers=["generator.0", "generator.2", "generator.4", "discriminator.0",
                "discriminator.2", "discriminator.4"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ganring-sigmoid-into-bce-logits", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss for the output (a Sigmoid at the end of the "
               "discriminator and nn.BCEWithLogitsLoss, which applies the sigmoid again)",
     "bug": "the discriminator ends in nn.Sigmoid and its probabilities go into "
            "BCEWithLogitsLoss as logits: the generator's loss is held between 0.31 and 0.69 "
            "and sits at 0.3133 from the fourth epoch on, the discriminator's at 1.63; the "
            "generated points cover none of the eight modes (coverage 0.00, validation 0.00) "
            "against the twin's 0.73 (validation 1.00)",
     "fix": "no Sigmoid: the discriminator returns its logit",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug sigmoid-then-bce-logits --record-every 8",
          "fixed": "--record-every 8"},
     ]},
    {"family": "ganring-d-missing-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (the discriminator's "
               "gradients accumulate, with those the generator's backward leaves in it)",
     "bug": "opt_d.zero_grad() is missing: the discriminator's .grad sums every step's "
            "gradients and the generator's; the discriminator's loss grows from 10 in the "
            "first epoch to 162 in the eighth, the generator's falls to 0.06 and the coverage "
            "stays at 0.02 (validation 0.00) against the twin's 0.63 (validation 0.88)",
     "fix": "opt_d.zero_grad() before the discriminator's forward",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug d-missing-zero-grad --seed 1 --record-every 8",
          "fixed": "--seed 1 --record-every 8"},
     ]},
    {"family": "ganring-linear-generator", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing activation function (nn.Identity where the "
               "generator's ReLUs belong)",
     "bug": "the generator's activations are nn.Identity: it maps Gaussian noise linearly "
            "and can only produce one Gaussian blob; the discriminator wins (its loss 0.61, "
            "the generator's 2.28 in the eighth epoch) and the coverage ends at 0.125, one "
            "mode of eight (validation 0.125), against the twin's 0.72 (validation 0.88)",
     "fix": "nn.ReLU after the generator's two hidden Linear layers",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug linear-generator --seed 2 --record-every 8",
          "fixed": "--seed 2 --record-every 8"},
     ]},
    {"family": "healthy-ganring", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a vanilla GAN on a ring of eight Gaussians whose samples cover the modes",
     "healthy": [
         {"id": "lrd2e-3-seed5",
          "args": "--lr-d 2e-3 --seed 5 --record-every 8",
          "description": "the discriminator's Adam at 2e-3, the generator's at 1e-3"},
     ]},
]


if __name__ == "__main__":
    main()
