"""A variational or denoising autoencoder on scikit-learn's 8x8 digits in PyTorch, with its own
loss function and a hand-written loop over a ``TensorDataset`` / ``DataLoader``.

The pixels are scaled to [0, 1] (divided by 16). ``--model vae`` (the PyTorch VAE example's
shape): ``enc`` (64 -> ``--hidden``, ReLU), two heads ``fc_mu`` and ``fc_logvar`` (``--latent``
units), the reparameterization ``mu + eps * exp(logvar / 2)`` while training (``mu`` at
evaluation), and a decoder ``dec1`` (ReLU) and ``dec2`` followed by ``torch.sigmoid``. Its loss
(``vae_loss``): the reconstruction's binary cross-entropy summed over the pixels plus ``--beta``
times the KL divergence to the unit Gaussian, both per image (summed, divided by the batch
size). ``--model dae``: a denoising autoencoder (``enc``, ``code``, ``dec1``, ``dec2``, ReLU
and a sigmoid output) fed the images with Gaussian noise (``--noise``) and trained to give the
clean images back; its loss (``dae_loss``): the squared error summed over the pixels per image
plus ``--l2`` times the sum of the squared weights (an explicit L2 term instead of the
optimizer's weight decay). Each epoch ends with the validation loss and the validation
reconstruction error (the reconstruction term alone, per image). The mistakes of the families
in CASES are selected with ``--bug`` or show in a setting (``--lr``).
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


class VAE(nn.Module):
    def __init__(self, hidden=64, latent=4):
        super().__init__()
        self.enc = nn.Linear(64, hidden)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.dec1 = nn.Linear(latent, hidden)
        self.dec2 = nn.Linear(hidden, 64)

    def encode(self, x):
        h = F.relu(self.enc(x))
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu, logvar):
        if not self.training:
            return mu
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.dec2(F.relu(self.dec1(z))))

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


class DenoisingAE(nn.Module):
    def __init__(self, hidden=64, latent=8):
        super().__init__()
        self.enc = nn.Linear(64, hidden)
        self.code = nn.Linear(hidden, latent)
        self.dec1 = nn.Linear(latent, hidden)
        self.dec2 = nn.Linear(hidden, 64)

    def forward(self, x):
        z = F.relu(self.code(F.relu(self.enc(x))))
        return torch.sigmoid(self.dec2(F.relu(self.dec1(z)))), None, None


def vae_loss(recon, x, mu, logvar, beta, bug=None):
    if bug == "bce-mean-kl-sum":
        # BUG: reduction left at its default 'mean' (over the batch AND the 64 pixels) while
        # the KL term is summed per image: the KL term weighs 64 times more than intended.
        rec = F.binary_cross_entropy(recon, x)
    elif bug == "bce-with-logits-on-sigmoid":
        # BUG: the decoder already ends in torch.sigmoid; the "numerically stable" loss
        # applies a second sigmoid to it.
        rec = F.binary_cross_entropy_with_logits(recon, x, reduction="sum") / len(x)
    else:
        rec = F.binary_cross_entropy(recon, x, reduction="sum") / len(x)
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
    return rec + beta * kld, rec


def dae_loss(recon, x, model, l2):
    rec = F.mse_loss(recon, x, reduction="sum") / len(x)
    penalty = sum(p.pow(2).sum() for name, p in model.named_parameters() if "weight" in name)
    return rec + l2 * penalty, rec


def main():
    p = common.parser(__doc__)
    p.add_argument("--model", default="vae", choices=("vae", "dae"))
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--latent", type=int, default=None, help="default: 4 (vae), 8 (dae)")
    p.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (vae)")
    p.add_argument("--noise", type=float, default=0.2, help="input noise std (dae)")
    p.add_argument("--l2", type=float, default=0.0, help="weight of the L2 term (dae)")
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "sgd", "momentum"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("bce-mean-kl-sum", "bce-with-logits-on-sigmoid", "missing-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x = (x / 16.0).astype(np.float32)
    x_tr, x_val, _, _ = common.split(x, y, seed=args.seed)
    train_ds = TensorDataset(torch.from_numpy(x_tr))
    val_ds = TensorDataset(torch.from_numpy(x_val))
    train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(args.seed))
    val_loader = DataLoader(val_ds, batch_size=256)

    if args.model == "vae":
        model = VAE(args.hidden, args.latent or 4)
    else:
        model = DenoisingAE(args.hidden, args.latent or 8)
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    elif args.optimizer == "rmsprop":
        optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr)
    elif args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)

    def compute_loss(batch, recon, mu, logvar):
        if args.model == "vae":
            return vae_loss(recon, batch, mu, logvar, args.beta, args.bug)
        return dae_loss(recon, batch, model, args.l2)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression",
        steps_per_epoch=len(train_loader), batch_size=args.batch_size)
    history = common.History()
    noise_gen = torch.Generator().manual_seed(args.seed + 1)
    for epoch in range(1, args.epochs + 1):
        model.train()
        train_loss = 0.0
        for batch_idx, (data,) in enumerate(train_loader):
            inputs = data
            if args.model == "dae":
                inputs = data + args.noise * torch.randn(data.shape, generator=noise_gen)
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            # BUG (missing-zero-grad): no optimizer.zero_grad(): the gradients of every
            # earlier batch stay in .grad and are added to.
            recon, mu, logvar = model(inputs)
            loss, _ = compute_loss(data, recon, mu, logvar)
            loss.backward()
            optimizer.step()
            train_loss += loss.item()

            val_loss = None
            if batch_idx == len(train_loader) - 1:
                model.eval()
                total = recon_total = 0.0
                with torch.no_grad():
                    for (vdata,) in val_loader:
                        vrecon, vmu, vlogvar = model(vdata)
                        vloss, vrec = compute_loss(vdata, vrecon, vmu, vlogvar)
                        total += vloss.item() * len(vdata)
                        recon_total += F.mse_loss(vrecon, vdata, reduction="sum").item()
                val_loss = total / len(val_ds)
                val_mse = recon_total / len(val_ds) / 64
                model.train()
            rec.step(loss, inputs=inputs, targets=data, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: loss %.4f val_loss %.4f val pixel MSE %.4f" % (
            epoch, train_loss / len(train_loader), val_loss, val_mse))
    rec.close()
    mean_mse = float(np.mean((x_val - x_tr.mean(0)) ** 2))
    common.report(history.result(val_pixel_mse=val_mse, mean_image_pixel_mse=mean_mse))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "vae-kl-reduction-mismatch", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong loss function (terms of a custom loss reduced "
               "differently: F.binary_cross_entropy left at reduction='mean' beside a KL term "
               "summed per image); DeepFD fault type: wrong loss function",
     "bug": "the reconstruction term is the mean over the batch and the 64 pixels while the "
            "KL term is summed per image, so the KL term weighs 64 times what it should: the "
            "posterior collapses to the prior, the decoder gives every image the mean image "
            "back and the validation pixel MSE ends at 0.0745 (the mean image's 0.0740) "
            "against the twin's 0.043",
     "fix": "F.binary_cross_entropy(recon, x, reduction='sum') / batch size, as the KL term",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug bce-mean-kl-sum --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "vae-bce-with-logits-on-sigmoid", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong loss function for the output "
               "(F.binary_cross_entropy_with_logits on a decoder that already ends in "
               "torch.sigmoid)",
     "bug": "the loss applies a second sigmoid to the decoder's sigmoid output: every pixel the "
            "loss sees is in (0.5, 0.73), dark pixels cannot be reconstructed, the loss only "
            "falls from 47.8 to 43.7 (64 ln 2 is 44.4) and the validation pixel MSE ends at "
            "0.108, worse than the mean image's 0.074, against the twin's 0.052",
     "fix": "F.binary_cross_entropy on the sigmoid output (or the logits into "
            "binary_cross_entropy_with_logits)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop-latent8-bs64",
          "buggy": "--optimizer rmsprop --lr 1e-3 --latent 8 --batch-size 64 --bug bce-with-logits-on-sigmoid --record-every 2",
          "fixed": "--optimizer rmsprop --lr 1e-3 --latent 8 --batch-size 64 --record-every 2"},
     ]},
    {"family": "vae-lr-too-low", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam at 1e-5 (meant 3e-3): in 8 epochs the loss falls only from 45.2 to 43.5 and "
            "the validation pixel MSE stays at 0.173, above the mean image's 0.074, against "
            "the twin's 0.042",
     "fix": "learning rate 3e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-hidden128",
          "buggy": "--lr 1e-5 --hidden 128 --record-every 2",
          "fixed": "--lr 3e-3 --hidden 128 --record-every 2"},
     ]},
    {"family": "vae-dae-missing-zero-grad", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradient accumulation)",
     "bug": "the denoising autoencoder's loop never calls optimizer.zero_grad(): under SGD "
            "momentum each step adds the gradients of every earlier batch, the loss rises from "
            "9.6 in the first epoch to about 11 and stays there, and the validation pixel MSE "
            "ends at 0.169 (the mean image's 0.074) against the twin's 0.045",
     "fix": "optimizer.zero_grad() before the forward pass",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "saturation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "dae-momentum",
          "buggy": "--model dae --optimizer momentum --lr 0.01 --bug missing-zero-grad --record-every 2",
          "fixed": "--model dae --optimizer momentum --lr 0.01 --record-every 2"},
     ]},
    {"family": "vae-dae-l2-too-large", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong regularization (an explicit L2 term on the summed "
               "squared weights, weighted 0.05 where 1e-4 was meant)",
     "bug": "the L2 term (0.05 x the sum of every squared weight) dominates the per-image "
            "squared error: the weights are pulled to zero, the decoder gives the mean image "
            "back and the validation pixel MSE ends at 0.0745 (the mean image's 0.0740) "
            "against the twin's 0.053",
     "fix": "an L2 weight of 1e-4",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "dae-adam",
          "buggy": "--model dae --l2 0.05 --record-every 2",
          "fixed": "--model dae --l2 1e-4 --record-every 2"},
     ]},
    {"family": "healthy-vae", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a variational or denoising autoencoder on the digits with its own loss "
                    "function and a DataLoader loop that trains well",
     "healthy": [
         {"id": "vae-rmsprop-latent8-bs64-seed1",
          "args": "--optimizer rmsprop --lr 1e-3 --latent 8 --batch-size 64 --seed 1 --record-every 2",
          "description": "VAE, RMSprop 1e-3, 8 latent units, batches of 64"},
         {"id": "vae-beta-half-latent2-seed3",
          "args": "--beta 0.5 --latent 2 --hidden 128 --seed 3 --record-every 2",
          "description": "VAE with a KL weight of 0.5, 2 latent units, 128 hidden units"},
         {"id": "vae-adam-bs16-hidden32-seed5",
          "args": "--lr 1e-3 --batch-size 16 --hidden 32 --seed 5 --record-every 2",
          "description": "VAE, Adam 1e-3, batches of 16, 32 hidden units"},
         {"id": "dae-noise04-rmsprop-seed2",
          "args": "--model dae --noise 0.4 --optimizer rmsprop --lr 1e-3 --seed 2 --record-every 2",
          "description": "denoising autoencoder, input noise 0.4, RMSprop 1e-3"},
         {"id": "dae-l2-bs16-seed4",
          "args": "--model dae --l2 1e-4 --batch-size 16 --seed 4 --record-every 2",
          "description": "denoising autoencoder with an L2 term of 1e-4, batches of 16"},
     ]},
]


if __name__ == "__main__":
    main()
