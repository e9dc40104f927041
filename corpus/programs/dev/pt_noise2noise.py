"""Noise2Noise (Lehtinen, Munkberg, Hasselgren, Laine, Karras, Aittala and Aila, "Noise2Noise:
Learning Image Restoration without Clean Data", ICML 2018): a denoising U-Net trained only on
pairs of independently noised copies of the same image, written as the public PyTorch
re-implementations (joeylitalien's ``noise2noise-pytorch``, the paper's network scaled down)
write it: a ``NoisyDataset`` whose ``__getitem__`` corrupts the clean image twice with fresh
noise (the source and the target), the paper's U-Net, Adam with betas (0.9, 0.99) and eps 1e-8,
the L2 loss for zero-mean Gaussian noise and the L1 loss (whose minimizer is the median) for
salt-and-pepper noise (``--noise``, ``--loss``).

The images: scikit-learn's digits, stored as 8-bit images (0..255, from the 0..16 pixels) and
upsampled to 16x16 bilinearly, then read as the loaders do, divided by 255; 80% train, 20%
validate (stratified by digit). Gaussian noise has standard deviation ``--sigma`` (0.25 of the
range); salt-and-pepper noise sets a share ``--p`` of the pixels to 0 or 1 at random. The
U-Net (``UNet``): ``enc_conv0`` and ``enc_conv1`` (3x3, ``--width`` 32 channels, LeakyReLU
0.1) and a 2x2 max-pool to 8x8 (``pool1``); ``enc_conv2`` and a max-pool to 4x4;
``enc_conv3``; nearest upsampling to 8x8 concatenated with ``pool1``, ``dec_conv2a`` and
``dec_conv2b`` (2 x width channels); upsampling to 16x16 concatenated with the noisy input,
``dec_conv1a`` (2 x width), ``dec_conv1b`` (width) and ``dec_conv1c``, a linear 3x3 convolution
to one channel (or a sigmoid on it, ``--output sigmoid``). Batches of 32 from a shuffling
``DataLoader``, ``--epochs`` 15. After every epoch the held-out images, corrupted once with a
fixed seed, are denoised under ``model.eval()`` / ``torch.no_grad()``; the validation loss is the
mean squared error against the CLEAN images (never seen in training) and the result line adds
their PSNR, 10 log10(peak^2 / MSE) with the clean images' peak value, beside the noisy inputs'
PSNR (``noisy_psnr``), the mean and maximum of the last denoised held-out images
(``val_output_mean``, ``val_output_max``) and the clean images' mean (``clean_mean``, about 0.31:
the digits' pixels are mostly background). The mistakes of the families in CASES are selected
with ``--bug`` or show in a setting (``--lr``, ``--loss``, ``--noise``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

np = common.np

BUGS = ("same-noise", "pixels-255")


def load_images(bug=None):
    x, y = common.load("digits")
    img8 = np.round(x / 16.0 * 255.0).astype(np.uint8).reshape(-1, 1, 8, 8)
    up = F.interpolate(torch.from_numpy(img8.astype(np.float32)), size=(16, 16),
                       mode="bilinear", align_corners=False)
    img8 = up.round().clamp(0, 255).to(torch.uint8).numpy()
    if bug == "pixels-255":
        # BUG (pixels-255): the 8-bit images are cast to float without the division by 255.
        images = img8.astype(np.float32)
    else:
        images = img8.astype(np.float32) / 255.0
    return images, y


def corrupt(clean, noise, sigma, p, generator):
    if noise == "gaussian":
        return clean + sigma * torch.randn(clean.shape, generator=generator)
    hit = torch.rand(clean.shape, generator=generator) < p
    salt = (torch.rand(clean.shape, generator=generator) < 0.5).float()
    return torch.where(hit, salt, clean)


class NoisyDataset(Dataset):
    """Clean images; every access returns two independent corruptions (source, target)."""

    def __init__(self, images, noise, sigma, p, seed, bug=None):
        self.images = torch.from_numpy(images)
        self.noise, self.sigma, self.p, self.bug = noise, sigma, p, bug
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        clean = self.images[i]
        source = corrupt(clean, self.noise, self.sigma, self.p, self.generator)
        if self.bug == "same-noise":
            # BUG (same-noise): the target is the source itself, one noise realization for
            # both, instead of a second, independent corruption of the clean image.
            target = source
        else:
            target = corrupt(clean, self.noise, self.sigma, self.p, self.generator)
        return source, target


class UNet(nn.Module):
    def __init__(self, width=32, output="linear"):
        super().__init__()
        w = width
        self.enc_conv0 = nn.Conv2d(1, w, 3, padding=1)
        self.enc_conv1 = nn.Conv2d(w, w, 3, padding=1)
        self.enc_conv2 = nn.Conv2d(w, w, 3, padding=1)
        self.enc_conv3 = nn.Conv2d(w, w, 3, padding=1)
        self.dec_conv2a = nn.Conv2d(2 * w, 2 * w, 3, padding=1)
        self.dec_conv2b = nn.Conv2d(2 * w, 2 * w, 3, padding=1)
        self.dec_conv1a = nn.Conv2d(2 * w + 1, 2 * w, 3, padding=1)
        self.dec_conv1b = nn.Conv2d(2 * w, w, 3, padding=1)
        self.dec_conv1c = nn.Conv2d(w, 1, 3, padding=1)
        self.output = output
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.1)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        act = lambda t: F.leaky_relu(t, 0.1)  # noqa: E731
        h = act(self.enc_conv0(x))
        h = act(self.enc_conv1(h))
        pool1 = F.max_pool2d(h, 2)                       # 8x8
        h = act(self.enc_conv2(pool1))
        pool2 = F.max_pool2d(h, 2)                       # 4x4
        h = act(self.enc_conv3(pool2))
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = torch.cat([h, pool1], dim=1)
        h = act(self.dec_conv2a(h))
        h = act(self.dec_conv2b(h))
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = torch.cat([h, x], dim=1)
        h = act(self.dec_conv1a(h))
        h = act(self.dec_conv1b(h))
        out = self.dec_conv1c(h)
        if self.output == "sigmoid":
            out = torch.sigmoid(out)
        return out


def psnr(mse, peak):
    return float(10.0 * np.log10(peak ** 2 / max(mse, 1e-12))) if np.isfinite(mse) else float("nan")


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--noise", default="gaussian", choices=("gaussian", "impulse"))
    p.add_argument("--sigma", type=float, default=0.25)
    p.add_argument("--p", type=float, default=0.3)
    p.add_argument("--loss", default="l2", choices=("l2", "l1"))
    p.add_argument("--output", default="linear", choices=("linear", "sigmoid"))
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--bug", default=None, choices=BUGS)
    args = p.parse_args()
    common.torch_setup(args.seed)

    images, labels = load_images(bug=args.bug)
    tr, va, _, _ = common.split(images, labels, seed=args.seed)
    train_set = NoisyDataset(tr, args.noise, args.sigma, args.p, seed=args.seed, bug=args.bug)
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))
    clean_val = torch.from_numpy(va)
    noisy_val = corrupt(clean_val, args.noise, args.sigma, args.p,
                        torch.Generator().manual_seed(1234))
    peak = float(clean_val.max())

    model = UNet(args.width, output=args.output)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99), eps=1e-8)
    criterion = nn.MSELoss() if args.loss == "l2" else nn.L1Loss()
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression",
        loss_name="MSELoss" if args.loss == "l2" else "L1Loss",
        steps_per_epoch=len(loader), batch_size=args.batch_size)
    history = common.History()
    val_mse = float("nan")
    for epoch in range(args.epochs):
        model.train()
        for b, (source, target) in enumerate(loader):
            optimizer.zero_grad()
            denoised = model(source)
            loss = criterion(denoised, target)
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == len(loader) - 1:
                model.eval()
                with torch.no_grad():
                    denoised_val = model(noisy_val)
                    val_loss = F.mse_loss(denoised_val, clean_val).item()
                model.train()
                val_mse = val_loss
            rec.step(loss, inputs=source, targets=target, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_mse)
        if (epoch + 1) % 5 == 0 or epoch == 0:
            print("epoch %d: train %.5f val MSE (clean) %.5f PSNR %.2f dB" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_mse, psnr(val_mse, peak)),
                flush=True)
    rec.close()
    noisy_mse = F.mse_loss(noisy_val, clean_val).item()
    common.report(history.result(
        val_psnr=psnr(val_mse, peak), noisy_psnr=psnr(noisy_mse, peak), peak=peak,
        val_output_mean=float(denoised_val.mean()), val_output_max=float(denoised_val.max()),
        clean_mean=float(clean_val.mean()),
        layers=["enc_conv0", "enc_conv1", "enc_conv2", "enc_conv3", "dec_conv2a",
                "dec_conv2b", "dec_conv1a", "dec_conv1b", "dec_conv1c"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "n2n-same-noise", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data quality / wrong labels (the target is the "
               "input itself: one noise realization drawn for the source and the target of a "
               "Noise2Noise pair)",
     "bug": "NoisyDataset returns the noisy source as its own target: the U-Net learns the "
            "identity through its input skip, the training loss falls from 0.127 in the first "
            "epoch to 0.0002 in the 15th, while the held-out MSE against the clean images rises "
            "from 0.0398 after the first epoch to 0.0627 (PSNR 12.03 dB, the noisy inputs' "
            "12.03 dB) against the twin's 0.00499 (23.02 dB)",
     "fix": "target = corrupt(clean, ...): a second, independent corruption of the clean image",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "gaussian-seed0",
          "buggy": "--bug same-noise --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "n2n-pixels-255", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data preprocessing (missing normalization: "
               "8-bit pixels 0..255 read as floats without the division by 255, for a sigmoid "
               "output)",
     "bug": "the 8-bit images are cast to float without / 255 while the U-Net ends in a "
            "sigmoid: the targets reach 255 (mean 78), the sigmoid sits at 1.0 on every pixel "
            "from the first epoch, the loss stays at 12488 (first epoch 12488.3, 15th 12487.9), "
            "held-out MSE 12595 (PSNR 7.13 dB for a peak of 255; the nearly noise-free inputs "
            "60.2 dB) against the twin's 0.00461 (23.36 dB, noisy inputs 12.03 dB)",
     "fix": "images = img8.astype(np.float32) / 255.0",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sigmoid-seed1",
          "buggy": "--output sigmoid --bug pixels-255 --seed 1 --record-every 4",
          "fixed": "--output sigmoid --seed 1 --record-every 4"},
     ]},
    {"family": "n2n-impulse-l2", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function (the L2 loss, whose minimizer is the "
               "mean, on salt-and-pepper targets whose mean is biased; Noise2Noise needs a loss "
               "whose minimizer is the median, L1, for such noise)",
     "bug": "--loss l2 with salt-and-pepper noise (30% of the pixels set to 0 or 1): the network "
            "learns the noisy targets' mean 0.7 x + 0.15 instead of x; held-out output mean "
            "0.356 against the clean 0.302, held-out MSE 0.0192 (PSNR 17.17 dB, noisy inputs "
            "9.32 dB) against the L1 twin's 0.00402 (23.96 dB)",
     "fix": "--loss l1 (nn.L1Loss)",
     "symptom": "loss_mismatch", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "impulse-seed2",
          "buggy": "--noise impulse --loss l2 --seed 2 --record-every 4",
          "fixed": "--noise impulse --loss l1 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-n2n", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Noise2Noise U-Net on noisy 16x16 digits, trained on pairs of noisy "
                    "copies only, that denoises well",
     "healthy": [
         {"id": "width24-sigma035-seed3",
          "args": "--width 24 --sigma 0.35 --seed 3 --record-every 4",
          "description": "24 channels, Gaussian noise of std 0.35: held-out PSNR 20.83 dB "
                         "against the noisy inputs' 9.10 dB"},
     ]},
]


if __name__ == "__main__":
    main()
