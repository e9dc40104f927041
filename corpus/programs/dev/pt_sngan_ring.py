"""A GAN with spectral normalization (Miyato, Kataoka, Koyama and Yoshida, "Spectral
Normalization for Generative Adversarial Networks", ICLR 2018) on a ring of eight Gaussians,
written as the public PyTorch re-implementations write it: every layer of the discriminator
wrapped in ``torch.nn.utils.parametrizations.spectral_norm`` (one power iteration a forward
pass), the hinge loss for both players (the discriminator minimizes
``relu(1 - D(real)).mean() + relu(1 + D(fake)).mean()``, the generator ``-D(fake).mean()``),
Adam with betas (0.5, 0.9) for both, ``--n-dis`` discriminator updates for every generator
update.

The data are generated here: 8192 training points in the plane from eight Gaussians (standard
deviation 0.05) centred on a circle of radius 2. The generator (``G``, an ``nn.Sequential``:
2-dimensional noise, three ``Linear`` layers of ``--hidden`` units with ReLU, a ``Linear`` to
the plane) and the discriminator (``D``: three spectrally normalized ``Linear`` layers of
``--hidden`` units with LeakyReLU(0.1) and a spectrally normalized ``Linear`` to one score)
are kept in one ``nn.ModuleDict`` so that both are recorded. The generator's hinge loss is the
step's loss (``objective="adversarial"``); the discriminator's is printed and reported. The
step's accuracy is the mode coverage of the batch's generated points (the share of the eight
modes that received at least 5% of them within 3 standard deviations, 0.15, of the mode's
centre); once per epoch the validation loss is the generator's loss on 2048 fresh generated
points (a fixed noise batch) and the validation accuracy their mode coverage; the share of
those points within 3 standard deviations of a mode (``high_quality``) is reported at the end.
The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``, ``--no-sn``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils.parametrizations import spectral_norm  # noqa: E402

np = common.np

NZ = 2
STD = 0.05
CENTRES = torch.tensor([[2.0 * math.cos(2 * math.pi * k / 8), 2.0 * math.sin(2 * math.pi * k / 8)]
                        for k in range(8)])


def ring(n, rng):
    k = rng.integers(0, 8, size=n)
    pts = CENTRES.numpy()[k] + STD * rng.standard_normal((n, 2))
    return pts.astype(np.float32)


def coverage(points):
    near = torch.cdist(points, CENTRES) < 3 * STD
    return (near.float().mean(0) >= 0.05).float().mean().item()


def high_quality(points):
    return (torch.cdist(points, CENTRES).min(1).values < 3 * STD).float().mean().item()


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--beta1", type=float, default=0.5)
    p.add_argument("--n-dis", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--no-sn", action="store_true",
                   help="leave spectral normalization off every layer of D")
    p.add_argument("--bug", default=None,
                   choices=("hinge-fake-sign", "g-uses-d-loss", "g-missing-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    rng = np.random.default_rng(args.seed)
    data = torch.from_numpy(ring(8192, rng))

    h = args.hidden
    sn = (lambda m: m) if args.no_sn else spectral_norm
    G = nn.Sequential(nn.Linear(NZ, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                      nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 2))
    D = nn.Sequential(sn(nn.Linear(2, h)), nn.LeakyReLU(0.1), sn(nn.Linear(h, h)),
                      nn.LeakyReLU(0.1), sn(nn.Linear(h, h)), nn.LeakyReLU(0.1),
                      sn(nn.Linear(h, 1)))
    gan = nn.ModuleDict({"G": G, "D": D})
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(args.beta1, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr, betas=(args.beta1, 0.9))

    bs = args.batch_size
    steps_per_epoch = len(data) // (bs * args.n_dis)
    rec = common.recording.torch_recorder(
        gan, args.out, optimizer=[opt_g, opt_d], loss_name="hinge_g_loss",
        objective="adversarial", steps_per_epoch=steps_per_epoch, batch_size=bs)

    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    z_val = torch.randn(2048, NZ, generator=torch.Generator().manual_seed(4321))
    for epoch in range(args.epochs):
        perm = torch.randperm(len(data), generator=g)
        d_losses = []
        for b in range(steps_per_epoch):
            # (1) n_dis discriminator updates
            for i in range(args.n_dis):
                k = b * args.n_dis + i
                real = data[perm[k * bs:(k + 1) * bs]]
                opt_d.zero_grad()
                fake = G(torch.randn(bs, NZ, generator=g)).detach()
                if args.bug == "hinge-fake-sign":
                    # BUG (hinge-fake-sign): relu(1 - D(fake)) where relu(1 + D(fake))
                    # belongs: the discriminator pushes the fake scores up like the real ones.
                    d_loss = F.relu(1.0 - D(real)).mean() + F.relu(1.0 - D(fake)).mean()
                else:
                    d_loss = F.relu(1.0 - D(real)).mean() + F.relu(1.0 + D(fake)).mean()
                d_loss.backward()
                opt_d.step()
                d_losses.append(d_loss.item())

            # (2) one generator update
            if args.bug != "g-missing-zero-grad":
                opt_g.zero_grad()
            # BUG (g-missing-zero-grad): opt_g.zero_grad() left out: the generator's
            # gradients of every step add up.
            fake = G(torch.randn(bs, NZ, generator=g))
            if args.bug == "g-uses-d-loss":
                # BUG (g-uses-d-loss): the generator is stepped on the discriminator's loss
                # (copied from the block above), so it lowers D's score of its own points.
                g_loss = F.relu(1.0 - D(real)).mean() + F.relu(1.0 + D(fake)).mean()
            else:
                g_loss = -D(fake).mean()
            g_loss.backward()
            opt_g.step()

            cov = coverage(fake.detach())
            val_loss = val_cov = None
            if b == steps_per_epoch - 1:
                with torch.no_grad():
                    fake_val = G(z_val)
                    val_loss = -D(fake_val).mean().item()
                val_cov = coverage(fake_val)
            rec.step(g_loss, accuracy=cov, inputs=real, val_loss=val_loss, val_accuracy=val_cov)
            history.step(g_loss.item(), cov)
        history.epoch(val_loss, val_cov)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: G loss %.4f D loss %.4f coverage %.3f val coverage %.3f "
                  "high quality %.3f" % (
                      epoch + 1, np.mean(history.epochs[-1][0]), np.mean(d_losses),
                      np.mean(history.epochs[-1][1]), val_cov, high_quality(fake_val)))
    rec.close()
    common.report(history.result(
        d_loss=float(np.mean(d_losses)), high_quality=high_quality(fake_val),
        layers=["G.0", "G.2", "G.4", "G.6", "D.0", "D.2", "D.4", "D.6"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "snganring-hinge-fake-sign", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (the discriminator's hinge loss "
               "with the sign of its fake term turned around)",
     "bug": "the discriminator minimizes relu(1 - D(fake)) instead of relu(1 + D(fake)): it "
            "pushes the scores of generated points up like the real ones, its loss falls to "
            "0 and the generator chases ever higher scores away from the data: the "
            "generator's loss goes from -9.2 in the first epoch to -3.3e7 in the 60th "
            "(validation -3.4e7); no generated point lies near a mode (validation coverage "
            "0.00, 0% within 3 std) against the twin's loss from 0.015 to -0.61, validation "
            "coverage 0.875 with 70% within 3 std",
     "fix": "d_loss = relu(1 - D(real)).mean() + relu(1 + D(fake)).mean()",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug hinge-fake-sign --record-every 16",
          "fixed": "--record-every 16"},
     ]},
    {"family": "snganring-g-uses-d-loss", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (the generator stepped on the "
               "discriminator's hinge loss, a line copied from the discriminator's update)",
     "bug": "the generator's loss is relu(1 - D(real)).mean() + relu(1 + D(fake)).mean(), "
            "the discriminator's: it lowers D's score of its own points and flees the data; "
            "the step loss goes from 0.35 in the first epoch to 0.00 in the 60th and no "
            "generated point lies near a mode (validation coverage 0.00, 0% within 3 std) "
            "against the twin's validation coverage 0.75 with 61% within 3 std",
     "fix": "g_loss = -D(fake).mean()",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug g-uses-d-loss --seed 1 --record-every 16",
          "fixed": "--seed 1 --record-every 16"},
     ]},
    {"family": "healthy-snganring", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a spectrally normalized hinge GAN on a ring of eight Gaussians whose "
                    "samples come to cover the modes",
     "healthy": [
         {"id": "beta0-seed2",
          "args": "--beta1 0.0 --seed 2 --record-every 16",
          "description": "Adam with betas (0.0, 0.9) as the SNGAN paper's setting: validation "
                         "coverage 0.875, 73% within 3 std"},
     ]},
]


if __name__ == "__main__":
    main()
