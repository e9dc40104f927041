"""Conv-TasNet (Luo and Mesgarani 2019) in PyTorch, scaled down, separating two-source mixtures
the program synthesizes.

Written as the paper's reference implementation (``kaituoxu/Conv-TasNet``, ``conv_tasnet.py``
and ``pit_criterion.py``) writes it. The data: 0.25 s clips at 8 kHz (2000 samples), each the
sum of a harmonic tone (a fundamental of 120 to 400 Hz with 3 to 5 harmonics of decaying
amplitude and random phases, a slow tremolo) and a second source that is either a linear chirp
(300 to 3500 Hz, random start and end) or a noise burst (white noise under a random attack /
decay envelope), at a random relative gain of -5 to +5 dB; as a mixing script writes its
sources, the two are stored in random order. 512 training mixtures, 128 held out (another seed).

The model: the encoder, a learned ``Conv1d(1, N, L=16, stride=8)`` with ReLU (``encoder``); the
separator (``separator.*``): global layer norm, a 1x1 bottleneck to B=32 channels, 4
temporal blocks with dilations 1, 2, 4, 8 (a 1x1 conv to H=64, PReLU, gLN, a dilated depthwise
conv of kernel 3, PReLU, gLN, a 1x1 conv back to B, residual), PReLU and a 1x1 conv to 2 x N
mask channels, sigmoid masks per source; the decoder, a ``ConvTranspose1d(N, 1, 16,
stride=8)`` (``decoder``) applied to each masked representation, its output padded or cut to
the mixture's length. The loss is the utterance-level permutation-invariant one of the
reference: the scale-invariant SNR (zero-mean signals) of every source/estimate pairing, the
best of the two permutations per example, negated and averaged. Adam (``--lr``, 2e-3),
gradient norm clipped at 5, batches of 16 (32 steps an epoch), 12 epochs (384 steps). The
held-out loss is the validation loss; the result line adds ``val_si_snri``, the held-out SI-SNR
improvement of the estimates over the mixture (dB). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

RATE, LENGTH = 8000, 2000
EPS = 1e-8


def make_mixtures(n, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH) / RATE
    mix = np.empty((n, LENGTH), np.float32)
    src = np.empty((n, 2, LENGTH), np.float32)
    for i in range(n):
        f0 = rng.uniform(120, 400)
        tone = np.zeros(LENGTH)
        for h in range(1, int(rng.integers(3, 6)) + 1):
            tone += (0.7 ** (h - 1)) * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
        tone *= 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(2, 6) * t)
        if rng.random() < 0.5:
            f1, f2 = rng.uniform(300, 3500, size=2)
            phase = 2 * np.pi * (f1 * t + (f2 - f1) * t ** 2 / (2 * t[-1]))
            other = np.sin(phase)
        else:
            onset, dur = rng.uniform(0, 0.1), rng.uniform(0.05, 0.15)
            env = np.clip((t - onset) / 0.01, 0, 1) * np.exp(-np.clip(t - onset, 0, None) / dur)
            other = env * rng.standard_normal(LENGTH)
        tone /= np.sqrt(np.mean(tone ** 2)) + EPS
        other /= np.sqrt(np.mean(other ** 2)) + EPS
        other *= 10 ** (rng.uniform(-5, 5) / 20)
        pair = [tone, other] if rng.random() < 0.5 else [other, tone]
        src[i] = np.stack(pair) * 0.3
        mix[i] = src[i].sum(0)
    return torch.tensor(mix), torch.tensor(src)


class GlobalLayerNorm(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1, channels, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, y):
        mean = y.mean(dim=(1, 2), keepdim=True)
        var = ((y - mean) ** 2).mean(dim=(1, 2), keepdim=True)
        return self.gamma * (y - mean) / torch.sqrt(var + EPS) + self.beta


class TemporalBlock(nn.Module):
    def __init__(self, b, h, dilation):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(b, h, 1), nn.PReLU(), GlobalLayerNorm(h),
            nn.Conv1d(h, h, 3, dilation=dilation, padding=dilation, groups=h),
            nn.PReLU(), GlobalLayerNorm(h), nn.Conv1d(h, b, 1))

    def forward(self, x):
        return x + self.net(x)


class ConvTasNet(nn.Module):
    def __init__(self, n=64, l=16, b=32, h=64, blocks=4, sources=2, decoder_stride=None,
                 mask="sigmoid"):
        super().__init__()
        self.sources, self.n, self.mask = sources, n, mask
        self.encoder = nn.Conv1d(1, n, l, stride=l // 2, bias=False)
        self.separator = nn.Sequential(
            GlobalLayerNorm(n), nn.Conv1d(n, b, 1),
            *[TemporalBlock(b, h, 2 ** i) for i in range(blocks)],
            nn.PReLU(), nn.Conv1d(b, sources * n, 1))
        self.decoder = nn.ConvTranspose1d(n, 1, l, stride=decoder_stride or l // 2, bias=False)

    def forward(self, mix):
        w = F.relu(self.encoder(mix[:, None]))                        # B, N, K
        m = self.separator(w).view(mix.shape[0], self.sources, self.n, -1)
        if self.mask == "sigmoid":
            m = torch.sigmoid(m)
        else:
            # BUG (mask-softmax-time): the masks softmaxed over the frames (the last dim) instead
            # of being a sigmoid per source: each mask channel sums to one over time.
            m = torch.softmax(m, dim=-1)
        masked = (w[:, None] * m).view(-1, self.n, w.shape[-1])
        out = self.decoder(masked).view(mix.shape[0], self.sources, -1)
        T = mix.shape[-1]
        if out.shape[-1] < T:
            out = F.pad(out, (0, T - out.shape[-1]))
        return out[..., :T]


def si_snr(est, ref):
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    proj = (est * ref).sum(-1, keepdim=True) * ref / ((ref ** 2).sum(-1, keepdim=True) + EPS)
    noise = est - proj
    return 10 * torch.log10((proj ** 2).sum(-1) / ((noise ** 2).sum(-1) + EPS) + EPS)


def pit_loss(est, src, per_batch=False):
    # SI-SNR of both permutations of the 2 sources, averaged over the sources: B x 2
    perms = torch.stack([
        (si_snr(est[:, 0], src[:, 0]) + si_snr(est[:, 1], src[:, 1])) / 2,
        (si_snr(est[:, 0], src[:, 1]) + si_snr(est[:, 1], src[:, 0])) / 2], dim=1)
    if per_batch:
        # BUG (pit-per-batch): the permutation chosen once for the whole batch (the best mean
        # over the batch) instead of per example.
        best = perms.mean(0).max()
        return -best, perms.max(1).values
    best = perms.max(dim=1).values
    return -best.mean(), best


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--bug", default=None, choices=(
        "pit-per-batch", "mask-softmax-time", "decoder-stride"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    mix, src = make_mixtures(512, seed=args.seed)
    val_mix, val_src = make_mixtures(128, seed=1000 + args.seed)
    # BUG (decoder-stride): the decoder's stride written as 4 while the encoder's hop is 8
    # (L // 2): the decoded frames overlap twice as much and the waveform is half as long.
    model = ConvTasNet(n=args.filters, decoder_stride=4 if args.bug == "decoder-stride" else None,
                       mask="softmax-time" if args.bug == "mask-softmax-time" else "sigmoid")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = len(mix) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="neg_si_snr_pit",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    with torch.no_grad():
        base = ((si_snr(val_mix, val_src[:, 0]) + si_snr(val_mix, val_src[:, 1])) / 2).mean().item()
    val_si_snri = None
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(mix), generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = mix[idx], src[idx]
            optimizer.zero_grad()
            loss, _ = pit_loss(model(xb), yb, per_batch=args.bug == "pit-per-batch")
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    _, best = pit_loss(model(val_mix), val_src)
                val_loss = -best.mean().item()
                val_si_snri = best.mean().item() - base
                model.train()
            rec.step(loss, inputs=xb, targets=yb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        if (epoch + 1) % 3 == 0:
            print("epoch %d: train loss %.3f  held-out SI-SNRi %.2f dB" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_si_snri))
    rec.close()
    common.report(history.result(val_si_snri=val_si_snri))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "tasnet-pit-per-batch", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function calculation (the permutation of a "
               "permutation-invariant loss chosen once per batch instead of per example)",
     "bug": "pit_loss takes the permutation with the best mean SI-SNR over the batch, so that "
            "with the sources stored in random order about half of the examples are trained "
            "against the wrong source: the loss falls only from 7.49 to -0.99 (twin 4.35 to "
            "-12.11) and the held-out SI-SNR improvement ends at 3.83 dB against the twin's "
            "11.68 dB",
     "fix": "take the best permutation per example, perms.max(dim=1).values, then the mean",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug pit-per-batch --record-every 6",
          "fixed": "--record-every 6"},
     ]},
    {"family": "tasnet-decoder-stride", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong layer configuration (a transposed-convolution "
               "decoder's stride not matching the encoder's hop)",
     "bug": "the decoder's ConvTranspose1d has stride 4 while the encoder's hop is 8: every "
            "estimate is squeezed into the first half of the clip and padded with zeros, the "
            "loss stays positive (27.02 in the first epoch, 17.29 in the last; twin 7.32 to "
            "-11.25) and the held-out SI-SNR improvement ends at -24.04 dB against the twin's "
            "10.76 dB",
     "fix": "ConvTranspose1d(N, 1, L, stride=L // 2), the encoder's hop",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": {"layer_name": "decoder", "layer_index": 24},
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug decoder-stride --seed 1 --record-every 6",
          "fixed": "--seed 1 --record-every 6"},
     ]},
    {"family": "healthy-tasnet", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small Conv-TasNet separating synthetic two-source mixtures",
     "healthy": [
         {"id": "filters48-seed2",
          "args": "--filters 48 --seed 2 --record-every 6",
          "description": "48 encoder filters, seed 2"},
     ]},
]


if __name__ == "__main__":
    main()
