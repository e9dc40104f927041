"""The original WGAN (Arjovsky, Chintala and Bottou 2017) on a ring of eight Gaussians, written
as its reference code (martinarjovsky/WassersteinGAN, main.py) writes it: an MLP generator and
an MLP critic with no sigmoid, ``--n-critic`` critic updates on
``mean(critic(fake)) - mean(critic(real))`` for every generator update, the critic's weights
clamped to [-c, c] after each of its updates, and RMSprop for both players.

The data are generated here: 8192 training points and 2048 held-out points in the plane,
drawn from eight Gaussians (standard deviation 0.05) centred on a circle of radius 2. The
generator (``netG``, an ``nn.Sequential``: 2-dimensional noise, three ``Linear`` layers of
``--hidden`` units with ReLU, a ``Linear`` to the plane) and the critic (``netD``: three
``Linear`` layers of ``--hidden`` units with ReLU and a ``Linear`` to one score) are kept in
one ``nn.ModuleDict`` so that both are recorded. Each generator step first takes
``--n-critic`` batches of real points for the critic (its loss
``mean(netD(fake)) - mean(netD(real))`` on detached generated points, an RMSprop step, then
every critic weight clamped to [-``--clip``, ``--clip``]), then updates the generator on
``-mean(netD(netG(z)))`` with its own RMSprop. The generator's loss is the step's loss; the
critic's Wasserstein estimate ``mean(netD(real)) - mean(netD(fake))`` is printed and reported.
The step's accuracy is the mode coverage of the batch's generated points (the share of the
eight modes that received at least 5% of them within 0.25 of the mode's centre); once per
epoch the validation loss is the generator's loss on 2048 fresh generated points and the
validation accuracy their mode coverage; the share of those points within 0.25 of a mode
("high quality") is reported at the end. The mistakes of the families in CASES are selected
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

NZ = 2
CENTRES = torch.tensor([[2.0 * math.cos(2 * math.pi * k / 8), 2.0 * math.sin(2 * math.pi * k / 8)]
                        for k in range(8)])


def ring(n, rng):
    k = rng.integers(0, 8, size=n)
    pts = CENTRES.numpy()[k] + 0.05 * rng.standard_normal((n, 2))
    return pts.astype(np.float32)


def coverage(points):
    near = torch.cdist(points, CENTRES) < 0.25
    return (near.float().mean(0) >= 0.05).float().mean().item()


def high_quality(points):
    return (torch.cdist(points, CENTRES).min(1).values < 0.25).float().mean().item()


def mlp(inp, hidden, out):
    return nn.Sequential(nn.Linear(inp, hidden), nn.ReLU(True), nn.Linear(hidden, hidden),
                         nn.ReLU(True), nn.Linear(hidden, hidden), nn.ReLU(True),
                         nn.Linear(hidden, out))


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=0.1)
    p.add_argument("--n-critic", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--bug", default=None, choices=("no-clip", "g-loss-sign"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    rng = np.random.default_rng(args.seed)
    data = torch.from_numpy(ring(8192, rng))
    held_out = torch.from_numpy(ring(2048, rng))

    netG = mlp(NZ, args.hidden, 2)
    netD = mlp(2, args.hidden, 1)
    wgan = nn.ModuleDict({"netG": netG, "netD": netD})
    optimizerD = torch.optim.RMSprop(netD.parameters(), lr=args.lr)
    optimizerG = torch.optim.RMSprop(netG.parameters(), lr=args.lr)

    bs = args.batch_size
    steps_per_epoch = len(data) // (bs * args.n_critic)
    rec = common.recording.torch_recorder(
        wgan, args.out, optimizer=[optimizerG, optimizerD], loss_name="wasserstein_g_loss",
        objective="adversarial", steps_per_epoch=steps_per_epoch, batch_size=bs)

    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    gv = torch.Generator().manual_seed(4321)
    z_val = torch.randn(2048, NZ, generator=gv)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(data), generator=g)
        w_est = []
        for b in range(steps_per_epoch):
            # (1) update the critic n_critic times
            for p_ in netD.parameters():
                p_.requires_grad = True
            for i in range(args.n_critic):
                k = b * args.n_critic + i
                real = data[perm[k * bs:(k + 1) * bs]]
                netD.zero_grad()
                errD_real = netD(real).mean()
                with torch.no_grad():
                    fake = netG(torch.randn(bs, NZ, generator=g))
                errD_fake = netD(fake).mean()
                errD = errD_fake - errD_real
                errD.backward()
                optimizerD.step()
                if args.bug != "no-clip":
                    for p_ in netD.parameters():
                        p_.data.clamp_(-args.clip, args.clip)
                # BUG (no-clip): the clamp above left out: nothing holds the critic to a
                # Lipschitz bound.
            w_est.append(-errD.item())

            # (2) update the generator
            for p_ in netD.parameters():
                p_.requires_grad = False
            netG.zero_grad()
            fake = netG(torch.randn(bs, NZ, generator=g))
            if args.bug == "g-loss-sign":
                # BUG (g-loss-sign): the generator minimizes the critic's score of its points
                # (the sign of the reference's errG = -netD(fake) turned around).
                errG = netD(fake).mean()
            else:
                errG = -netD(fake).mean()
            errG.backward()
            optimizerG.step()

            cov = coverage(fake.detach())
            val_loss = val_cov = None
            if b == steps_per_epoch - 1:
                with torch.no_grad():
                    fake_val = netG(z_val)
                    val_loss = -netD(fake_val).mean().item()
                val_cov = coverage(fake_val)
            rec.step(errG, accuracy=cov, inputs=real, val_loss=val_loss, val_accuracy=val_cov)
            history.step(errG.item(), cov)
        history.epoch(val_loss, val_cov)
        print("epoch %d: G loss %.4f W estimate %.4f coverage %.3f val coverage %.3f "
              "high quality %.3f" % (
                  epoch + 1, np.mean(history.epochs[-1][0]), np.mean(w_est),
                  np.mean(history.epochs[-1][1]), val_cov, high_quality(fake_val)))
    rec.close()
    with torch.no_grad():
        w_held = (netD(held_out).mean() - netD(netG(z_val)).mean()).item()
    common.report(history.result(
        w_estimate=float(np.mean(w_est)), w_held_out=w_held,
        high_quality=high_quality(fake_val),
        layers=["netG.0", "netG.2", "netG.4", "netG.6", "netD.0", "netD.2", "netD.4",
                "netD.6"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "wganclip-no-clip", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing regularization (the WGAN critic's weight "
               "clipping left out, so nothing bounds its Lipschitz constant; Arjovsky et al. "
               "2017, a frequent question on WassersteinGAN and Stack Overflow)",
     "bug": "the clamp of the critic's weights after each of its updates is missing: the "
            "critic's scores grow without bound, the generator's loss from 551 in the first "
            "epoch to 2.6e6 in the 60th (validation 2.7e6) and the critic's Wasserstein "
            "estimate to 111163; the generated points reach 0.625 of the eight modes "
            "(validation coverage) with 56% of them near a mode, against the twin's loss "
            "from -0.37 to 2.41, validation coverage 1.00 with 76% near a mode and an "
            "estimate of 0.025",
     "fix": "every critic weight clamped to [-0.1, 0.1] after each critic update",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop-seed0",
          "buggy": "--bug no-clip --record-every 16",
          "fixed": "--record-every 16"},
     ]},
    {"family": "wganclip-g-loss-sign", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (the generator's Wasserstein loss "
               "with its sign turned around)",
     "bug": "the generator minimizes mean(critic(fake)) instead of -mean(critic(fake)): it "
            "moves its points to where the critic scores them lowest, away from the data, "
            "and the critic's scores grow without bound (the generator's loss from -2.3e4 in "
            "the first epoch to -2.6e9 in the 60th, the estimate 2.6e9); no generated point "
            "lies near a mode (validation coverage 0.00, 0% near a mode) against the twin's "
            "loss from 0.25 to 3.68, validation coverage 1.00 with 72% near a mode",
     "fix": "errG = -netD(fake).mean()",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop-seed1",
          "buggy": "--bug g-loss-sign --seed 1 --record-every 16",
          "fixed": "--seed 1 --record-every 16"},
     ]},
    {"family": "healthy-wganclip", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a weight-clipped WGAN on a ring of eight Gaussians whose samples come to "
                    "cover the modes",
     "healthy": [
         {"id": "ncritic3-seed3",
          "args": "--n-critic 3 --seed 3 --record-every 24",
          "description": "three critic updates a generator update, RMSprop 2e-3, clip 0.1: "
                         "validation coverage 0.875, 72% near a mode"},
     ]},
]


if __name__ == "__main__":
    main()
