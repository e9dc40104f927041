"""A small PyTorch U-Net segmenting cells in 16x16 microscope tiles, trained with the usual
BCE + soft Dice loss, written the way segmentation notebooks write it: a ``DoubleConv`` block
(two 3x3 ``Conv2d`` + ReLU), two ``MaxPool2d`` downsamplings, ``ConvTranspose2d`` upsamplings
whose outputs are joined to the encoder's feature maps with ``torch.cat`` (the skip
connections), a 1x1 ``Conv2d`` giving one logit per pixel, and a ``dice_bce`` loss function.

The data are generated here: ``--images`` tiles of 16x16 pixels as a camera gives them,
unsigned 12-bit counts: a background of about 300 counts with shot noise and a slow
illumination gradient, and one to three cells (discs of radius 2 to 4 pixels, some touching)
about 900 counts brighter; the mask marks the cells' pixels. 80% train, 20% validate. The
tiles are standardized with the training tiles' mean and standard deviation (``--scaling``).
The model (``UNet``): ``inc`` (1 -> ``--width``), ``down1`` (-> 2 width), ``down2`` (-> 4
width), ``up1`` / ``conv_up1`` (-> 2 width), ``up2`` / ``conv_up2`` (-> width), ``outc``.

Optimizer ``--optimizer`` (``adam``, ``sgd`` with momentum 0.9, ``rmsprop``) at ``--lr``,
batches of ``--batch-size``, ``--epochs`` epochs. The accuracy is the pixel accuracy at 0.5;
the validation Dice is printed per epoch. The mistakes of the families in CASES are selected
with ``--bug`` or show in a setting.
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


def microscope_tiles(n, seed):
    """(n, 1, 16, 16) uint16-like float32 counts and (n, 1, 16, 16) float32 masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    tiles = np.empty((n, 1, SIZE, SIZE), dtype=np.float32)
    masks = np.zeros((n, 1, SIZE, SIZE), dtype=np.float32)
    for i in range(n):
        gx, gy = rng.normal(0, 4.0, size=2)
        img = 300.0 + gx * (xx - 7.5) + gy * (yy - 7.5)
        m = np.zeros((SIZE, SIZE), dtype=bool)
        for _ in range(int(rng.integers(1, 4))):
            cx, cy = rng.uniform(2.5, 13.5, size=2)
            r = rng.uniform(2.0, 4.0)
            m |= (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        img = img + 900.0 * m * rng.uniform(0.7, 1.2)
        img = rng.poisson(np.clip(img, 1.0, None)).astype(np.float32)
        tiles[i, 0] = np.clip(img, 0, 4095)
        masks[i, 0] = m
    return tiles, masks


class DoubleConv(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.conv1 = nn.Conv2d(n_in, n_out, 3, padding=1)
        self.conv2 = nn.Conv2d(n_out, n_out, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class UNet(nn.Module):
    def __init__(self, width, sigmoid_output=False):
        super().__init__()
        w = width
        self.inc = DoubleConv(1, w)
        self.down1 = DoubleConv(w, 2 * w)
        self.down2 = DoubleConv(2 * w, 4 * w)
        self.up1 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.conv_up1 = DoubleConv(4 * w, 2 * w)
        self.up2 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.conv_up2 = DoubleConv(2 * w, w)
        self.outc = nn.Conv2d(w, 1, 1)
        self.sigmoid_output = sigmoid_output

    def forward(self, x):
        x1 = self.inc(x)                                    # 16x16
        x2 = self.down1(F.max_pool2d(x1, 2))                # 8x8
        x3 = self.down2(F.max_pool2d(x2, 2))                # 4x4
        y = self.conv_up1(torch.cat([self.up1(x3), x2], dim=1))
        y = self.conv_up2(torch.cat([self.up2(y), x1], dim=1))
        y = self.outc(y)
        # BUG (double-sigmoid): the model returns probabilities, but dice_bce below treats its
        # output as logits (BCEWithLogitsLoss, torch.sigmoid before the Dice).
        return torch.sigmoid(y) if self.sigmoid_output else y


def dice_bce(logits, target, smooth=1.0):
    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(1, 2, 3))
    union = prob.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
    dice = (2 * inter + smooth) / (union + smooth)
    return bce + (1 - dice).mean()


def main():
    p = common.parser(__doc__)
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "rmsprop"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--scaling", default="standard", choices=("standard", "none"),
                   help="standardize the tiles (none: raw camera counts)")
    p.add_argument("--bug", default=None, choices=("double-sigmoid", "missing-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    tiles, masks = microscope_tiles(args.images, args.seed)
    cut = int(0.8 * len(tiles))
    if args.scaling == "standard":
        mean, std = tiles[:cut].mean(), tiles[:cut].std()
        tiles = (tiles - mean) / std
    # else BUG (--scaling none): the network gets the camera counts, 300 to about 1500.
    x_tr, x_val = torch.from_numpy(tiles[:cut]), torch.from_numpy(tiles[cut:])
    y_tr, y_val = torch.from_numpy(masks[:cut]), torch.from_numpy(masks[cut:])
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=args.batch_size, shuffle=True,
                        generator=g)

    model = UNet(args.width, sigmoid_output=args.bug == "double-sigmoid")
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    elif args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    else:
        optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr)
    criterion = dice_bce
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="BCEWithLogitsLoss", steps_per_epoch=len(loader), batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for i, (xb, yb) in enumerate(loader):
            # BUG (missing-zero-grad): the gradients of every earlier batch are kept.
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            out = model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                acc = ((torch.sigmoid(out) > 0.5).float() == yb).float().mean()
            val_loss = val_acc = None
            if i == len(loader) - 1:
                model.eval()
                with torch.no_grad():
                    vout = model(x_val)
                    val_loss = criterion(vout, y_val).item()
                    vpred = (torch.sigmoid(vout) > 0.5).float()
                    val_acc = (vpred == y_val).float().mean().item()
                    inter = (vpred * y_val).sum()
                    val_dice = (2 * inter / (vpred.sum() + y_val.sum() + 1e-6)).item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d  loss %.4f  pixel acc %.3f | val loss %.4f  acc %.3f  dice %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, val_dice))
    rec.close()
    names = []
    for block in ("inc", "down1", "down2"):
        names += [block + ".conv1", block + ".conv2"]
    names += ["up1", "conv_up1.conv1", "conv_up1.conv2", "up2", "conv_up2.conv1",
              "conv_up2.conv2", "outc"]
    common.report(history.result(val_dice=val_dice, layers=names))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "unetblob-double-sigmoid", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function for the output (BCEWithLogitsLoss "
               "on an output that is already a sigmoid); DeepLocalize benchmark posts on "
               "sigmoid outputs fed to a loss with logits",
     "bug": "the U-Net ends with torch.sigmoid and the BCE + Dice loss applies the sigmoid "
            "again: every probability is at least 0.5, the loss stays at 1.413 from the "
            "first epoch on, the pixel accuracy at 0.797 (all background) and the validation "
            "Dice at 0.000 (the twin: loss 0.025, Dice 0.993)",
     "fix": "return the logits of outc (no sigmoid in forward)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug double-sigmoid --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "unetblob-raw-counts", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing input normalization (camera counts of 300 to "
               "1500 fed in); DeepLocalize benchmark posts on unscaled inputs",
     "bug": "the tiles go in as 12-bit camera counts under SGD momentum 0.9 at 0.05: the loss "
            "only falls from 1.43 to 1.17 in 8 epochs and the validation Dice stays at 0.000 "
            "(all background, pixel accuracy 0.797); the twin reaches loss 0.003, Dice 1.000",
     "fix": "standardize the tiles with the training tiles' mean and standard deviation",
     "symptom": "saturation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "exploding_gradient",
                             "numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--optimizer sgd --lr 0.05 --scaling none --record-every 4",
          "fixed": "--optimizer sgd --lr 0.05 --record-every 4"},
     ]},
    {"family": "unetblob-missing-zero-grad", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradients accumulate "
               "across batches); DeepFD fault type: wrong training loop",
     "bug": "optimizer.zero_grad() left out under SGD momentum 0.9 at 0.05, batches of 16: "
            "the summed gradients grow, the first epoch's loss is 2.13 (the twin's 0.65), the "
            "validation loss 9.6 after it, and the loss is NaN from the fourth epoch on, Dice "
            "0.000 (the twin ends at loss 0.0008, Dice 1.000)",
     "fix": "optimizer.zero_grad() before every backward pass",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["numerical_error", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-bs16",
          "buggy": "--optimizer sgd --lr 0.05 --batch-size 16 --bug missing-zero-grad --record-every 4",
          "fixed": "--optimizer sgd --lr 0.05 --batch-size 16 --record-every 4"},
     ]},
    {"family": "unetblob-adam-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam at 1e-5 (meant 3e-3), batches of 16: in 8 epochs the loss falls only from "
            "1.334 to 1.315, the pixel accuracy stays at 0.798 (all background) and the "
            "validation Dice at 0.000 (the twin: loss 0.004, Dice 0.999)",
     "fix": "Adam at 3e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-bs16",
          "buggy": "--lr 1e-5 --batch-size 16 --record-every 4",
          "fixed": "--lr 3e-3 --batch-size 16 --record-every 4"},
     ]},
    {"family": "unetblob-adam-lr-too-high-dead-relu", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: dying ReLU; DeepFD fault type: learning rate too high",
     "bug": "Adam at 0.05 (meant 3e-3), seed 1: the first updates push the ReLU units below "
            "zero; at the end every output of inc and conv_up2 is 0, the loss stays at 1.290 "
            "from the fourth epoch on, the pixel accuracy at 0.797 (all background) and the "
            "validation Dice at 0.000 (the twin: loss 0.034, Dice 0.990)",
     "fix": "Adam at 3e-3",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 0.05 --seed 1 --record-every 4",
          "fixed": "--lr 3e-3 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-unetblob", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small U-Net with torch.cat skip connections segmenting cells with "
                    "BCE + Dice",
     "healthy": [
         {"id": "rmsprop-lr1e-3-seed1",
          "args": "--optimizer rmsprop --lr 1e-3 --seed 1 --record-every 4",
          "description": "RMSprop 1e-3"},
         {"id": "sgd-bs16-width6-seed2",
          "args": "--optimizer sgd --lr 0.03 --batch-size 16 --width 6 --epochs 6 --seed 2 --record-every 4",
          "description": "SGD momentum 0.9 at 0.03, batches of 16, 6 base filters"},
         {"id": "adam-width12-bs64-seed3",
          "args": "--lr 2e-3 --width 12 --batch-size 64 --epochs 10 --seed 3 --record-every 4",
          "description": "Adam 2e-3, 12 base filters, batches of 64"},
     ]},
]


if __name__ == "__main__":
    main()
