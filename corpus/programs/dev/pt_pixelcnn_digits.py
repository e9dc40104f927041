"""A small PyTorch PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks") on
scikit-learn's 8x8 digits, written as the common PyTorch PixelCNN repositories write it: a
``MaskedConv2d(nn.Conv2d)`` that registers a ``mask`` buffer (ones above the centre row and
left of the centre, the centre itself too for mask type B, zeros elsewhere) and multiplies its
weight by it in ``forward``; the network is ``nn.Sequential`` of a 5x5 type-A masked
convolution, ``--blocks`` 3x3 type-B masked convolutions, each followed by ``BatchNorm2d`` and
ReLU (``--features`` channels, no biases), and a 1x1 ``Conv2d`` to the logits of the ``--levels``
intensity levels of every pixel. Each pixel is predicted from the pixels above it and to its
left with ``nn.CrossEntropyLoss`` over the levels (the logits ``(N, levels, 8, 8)`` against the
level of every pixel ``(N, 8, 8)``).

The data: the 1797 digits, their intensities 0..16 quantized to ``--levels`` levels (the input
is level / (levels - 1), the target the level), 80% train, 20% validate. Adam at ``--lr``,
batches of ``--batch-size``. The accuracy is the share of pixels whose most likely level is the
true one; the result line adds the validation loss in bits per pixel. The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
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


class MaskedConv2d(nn.Conv2d):
    def __init__(self, mask_type, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assert mask_type in {"A", "B"}
        self.register_buffer("mask", self.weight.data.clone())
        _, _, kh, kw = self.weight.size()
        self.mask.fill_(1)
        self.mask[:, :, kh // 2, kw // 2 + (mask_type == "B"):] = 0
        self.mask[:, :, kh // 2 + 1:] = 0

    def forward(self, x):
        self.weight.data *= self.mask
        return super().forward(x)


def pixelcnn(features, blocks, levels, first_mask="A", softmax_output=False):
    # BUG (first-mask-b): the first layer's mask of type B lets every pixel see itself.
    layers = [MaskedConv2d(first_mask, 1, features, 5, 1, 2, bias=False),
              nn.BatchNorm2d(features), nn.ReLU(True)]
    for _ in range(blocks):
        layers += [MaskedConv2d("B", features, features, 3, 1, 1, bias=False),
                   nn.BatchNorm2d(features), nn.ReLU(True)]
    layers.append(nn.Conv2d(features, levels, 1))
    if softmax_output:
        # BUG (softmax-output): a Softmax over the levels closes the network (for sampling)
        # and its probabilities go to CrossEntropyLoss, which applies log_softmax again.
        layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers)


def main():
    p = common.parser(__doc__)
    p.add_argument("--levels", type=int, default=4)
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--blocks", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("view-not-permute", "first-mask-b",
                                                    "raw-intensity-input", "softmax-output",
                                                    "targets-unshuffled"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    from sklearn.datasets import load_digits
    images = load_digits().images.astype(np.float32)              # 0..16
    levels = np.minimum(np.floor(images / 17.0 * args.levels), args.levels - 1).astype(np.int64)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(levels))
    cut = int(0.8 * len(levels))
    tr, va = order[:cut], order[cut:]
    target = torch.from_numpy(levels)
    if args.bug == "raw-intensity-input":
        # BUG (raw-intensity-input): the raw intensities 0..16 go in instead of the scaled
        # levels.
        inputs = torch.from_numpy(images).unsqueeze(1)
    else:
        inputs = target.float().unsqueeze(1) / (args.levels - 1)
    if args.bug == "targets-unshuffled":
        # BUG (targets-unshuffled): the targets of the training images taken from the
        # unshuffled array: every image is trained to predict another digit's pixels.
        train_ds = TensorDataset(inputs[tr], target[:cut])
    else:
        train_ds = TensorDataset(inputs[tr], target[tr])
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, generator=g)
    xv, yv = inputs[va], target[va]

    model = pixelcnn(args.features, args.blocks, args.levels,
                     first_mask="B" if args.bug == "first-mask-b" else "A",
                     softmax_output=args.bug == "softmax-output")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()

    def pixel_loss(logits, y):
        if args.bug == "view-not-permute":
            # BUG (view-not-permute): the (N, levels, H, W) logits flattened with view to
            # (N*H*W, levels) without moving the level axis last: every row mixes the scores
            # of different pixels and levels.
            return criterion(logits.reshape(-1, args.levels), y.reshape(-1))
        return criterion(logits, y)

    def pixel_accuracy(logits, y):
        if args.bug == "view-not-permute":
            pred = logits.reshape(-1, args.levels).argmax(1)
            return (pred == y.reshape(-1)).float().mean()
        return (logits.argmax(1) == y).float().mean()

    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        num_classes=args.levels, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for i, (xb, yb) in enumerate(loader):
            optimizer.zero_grad()
            logits = model(xb)
            loss = pixel_loss(logits, yb)
            loss.backward()
            optimizer.step()
            acc = pixel_accuracy(logits.detach(), yb)
            val_loss = val_acc = None
            if i == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    lv = model(xv)
                    val_loss = pixel_loss(lv, yv).item()
                    val_acc = pixel_accuracy(lv, yv).item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d  loss %.4f  acc %.3f | val loss %.4f (%.3f bits/pixel)  acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_loss / math.log(2), val_acc), flush=True)
    rec.close()
    common.report(history.result(val_bits_per_pixel=val_loss / math.log(2)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "pixcnn-softmax-into-crossentropy", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark posts / Humbatova et al. 2020: CrossEntropyLoss on an "
               "output that is already a softmax (a Softmax layer closing the network)",
     "bug": "nn.Softmax(dim=1) closes the nn.Sequential and CrossEntropyLoss applies "
            "log_softmax to the probabilities again: the loss falls only from 1.23 to 0.973 "
            "(validation 0.979, 1.41 bits a pixel; pixel accuracy 0.767, validation 0.760) "
            "against the twin's 1.03 to 0.555 (validation 0.579, 0.835 bits a pixel; accuracy "
            "0.773, validation 0.765)",
     "fix": "no Softmax layer: the 1x1 convolution's logits go to CrossEntropyLoss",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug softmax-output --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "pixcnn-targets-unshuffled", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data: targets that do not match the inputs "
               "(the target array not indexed with the shuffled training indices)",
     "bug": "the training images are taken with the shuffled indices but their targets from "
            "the unshuffled array (target[:cut]), so every image is trained to predict another "
            "digit's pixels: the loss stays at 0.791 (from 0.987; validation 0.792, 1.14 bits "
            "a pixel, pixel accuracy 0.675) against the twin's 0.547 (validation 0.577, 0.833 "
            "bits a pixel, accuracy 0.762)",
     "fix": "TensorDataset(inputs[tr], target[tr])",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug targets-unshuffled --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "pixcnn-adam-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too low (1e-5 for 1e-3)",
     "bug": "Adam at 1e-5: the loss falls only from 1.52 to 1.31 in 8 epochs (validation 1.30, "
            "1.88 bits a pixel, pixel accuracy 0.468) against the twin's 1.04 to 0.560 "
            "(validation 0.574, 0.829 bits a pixel, accuracy 0.767)",
     "fix": "Adam at 1e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--lr 1e-5 --seed 2 --record-every 4",
          "fixed": "--lr 1e-3 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-pixcnn", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small PixelCNN with masked convolutions on quantized 8x8 digits that "
                    "trains well",
     "healthy": [
         {"id": "features48-blocks3-lr2e-3-seed3",
          "args": "--features 48 --blocks 3 --lr 2e-3 --seed 3 --record-every 4",
          "description": "48 channels, three type-B blocks, Adam at 2e-3"},
         {"id": "levels8-bs64-epochs10-seed4",
          "args": "--levels 8 --batch-size 64 --epochs 10 --seed 4 --record-every 4",
          "description": "8 intensity levels, batches of 64, 10 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
