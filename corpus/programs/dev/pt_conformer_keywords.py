"""A small Conformer encoder (Gulati et al. 2020) in PyTorch, classifying keywords from
synthetic log-mel-like spectrograms.

The model follows the paper ("Conformer: Convolution-augmented Transformer for Speech
Recognition") as the public PyTorch re-implementations (``sooftware/conformer``) and
torchaudio's ``torchaudio.models.Conformer`` write it: a ``Conv2dSubsampling`` front end (two
3x3 convolutions of stride 2 with ReLU, then a linear projection of channels x bins to
``--dim``), then 2 Conformer blocks, each: a macaron feed-forward module (LayerNorm, Linear to
4x, SiLU, dropout, Linear back) added at half step, multi-head self-attention (LayerNorm,
``nn.MultiheadAttention`` with a key padding mask that is True at padded frames, dropout), the
convolution module (LayerNorm, pointwise conv to 2x channels, GLU over channels, depthwise conv
of kernel 7 with ``groups=channels``, BatchNorm1d, SiLU, pointwise conv, dropout), a second
half-step feed-forward and a final LayerNorm. The encoder output is mean-pooled over the real
(unpadded) frames and a linear head gives the keyword; ``CrossEntropyLoss``, AdamW (``--lr``,
weight decay 0.01) with a linear warmup over ``--warmup`` optimizer steps followed by inverse
square-root decay (``LambdaLR`` stepped after every optimizer step).

The spectrograms are generated: 48 frames x 24 bins. Each of 5 keywords is a sequence of 3
formant-like patterns (a Gaussian bump over one of the bins 4, 9 and 14, 5 to 8 frames long,
with a weaker harmonic 6 bins above) at jittered times: all keywords use the same three bins, in
their own order; the utterance lasts 30 to 48 frames (the rest
is zero padding, about a third of the utterances fill all 48), with random amplitude, a log
compression and Gaussian noise. 1000 train, 400 held out (another seed); batches of 32, 32 steps
an epoch; after every epoch the held-out loss and accuracy (chance 0.2) go to the recorder. The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

FRAMES, BINS, KEYWORDS = 48, 24, 5


def make_spectrograms(n, seed):
    rng = np.random.default_rng(seed)
    # every keyword uses 3 of the same 4 bins, in its own order: the order tells them apart
    formants = np.array([[4, 9, 14], [14, 9, 4], [9, 4, 14], [4, 14, 9], [14, 4, 9]])
    y = rng.integers(0, KEYWORDS, size=n)
    x = np.zeros((n, FRAMES, BINS), dtype=np.float32)
    lengths = np.where(rng.random(n) < 0.35, FRAMES, rng.integers(30, FRAMES, size=n))
    bins = np.arange(BINS)[None, :]
    for i in range(n):
        length = int(lengths[i])
        spec = np.zeros((length, BINS))
        seg = length / 3.0
        for k in range(3):
            dur = int(rng.integers(5, 9))
            start = int(np.clip(k * seg + rng.integers(-2, 3), 0, length - dur))
            centre = formants[y[i], k] + rng.normal(0, 0.5)
            amp = rng.uniform(0.6, 1.4)
            bump = np.exp(-0.5 * ((bins - centre) / 1.2) ** 2) \
                + 0.5 * np.exp(-0.5 * ((bins - centre - 6) / 1.2) ** 2)
            env = np.hanning(dur + 2)[1:-1][:, None]
            spec[start:start + dur] += amp * env * bump
        spec = np.log1p(4 * spec) + 0.3 * rng.standard_normal(spec.shape)
        x[i, :length] = spec
    return torch.tensor(x), torch.tensor(y), torch.tensor(lengths)


def subsampled_lengths(lengths):
    return ((lengths - 1) // 2 - 1) // 2


class Conv2dSubsampling(nn.Module):
    def __init__(self, dim, channels=16):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2), nn.ReLU())
        f = ((BINS - 1) // 2 - 1) // 2
        self.out = nn.Linear(channels * f, dim)

    def forward(self, x):                              # (B, T, F)
        h = self.conv(x.unsqueeze(1))                  # (B, C, T', F')
        b, c, t, f = h.shape
        return self.out(h.permute(0, 2, 1, 3).reshape(b, t, c * f))


class FeedForward(nn.Module):
    def __init__(self, dim, dropout):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(4 * dim, dim), nn.Dropout(dropout))

    def forward(self, x):
        return self.net(x)


class ConvModule(nn.Module):
    def __init__(self, dim, kernel=7, dropout=0.1):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.pointwise1 = nn.Conv1d(dim, 2 * dim, 1)
        self.glu = nn.GLU(dim=1)
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.bn = nn.BatchNorm1d(dim)
        self.act = nn.SiLU()
        self.pointwise2 = nn.Conv1d(dim, dim, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):                              # (B, T, D)
        h = self.norm(x).transpose(1, 2)               # (B, D, T)
        h = self.glu(self.pointwise1(h))
        h = self.act(self.bn(self.depthwise(h)))
        return self.dropout(self.pointwise2(h)).transpose(1, 2)


class ConformerBlock(nn.Module):
    def __init__(self, dim, heads, dropout=0.1):
        super().__init__()
        self.ff1 = FeedForward(dim, dropout)
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.attn_dropout = nn.Dropout(dropout)
        self.conv = ConvModule(dim, dropout=dropout)
        self.ff2 = FeedForward(dim, dropout)
        self.final_norm = nn.LayerNorm(dim)

    def forward(self, x, pad_mask):
        x = x + 0.5 * self.ff1(x)
        h = self.attn_norm(x)
        h, _ = self.attn(h, h, h, key_padding_mask=pad_mask, need_weights=False)
        x = x + self.attn_dropout(h)
        x = x + self.conv(x)
        x = x + 0.5 * self.ff2(x)
        return self.final_norm(x)


class ConformerClassifier(nn.Module):
    def __init__(self, dim=48, heads=4, blocks=2, bug=None):
        super().__init__()
        self.subsampling = Conv2dSubsampling(dim)
        self.blocks = nn.ModuleList([ConformerBlock(dim, heads) for _ in range(blocks)])
        self.head = nn.Linear(dim, KEYWORDS)
        self.bug = bug

    def forward(self, x, lengths):
        h = self.subsampling(x)
        t = h.shape[1]
        sub = subsampled_lengths(lengths)
        pad_mask = torch.arange(t)[None, :] >= sub[:, None]          # True at padded frames
        if self.bug == "mask-inverted":
            # BUG (mask-inverted): the key padding mask built True for the real frames and
            # False for the padding, so attention may only look at padded frames.
            pad_mask = torch.arange(t)[None, :] < sub[:, None]
        for block in self.blocks:
            h = block(h, pad_mask)
        real = (torch.arange(t)[None, :] < sub[:, None]).unsqueeze(-1).float()
        pooled = (h * real).sum(1) / real.sum(1)
        return self.head(pooled)


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=100, help="warmup in optimizer steps")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--dim", type=int, default=48)
    p.add_argument("--bug", default=None, choices=("mask-inverted", "schedule-per-epoch"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y, lengths = make_spectrograms(1000, seed=args.seed)
    xv, yv, lv = make_spectrograms(400, seed=1000 + args.seed)
    model = ConformerClassifier(dim=args.dim, bug=args.bug)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = args.warmup
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, math.sqrt(warmup / (step + 1))))
    criterion = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(x) + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=KEYWORDS,
        batch_size=args.batch_size)
    history = common.History()
    val_loss = val_acc = None
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x), generator=gen)
        for b in range(steps_per_epoch):
            model.train()
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb, lb = x[idx], y[idx], lengths[idx]
            optimizer.zero_grad()
            logits = model(xb, lb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            if args.bug != "schedule-per-epoch":
                scheduler.step()
            acc = (logits.argmax(1) == yb).float().mean().item()
            vl = va = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    out = model(xv, lv)
                    val_loss = vl = criterion(out, yv).item()
                    val_acc = va = (out.argmax(1) == yv).float().mean().item()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=vl, val_accuracy=va)
            history.step(loss.item(), acc)
        if args.bug == "schedule-per-epoch":
            # BUG (schedule-per-epoch): the warmup scheduler, whose warmup is counted in
            # optimizer steps, stepped once per epoch, so the rate stays near zero.
            scheduler.step()
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.4f  val loss %.4f  val acc %.3f  lr %.2e" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc,
            scheduler.get_last_lr()[0]), flush=True)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "conformer-mask-inverted", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: wrong mask (the key padding mask of the self-attention "
               "built True for the real frames instead of the padded ones)",
     "bug": "key_padding_mask = arange(t) < lengths instead of >= lengths: attention may only "
            "look at padding, and utterances without padding have every key masked; the "
            "training loss still falls (0.0051, accuracy 1.0) but the held-out loss is NaN and "
            "the held-out accuracy 0.692 (the fully masked utterances), against the twin's "
            "0.0031 and 1.0",
     "fix": "key_padding_mask = arange(t) >= lengths (True at padded frames)",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw",
          "buggy": "--bug mask-inverted --record-every 6",
          "fixed": "--record-every 6"},
     ]},
    {"family": "conformer-schedule-per-epoch", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (a warmup counted in "
               "optimizer steps stepped once per epoch)",
     "bug": "scheduler.step() once per epoch with a warmup of 300 steps: the rate climbs from "
            "6.7e-6 to 6.7e-5 (meant to reach 2e-3 at step 300), the loss falls only from 1.670 "
            "to 1.446 (accuracy 0.376), held-out accuracy 0.498 and loss 1.279, against the "
            "twin's 1.0 and 0.0047",
     "fix": "scheduler.step() after every optimizer step",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "warmup300-seed1",
          "buggy": "--bug schedule-per-epoch --warmup 300 --seed 1 --record-every 6",
          "fixed": "--warmup 300 --seed 1 --record-every 6"},
     ]},
    {"family": "healthy-conformer", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a small Conformer encoder classifying keywords from synthetic spectrograms",
     "healthy": [
         {"id": "dim32-seed2",
          "args": "--dim 32 --seed 2 --record-every 6",
          "description": "model width 32 instead of 48"},
     ]},
]


if __name__ == "__main__":
    main()
