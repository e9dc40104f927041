"""A beta-VAE (Higgins et al. 2017) with the capacity-annealed objective of Burgess et al. 2018
("Understanding disentangling in beta-VAE") in PyTorch, on a dSprites-like data set the program
draws, written as the public re-implementation 1Konny/Beta-VAE (``solver.py``, ``model.py``)
writes it.

The data: 16x16 binary images of one white shape on black, drawn from four latent factors as
dSprites does: the shape (square, ellipse, triangle), the scale (4 values), the position x and
the position y (8 values each); 2400 images train and 600 others (another seed) are held out.
``BetaVAE`` has a conv encoder (``enc1`` 1->16 and ``enc2`` 16->32, 4x4 kernels of stride 2,
ReLU, then ``enc_fc`` 512->128, ReLU) ending in ``enc_out`` (128 -> 2 x ``--z-dim``: the mean
and the log-variance, 5 latents), the reparameterization ``mu + exp(logvar / 2) * eps``, and a
deconv decoder (``dec_fc`` z->128, ``dec_fc2`` 128->512, ``dec1`` 32->16 and ``dec2`` 16->1
transposed convolutions) giving Bernoulli logits. The reconstruction loss is
``binary_cross_entropy_with_logits`` summed over the pixels and divided by the batch size (the
repository's ``reconstruction_loss``), the KL divergence to the unit Gaussian is summed over
the latents and averaged over the batch (``kl_divergence``). ``--objective B`` (Burgess et al.):
``recon + gamma * |KL - C|`` with the capacity ``C`` raised linearly from 0 to ``--c-max``
over ``--c-stop`` iterations; ``--objective H`` (Higgins et al.): ``recon + beta * KL``. Adam
(``--lr``, betas 0.9/0.999), minibatches of ``--batch-size``. After every epoch the validation
loss (the training objective on the held-out images, the mean latents decoded) is passed to
the recorder; at the end the result line adds the validation reconstruction loss (per image),
the KL, and ``factor_r2``, a disentanglement proxy: the mean over the four factors of the R^2
of a linear regression from the mean latents to the true factor (fit on the training images,
scored on the held-out ones). The mistakes of the families in CASES are selected with ``--bug``
or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np

SIZE = 16


def draw_sprites(n, seed):
    """Binary 16x16 images of one shape and their factors (shape, scale, pos x, pos y)."""
    rng = np.random.default_rng(seed)
    shape = rng.integers(0, 3, n)
    scale = rng.integers(0, 4, n)
    px = rng.integers(0, 8, n)
    py = rng.integers(0, 8, n)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    images = np.zeros((n, 1, SIZE, SIZE), np.float32)
    for i in range(n):
        r = 2.0 + 0.75 * scale[i]                      # half-size 2.0 .. 4.25 pixels
        cx = r + (SIZE - 2 * r) * px[i] / 7.0
        cy = r + (SIZE - 2 * r) * py[i] / 7.0
        dx, dy = xx - cx, yy - cy
        if shape[i] == 0:      # square
            img = (np.abs(dx) <= r) & (np.abs(dy) <= r)
        elif shape[i] == 1:    # ellipse, wider than high
            img = (dx / r) ** 2 + (dy / (0.6 * r)) ** 2 <= 1.0
        else:                  # triangle pointing up
            img = (dy <= r) & (dy >= -r) & (np.abs(dx) <= (dy + r) / 2.0)
        images[i, 0] = img
    factors = np.stack([shape, scale, px, py], 1).astype(np.float32)
    return images, factors


class BetaVAE(nn.Module):
    def __init__(self, z_dim=5, sigmoid_output=False):
        super().__init__()
        self.z_dim = z_dim
        self.enc1 = nn.Conv2d(1, 16, 4, 2, 1)            # 16 -> 8
        self.enc2 = nn.Conv2d(16, 32, 4, 2, 1)           # 8 -> 4
        self.enc_fc = nn.Linear(32 * 4 * 4, 128)
        self.enc_out = nn.Linear(128, 2 * z_dim)
        self.dec_fc = nn.Linear(z_dim, 128)
        self.dec_fc2 = nn.Linear(128, 32 * 4 * 4)
        self.dec1 = nn.ConvTranspose2d(32, 16, 4, 2, 1)  # 4 -> 8
        self.dec2 = nn.ConvTranspose2d(16, 1, 4, 2, 1)   # 8 -> 16
        self.sigmoid_output = sigmoid_output
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def encode(self, x):
        h = F.relu(self.enc1(x))
        h = F.relu(self.enc2(h))
        h = F.relu(self.enc_fc(h.flatten(1)))
        dist = self.enc_out(h)
        return dist[:, :self.z_dim], dist[:, self.z_dim:]

    def decode(self, z):
        h = F.relu(self.dec_fc(z))
        h = F.relu(self.dec_fc2(h)).view(-1, 32, 4, 4)
        h = F.relu(self.dec1(h))
        logits = self.dec2(h)
        if self.sigmoid_output:
            # BUG (sigmoid-before-bce-logits): the decoder ends in a sigmoid and its output is
            # then given to binary_cross_entropy_with_logits, which applies a second one.
            return torch.sigmoid(logits)
        return logits

    def forward(self, x, sample=True, bug=None):
        mu, logvar = self.encode(x)
        if sample:
            z = reparametrize(mu, logvar, bug)
        else:
            z = mu
        return self.decode(z), mu, logvar


def reparametrize(mu, logvar, bug=None):
    if bug == "logvar-as-std":
        # BUG (logvar-as-std): the log-variance used as the standard deviation.
        std = logvar
    else:
        std = logvar.div(2).exp()
    eps = torch.randn_like(std)
    return mu + std * eps


def reconstruction_loss(x, x_recon, bug=None):
    batch_size = x.size(0)
    if bug == "recon-mean-kl-sum":
        # BUG (recon-mean-kl-sum): the reconstruction averaged over the batch and the 256
        # pixels while the KL term is summed over the latents per image.
        return F.binary_cross_entropy_with_logits(x_recon, x)
    return F.binary_cross_entropy_with_logits(x_recon, x, reduction="sum").div(batch_size)


def kl_divergence(mu, logvar, bug=None):
    if bug == "kl-sign":
        # BUG (kl-sign): the minus sign of the KL divergence dropped: the loss maximizes it.
        klds = 0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    else:
        klds = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    return klds.sum(1).mean(0)


def r2_per_factor(z_tr, f_tr, z_val, f_val):
    a = np.c_[z_tr, np.ones(len(z_tr))]
    coef, *_ = np.linalg.lstsq(a, f_tr, rcond=None)
    pred = np.c_[z_val, np.ones(len(z_val))] @ coef
    ss_res = ((f_val - pred) ** 2).sum(0)
    ss_tot = ((f_val - f_val.mean(0)) ** 2).sum(0)
    return 1.0 - ss_res / ss_tot


def main():
    p = common.parser(__doc__)
    p.add_argument("--objective", default="B", choices=("B", "H"))
    p.add_argument("--z-dim", type=int, default=5)
    p.add_argument("--beta", type=float, default=4.0, help="KL weight (objective H)")
    p.add_argument("--gamma", type=float, default=30.0, help="capacity weight (objective B)")
    p.add_argument("--c-max", type=float, default=12.0, help="final capacity in nats (B)")
    p.add_argument("--c-stop", type=int, default=600, help="iterations to reach --c-max (B)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--n-train", type=int, default=2400)
    p.add_argument("--bug", default=None,
                   choices=("logvar-as-std", "kl-sign", "recon-mean-kl-sum",
                            "sigmoid-before-bce-logits"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x_tr, f_tr = draw_sprites(args.n_train, seed=args.seed)
    x_val, f_val = draw_sprites(600, seed=1000 + args.seed)
    train_loader = DataLoader(TensorDataset(torch.from_numpy(x_tr)), batch_size=args.batch_size,
                              shuffle=True, drop_last=True,
                              generator=torch.Generator().manual_seed(args.seed))
    x_val_t = torch.from_numpy(x_val)

    model = BetaVAE(args.z_dim, sigmoid_output=args.bug == "sigmoid-before-bce-logits")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999))

    def objective(x, x_recon, mu, logvar, global_iter):
        recon = reconstruction_loss(x, x_recon, args.bug)
        kld = kl_divergence(mu, logvar, args.bug)
        if args.objective == "H":
            return recon + args.beta * kld, recon, kld
        c = min(args.c_max / args.c_stop * global_iter, args.c_max)
        return recon + args.gamma * (kld - c).abs(), recon, kld

    steps_per_epoch = len(train_loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression",
        loss_name="beta_vae_loss", steps_per_epoch=steps_per_epoch,
        batch_size=args.batch_size)
    history = common.History()
    global_iter = 0
    val_recon = val_kld = None
    for epoch in range(1, args.epochs + 1):
        model.train()
        for b, (x,) in enumerate(train_loader):
            global_iter += 1
            x_recon, mu, logvar = model(x, bug=args.bug)
            loss, recon, kld = objective(x, x_recon, mu, logvar, global_iter)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vr, vmu, vlogvar = model(x_val_t, sample=False)
                    vloss, vrecon, vkld = objective(x_val_t, vr, vmu, vlogvar, global_iter)
                val_loss, val_recon, val_kld = vloss.item(), vrecon.item(), vkld.item()
                if args.bug == "recon-mean-kl-sum":   # report the per-image sum as the twin
                    val_recon *= SIZE * SIZE
                model.train()
            rec.step(loss, inputs=x, targets=x, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: loss %.3f val_loss %.3f val recon %.2f KL %.2f" % (
            epoch, np.mean(history.epochs[-1][0]), val_loss, val_recon, val_kld))
    rec.close()

    model.eval()
    with torch.no_grad():
        z_tr = model.encode(torch.from_numpy(x_tr))[0].numpy().astype(np.float64)
        z_val = model.encode(x_val_t)[0].numpy().astype(np.float64)
    if np.all(np.isfinite(z_tr)) and np.all(np.isfinite(z_val)):
        r2 = r2_per_factor(z_tr, f_tr, z_val, f_val)
        factor_r2 = float(np.mean(r2))
        print("R^2 per factor (shape, scale, x, y): %s" % np.round(r2, 3))
    else:
        factor_r2 = float("nan")
    common.report(history.result(val_recon=val_recon, val_kl=val_kld, factor_r2=factor_r2))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "bvae-kl-sign", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong loss function (the KL term of the beta-VAE "
               "objective with the wrong sign: -0.5 * (...) written as 0.5 * (...))",
     "bug": "kl_divergence returns minus the KL divergence, so recon + beta * KL maximizes it "
            "(objective H, beta 4): the means and log-variances grow without bound, the loss "
            "is -697.5 in the first epoch and -2.08e18 in the 20th, the validation KL ends at "
            "-6.4e17 and the validation reconstruction at 132321 nats per image, against the "
            "twin's loss 145.6 -> 44.7, reconstruction 17.5 and KL 4.97 (factor R^2 0.56 "
            "against 0.62)",
     "fix": "klds = -0.5 * (1 + logvar - mu ** 2 - exp(logvar))",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "objective-h-beta4",
          "buggy": "--objective H --bug kl-sign --record-every 4",
          "fixed": "--objective H --record-every 4"},
     ]},
    {"family": "bvae-recon-mean-kl-sum", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong loss function (terms of a custom loss reduced "
               "differently: binary_cross_entropy_with_logits left at reduction='mean' beside "
               "a KL term summed over the latents per image)",
     "bug": "the reconstruction is averaged over the batch and the 256 pixels while the KL is "
            "summed per image, so beta * KL weighs 256 times what it should: the posterior "
            "collapses (validation KL 8.5e-5 nats), the decoder draws one blurred mean image, "
            "the validation reconstruction ends at 87.3 nats per image and the factor R^2 at "
            "0.000, against the twin's 20.7, KL 5.0 and R^2 0.56",
     "fix": "binary_cross_entropy_with_logits(..., reduction='sum') / batch size",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "objective-h-seed1",
          "buggy": "--objective H --seed 1 --bug recon-mean-kl-sum --record-every 4",
          "fixed": "--objective H --seed 1 --record-every 4"},
     ]},
    {"family": "bvae-sigmoid-before-bce-logits", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong loss function for the output "
               "(binary_cross_entropy_with_logits on a decoder that already ends in a sigmoid)",
     "bug": "the decoder's output goes through torch.sigmoid and then into "
            "binary_cross_entropy_with_logits, which applies a second one: every pixel the "
            "loss sees is in (0.5, 0.73), the background cannot be drawn black, the loss goes "
            "from 205.8 in the first epoch to 207.1 in the 20th and the validation "
            "reconstruction ends at 177.4 nats per image, against the twin's loss 145.8 -> "
            "29.5 and reconstruction 13.9",
     "fix": "return the logits from the decoder (the sigmoid only to display the images)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "objective-b",
          "buggy": "--bug sigmoid-before-bce-logits --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "healthy-bvae", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a beta-VAE with the capacity-annealed or the beta-weighted objective on "
                    "drawn sprites that trains well",
     "healthy": [
         {"id": "objective-b-z6-bs32-seed1",
          "args": "--seed 1 --z-dim 6 --batch-size 32 --epochs 12 --record-every 4",
          "description": "capacity objective (gamma 30, C to 12 nats), 6 latents, batches of "
                         "32, 12 epochs"},
         {"id": "objective-h-beta2-seed3",
          "args": "--objective H --beta 2 --seed 3 --record-every 4",
          "description": "beta-weighted objective with beta 2"},
     ]},
]


if __name__ == "__main__":
    main()
