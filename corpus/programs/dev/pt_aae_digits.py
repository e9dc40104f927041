"""An adversarial autoencoder (AAE, Makhzani et al. 2015) on scikit-learn's 8x8 digits in
PyTorch, written as its PyTorch repositories write it (Felipe Ducau's ``AAE_pytorch``
``Q_net``/``P_net``/``D_net_gauss`` with three training phases per batch).

The pixels are scaled to [0, 1] (divided by 16); 20% of the images are held out (stratified).
The encoder ``Q`` (``encoder.0`` 64-``--hidden``, ReLU, ``encoder.2`` ``--hidden``-``--hidden``,
ReLU, ``encoder.4`` to ``--latent`` units, no activation) gives the code, the decoder ``P``
(``decoder.0``, ``decoder.2``, ``decoder.4``, ReLU, then ``torch.sigmoid``) the image back,
and the discriminator ``D`` (``discriminator.0``, ``discriminator.2``, ``discriminator.4``,
ReLU, then ``torch.sigmoid``) tells codes drawn from the Gaussian prior
(``torch.randn * --prior-std``) from encoded ones. Every batch runs the three phases of the
paper: (1) reconstruction: encoder and decoder minimize the binary cross-entropy of the
reconstruction, written out with ``TINY`` as the repositories write it, under their own Adam
(``opt_ae``, ``--lr``); (2) regularization, discriminator: ``D`` minimizes
``-mean(log D(z_real) + log(1 - D(z_fake)))`` under ``opt_d`` (``--lr-reg``); (3)
regularization, generator: the encoder minimizes ``-mean(log D(Q(x)))`` under ``opt_g``
(``--lr-reg``), so that its codes come to look like prior samples. Batches of
``--batch-size`` (100: 14 steps an epoch), ``--epochs`` epochs.

The recorded loss is the reconstruction loss (phase 1); after every epoch the held-out
reconstruction BCE is the validation loss. The result line adds ``val_prior_mmd``, the squared
maximum mean discrepancy (Gaussian kernels of widths 0.5, 1 and 2 times the prior's standard
deviation) between the held-out images' codes and as many prior samples (the point of the
regularization phases: near 0 when the codes follow the prior), ``code_mean`` and ``code_std``
(the codes' mean and standard deviation over all units), and ``sample_nn_mse``, the mean
squared distance of 500 images decoded from prior samples to their nearest held-out image
(how digit-like the generated images are). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

TINY = 1e-15


class AAE(nn.Module):
    def __init__(self, hidden, latent):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 64))
        self.discriminator = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 1))

    def decode(self, z, bug=None):
        if bug == "recon-no-sigmoid":
            # BUG (recon-no-sigmoid): the decoder's raw outputs go into the written-out
            # binary cross-entropy; the torch.sigmoid of P_net's last line is missing.
            return self.decoder(z)
        return torch.sigmoid(self.decoder(z))

    def discriminate(self, z):
        return torch.sigmoid(self.discriminator(z))


def bce(x_rec, x):
    return -torch.mean(x * torch.log(x_rec + TINY) + (1 - x) * torch.log(1 - x_rec + TINY))


def mmd(a, b, scale):
    def k(u, v):
        d = torch.cdist(u, v) ** 2
        return sum(torch.exp(-d / (2 * (w * scale) ** 2)) for w in (0.5, 1.0, 2.0))
    return (k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()).item()


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--latent", type=int, default=4)
    p.add_argument("--prior-std", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-reg", type=float, default=3e-4)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--bug", default=None,
                   choices=("d-labels-swapped", "gen-detach", "recon-no-sigmoid"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x = (x / 16.0).astype(np.float32)
    x_tr, x_val, _, _ = common.split(x, y, seed=args.seed)
    x_tr, x_val = torch.from_numpy(x_tr), torch.from_numpy(x_val)

    model = AAE(args.hidden, args.latent)
    opt_ae = torch.optim.Adam(list(model.encoder.parameters())
                              + list(model.decoder.parameters()), lr=args.lr)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=args.lr_reg)
    opt_g = torch.optim.Adam(model.encoder.parameters(), lr=args.lr_reg)
    steps_per_epoch = len(x_tr) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=[opt_ae, opt_d, opt_g], task="regression",
        loss_name="BCELoss", steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    gen = torch.Generator().manual_seed(args.seed)
    val_loss = None
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_tr), generator=gen)
        d_losses, g_losses = [], []
        for b in range(steps_per_epoch):
            xb = x_tr[perm[b * args.batch_size:(b + 1) * args.batch_size]]

            # (1) reconstruction phase
            opt_ae.zero_grad()
            z = model.encoder(xb)
            x_rec = model.decode(z, args.bug)
            recon_loss = bce(x_rec, xb)
            recon_loss.backward()
            opt_ae.step()

            # (2) regularization phase: the discriminator
            opt_d.zero_grad()
            z_real = torch.randn(len(xb), args.latent, generator=gen) * args.prior_std
            z_fake = model.encoder(xb).detach()
            d_real, d_fake = model.discriminate(z_real), model.discriminate(z_fake)
            if args.bug == "d-labels-swapped":
                # BUG (d-labels-swapped): the prior's samples scored as fake and the
                # encoder's codes as real.
                d_loss = -torch.mean(torch.log(d_fake + TINY) + torch.log(1 - d_real + TINY))
            else:
                d_loss = -torch.mean(torch.log(d_real + TINY) + torch.log(1 - d_fake + TINY))
            d_loss.backward()
            opt_d.step()

            # (3) regularization phase: the encoder as the generator
            opt_g.zero_grad()
            z_fake = model.encoder(xb)
            if args.bug == "gen-detach":
                # BUG (gen-detach): the codes detached as in the discriminator's phase, so
                # the generator loss never reaches the encoder.
                z_fake = z_fake.detach()
            g_loss = -torch.mean(torch.log(model.discriminate(z_fake) + TINY))
            g_loss.backward()
            opt_g.step()

            val_loss = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = bce(model.decode(model.encoder(x_val), args.bug), x_val).item()
                model.train()
            rec.step(recon_loss, inputs=xb, targets=xb, val_loss=val_loss)
            history.step(recon_loss.item())
            d_losses.append(d_loss.item())
            g_losses.append(g_loss.item())
        history.epoch(val_loss)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: recon %.4f D %.4f G %.4f val recon %.4f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), np.mean(d_losses),
                np.mean(g_losses), val_loss))
    rec.close()

    model.eval()
    with torch.no_grad():
        codes = model.encoder(x_val)
        prior = torch.randn(len(x_val), args.latent, generator=gen) * args.prior_std
        prior_mmd = mmd(codes, prior, args.prior_std)
        samples = model.decode(torch.randn(500, args.latent, generator=gen) * args.prior_std,
                               args.bug)
        nn_mse = (torch.cdist(samples, x_val) ** 2).min(1).values.mean().item() / 64
    print("codes mean %.3f std %.3f, prior MMD %.4f, samples' nearest-image MSE %.4f" % (
        codes.mean().item(), codes.std().item(), prior_mmd, nn_mse))
    common.report(history.result(val_prior_mmd=prior_mmd, code_mean=codes.mean().item(),
                                 code_std=codes.std().item(), sample_nn_mse=nn_mse))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "aae-gen-detach", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong training loop (a detach() copied from the "
               "discriminator's phase into the generator's phase of an adversarial autoencoder)",
     "bug": "the encoder's codes are detached in the generator phase: the generator loss never "
            "reaches the encoder, the discriminator wins (its loss 0.045, the generator's 9.3 in "
            "the last epoch) and the codes never learn the prior (mean 2.56, std 2.92): the "
            "held-out prior MMD ends at 0.615 and the decoded prior samples' nearest-image MSE "
            "at 0.0407, against the twin's 0.084 and 0.0274 (reconstruction BCE 0.303 against "
            "0.298)",
     "fix": "z_fake = model.encoder(xb) without detach() in the generator phase",
     "symptom": "not_learning", "acceptable_symptoms": ["unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug gen-detach --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "aae-d-labels-swapped", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong labels (the discriminator's real and fake "
               "targets swapped)",
     "bug": "the discriminator scores the prior's samples as fake and the encoder's codes as "
            "real, and the generator phase pushes the codes where the discriminator calls them "
            "real, away from the prior (codes mean 2.45, std 10.8): the held-out prior MMD ends "
            "at 0.629 and the decoded prior samples' nearest-image MSE at 0.0568, against the "
            "twin's 0.127 and 0.0280 (reconstruction BCE 0.312 against 0.296)",
     "fix": "-mean(log D(z_real) + log(1 - D(z_fake))) for the discriminator",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug d-labels-swapped --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "aae-recon-no-sigmoid", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong loss for the output (a written-out binary "
               "cross-entropy on the decoder's raw outputs, its sigmoid missing)",
     "bug": "the written-out BCE takes the log of raw outputs, negative ones give NaN: the "
            "reconstruction loss is NaN from the first epoch on, the codes end at a mean of "
            "-497 and the decoded prior samples' nearest-image MSE at 1197, against the twin's "
            "reconstruction BCE of 0.314 (first epoch 0.660), prior MMD of 0.330 and 0.0314 "
            "(20 epochs, so that the trace of every step recorded in full stays small)",
     "fix": "torch.sigmoid on the decoder's output before the BCE",
     "symptom": "numerical_error", "acceptable_symptoms": ["loss_mismatch", "missing_activation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed3-epochs20",
          "buggy": "--bug recon-no-sigmoid --seed 3 --epochs 20 --record-every 4",
          "fixed": "--seed 3 --epochs 20 --record-every 4"},
     ]},
    {"family": "healthy-aae", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "an adversarial autoencoder on the digits whose codes follow the Gaussian "
                    "prior",
     "healthy": [
         {"id": "latent8-hidden256-seed2",
          "args": "--latent 8 --hidden 256 --seed 2 --record-every 4",
          "description": "8 latent units, 256 hidden units"},
     ]},
]


if __name__ == "__main__":
    main()
