"""A keyword-spotting CNN whose ``forward()`` computes a log-magnitude spectrogram with
``torch.stft``, trained on generated one-second recordings of four "spoken keywords".

The recordings are generated here at 4 kHz (4000 samples): a steady tone with its second
harmonic ("on"), a rising chirp ("up"), a falling chirp ("down") and two or three short
band-limited noise bursts ("stop"), each 0.3 to 0.7 s long with a little background noise,
recorded at a random gain (0.05 to 1.0) and DC offset (-0.1 to 0.1), then placed at a random
onset and zero-padded to one second, as a keyword data set's loader pads its clips. 25% of the
clips (stratified) validate.

``KeywordNet`` keeps its Hann window as a buffer (``register_buffer("window",
torch.hann_window(n_fft))``) and computes in ``forward()`` ``torch.stft(wave, n_fft=128,
hop_length=64, window=self.window, return_complex=True)``, its magnitude and
``torch.log(magnitude + 1e-6)``; a ``BatchNorm2d(1)`` normalizes the spectrogram, then three
blocks of ``Conv2d`` (3x3), ``BatchNorm2d`` and ReLU (the first two max-pooled), global
average pooling and ``Linear(C2, 4)``. It is trained with ``nn.CrossEntropyLoss`` under
``torch.optim.AdamW`` (``--lr``, ``--weight-decay``) and a ``CosineAnnealingLR`` over the
epochs, stepped once per epoch. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np
SR, KEYWORDS = 4000, ("on", "up", "down", "stop")


def keyword_clips(n, seed):
    rng = np.random.default_rng(seed)
    waves = np.zeros((n, SR), dtype=np.float32)
    labels = np.arange(n) % len(KEYWORDS)
    for i, k in enumerate(labels):
        dur = rng.uniform(0.3, 0.7)
        t = np.arange(int(dur * SR)) / SR
        if k == 0:
            f = rng.uniform(300, 900)
            s = np.sin(2 * np.pi * f * t) + 0.4 * np.sin(4 * np.pi * f * t + rng.uniform(0, 6))
        elif k in (1, 2):
            f0, f1 = rng.uniform(200, 500), rng.uniform(1200, 1800)
            if k == 2:
                f0, f1 = f1, f0
            phase = 2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * dur))
            s = np.sin(phase)
        else:
            s = np.zeros_like(t)
            for _ in range(int(rng.integers(2, 4))):
                at, width = int(rng.integers(0, len(t) - 300)), int(rng.integers(150, 300))
                burst = rng.standard_normal(width)
                burst = np.convolve(burst, np.ones(4) / 4, mode="same")  # band-limited
                s[at:at + width] += 2.0 * burst
        s = s * np.hanning(len(t)) ** 0.25 + 0.02 * rng.standard_normal(len(t))
        s = rng.uniform(0.05, 1.0) * s + rng.uniform(-0.1, 0.1)
        onset = int(rng.integers(0, SR - len(t)))
        waves[i, onset:onset + len(t)] = s
    return waves, labels.astype(np.int64)


class KeywordNet(nn.Module):
    def __init__(self, channels=12, n_fft=128, hop=64, log_eps=True):
        super().__init__()
        self.n_fft, self.hop, self.log_eps = n_fft, hop, log_eps
        self.register_buffer("window", torch.hann_window(n_fft))
        self.spec_bn = nn.BatchNorm2d(1)
        c1, c2 = channels, 2 * channels

        def block(cin, cout, pool):
            layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
            return nn.Sequential(*(layers + [nn.MaxPool2d(2)] if pool else layers))

        self.features = nn.Sequential(block(1, c1, True), block(c1, c2, True),
                                      block(c2, c2, False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c2, len(KEYWORDS))

    def spectrogram(self, wave):
        spec = torch.stft(wave, n_fft=self.n_fft, hop_length=self.hop, window=self.window,
                          return_complex=True)
        mag = spec.abs()
        if not self.log_eps:
            # BUG (log-no-eps): log of the magnitude without an epsilon: the zero-padded
            # silence has magnitude exactly 0 and log(0) = -inf.
            return torch.log(mag).unsqueeze(1)
        return torch.log(mag + 1e-6).unsqueeze(1)

    def forward(self, wave):
        x = self.spec_bn(self.spectrogram(wave))
        x = self.pool(self.features(x)).flatten(1)
        return self.classifier(x)


def main():
    p = common.parser(__doc__)
    p.add_argument("--channels", type=int, default=12)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--n", type=int, default=1200, help="clips")
    p.add_argument("--bug", default=None, choices=("log-no-eps", "zero-grad-before-step"))
    args = p.parse_args()
    common.torch_setup(args.seed)
    from torch.utils.data import DataLoader, TensorDataset

    waves, labels = keyword_clips(args.n, args.seed)
    w_tr, w_val, y_tr, y_val = common.split(waves, labels, val=0.25, seed=args.seed)
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(TensorDataset(torch.from_numpy(w_tr), torch.from_numpy(y_tr)),
                        batch_size=args.batch_size, shuffle=True, generator=g)
    wv, yv = torch.from_numpy(w_val), torch.from_numpy(y_val)

    model = KeywordNet(args.channels, log_eps=args.bug != "log-no-eps")
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr,
                                  weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    criterion = nn.CrossEntropyLoss()

    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        num_classes=len(KEYWORDS), batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b, (xb, yb) in enumerate(loader):
            optimizer.zero_grad()
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            if args.bug == "zero-grad-before-step":
                # BUG: zero_grad() moved to "just before the step" while tidying the loop:
                # it clears the gradients backward() has just computed.
                optimizer.zero_grad()
            optimizer.step()
            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vl = model(wv)
                    val_loss = criterion(vl, yv).item()
                    val_acc = (vl.argmax(1) == yv).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        scheduler.step()
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f acc %.3f lr %.3g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, scheduler.get_last_lr()[0]), flush=True)
    rec.close()
    layers = [n for n, m in model.named_modules()
              if n and not list(m.children()) and list(m.parameters(recurse=False))]
    common.report(history.result(layers=layers))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "stftkw-log-no-eps", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 / DeepFD fault type: numerical error in preprocessing "
               "(log of a spectrogram's magnitude without an epsilon)",
     "bug": "forward() takes torch.log(magnitude) of the torch.stft spectrogram without an "
            "epsilon: the zero-padded silence of every clip has magnitude exactly 0, log gives "
            "-inf, the input BatchNorm2d turns it into NaN and the loss is NaN from the first "
            "step (validation accuracy 0.25 of four keywords against the twin's 1.00)",
     "fix": "torch.log(magnitude + 1e-6)",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-cosine",
          "buggy": "--bug log-no-eps --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "stftkw-zero-grad-before-step", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 / Stack Overflow: optimizer.zero_grad() in the wrong "
               "place (between loss.backward() and optimizer.step())",
     "bug": "a second optimizer.zero_grad() between loss.backward() and optimizer.step() "
            "clears every gradient before the step: AdamW only applies its weight decay, the "
            "loss stays at 1.42 to 1.43 and the validation accuracy at 0.25 of four "
            "keywords against the twin's 1.00",
     "fix": "optimizer.zero_grad() only before the forward pass",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-cosine-seed1",
          "buggy": "--bug zero-grad-before-step --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "stftkw-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "AdamW at 0.2 (meant 2e-3) under the cosine schedule: the first epoch's loss is "
            "1.50 (validation loss 2.86), then the loss sits at ln 4 (1.387) and the "
            "validation accuracy at chance, 0.25 of four keywords, against the twin's 1.00",
     "fix": "learning rate 2e-3",
     "symptom": "oscillation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-cosine-seed3",
          "buggy": "--lr 0.2 --seed 3 --record-every 4",
          "fixed": "--lr 2e-3 --seed 3 --record-every 4"},
     ]},
    {"family": "healthy-stftkw", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a keyword-spotting CNN on torch.stft log spectrograms that trains well",
     "healthy": [
         {"id": "c16-lr3e-3-bs64-seed1",
          "args": "--channels 16 --lr 3e-3 --batch-size 64 --seed 1 --record-every 4",
          "description": "16 and 32 channels, AdamW 3e-3, batches of 64"},
         {"id": "wd5e-2-lr1e-3-bs16-seed2",
          "args": "--weight-decay 5e-2 --lr 1e-3 --batch-size 16 --epochs 6 --seed 2 --record-every 4",
          "description": "AdamW 1e-3 with weight decay 5e-2, batches of 16, 6 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
