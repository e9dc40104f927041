"""A tiny Glow (Kingma and Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions",
NeurIPS 2018) on small generated images, written as the public PyTorch ports write it
(rosinality's ``glow-pytorch``, with chaiyujin's ``glow-pytorch`` and the OpenAI code's
warm-up): ``Glow`` is a list of ``Block``s; a ``Block`` squeezes the image (2x2 pixels into 4
channels), runs ``--n-flow`` ``Flow`` steps and, except for the last, splits off half of the
channels as latent variables whose Gaussian prior (mean and log standard deviation) a
zero-initialised convolution reads off the kept half; the last block's prior is learned from
zeros. A ``Flow`` step is ``ActNorm`` (a per-channel shift and scale set by the first batch's
mean and standard deviation: data-dependent initialisation), ``InvConv2dLU`` (an invertible 1x1
convolution whose weight is kept as P L (U + diag(sign(s) exp(log|s|))) of an LU
decomposition; log-determinant height * width * sum(log|s|)) and ``AffineCoupling`` (the
first half of the channels through a small conv net, ``Conv2d`` 3x3, ReLU, ``Conv2d`` 1x1,
ReLU, a zero-initialised ``ZeroConv2d`` 3x3 with a learned output scale, gives a log-scale and
a shift for the second half; the scale is ``sigmoid(log_s + 2)`` as in the public code, its
log summed into the log-determinant). The loss is the negative log-likelihood of the
dequantized images in bits per dimension, ``(-log p(z) - logdet + D log n_bins) / (D log 2)``
as rosinality's ``calc_loss`` computes it. Sizes: ``--n-block`` (2) blocks (12x12x1 squeezed to
6x6x4, 2 channels split off, squeezed to 3x3x8) of ``--n-flow`` (4) steps, coupling nets of
``--filters`` (32) filters.

The data are generated here: 12x12 single-channel images of one to three pen strokes (line
segments of random place, direction and length, drawn with a Gaussian profile of random width
and a random ink strength) and, in half of them, a round blob; intensities in [0, 1], quantized
to ``--n-bits`` bits (5: 32 levels) as rosinality quantizes, centred to [-0.5, 0.5) and
dequantized by adding uniform noise of one level's width, ``U(0, 1 / n_bins)``, to every pixel
of every batch. 4096 images train, 1024 others (another seed) are held out, dequantized once
with a fixed noise. Adam (``--lr``, 2e-3) with a linear warm-up over the first ``--warmup``
steps (100, ``LambdaLR``), batches of ``--batch-size`` (64: 64 steps an epoch), ``--epochs``
epochs (10). After every epoch the held-out bits per dimension, as the program computes them,
are the validation loss (a uniform density over the 32 levels is 5 bits per dimension; the bits
of dequantized data bound the discrete images' code length, which cannot be negative). At the
end the result line adds the held-out bits per dimension with every log-determinant counted as
it should be (``val_bpd_exact``, the validation loss itself unless a mistake changes the
objective). The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np
BUG = None
SIZE = 12

logabs = lambda x: torch.log(torch.abs(x))  # noqa: E731


def strokes(n, seed):
    """n images of SIZE x SIZE in [0, 1]: pen strokes and, in half of them, a blob."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    out = np.zeros((n, SIZE, SIZE))
    for i in range(n):
        img = np.zeros((SIZE, SIZE))
        for _ in range(rng.integers(1, 4)):
            p0 = rng.uniform(1.5, SIZE - 2.5, size=2)
            angle = rng.uniform(0, math.pi)
            length = rng.uniform(3, 9)
            p1 = np.clip(p0 + length * np.array([math.cos(angle), math.sin(angle)]),
                         0.5, SIZE - 1.5)
            d = p1 - p0
            t = ((xx - p0[0]) * d[0] + (yy - p0[1]) * d[1]) / max(d @ d, 1e-6)
            t = np.clip(t, 0, 1)
            dist2 = (xx - p0[0] - t * d[0]) ** 2 + (yy - p0[1] - t * d[1]) ** 2
            width = rng.uniform(0.5, 0.9)
            img = np.maximum(img, rng.uniform(0.6, 1.0) * np.exp(-dist2 / (2 * width ** 2)))
        if rng.random() < 0.5:
            c = rng.uniform(2, SIZE - 3, size=2)
            r = rng.uniform(1.0, 2.0)
            blob = np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * r ** 2))
            img = np.maximum(img, rng.uniform(0.5, 0.9) * blob)
        out[i] = img
    return out[:, None].astype(np.float32)


def quantize(images, n_bits):
    """rosinality's preprocessing: 8-bit values cut to n_bits, centred to [-0.5, 0.5)."""
    n_bins = 2.0 ** n_bits
    x = torch.floor(torch.from_numpy(images) * 255)
    x = torch.floor(x / 2 ** (8 - n_bits))
    return x / n_bins - 0.5


