"""A small WaveNet (van den Oord et al. 2016) in PyTorch, as the public re-implementations
write it (r9y9/wavenet_vocoder, vincentherrmann/pytorch-wavenet): one-hot mu-law input, a
stack of dilated causal convolutions with gated activations, residual and skip 1x1
convolutions, and a softmax over the quantization levels of the next sample.

The audio is generated here, 8 kHz-like: windows of 257 samples, each the sum of two or three
sines with random frequencies (80 to 900 Hz), amplitudes and phases under a random envelope
(an exponential decay or a rise), scaled to a peak of 0.5 to 0.95, plus a little noise. Every
window is mu-law companded, ``sign(x) log(1 + mu |x|) / log(1 + mu)`` with mu = 63, and
quantized to 64 levels. 640 windows train, 512 others (another seed) are held out. The first
256 samples (one-hot) are the input and the same samples shifted by one are the targets.

``WaveNet``: ``causal`` (``Conv1d`` 64-24 with ``--channels`` 24, kernel 1), then
``--cycles`` (2) cycles of dilations 1, 2, 4, 8; every ``layers.i`` has ``dilated``
(``Conv1d`` 24-48, kernel 2, padded by the dilation and the padding trimmed from the end, as
wavenet_vocoder's ``Conv1d`` does, so that the output at t sees only samples up to t), the
gate ``tanh(a) * sigmoid(b)``, ``res`` (1x1, added to the layer's input, scaled by
sqrt(0.5)) and ``skip`` (1x1 to twice ``--channels``); the skips are summed and go through
ReLU, ``out1`` (1x1), ReLU and ``out2`` (1x1 to 64 levels). ``CrossEntropyLoss`` over the
levels of every next sample, Adam (``--lr``), batches of ``--batch-size`` windows shuffled
each epoch (20 steps an epoch with 32, 10 epochs). After every epoch the held-out windows are
scored the way generation meets them: the prediction after the last input sample of each
window (nothing after it is in the input) against the sample that follows; its cross-entropy
is the validation loss and its exact-level accuracy the validation accuracy (predicting the
training set's level distribution: 4.0 nats, accuracy 0.023). The mistakes of the families
in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

np = common.np

LEVELS, WINDOW, RATE = 64, 256, 8000.0


def mulaw_quantize(x, mu=LEVELS - 1):
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.clip(((y + 1) / 2 * mu + 0.5).astype(np.int64), 0, mu)


def make_audio(n, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(WINDOW + 1) / RATE
    waves = np.zeros((n, WINDOW + 1))
    for i in range(n):
        for _ in range(rng.integers(2, 4)):
            f = rng.uniform(80, 900)
            waves[i] += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        if rng.random() < 0.5:
            env = np.exp(-t * rng.uniform(5, 40))
        else:
            env = 1 - np.exp(-t * rng.uniform(20, 200))
        waves[i] *= env
        waves[i] *= rng.uniform(0.5, 0.95) / np.abs(waves[i]).max()
    waves += 0.005 * rng.standard_normal(waves.shape)
    return torch.tensor(mulaw_quantize(np.clip(waves, -1, 1)))


class ResidualLayer(nn.Module):
    def __init__(self, channels, skip_channels, dilation, bug=None):
        super().__init__()
        self.dilation = dilation
        self.dilated = nn.Conv1d(channels, 2 * channels, 2, dilation=dilation, padding=dilation)
        self.res = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, skip_channels, 1)
        self.bug = bug

    def forward(self, x):
        length = x.size(-1)
        h = self.dilated(x)
        if self.bug == "not-causal":
            # BUG (not-causal): the padding trimmed from the start instead of the end: the
            # output at t sees x[t] and x[t + dilation], the future it is meant to predict.
            h = h[:, :, -length:]
        else:
            h = h[:, :, :length]
        a, b = h.chunk(2, dim=1)
        h = torch.tanh(a) * torch.sigmoid(b)
        return (x + self.res(h)) * math.sqrt(0.5), self.skip(h)


class WaveNet(nn.Module):
    def __init__(self, channels=24, skip_channels=48, cycles=2, bug=None):
        super().__init__()
        self.causal = nn.Conv1d(LEVELS, channels, 1)
        self.layers = nn.ModuleList(
            ResidualLayer(channels, skip_channels, 2 ** i, bug=bug)
            for _ in range(cycles) for i in range(4))
        self.out1 = nn.Conv1d(skip_channels, skip_channels, 1)
        self.out2 = nn.Conv1d(skip_channels, LEVELS, 1)

    def forward(self, x):
        h = self.causal(x)
        skips = 0
        for layer in self.layers:
            h, s = layer(h)
            skips = skips + s
        return self.out2(F.relu(self.out1(F.relu(skips))))


def main():
    p = common.parser(__doc__)
    p.add_argument("--channels", type=int, default=24)
    p.add_argument("--cycles", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("not-causal",))
    args = p.parse_args()
    common.torch_setup(args.seed)

    q = make_audio(640, seed=args.seed)
    qv = make_audio(512, seed=1000 + args.seed)
    x_val = F.one_hot(qv[:, :WINDOW], LEVELS).float().transpose(1, 2)
    y_val = qv[:, WINDOW]

    model = WaveNet(args.channels, 2 * args.channels, args.cycles, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(q) + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        num_classes=LEVELS, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(q), generator=gen)
        for b in range(steps_per_epoch):
            qb = q[perm[b * args.batch_size:(b + 1) * args.batch_size]]
            xb = F.one_hot(qb[:, :WINDOW], LEVELS).float().transpose(1, 2)
            yb = qb[:, 1:]
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
                    vl = model(x_val)[:, :, -1]
                    val_loss = criterion(vl, y_val).item()
                    val_acc = (vl.argmax(1) == y_val).float().mean().item()
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
    {"family": "wavenet-not-causal", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (model, wrong masking of the future): a dilated "
               "convolution of an autoregressive model that is not causal",
     "bug": "every dilated convolution (padded by its dilation on both sides) has its padding "
            "trimmed from the start, h[:, :, -length:], instead of the end, h[:, :, :length]: "
            "the output at t sees the sample it predicts, the training loss falls from 4.035 "
            "to 0.034 (training accuracy 0.995) while the held-out next sample after each "
            "window, where nothing later is in the input, ends at a cross-entropy of 5.06 and "
            "an accuracy of 0.045 of 64 levels, against the twin's 2.035 and 0.258 (training "
            "loss 1.957)",
     "fix": "h = h[:, :, :length] (trim the padding from the end)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug not-causal --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "wavenet-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "Adam at 0.1 (meant 3e-3): the first epoch's loss is 4.34, then the loss sits at "
            "3.97, the entropy of the levels' distribution (training accuracy 0.029), and the "
            "held-out next-sample cross-entropy ends at 3.987 with an accuracy of 0.023 of 64 "
            "levels, against the twin's 2.007 and 0.277",
     "fix": "Adam at 3e-3",
     "symptom": "oscillation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 0.1 --seed 1 --record-every 4",
          "fixed": "--lr 3e-3 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-wavenet", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small WaveNet that predicts the next mu-law level of generated audio",
     "healthy": [
         {"id": "c32-lr2e-3-seed2",
          "args": "--channels 32 --lr 2e-3 --seed 2 --record-every 4",
          "description": "32 residual and 64 skip channels, Adam 2e-3"},
     ]},
]


if __name__ == "__main__":
    main()
