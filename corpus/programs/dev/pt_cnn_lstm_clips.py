"""A CNN-LSTM action classifier (LRCN, Donahue et al. 2015, "Long-term Recurrent
Convolutional Networks") in PyTorch, as the public PyTorch re-implementations write it (a
small CNN applied to every frame with time folded into the batch, an LSTM over the frame
features, the last time step into a linear head), on generated motion clips.

The clips are generated here: 10 frames of 16x16 grey images, each a Gaussian blob (std 1.2
pixels) that starts at a random place and moves one pixel a frame in one of four directions
(right, left, down, up: the class), wrapping around the edges, plus Gaussian noise (std 0.1). No single frame says which
way the blob moves; only the order of the frames does. 1024 clips train, 256 others
(another seed) are held out.

``LRCN``: ``cnn`` (``Conv2d`` 1-8, ``BatchNorm2d``, ReLU, max-pool, ``Conv2d`` 8-16,
``BatchNorm2d``, ReLU, max-pool) applied to ``x.view(b * t, c, h, w)``, ``embed``
(``Linear`` 256-64, ReLU, dropout 0.3), the features unfolded back with ``view(b, t, -1)``,
``lstm`` (``nn.LSTM(64, --hidden, batch_first=True)``) and ``head`` (``Linear``) on the last
time step's output; ``CrossEntropyLoss``, Adam (``--lr``), batches of ``--batch-size`` clips
shuffled each epoch (32 steps an epoch with 32, 8 epochs). After every epoch the held-out
clips give the validation loss and accuracy (``model.eval()``, then ``model.train()``
again). The mistakes of
the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

DIRECTIONS = [(0, 1), (0, -1), (1, 0), (-1, 0)]   # (dy, dx): right, left, down, up
FRAMES, SIZE = 10, 16


def make_clips(n, seed, noise=0.1, sigma=1.2):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    clips = np.zeros((n, FRAMES, 1, SIZE, SIZE), dtype=np.float32)
    labels = rng.integers(0, len(DIRECTIONS), size=n)
    for i in range(n):
        dy, dx = DIRECTIONS[labels[i]]
        # a start anywhere; the blob wraps around the edges (a torus), so that no single
        # frame, the first included, tells the direction
        y0, x0 = rng.uniform(0, SIZE, size=2)
        for t in range(FRAMES):
            cy, cx = (y0 + dy * t) % SIZE, (x0 + dx * t) % SIZE
            ddy = np.abs(yy - cy)
            ddx = np.abs(xx - cx)
            ddy, ddx = np.minimum(ddy, SIZE - ddy), np.minimum(ddx, SIZE - ddx)
            clips[i, t, 0] = np.exp(-(ddy ** 2 + ddx ** 2) / (2 * sigma ** 2))
    clips += noise * rng.standard_normal(clips.shape).astype(np.float32)
    return torch.tensor(clips), torch.tensor(labels, dtype=torch.long)


class LRCN(nn.Module):
    def __init__(self, hidden, classes, bug=None):
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.embed = nn.Sequential(nn.Linear(16 * 4 * 4, 64), nn.ReLU(), nn.Dropout(0.3))
        self.lstm = nn.LSTM(64, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)
        self.bug = bug

    def forward(self, x):
        b, t, c, h, w = x.shape
        f = self.cnn(x.view(b * t, c, h, w))
        f = self.embed(f.flatten(1))
        if self.bug == "view-time-batch":
            # BUG (view-time-batch): the frame features unfolded as (t, b, -1) and transposed,
            # on features folded clip by clip: every "clip" gets frames of other clips.
            f = f.view(t, b, -1).transpose(0, 1)
        else:
            f = f.view(b, t, -1)
        out, _ = self.lstm(f)
        if self.bug == "first-step-output":
            # BUG (first-step-output): the first time step's output (it has seen one frame)
            # instead of the last.
            return self.head(out[:, 0])
        return self.head(out[:, -1])


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("view-time-batch", "first-step-output", "frames-shuffled"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = make_clips(1024, seed=args.seed)
    xv, yv = make_clips(256, seed=1000 + args.seed)

    model = LRCN(args.hidden, len(DIRECTIONS), bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(x) + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        num_classes=len(DIRECTIONS), batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x[idx], y[idx]
            if args.bug == "frames-shuffled":
                # BUG (frames-shuffled): the clip loader "augments" by shuffling each clip's
                # frames in time: the order, the only thing that tells the motion, is lost.
                order = torch.argsort(torch.rand(xb.shape[:2], generator=gen), dim=1)
                xb = xb[torch.arange(len(xb))[:, None], order]
            optimizer.zero_grad()
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vl = model(xv)
                    val_loss = criterion(vl, yv).item()
                    val_acc = (vl.argmax(1) == yv).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc), flush=True)
    rec.close()
    layers = [n for n, m in model.named_modules()
              if n and not list(m.children()) and list(m.parameters(recurse=False))]
    common.report(history.result(layers=layers))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "lrcn-view-time-batch", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong tensor shape (time folded into the batch for the "
               "CNN and unfolded back with the wrong view)",
     "bug": "the per-frame features, folded clip by clip as x.view(b * t, c, h, w), are "
            "unfolded with f.view(t, b, -1).transpose(0, 1) instead of f.view(b, t, -1): every "
            "sequence the LSTM sees is made of frames of other clips, the loss stays at ln 4 "
            "(first epoch 1.401, 8th 1.386, training accuracy 0.274) and the validation "
            "accuracy ends at 0.223 of four directions (validation loss 1.401), against the "
            "twin's 1.000 (validation loss 0.0160, training loss 0.0392)",
     "fix": "f.view(b, t, -1)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug view-time-batch --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "lrcn-first-step-output", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong output of a recurrent layer used (the first time "
               "step's output instead of the last)",
     "bug": "the head takes out[:, 0], the LSTM's output after the first frame, instead of "
            "out[:, -1]: one frame does not tell the direction (the blob starts anywhere and "
            "wraps around), the loss only falls from 1.392 to 1.287 (training accuracy 0.412, "
            "by memorizing) and the validation accuracy ends at 0.273 of four directions "
            "(validation loss 1.600), against the twin's 1.000 (validation loss 0.0082)",
     "fix": "self.head(out[:, -1])",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug first-step-output --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "lrcn-frames-shuffled", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong preprocessing (a temporal augmentation that "
               "shuffles the frames of every clip)",
     "bug": "every training clip's frames are permuted at random in time before the forward "
            "pass: only the axis of the motion is left (which row or column the blob stays "
            "on), not its direction; the loss falls to 0.708 (about ln 2, training accuracy "
            "0.541) and the validation accuracy ends at 0.520 of four directions (validation "
            "loss 0.724), against the twin's 1.000 (validation loss 0.0409)",
     "fix": "keep the frames in their order",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug frames-shuffled --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-lrcn", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a CNN-LSTM (LRCN) that classifies the direction of motion in generated "
                    "clips",
     "healthy": [
         {"id": "h32-lr1e-3-bs16-seed3",
          "args": "--hidden 32 --lr 1e-3 --batch-size 16 --seed 3 --record-every 4",
          "description": "an LSTM of 32 units, Adam 1e-3, batches of 16 clips"},
     ]},
]


if __name__ == "__main__":
    main()
