"""A 1-D convolutional autoencoder for anomaly detection on multichannel sensor windows.

The data are generated here: windows of 64 samples of four sensors of a gearbox, each in its
own unit (vibration in mm/s around 0, a motor current in A around 12, an oil temperature in
degrees C around 55 and a pressure in kPa around 310), driven by a shaft rotation of random
speed and phase. The autoencoder trains on normal windows only; the validation set holds
normal windows and as many anomalous ones (a bearing knock: sharp spikes on the vibration
channel and a current surge), and the reconstruction error of each window is its anomaly
score, reported as the area under the ROC curve once per epoch. The program standardizes each
channel with the training part's mean and standard deviation.

The model (``ConvAutoencoder``, an ``nn.Module``): an encoder of two strided ``nn.Conv1d``
layers with ReLU (``encoder.0``, ``encoder.2``) and a decoder of two ``nn.ConvTranspose1d``
layers (``decoder.0`` with ReLU, ``decoder.2`` linear), mean squared error of the
reconstruction. SGD with Nesterov momentum 0.9 and ``CosineAnnealingWarmRestarts``
(``T_0=--restart`` epochs, ``T_mult=2``) stepped after every batch with the fractional epoch
``epoch + (b + 1) / steps_per_epoch``, as its documentation shows. The mistakes of the families
in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np

LENGTH = 64
CHANNELS = ("vibration_mm_s", "current_a", "oil_temp_c", "pressure_kpa")


def gearbox_windows(n, seed, anomalous=False):
    """``n`` windows of (4, 64) in the sensors' own units."""
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH)[None, :]
    speed = rng.uniform(0.08, 0.2, size=(n, 1))
    phase = rng.uniform(0, 2 * math.pi, size=(n, 1))
    load = rng.uniform(0.6, 1.0, size=(n, 1))
    shaft = np.sin(2 * math.pi * speed * t + phase)
    vib = 2.5 * load * shaft + 0.8 * np.sin(4 * math.pi * speed * t + 2 * phase) \
        + rng.normal(0, 0.25, size=(n, LENGTH))
    cur = 12.0 + 3.0 * load + 0.9 * shaft + rng.normal(0, 0.15, size=(n, LENGTH))
    temp = 55.0 + 6.0 * load + 0.02 * t + rng.normal(0, 0.2, size=(n, LENGTH))
    pres = 310.0 + 25.0 * load * np.cos(2 * math.pi * speed * t + phase) \
        + rng.normal(0, 2.0, size=(n, LENGTH))
    if anomalous:
        for i in range(n):
            where = rng.choice(LENGTH, size=4, replace=False)
            vib[i, where] += rng.choice([-1, 1], size=4) * rng.uniform(5, 9, size=4)
            start = rng.integers(0, LENGTH - 12)
            cur[i, start:start + 12] += rng.uniform(2.0, 4.0)
    return np.stack([vib, cur, temp, pres], axis=1).astype(np.float32)


def auc(scores, labels):
    """Area under the ROC curve of anomaly scores (labels 1: anomalous), by ranks."""
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class ConvAutoencoder(nn.Module):
    def __init__(self, channels, width, code):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv1d(channels, width, kernel_size=5, stride=2, padding=2), nn.ReLU(),
            nn.Conv1d(width, code, kernel_size=5, stride=2, padding=2), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose1d(code, width, kernel_size=4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose1d(width, channels, kernel_size=4, stride=2, padding=1))

    def forward(self, x):
        return self.decoder(self.encoder(x))