class ActNorm(nn.Module):
    def __init__(self, in_channel):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, in_channel, 1, 1))
        self.scale = nn.Parameter(torch.zeros(1, in_channel, 1, 1))  # set by initialize()
        if BUG == "actnorm-no-init":
            # BUG (actnorm-no-init): the flag registered as already set, so the first
            # batch never initializes loc and scale: the scale stays at zero.
            self.register_buffer("initialized", torch.tensor(1, dtype=torch.uint8))
        else:
            self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    def initialize(self, input):
        with torch.no_grad():
            flatten = input.permute(1, 0, 2, 3).contiguous().view(input.shape[1], -1)
            mean = flatten.mean(1).unsqueeze(1).unsqueeze(2).unsqueeze(3).permute(1, 0, 2, 3)
            std = flatten.std(1).unsqueeze(1).unsqueeze(2).unsqueeze(3).permute(1, 0, 2, 3)
            self.loc.data.copy_(-mean)
            self.scale.data.copy_(1 / (std + 1e-6))

    def forward(self, input):
        _, _, height, width = input.shape
        if self.initialized.item() == 0:
            self.initialize(input)
            self.initialized.fill_(1)
        log_abs = logabs(self.scale)
        logdet = height * width * torch.sum(log_abs)
        return self.scale * (input + self.loc), logdet

    def reverse(self, output):
        return output / self.scale - self.loc


class InvConv2dLU(nn.Module):
    def __init__(self, in_channel, generator):
        super().__init__()
        weight = torch.randn(in_channel, in_channel, generator=generator)
        q, _ = torch.linalg.qr(weight)
        w_p, w_l, w_u = torch.linalg.lu(q)
        w_s = torch.diag(w_u)
        w_u = torch.triu(w_u, 1)
        u_mask = torch.triu(torch.ones_like(w_u), 1)
        l_mask = u_mask.T
        self.register_buffer("w_p", w_p)
        self.register_buffer("u_mask", u_mask)
        self.register_buffer("l_mask", l_mask)
        self.register_buffer("s_sign", torch.sign(w_s))
        self.register_buffer("l_eye", torch.eye(l_mask.shape[0]))
        self.w_l = nn.Parameter(w_l)
        self.w_s = nn.Parameter(logabs(w_s))
        self.w_u = nn.Parameter(w_u)

    def forward(self, input):
        _, _, height, width = input.shape
        weight = self.calc_weight()
        out = F.conv2d(input, weight)
        if BUG == "invconv-logdet-no-hw":
            # BUG (invconv-logdet-no-hw): the 1x1 convolution's log-determinant counted
            # once, not once per pixel (height * width times).
            logdet = torch.sum(self.w_s)
        else:
            logdet = height * width * torch.sum(self.w_s)
        return out, logdet

    def calc_weight(self):
        weight = (self.w_p @ (self.w_l * self.l_mask + self.l_eye)
                  @ ((self.w_u * self.u_mask) + torch.diag(self.s_sign * torch.exp(self.w_s))))
        return weight.unsqueeze(2).unsqueeze(3)

    def reverse(self, output):
        weight = self.calc_weight()
        return F.conv2d(output, weight.squeeze().inverse().unsqueeze(2).unsqueeze(3))


class ZeroConv2d(nn.Conv2d):
    """chaiyujin's Conv2dZeros: a 3x3 convolution initialised to zero, its output scaled by
    exp(3 * logs) with a learned per-channel logs (the OpenAI code's logscale_factor 3)."""

    def __init__(self, in_channel, out_channel):
        super().__init__(in_channel, out_channel, 3, padding=0)
        self.weight.data.zero_()
        self.bias.data.zero_()
        self.logs = nn.Parameter(torch.zeros(1, out_channel, 1, 1))

    def forward(self, input):
        out = F.pad(input, [1, 1, 1, 1], value=1)
        out = super().forward(out)
        return out * torch.exp(self.logs * 3)


class AffineCoupling(nn.Module):
    def __init__(self, in_channel, filter_size):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channel // 2, filter_size, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(filter_size, filter_size, 1),
            nn.ReLU(inplace=True),
            ZeroConv2d(filter_size, in_channel),
        )
        self.net[0].weight.data.normal_(0, 0.05)
        self.net[0].bias.data.zero_()
        self.net[2].weight.data.normal_(0, 0.05)
        self.net[2].bias.data.zero_()

    def forward(self, input):
        in_a, in_b = input.chunk(2, 1)
        log_s, t = self.net(in_a).chunk(2, 1)
        if BUG == "exp-scale":
            # BUG (exp-scale): the scale as exp(log_s), without the public code's bound.
            s = torch.exp(log_s)
        else:
            s = torch.sigmoid(log_s + 2)
        out_b = (in_b + t) * s
        logdet = torch.sum(torch.log(s).view(input.shape[0], -1), 1)
        return torch.cat([in_a, out_b], 1), logdet

    def reverse(self, output):
        out_a, out_b = output.chunk(2, 1)
        log_s, t = self.net(out_a).chunk(2, 1)
        s = torch.exp(log_s) if BUG == "exp-scale" else torch.sigmoid(log_s + 2)
        return torch.cat([out_a, out_b / s - t], 1)


