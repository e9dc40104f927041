"""A PyTorch convolutional autoencoder of scikit-learn's 8x8 digits with a transposed-conv decoder.

The 1797 digits (pixels 0..16) are split 80/20 and the pixels divided by 16 to [0, 1]; they are
both the input and the target. The model (``ConvAE``, an ``nn.Module`` with ``encode`` and
``decode``): ``enc1`` ``Conv2d(1, w, 3, stride 2)`` (8x8 to 4x4), ReLU, ``enc2`` ``Conv2d(w, 2w,
3, stride 2)`` (to 2x2), ReLU; ``dec1`` ``ConvTranspose2d(2w, w, 4, stride 2)`` (to 4x4), ReLU,
``dec2`` ``ConvTranspose2d(w, 1, 4, stride 2)`` (to 8x8), the pixels' logits, and
``nn.BCEWithLogitsLoss`` against the [0, 1] pixels (``w`` = ``--width``). ``torch.optim.Adam``
with ``amsgrad=True`` at ``--lr`` and ``ExponentialLR(gamma=--gamma)`` stepped once per epoch;
batches from a ``TensorDataset`` and a shuffling ``DataLoader``. The per-pixel reconstruction
accuracy (a pixel counts as right when the rounded prediction equals the rounded target) is
reported with the loss. The mistakes of the families in CASES are selected with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np


class ConvAE(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.enc1 = nn.Conv2d(1, w, 3, stride=2, padding=1)
        self.enc2 = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)
        self.dec1 = nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1)
        self.dec2 = nn.ConvTranspose2d(w, 1, 4, stride=2, padding=1)

    def encode(self, x):
        return torch.relu(self.enc2(torch.relu(self.enc1(x))))

    def decode(self, z):
        return self.dec2(torch.relu(self.dec1(z)))

    def forward(self, x):
        return self.decode(self.encode(x))


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--gamma", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--bug", default=None,
                   choices=("pixels-not-scaled", "sigmoid-before-bce", "encoder-bias-negative",
                            "schedule-stepped-per-batch"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x_tr, x_va, _, _ = common.split(x, y, seed=args.seed)
    # BUG (pixels-not-scaled): the targets of BCEWithLogitsLoss stay 0..16.
    scale = 1.0 if args.bug == "pixels-not-scaled" else 16.0
    x_tr = torch.tensor(x_tr / scale, dtype=torch.float32).reshape(-1, 1, 8, 8)
    x_va = torch.tensor(x_va / scale, dtype=torch.float32).reshape(-1, 1, 8, 8)
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(TensorDataset(x_tr), batch_size=args.batch_size, shuffle=True,
                        generator=g)

    model = ConvAE(args.width)
    if args.bug == "encoder-bias-negative":
        # BUG (encoder-bias-negative): a "sparsity" bias of -8 on the first encoder layer.
        nn.init.constant_(model.enc1.bias, -8.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, amsgrad=True)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.gamma)
    criterion = nn.BCEWithLogitsLoss()

    def reconstruct(xb):
        out = model(xb)
        if args.bug == "sigmoid-before-bce":
            # BUG (sigmoid-before-bce): probabilities handed to BCEWithLogitsLoss.
            out = torch.sigmoid(out)
        return out

    def pixel_accuracy(logits, target):
        return ((torch.sigmoid(logits) > 0.5) == (target > 0.5)).float().mean().item()

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="BCEWithLogitsLoss",
        steps_per_epoch=len(loader), batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b, (xb,) in enumerate(loader):
            optimizer.zero_grad()
            out = reconstruct(xb)
            loss = criterion(out, xb)
            loss.backward()
            optimizer.step()
            if args.bug == "schedule-stepped-per-batch":
                # BUG (schedule-stepped-per-batch): the per-epoch decay runs after every batch.
                scheduler.step()
            acc = pixel_accuracy(out.detach(), xb)
            val_loss = val_acc = None
            if b == len(loader) - 1:
                model.eval()
                with torch.no_grad():
                    vout = reconstruct(x_va)
                    val_loss = criterion(vout, x_va).item()
                    val_acc = pixel_accuracy(vout, x_va)
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=xb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc)
        if args.bug != "schedule-stepped-per-batch":
            scheduler.step()
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.4f acc %.3f val %.4f val_acc %.3f lr %.2g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, optimizer.param_groups[0]["lr"]))
    rec.close()
    common.report(history.result(layers=["enc1", "enc2", "dec1", "dec2"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "tconvdig-pixels-not-scaled", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong loss for the targets (binary cross-entropy on "
               "targets outside [0, 1]); DeepLocalize benchmark posts on unscaled image pixels",
     "bug": "the pixels are not divided by 16: BCEWithLogitsLoss gets targets up to 16, the loss "
            "has no minimum and falls without bound (-1838 in the first epoch, -4.9e7 in the "
            "sixth, validation -6.9e7) while the pixel accuracy stays at 0.51; the twin's loss "
            "ends at 0.286 with a pixel accuracy of 0.922",
     "fix": "divide the pixels by 16 so that inputs and targets are in [0, 1]",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "amsgrad",
          "buggy": "--bug pixels-not-scaled --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "tconvdig-sigmoid-before-bce", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepLocalize benchmark posts / Humbatova et al. 2020: a sigmoid output fed to a "
               "loss that applies the sigmoid itself (BCEWithLogitsLoss on probabilities)",
     "bug": "the decoder's output is passed through torch.sigmoid before BCEWithLogitsLoss, which "
            "applies a sigmoid again: the reconstructions are confined to [0.5, 0.73], the loss "
            "stays at 0.73 to 0.689 (seed 6, validation 0.689, pixel accuracy 0.710) where the "
            "twin's falls to 0.276 (pixel accuracy 0.928)",
     "fix": "hand the decoder's logits to BCEWithLogitsLoss",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "amsgrad-seed6",
          "buggy": "--seed 6 --bug sigmoid-before-bce --record-every 4",
          "fixed": "--seed 6 --record-every 4"},
     ]},
    {"family": "tconvdig-encoder-bias-negative", "split": "dev", "architecture": "autoencoder",
     "origin": "AUTOTRAINER: dying ReLU; DeepFD / DeepDiagnosis fault type: wrong "
               "initialization (a constant bias of -8 on the first encoder convolution)",
     "bug": "the first encoder convolution's bias starts at -8: its ReLU units are dead for "
            "pixels in [0, 1], the code carries nothing and the decoder learns the mean digit; "
            "the loss ends at 0.427 (seed 1, validation 0.420, pixel accuracy 0.796) where the "
            "twin's reaches 0.298 (0.916)",
     "fix": "the default bias initialization",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": {"layer_name": "enc1", "layer_index": 0},
     "pairs": [
         {"id": "amsgrad-seed1",
          "buggy": "--seed 1 --bug encoder-bias-negative --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "tconvdig-schedule-stepped-per-batch", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (ExponentialLR stepped in "
               "the batch loop)",
     "bug": "ExponentialLR(gamma=0.9) is stepped after every batch: the learning rate is 9e-4 "
            "after the first epoch and 5e-9 after the sixth, the weights stop changing and the "
            "loss stays at 0.558 (from 0.645; seed 2, pixel accuracy 0.737) where the twin's "
            "reaches 0.291 (0.913)",
     "fix": "scheduler.step() once per epoch",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "amsgrad-seed2",
          "buggy": "--seed 2 --bug schedule-stepped-per-batch --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-tconvdig", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a Conv2d / ConvTranspose2d autoencoder of the digits that trains well",
     "healthy": [
         {"id": "w12-lr5e-3-seed3",
          "args": "--width 12 --lr 5e-3 --seed 3 --record-every 4",
          "description": "width 12, Adam (amsgrad) 5e-3"},
         {"id": "bs32-seed4",
          "args": "--batch-size 32 --seed 4 --record-every 4",
          "description": "batches of 32"},
         {"id": "gamma08-seed5",
          "args": "--gamma 0.8 --seed 5 --record-every 4",
          "description": "ExponentialLR gamma 0.8"},
     ]},
]


if __name__ == "__main__":
    main()
