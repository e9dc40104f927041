"""TS2Vec (Yue et al. 2022), scaled down, as its reference PyTorch implementation
(``zhihanyue/ts2vec``: ``models/encoder.py``, ``models/dilated_conv.py``, ``models/losses.py``,
``ts2vec.py``) writes it, learning representations of generated time series.

The data are generated here: univariate series of 96 steps in 4 classes, each the sum of a
class-specific periodic pattern with a random phase and amplitude (class 0 a slow sine of
period 24, class 1 a fast sine of period 8, class 2 a square wave of period 24, class 3 both
sines at half amplitude), a random linear trend, a regime switch (a level shift of random
size at a random time) and Gaussian noise (std ``--noise``, 0.6); 480 series train (their
labels are not used by the encoder), 480 others (another seed) are held out for the probe.
Every series is standardized on its own, as the reference does for UCR data.

``TSEncoder`` is the reference's: ``input_fc`` (``Linear`` 1 -> 32) projects every timestamp,
the timestamp masking (``mask_mode="binomial"``, p = 0.5, training only) zeroes the projected
timestamps where the mask is False, then ``DilatedConvEncoder``: 4 ``ConvBlock``s of two
``SamePadConv`` (kernel 3, dilation 2**i, GELU before each) with residual connections (the last
block with a 1x1 ``projector`` to 64 output dimensions) and a representation dropout of 0.1.
Training (``TS2Vec.fit``): for a batch of ``--batch-size`` series two overlapping random crops
of random length are taken (``crop_l`` >= 2 timestamps shared, ``take_per_row`` with a per-series
offset), both encoded, and the representations of their overlapping segment compared by the
``hierarchical_contrastive_loss``: at every scale the instance-wise contrast (the same
timestamp of the other series of the batch as negatives) and the temporal contrast (the other
timestamps of the same series as negatives), each weighted 0.5, then the representations are
max-pooled over time by 2 and the loss taken again until one timestamp is left; the sum is
divided by the number of scales. AdamW (``--lr``, 1e-3). After every epoch the held-out
loss of fixed crops of the probe series is the validation loss, and a linear probe (logistic
regression on the full-series max-pooled representations, ``encoding_window="full_series"``)
is fitted on 240 probe series and scored on the other 240: its accuracy (4 classes, chance
0.25) is the validation accuracy. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

np = common.np

LENGTH = 96
CLASSES = 4


def make_series(n, seed, noise):
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH)
    y = rng.integers(CLASSES, size=n)
    xs = []
    for c in y:
        phase = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(0.7, 1.3)
        if c == 0:
            s = np.sin(2 * np.pi * t / 24 + phase)
        elif c == 1:
            s = np.sin(2 * np.pi * t / 8 + phase)
        elif c == 2:
            s = np.sign(np.sin(2 * np.pi * t / 24 + phase))
        else:
            s = 0.5 * np.sin(2 * np.pi * t / 24 + phase) + 0.5 * np.sin(2 * np.pi * t / 8 + phase)
        s = amp * s + rng.normal(0, 0.02) * (t - LENGTH / 2)
        switch = rng.integers(LENGTH // 4, 3 * LENGTH // 4)
        s[switch:] += rng.normal(0, 1.0)
        s = s + noise * rng.standard_normal(LENGTH)
        s = (s - s.mean()) / (s.std() + 1e-8)
        xs.append(s[:, None])
    return torch.tensor(np.array(xs), dtype=torch.float32), y


class SamePadConv(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, dilation=1, groups=1):
        super().__init__()
        self.receptive_field = (kernel_size - 1) * dilation + 1
        padding = self.receptive_field // 2
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=padding,
                              dilation=dilation, groups=groups)
        self.remove = 1 if self.receptive_field % 2 == 0 else 0

    def forward(self, x):
        out = self.conv(x)
        if self.remove > 0:
            out = out[:, :, : -self.remove]
        return out


class ConvBlock(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, dilation, final=False):
        super().__init__()
        self.conv1 = SamePadConv(in_channels, out_channels, kernel_size, dilation=dilation)
        self.conv2 = SamePadConv(out_channels, out_channels, kernel_size, dilation=dilation)
        self.projector = nn.Conv1d(in_channels, out_channels, 1) \
            if in_channels != out_channels or final else None

    def forward(self, x):
        residual = x if self.projector is None else self.projector(x)
        x = F.gelu(x)
        x = self.conv1(x)
        x = F.gelu(x)
        x = self.conv2(x)
        return x + residual


class DilatedConvEncoder(nn.Module):
    def __init__(self, in_channels, channels, kernel_size):
        super().__init__()
        self.net = nn.Sequential(*[
            ConvBlock(channels[i - 1] if i > 0 else in_channels, channels[i],
                      kernel_size=kernel_size, dilation=2 ** i,
                      final=(i == len(channels) - 1))
            for i in range(len(channels))])

    def forward(self, x):
        return self.net(x)


def generate_binomial_mask(B, T, p=0.5, generator=None):
    return torch.bernoulli(torch.full((B, T), p), generator=generator).bool()


class TSEncoder(nn.Module):
    def __init__(self, input_dims, output_dims, hidden_dims=32, depth=3, bug=None):
        super().__init__()
        self.input_fc = nn.Linear(input_dims, hidden_dims)
        self.feature_extractor = DilatedConvEncoder(
            hidden_dims, [hidden_dims] * depth + [output_dims], kernel_size=3)
        self.repr_dropout = nn.Dropout(p=0.1)
        self.bug = bug

    def forward(self, x, mask=None, generator=None):  # x: B x T x input_dims
        nan_mask = ~x.isnan().any(axis=-1)
        x[~nan_mask] = 0
        x = self.input_fc(x)  # B x T x Ch
        if mask is None:
            mask = "binomial" if self.training else "all_true"
        if mask == "binomial":
            mask = generate_binomial_mask(x.size(0), x.size(1), generator=generator)
        elif mask == "all_true":
            mask = x.new_full((x.size(0), x.size(1)), True, dtype=torch.bool)
        mask &= nan_mask
        if self.bug != "mask-after-encoder":
            x[~mask] = 0
        x = x.transpose(1, 2)  # B x Ch x T
        x = self.repr_dropout(self.feature_extractor(x))  # B x Co x T
        x = x.transpose(1, 2)  # B x T x Co
        if self.bug == "mask-after-encoder":
            # BUG (mask-after-encoder): the timestamp mask applied to the output
            # representations instead of the projected input: the encoder never has to infer
            # a masked timestamp from its context.
            x = x * mask.unsqueeze(-1)
        return x


def instance_contrastive_loss(z1, z2, bug=None):
    B, T = z1.size(0), z1.size(1)
    if B == 1:
        return z1.new_tensor(0.)
    z = torch.cat([z1, z2], dim=0)  # 2B x T x C
    if bug != "instance-over-time":
        z = z.transpose(0, 1)  # T x 2B x C
    # BUG (instance-over-time): the transpose left out, so the similarities are taken between
    # the timestamps of each series (2B x T x T) and the "instance" positives are timestamps
    # t and t + B - 1 of one series, not the same series' other view.
    sim = torch.matmul(z, z.transpose(1, 2))  # T x 2B x 2B
    logits = torch.tril(sim, diagonal=-1)[:, :, :-1]  # T x 2B x (2B-1)
    logits += torch.triu(sim, diagonal=1)[:, :, 1:]
    logits = -F.log_softmax(logits, dim=-1)
    i = torch.arange(B)
    if bug == "instance-over-time":
        n = logits.size(1) // 2
        i = torch.arange(min(B, n))
        return (logits[:, i, n + i - 1].mean() + logits[:, n + i, i].mean()) / 2
    return (logits[:, i, B + i - 1].mean() + logits[:, B + i, i].mean()) / 2


def temporal_contrastive_loss(z1, z2):
    B, T = z1.size(0), z1.size(1)
    if T == 1:
        return z1.new_tensor(0.)
    z = torch.cat([z1, z2], dim=1)  # B x 2T x C
    sim = torch.matmul(z, z.transpose(1, 2))  # B x 2T x 2T
    logits = torch.tril(sim, diagonal=-1)[:, :, :-1]  # B x 2T x (2T-1)
    logits += torch.triu(sim, diagonal=1)[:, :, 1:]
    logits = -F.log_softmax(logits, dim=-1)
    t = torch.arange(T)
    return (logits[:, t, T + t - 1].mean() + logits[:, T + t, t].mean()) / 2


def hierarchical_contrastive_loss(z1, z2, alpha=0.5, temporal_unit=0, bug=None):
    loss = torch.tensor(0., device=z1.device)
    d = 0
    while z1.size(1) > 1:
        if alpha != 0:
            loss += alpha * instance_contrastive_loss(z1, z2, bug)
        if d >= temporal_unit:
            if 1 - alpha != 0:
                loss += (1 - alpha) * temporal_contrastive_loss(z1, z2)
        d += 1
        z1 = F.max_pool1d(z1.transpose(1, 2), kernel_size=2).transpose(1, 2)
        z2 = F.max_pool1d(z2.transpose(1, 2), kernel_size=2).transpose(1, 2)
    if z1.size(1) == 1:
        if alpha != 0:
            loss += alpha * instance_contrastive_loss(z1, z2, bug)
        d += 1
    return loss / d


def take_per_row(A, indx, num_elem):
    all_indx = indx[:, None] + np.arange(num_elem)
    return A[torch.arange(all_indx.shape[0])[:, None], all_indx]


def encode_full(model, x):
    """encoding_window='full_series': max-pool the representations over the whole series."""
    model.eval()
    with torch.no_grad():
        out = model(x.clone())
        out = F.max_pool1d(out.transpose(1, 2), kernel_size=out.size(1)).squeeze(-1)
    model.train()
    return out.numpy()


def probe_accuracy(model, x, y):
    z = encode_full(model, x)
    half = len(x) // 2
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(z[:half], y[:half])
    return float(clf.score(z[half:], y[half:]))


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--repr-dims", type=int, default=64)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--noise", type=float, default=0.6)
    p.add_argument("--train-series", type=int, default=480)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None,
                   choices=("crops-not-overlapping", "instance-over-time", "mask-after-encoder",
                            "no-hierarchy"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    train_x, _ = make_series(args.train_series, seed=args.seed, noise=args.noise)
    probe_x, probe_y = make_series(480, seed=1000 + args.seed, noise=args.noise)

    model = TSEncoder(1, args.repr_dims, args.hidden, args.depth, bug=args.bug)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    steps_per_epoch = len(train_x) // args.batch_size
    temporal_unit = 0

    def crop_pair(x):
        ts_l = x.size(1)
        crop_l = int(rng.integers(2 ** (temporal_unit + 1), ts_l + 1))
        crop_left = int(rng.integers(ts_l - crop_l + 1))
        crop_right = crop_left + crop_l
        crop_eleft = int(rng.integers(crop_left + 1))
        crop_eright = int(rng.integers(crop_right, ts_l + 1))
        crop_offset = rng.integers(-crop_eleft, ts_l - crop_eright + 1, size=x.size(0))
        out1 = model(take_per_row(x, crop_offset + crop_eleft, crop_right - crop_eleft),
                     generator=gen)
        out2 = model(take_per_row(x, crop_offset + crop_left, crop_eright - crop_left),
                     generator=gen)
        if args.bug == "crops-not-overlapping":
            # BUG (crops-not-overlapping): the first view's representations cut from its start
            # instead of its end: the "overlap" of the two views is misaligned, so timestamp t
            # of one view is contrasted as the positive of another timestamp of the other.
            out1 = out1[:, :crop_l]
        else:
            out1 = out1[:, -crop_l:]
        out2 = out2[:, :crop_l]
        return out1, out2

    def loss_fn(out1, out2):
        if args.bug == "no-hierarchy":
            # BUG (no-hierarchy): only the finest scale is contrasted (the max-pooling loop cut
            # to its first pass): nothing trains the representations of longer segments.
            return 0.5 * instance_contrastive_loss(out1, out2) + \
                0.5 * temporal_contrastive_loss(out1, out2)
        return hierarchical_contrastive_loss(out1, out2, temporal_unit=temporal_unit,
                                             bug=args.bug)

    # fixed validation crops: the first and last 64 timestamps of the probe series
    val_a, val_b = probe_x[:128, :64], probe_x[:128, 32:]

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression",
        loss_name="hierarchical_contrastive_loss", steps_per_epoch=steps_per_epoch,
        batch_size=args.batch_size)
    history = common.History()
    acc0 = probe_accuracy(model, probe_x, probe_y)
    print("linear probe on the untrained encoder: %.3f" % acc0)
    val_loss = val_acc = None
    for epoch in range(args.epochs):
        perm = torch.randperm(len(train_x), generator=gen)
        for b in range(steps_per_epoch):
            x = train_x[perm[b * args.batch_size:(b + 1) * args.batch_size]]
            optimizer.zero_grad()
            out1, out2 = crop_pair(x)
            loss = loss_fn(out1, out2)
            loss.backward()
            optimizer.step()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    za, zb = model(val_a.clone()), model(val_b.clone())
                    val_loss = loss_fn(za[:, 32:], zb[:, :32]).item()
                model.train()
                val_acc = probe_accuracy(model, probe_x, probe_y)
            rec.step(loss, inputs=x, val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.4f  held-out loss %.4f  probe accuracy %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc), flush=True)
    rec.close()
    common.report(history.result(probe_accuracy=val_acc, untrained_probe_accuracy=acc0))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ts2vec-crops-not-overlapping", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (training, wrong data preparation / misaligned targets): "
               "the overlapping segment of TS2Vec's two crops cut from the wrong end of the "
               "first view (out1[:, :crop_l] instead of out1[:, -crop_l:])",
     "bug": "out1 cut as out1[:, :crop_l] instead of out1[:, -crop_l:]: the positives of the temporal "
            "and instance-wise contrasts are other timestamps of the series, the training loss "
            "falls from 3.264 to 2.380 while the held-out loss on aligned crops rises from "
            "3.525 to 6.064, and the linear probe ends at 0.738 (0.621 on the untrained "
            "encoder, chance 0.25) against the twin's 0.933 (held-out loss 1.643)",
     "fix": "out1 = out1[:, -crop_l:], the overlap at the end of the first view",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw",
          "buggy": "--bug crops-not-overlapping --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "ts2vec-adamw-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "AdamW at 1e-5 (meant 1e-3): in 12 epochs (360 steps) the loss falls only from 4.787 to "
            "3.478 and the linear probe ends at 0.679, no better than the untrained encoder's "
            "0.688, against the twin's 0.925 (loss 2.997 to 1.636)",
     "fix": "AdamW at 1e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed1",
          "buggy": "--lr 1e-5 --seed 1 --record-every 4",
          "fixed": "--lr 1e-3 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-ts2vec", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a TS2Vec encoder whose representations a linear probe classifies well",
     "healthy": [
         {"id": "bs32-repr128-seed2",
          "args": "--batch-size 32 --repr-dims 128 --epochs 16 --seed 2 --record-every 4",
          "description": "batches of 32 series, 128 representation dimensions, 16 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