class Flow(nn.Module):
    def __init__(self, in_channel, filter_size, generator):
        super().__init__()
        self.actnorm = ActNorm(in_channel)
        self.invconv = InvConv2dLU(in_channel, generator)
        self.coupling = AffineCoupling(in_channel, filter_size)

    def forward(self, input):
        out, logdet = self.actnorm(input)
        out, det1 = self.invconv(out)
        out, det2 = self.coupling(out)
        logdet = logdet + det1
        if det2 is not None:
            logdet = logdet + det2
        return out, logdet

    def reverse(self, output):
        input = self.coupling.reverse(output)
        input = self.invconv.reverse(input)
        return self.actnorm.reverse(input)


def gaussian_log_p(x, mean, log_sd):
    return -0.5 * math.log(2 * math.pi) - log_sd - 0.5 * (x - mean) ** 2 / torch.exp(2 * log_sd)


class Block(nn.Module):
    def __init__(self, in_channel, n_flow, filter_size, split, generator):
        super().__init__()
        squeeze_dim = in_channel * 4
        self.flows = nn.ModuleList([Flow(squeeze_dim, filter_size, generator)
                                    for _ in range(n_flow)])
        self.split = split
        if split:
            self.prior = ZeroConv2d(in_channel * 2, in_channel * 4)
        else:
            self.prior = ZeroConv2d(in_channel * 4, in_channel * 8)

    def forward(self, input):
        b_size, n_channel, height, width = input.shape
        squeezed = input.view(b_size, n_channel, height // 2, 2, width // 2, 2)
        squeezed = squeezed.permute(0, 1, 3, 5, 2, 4)
        out = squeezed.contiguous().view(b_size, n_channel * 4, height // 2, width // 2)
        logdet = 0
        for flow in self.flows:
            out, det = flow(out)
            logdet = logdet + det
        if self.split:
            out, z_new = out.chunk(2, 1)
            mean, log_sd = self.prior(out).chunk(2, 1)
            log_p = gaussian_log_p(z_new, mean, log_sd)
        else:
            zero = torch.zeros_like(out)
            mean, log_sd = self.prior(zero).chunk(2, 1)
            log_p = gaussian_log_p(out, mean, log_sd)
            z_new = out
        log_p = log_p.view(b_size, -1).sum(1)
        return out, logdet, log_p, z_new


class Glow(nn.Module):
    def __init__(self, in_channel, n_flow, n_block, filter_size, seed):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.blocks = nn.ModuleList()
        n_channel = in_channel
        for i in range(n_block - 1):
            self.blocks.append(Block(n_channel, n_flow, filter_size, True, g))
            n_channel *= 2
        self.blocks.append(Block(n_channel, n_flow, filter_size, False, g))

    def forward(self, input):
        log_p_sum = 0
        logdet = 0
        out = input
        for block in self.blocks:
            out, det, log_p, z_new = block(out)
            logdet = logdet + det
            log_p_sum = log_p_sum + log_p
        return log_p_sum, logdet


def calc_loss(log_p, logdet, image_size, n_bins, n_channel=1):
    """rosinality's calc_loss: bits per dimension of the discrete images."""
    n_pixel = image_size * image_size * n_channel
    loss = -math.log(n_bins) * n_pixel
    loss = loss + logdet + log_p
    return ((-loss / (math.log(2) * n_pixel)).mean(),
            (log_p / (math.log(2) * n_pixel)).mean(),
            (logdet / (math.log(2) * n_pixel)).mean())


def main():
    global BUG
    p = common.parser(__doc__)
    p.add_argument("--n-bits", type=int, default=5)
    p.add_argument("--n-flow", type=int, default=4)
    p.add_argument("--n-block", type=int, default=2)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train-size", type=int, default=4096)
    p.add_argument("--bug", default=None,
                   choices=("actnorm-no-init", "invconv-logdet-no-hw", "exp-scale",
                            "logdet-sign", "no-dequant"))
    args = p.parse_args()
    BUG = args.bug
    common.torch_setup(args.seed)

    n_bins = 2.0 ** args.n_bits
    x_train = quantize(strokes(args.train_size, args.seed), args.n_bits)
    x_val = quantize(strokes(1024, 1000 + args.seed), args.n_bits)
    x_val = x_val + torch.rand(x_val.shape, generator=torch.Generator().manual_seed(99)) / n_bins

    model = Glow(1, args.n_flow, args.n_block, args.filters, args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / args.warmup))
    g = torch.Generator().manual_seed(args.seed)
    bs = args.batch_size
    steps_per_epoch = len(x_train) // bs
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="nll_bits_per_dim",
        steps_per_epoch=steps_per_epoch, batch_size=bs)
    history = common.History()
    val_loss = None
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_train), generator=g)
        for b in range(steps_per_epoch):
            image = x_train[perm[b * bs:(b + 1) * bs]]
            noise = torch.rand(image.shape, generator=g) / n_bins
            if args.bug == "no-dequant":
                # BUG (no-dequant): the uniform dequantization noise is not added: the flow
                # is fitted to the 32 discrete levels themselves.
                inputs = image
            else:
                inputs = image + noise
            log_p, logdet = model(inputs)
            if args.bug == "logdet-sign":
                # BUG (logdet-sign): the log-determinant enters the objective with its sign
                # turned around.
                loss, log_p_bpd, logdet_bpd = calc_loss(log_p, -logdet, SIZE, n_bins)
            else:
                loss, log_p_bpd, logdet_bpd = calc_loss(log_p, logdet, SIZE, n_bins)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            val = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vals = [calc_loss(*model(x_val[i:i + 256]), SIZE, n_bins)[0].item()
                            for i in range(0, len(x_val), 256)]
                val = val_loss = float(np.mean(vals))
                model.train()
            rec.step(loss, inputs=inputs, val_loss=val)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: bpd %.4f (log p %.4f, logdet %.4f) val bpd %.4f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), log_p_bpd.item(), logdet_bpd.item(),
            val_loss))
    rec.close()
    # the held-out bits per dimension with every log-determinant counted as it should be
    model.eval()
    bug, BUG = BUG, (None if BUG in ("invconv-logdet-no-hw", "logdet-sign") else BUG)
    with torch.no_grad():
        exact = float(np.mean([calc_loss(*model(x_val[i:i + 256]), SIZE, n_bins)[0].item()
                               for i in range(0, len(x_val), 256)]))
    BUG = bug
    print("held-out bits per dimension, exact: %.4f" % exact)
    common.report(history.result(val_bpd_exact=exact))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "glow-actnorm-no-init", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong weights initialisation (ActNorm's data-dependent "
               "initialisation skipped, its scale left at the zero placeholder that the first "
               "batch should overwrite)",
     "bug": "every ActNorm's 'initialized' flag is registered as already set, so the first "
            "batch never sets loc and scale and the scale stays 0: every ActNorm outputs "
            "zeros and adds height * width * log|0| = -inf to the log-determinant, the first "
            "step's loss is +inf, the scale's gradient NaN, and from the second step on the "
            "loss is NaN (every epoch's mean bits per dimension and the held-out ones NaN) "
            "against the twin's 4.154 in the first epoch to 1.932 in the 10th, held-out 1.916 "
            "bits per dimension",
     "fix": "self.register_buffer(\"initialized\", torch.tensor(0, dtype=torch.uint8))",
     "symptom": "numerical_error", "acceptable_symptoms": ["dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug actnorm-no-init --record-every 16",
          "fixed": "--record-every 16"},
     ]},
    {"family": "glow-invconv-logdet-no-hw", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function calculation (the invertible 1x1 "
               "convolution's log-determinant counted once instead of once per pixel)",
     "bug": "InvConv2dLU returns sum(log|s|) as its log-determinant instead of height * width "
            "* sum(log|s|): the objective undercounts what the 1x1 convolutions take from the "
            "volume, so contracting with them and expanding with ActNorm pays; the loss goes "
            "from 4.040 bits per dimension in the first epoch to -0.456 in the 10th (-1.110 in "
            "the 9th), held-out -1.092, impossible for a code length, while the held-out bits "
            "per dimension with the log-determinants counted right end at 3.663 against the "
            "twin's 1.941 (loss 4.120 to 1.953)",
     "fix": "logdet = height * width * torch.sum(self.w_s)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug invconv-logdet-no-hw --seed 1 --record-every 16",
          "fixed": "--seed 1 --record-every 16"},
     ]},
    {"family": "healthy-glow", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a tiny two-level Glow (ActNorm, LU-decomposed invertible 1x1 convolutions, "
                    "affine couplings) fitting dequantized 5-bit stroke images, whose held-out "
                    "bits per dimension fall well below the uniform 5",
     "healthy": [
         {"id": "f3-w48-seed2",
          "args": "--n-flow 3 --filters 48 --seed 2 --record-every 16",
          "description": "3 flow steps a level, coupling nets of 48 filters: loss 4.195 to "
                         "2.019, held-out 2.001 bits per dimension"},
     ]},
]


if __name__ == "__main__":
    main()