def main():
    p = common.parser(__doc__)
    p.add_argument("--windows", type=int, default=800)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--code", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--restart", type=int, default=2, help="CosineAnnealingWarmRestarts T_0")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--bug", default=None,
                   choices=("raw-units", "missing-zero-grad", "encoder-bias-negative"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    normal = gearbox_windows(args.windows, args.seed)
    cut = int(0.8 * len(normal))
    x_train = normal[:cut]
    held_normal = normal[cut:]
    held_anom = gearbox_windows(len(held_normal), args.seed + 1000, anomalous=True)
    x_val = np.concatenate([held_normal, held_anom])
    val_labels = np.r_[np.zeros(len(held_normal)), np.ones(len(held_anom))]
    # BUG (raw-units): the windows go in as the data logger writes them, each sensor in its
    # own unit, without the per-channel standardization.
    if args.bug != "raw-units":
        mean = x_train.mean(axis=(0, 2), keepdims=True)
        std = x_train.std(axis=(0, 2), keepdims=True)
        x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    x_train = torch.tensor(x_train)
    x_val = torch.tensor(x_val)
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(TensorDataset(x_train), batch_size=args.batch_size, shuffle=True,
                        generator=g)

    model = ConvAutoencoder(len(CHANNELS), args.width, args.code)
    if args.bug == "encoder-bias-negative":
        # BUG: an "initialize biases to keep activations small" line with the wrong sign and
        # scale: every unit of the code layer starts far below zero.
        nn.init.constant_(model.encoder[2].bias, -3.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                nesterov=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=args.restart, T_mult=2, eta_min=args.lr * 0.01)
    criterion = nn.MSELoss()
    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="MSELoss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b, (xb,) in enumerate(loader):
            # BUG (missing-zero-grad): optimizer.zero_grad() is left out; gradients add up.
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            recon = model(xb)
            loss = criterion(recon, xb)
            loss.backward()
            optimizer.step()
            scheduler.step(epoch + (b + 1) / steps_per_epoch)
            val_loss = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    err = ((model(x_val) - x_val) ** 2).mean(dim=(1, 2)).numpy()
                val_loss = float(err[val_labels == 0].mean())
                val_auc = auc(err, val_labels) if np.all(np.isfinite(err)) else 0.5
                model.train()
            rec.step(loss, inputs=xb, targets=xb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: train %.4f val(normal) %.4f auc %.3f lr %.3g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_auc,
            optimizer.param_groups[0]["lr"]))
    rec.close()
    common.report(history.result(val_auc=val_auc))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "cae1d-raw-sensor-units", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: missing input normalization (four sensors in their own "
               "units, a pressure near 310 kPa next to a vibration near 0 mm/s)",
     "bug": "the windows are not standardized per channel: under SGD with Nesterov momentum at "
            "0.05 the first-epoch MSE is 3.1e18 and the sixth epoch's still 5.3e10 "
            "(validation 7.0e10, anomaly AUC 0.49) against the twin's 0.116 (AUC 1.00)",
     "fix": "standardize each channel with the training part's mean and standard deviation",
     "symptom": "saturation",
     "acceptable_symptoms": ["exploding_gradient", "numerical_error", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-nesterov",
          "buggy": "--bug raw-units --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "cae1d-missing-zero-grad", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020 / DeepDiagnosis: optimizer.zero_grad() missing, "
               "gradients accumulate over the steps",
     "bug": "optimizer.zero_grad() is left out of the batch loop: the gradients add up under "
            "momentum, the MSE goes from 0.96 in the first epoch to 2011 in the sixth "
            "(validation 659, anomaly AUC 0.75) against the twin's 0.129 (AUC 1.00)",
     "fix": "optimizer.zero_grad() before every forward pass",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-nesterov-seed1",
          "buggy": "--bug missing-zero-grad --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "cae1d-code-bias-negative", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepLocalize benchmark / AUTOTRAINER: dying ReLU (a bias initialized far below "
               "zero)",
     "bug": "nn.init.constant_(encoder[2].bias, -3.0): every ReLU unit of the code layer is "
            "dead from the first step, the decoder sees zeros and learns only its bias: the "
            "MSE stays at 1.00 (validation 1.05) against the twin's 0.159",
     "fix": "leave the code layer's bias at its default initialization",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": {"layer_name": "encoder.2", "layer_index": 1},
     "pairs": [
         {"id": "sgd-nesterov-seed2",
          "buggy": "--bug encoder-bias-negative --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "cae1d-sgd-lr-too-low", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "SGD at 1e-4 (meant 2e-2) with batches of 16: in 6 epochs the MSE falls only from "
            "1.027 to 1.024 (validation 1.015) against the twin's 0.131",
     "fix": "learning rate 0.02",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-bs16-seed3",
          "buggy": "--lr 1e-4 --batch-size 16 --seed 3 --record-every 4",
          "fixed": "--lr 0.02 --batch-size 16 --seed 3 --record-every 4"},
     ]},
    {"family": "healthy-cae1d", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a 1-D convolutional autoencoder of gearbox sensor windows that trains well",
     "healthy": [
         {"id": "width32-lr2e-2-seed4",
          "args": "--width 32 --lr 0.02 --seed 4 --record-every 4",
          "description": "32 channels, SGD 0.02"},
         {"id": "restart1-code4-lr3e-2-seed6",
          "args": "--restart 1 --code 4 --lr 0.03 --seed 6 --record-every 4",
          "description": "restarts every epoch doubling, a code of 4 channels, SGD 0.03"},
         {"id": "bs16-lr1e-2-momentum95-seed7",
          "args": "--batch-size 16 --lr 0.01 --momentum 0.95 --seed 7 --record-every 4",
          "description": "batches of 16, SGD 0.01 with momentum 0.95"},
     ]},
]


if __name__ == "__main__":
    main()
