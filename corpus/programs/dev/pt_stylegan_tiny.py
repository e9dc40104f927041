"""A tiny StyleGAN2 (Karras, Laine, Aittala, Hellsten, Lehtinen and Aila, "Analyzing and
Improving the Image Quality of StyleGAN", CVPR 2020) on 16x16 colour images, written the way
rosinality/stylegan2-pytorch writes it, cut down to three resolutions: a mapping network
(``PixelNorm`` on the latent z, ``--n-mlp`` equalized-learning-rate ``EqualLinear`` layers with
a scaled leaky ReLU and a learning-rate multiplier of 0.01), a learned ``ConstantInput`` of
4x4, ``StyledConv`` layers (a ``ModulatedConv2d`` 3x3 whose weight is scaled per sample by the
style and demodulated to unit norm per output channel, run as a grouped convolution;
``NoiseInjection`` of per-pixel noise with a learned strength; a bias and leaky ReLU), the
upsampling done bilinearly before the convolution (rosinality uses a transposed convolution
with a blur), and ``ToRGB`` 1x1 modulated convolutions without demodulation at every
resolution whose outputs are upsampled and added (the skip generator). The discriminator is
a residual one (``ConvLayer`` from RGB, two ``ResBlock``s with average-pool downsampling, the
minibatch standard deviation as an extra channel, a final 3x3 convolution and two
``EqualLinear`` layers to one score). Losses: the non-saturating logistic loss
(``softplus(-D(G(z)))`` for the generator, ``softplus(D(fake)) + softplus(-D(real))`` for the
discriminator) with the lazy R1 penalty (``r1 / 2 * |grad_x D(x)|^2 * d_reg_every`` every
``--d-reg-every`` steps on the real images); Adam with betas (0, 0.99) for both, the
discriminator's rate and betas corrected for lazy regularization by d_reg_every / (d_reg_every
+ 1) as rosinality does. No path-length regularization, no style mixing, no EMA generator.

The data are generated here: 2048 training images of 16x16 pixels in [-1, 1], each a soft
disc (a Gaussian blob of radius 2 to 4 pixels) of one of six saturated colours, centred at a
random place inside the image, on a dark grey background with a little pixel noise. The two
networks are kept in one ``nn.ModuleDict`` so that both are recorded. The step's loss is the
generator's (``objective="adversarial"``). Once an epoch the generator's loss on 256 images
from a fixed batch of latents is the validation loss, and those images are judged against 1024
held-out real images by the per-channel statistic ``stat_dist``: the sum over the three
channels of the distance of the pixel means plus the distance of the pixel standard
deviations, plus the mean absolute difference of the two sets' average per-pixel brightness
maps (0 for identical distributions); the validation accuracy is the share of generated images
that look like a disc by a fixed test (on the per-pixel maximum over the channels, the brightest
pixel at least 0.8 above the image's median and the median below -0.3), 1.00 for the real
images. The result line adds
the discriminator's loss, the mean R1 value (the squared gradient norm at the real images) of
the last epoch and ``stat_dist``. The mistakes of the families in CASES are selected with
``--bug``.
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

SIZE = 16
COLOURS = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1], [1, -1, 1],
                    [-1, 1, 1]], dtype=np.float32)


def discs(n, rng):
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cy = rng.uniform(4, SIZE - 4, size=(n, 1, 1))
    cx = rng.uniform(4, SIZE - 4, size=(n, 1, 1))
    r = rng.uniform(2, 4, size=(n, 1, 1))
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (r / 1.5) ** 2))   # (n, H, W)
    col = COLOURS[rng.integers(0, len(COLOURS), size=n)]                     # (n, 3)
    bg = -0.7
    img = bg + blob[:, None] * (col[:, :, None, None] - bg)
    img = img + 0.03 * rng.standard_normal(img.shape)
    return np.clip(img, -1, 1).astype(np.float32)


def stat_dist(fake, real):
    f, r = fake.transpose(0, 1).reshape(3, -1), real.transpose(0, 1).reshape(3, -1)
    d = (f.mean(1) - r.mean(1)).abs().sum() + (f.std(1) - r.std(1)).abs().sum()
    d = d + (fake.mean((0, 1)) - real.mean((0, 1))).abs().mean()
    return d.item()


def disc_like(img):
    flat = img.amax(1).flatten(1)
    med = flat.median(1).values
    return ((flat.max(1).values - med > 0.8) & (med < -0.3)).float().mean().item()


# ---------------------------------------------------------------- layers (rosinality style)

def fused_lrelu(x, bias=None):
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.dim() - 2)))
    return F.leaky_relu(x, 0.2) * math.sqrt(2)


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim, bias_init=0.0, lr_mul=1.0, activation=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x):
        if self.activation:
            return fused_lrelu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    def __init__(self, in_ch, out_ch, kernel, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.scale = 1 / math.sqrt(in_ch * kernel ** 2)
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.padding = kernel // 2

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class ModulatedConv2d(nn.Module):
    def __init__(self, in_ch, out_ch, kernel, style_dim, demodulate=True, upsample=False):
        super().__init__()
        self.in_ch, self.out_ch, self.kernel = in_ch, out_ch, kernel
        self.scale = 1 / math.sqrt(in_ch * kernel ** 2)
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel, kernel))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        self.demodulate = demodulate
        self.upsample = upsample

    def forward(self, x, style, bug=None):
        b, c, h, w = x.shape
        style = self.modulation(style).view(b, 1, c, 1, 1)
        weight = self.scale * self.weight * style
        if self.demodulate and bug != "no-demod":
            # BUG (no-demod): this demodulation left out (bug == "no-demod" skips it): the
            # modulated weights keep the style's scale and feature magnitudes grow layer by layer.
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(b, self.out_ch, 1, 1, 1)
        weight = weight.view(b * self.out_ch, c, self.kernel, self.kernel)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            h, w = h * 2, w * 2
        out = F.conv2d(x.reshape(1, b * c, h, w), weight, padding=self.kernel // 2, groups=b)
        return out.view(b, self.out_ch, h, w)


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, image):
        b, _, h, w = image.shape
        return image + self.weight * image.new_empty(b, 1, h, w).normal_()


class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch):
        return self.input.repeat(batch, 1, 1, 1)


class StyledConv(nn.Module):
    def __init__(self, in_ch, out_ch, style_dim, upsample=False):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x, style, bug=None):
        return fused_lrelu(self.noise(self.conv(x, style, bug)), self.bias)


class ToRGB(nn.Module):
    def __init__(self, in_ch, style_dim):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
        return out


class Generator(nn.Module):
    def __init__(self, style_dim, n_mlp, channels, bug=None):
        super().__init__()
        self.style_dim, self.bug = style_dim, bug
        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(style_dim, style_dim, lr_mul=0.01, activation=True) for _ in range(n_mlp)])
        self.input = ConstantInput(channels)
        self.conv1 = StyledConv(channels, channels, style_dim)
        self.to_rgb1 = ToRGB(channels, style_dim)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        for _ in (8, 16):
            self.convs.append(StyledConv(channels, channels, style_dim, upsample=True))
            self.convs.append(StyledConv(channels, channels, style_dim))
            self.to_rgbs.append(ToRGB(channels, style_dim))

    def forward(self, z):
        w = self.style(z)
        out = self.conv1(self.input(z.shape[0]), w, self.bug)
        skip = self.to_rgb1(out, w)
        for i, to_rgb in enumerate(self.to_rgbs):
            out = self.convs[2 * i](out, w, self.bug)
            out = self.convs[2 * i + 1](out, w, self.bug)
            skip = to_rgb(out, w, skip)
        return skip


class ConvLayer(nn.Module):
    def __init__(self, in_ch, out_ch, kernel, downsample=False):
        super().__init__()
        self.conv = EqualConv2d(in_ch, out_ch, kernel, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.downsample = downsample

    def forward(self, x):
        out = fused_lrelu(self.conv(x), self.bias)
        return F.avg_pool2d(out, 2) if self.downsample else out


class ResBlock(nn.Module):
    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3)
        self.conv2 = ConvLayer(in_ch, out_ch, 3, downsample=True)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        skip = self.skip(F.avg_pool2d(x, 2))
        return (out + skip) / math.sqrt(2)


class Discriminator(nn.Module):
    def __init__(self, channels, stddev_group=4):
        super().__init__()
        self.from_rgb = ConvLayer(3, channels, 1)
        self.blocks = nn.Sequential(ResBlock(channels, channels), ResBlock(channels, channels))
        self.stddev_group = stddev_group
        self.final_conv = ConvLayer(channels + 1, channels, 3)
        self.final_linear = EqualLinear(channels * 4 * 4, channels, activation=True)
        self.out = EqualLinear(channels, 1)

    def forward(self, x):
        out = self.blocks(self.from_rgb(x))
        b, c, h, w = out.shape
        group = min(b, self.stddev_group)
        stddev = out.view(group, -1, 1, c, h, w)
        stddev = torch.sqrt(stddev.var(0, unbiased=False) + 1e-8)
        stddev = stddev.mean([2, 3, 4], keepdim=True).squeeze(2)
        stddev = stddev.repeat(group, 1, h, w)
        out = self.final_conv(torch.cat([out, stddev], 1))
        return self.out(self.final_linear(out.view(b, -1)))


def d_r1_loss(real_pred, real_img):
    grad_real, = torch.autograd.grad(outputs=real_pred.sum(), inputs=real_img, create_graph=True)
    return grad_real.pow(2).reshape(grad_real.shape[0], -1).sum(1).mean()


def main():
    p = common.parser(__doc__)
    p.add_argument("--style-dim", type=int, default=32)
    p.add_argument("--n-mlp", type=int, default=3)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--r1", type=float, default=1.0)
    p.add_argument("--d-reg-every", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--bug", default=None,
                   choices=("no-demod", "r1-sign", "g-real-target"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    rng = np.random.default_rng(args.seed)
    data = torch.from_numpy(discs(2048, rng))
    held_out = torch.from_numpy(discs(1024, np.random.default_rng(1000 + args.seed)))

    G = Generator(args.style_dim, args.n_mlp, args.channels, bug=args.bug)
    D = Discriminator(args.channels)
    gan = nn.ModuleDict({"G": G, "D": D})
    ratio = args.d_reg_every / (args.d_reg_every + 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr * ratio, betas=(0.0, 0.99 ** ratio))

    bs = args.batch_size
    steps_per_epoch = len(data) // bs
    rec = common.recording.torch_recorder(
        gan, args.out, optimizer=[opt_g, opt_d], loss_name="nonsaturating_g_loss",
        objective="adversarial", steps_per_epoch=steps_per_epoch, batch_size=bs)

    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    z_val = torch.randn(256, args.style_dim, generator=torch.Generator().manual_seed(4321))
    step = 0
    for epoch in range(args.epochs):
        perm = torch.randperm(len(data), generator=g)
        d_losses, r1s = [], []
        for b in range(steps_per_epoch):
            real = data[perm[b * bs:(b + 1) * bs]]

            # discriminator
            opt_d.zero_grad()
            fake = G(torch.randn(bs, args.style_dim, generator=g)).detach()
            d_loss = F.softplus(D(fake)).mean() + F.softplus(-D(real)).mean()
            d_loss.backward()
            opt_d.step()
            d_losses.append(d_loss.item())

            # lazy R1 regularization
            if step % args.d_reg_every == 0:
                opt_d.zero_grad()
                real.requires_grad_(True)
                real_pred = D(real)
                r1 = d_r1_loss(real_pred, real)
                if args.bug == "r1-sign":
                    # BUG (r1-sign): the penalty subtracted: the discriminator is rewarded for
                    # steep gradients at the real images.
                    reg = -(args.r1 / 2 * r1 * args.d_reg_every + 0 * real_pred[0])
                else:
                    reg = args.r1 / 2 * r1 * args.d_reg_every + 0 * real_pred[0]
                reg.sum().backward()
                opt_d.step()
                real = real.detach()
                r1s.append(r1.item())

            # generator
            opt_g.zero_grad()
            fake = G(torch.randn(bs, args.style_dim, generator=g))
            fake_pred = D(fake)
            if args.bug == "g-real-target":
                # BUG (g-real-target): the generator's loss written with the discriminator's
                # fake target, softplus(D(fake)): it pushes D's score of its images down.
                g_loss = F.softplus(fake_pred).mean()
            else:
                g_loss = F.softplus(-fake_pred).mean()
            g_loss.backward()
            opt_g.step()
            step += 1

            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                with torch.no_grad():
                    fake_val = G(z_val)
                    val_loss = F.softplus(-D(fake_val)).mean().item()
                val_acc = disc_like(fake_val)
            rec.step(g_loss, inputs=real, val_loss=val_loss, val_accuracy=val_acc)
            history.step(g_loss.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: G loss %.4f D loss %.4f r1 %.4f val G loss %.4f stat_dist %.4f "
              "disc-like %.3f" % (epoch + 1, np.mean(history.epochs[-1][0]), np.mean(d_losses),
                                  np.mean(r1s), val_loss, stat_dist(fake_val, held_out), val_acc),
              flush=True)
    rec.close()
    common.report(history.result(
        d_loss=float(np.mean(d_losses)), r1=float(np.mean(r1s)),
        stat_dist=stat_dist(fake_val, held_out), real_disc_like=disc_like(held_out)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "sg2tiny-g-real-target", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function (the generator's non-saturating "
               "loss written with the discriminator's target for generated images, "
               "softplus(D(G(z))) instead of softplus(-D(G(z))))",
     "bug": "the generator minimizes softplus(D(fake)), the discriminator's own loss term for "
            "generated images: it pushes D's score of its images down together with the "
            "discriminator, its loss falls from 0.012 in the first epoch to 5.5e-6 in the 4th "
            "while the images run away from the data: stat_dist 30.1 (17.4 after the first "
            "epoch) and no generated image looks like a disc (validation accuracy 0.000), "
            "against the twin's stat_dist 0.211 and 0.883 disc-like images",
     "fix": "g_loss = F.softplus(-fake_pred).mean()",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug g-real-target --seed 1 --record-every 16",
          "fixed": "--seed 1 --record-every 16"},
     ]},
    {"family": "sg2tiny-r1-sign", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function / regularization (the sign of the "
               "lazy R1 penalty turned around, so the discriminator is rewarded for steep "
               "gradients at the real images)",
     "bug": "with R1 weight 10 the penalty is subtracted from the discriminator's loss: the "
            "squared gradient norm at the real images grows from 0.29 in the first epoch to "
            "3.2e5 in the 4th and the discriminator's loss from 1.45 to 1679 (the generator's "
            "to 3e-4): the discriminator stops telling real from generated, stat_dist 1.14 "
            "and 0.004 disc-like images against the twin's R1 0.019, discriminator loss 1.29, "
            "stat_dist 0.230 and 0.438 disc-like images",
     "fix": "reg = r1 / 2 * r1_loss * d_reg_every (added, not subtracted)",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "r1w10-seed0",
          "buggy": "--bug r1-sign --r1 10 --record-every 16",
          "fixed": "--r1 10 --record-every 16"},
     ]},
    {"family": "healthy-sg2tiny", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a tiny StyleGAN2 (mapping network, modulated and demodulated "
                    "convolutions, noise inputs, skip toRGB; residual discriminator with "
                    "minibatch std; non-saturating loss with lazy R1) on 16x16 coloured discs "
                    "whose samples come to look like discs",
     "healthy": [
         {"id": "mlp4-seed2",
          "args": "--n-mlp 4 --seed 2 --record-every 16",
          "description": "four mapping layers: stat_dist 0.166, 0.918 of the generated "
                         "images disc-like (real images 1.00)"},
     ]},
]


if __name__ == "__main__":
    main()
