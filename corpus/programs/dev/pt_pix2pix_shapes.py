"""pix2pix (Isola et al. 2017) in PyTorch, translating outline drawings of shapes into filled,
coloured shapes, written as the reference implementation (``junyanz/pytorch-CycleGAN-and-pix2pix``,
``models/pix2pix_model.py`` and ``models/networks.py``) writes it, scaled down to 16x16 images.

The data are drawn by the program: every image holds one shape (a disc, a square or a diamond,
radius 3 to 6 pixels, at a random place); the input (A) is its one-pixel outline, white on black
(one channel), and the target (B) is the shape filled with the colour of its kind (red discs,
blue squares, green diamonds, with a little random shade) on black (three channels). Both are
drawn as 8-bit images (0..255) and scaled to [-1, 1] as the reference's ``transforms.Normalize
((0.5,), (0.5,))`` does. 1024 pairs train and 256 others (another seed) are held out.

The generator is a U-Net (``UnetGenerator``: 16 -> 8 -> 4 -> 2 -> 1 and back, ``--ngf`` filters
in the first layer): the down path Conv(4, stride 2)-BatchNorm-LeakyReLU(0.2) (no norm on the
first and innermost), the up path ReLU-ConvTranspose(4, stride 2)-BatchNorm with the matching
down activation concatenated on channels (skip connections), ``tanh`` on the output. The
discriminator is a PatchGAN (``NLayerDiscriminator``): Conv(4, stride 2)-LeakyReLU,
Conv(4, stride 2)-BatchNorm-LeakyReLU, Conv(3, stride 1) to one logit per 4x4 patch, on the
(input, output) pair concatenated on channels. Losses as the reference's ``GANLoss('vanilla')``
(``BCEWithLogitsLoss``) and ``L1Loss``: the discriminator minimizes (BCE(D(A, B), 1) +
BCE(D(A, G(A).detach()), 0)) / 2, then the generator BCE(D(A, G(A)), 1) + lambda * L1(G(A), B),
lambda ``--lambda-l1`` (100); Adam (``--lr`` 2e-3, betas (0.5, 0.999)) for both, batches of
``--batch-size`` (32 steps an epoch with 32), ``--epochs`` epochs. The generator's update is
recorded (its loss: GAN + L1); after every epoch the L1 of the generator's outputs on the
held-out pairs (in eval mode) is the validation loss, and the result line adds ``val_l1``, the
L1 of the mean training target (``mean_image_l1``) and ``val_colour_accuracy``, the share of
held-out shape pixels whose strongest channel is their kind's colour. The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

SIZE = 16
COLOURS = np.array([[220, 40, 40], [40, 60, 220], [40, 200, 60]], dtype=np.float64)


def draw_pairs(n, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    a = np.zeros((n, 1, SIZE, SIZE), dtype=np.uint8)
    b = np.zeros((n, 3, SIZE, SIZE), dtype=np.uint8)
    kinds = np.zeros(n, dtype=np.int64)
    for i in range(n):
        kind = rng.integers(3)
        r = rng.uniform(3.0, 6.0)
        cy, cx = rng.uniform(r, SIZE - 1 - r, size=2)
        dy, dx = yy - cy, xx - cx
        if kind == 0:
            inside = dy ** 2 + dx ** 2 <= r ** 2
        elif kind == 1:
            inside = np.maximum(np.abs(dy), np.abs(dx)) <= r * 0.85
        else:
            inside = np.abs(dy) + np.abs(dx) <= r * 1.2
        # the outline: shape pixels with a 4-neighbour outside the shape
        pad = np.pad(inside, 1)
        interior = pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:] & inside
        a[i, 0] = (inside & ~interior) * 255
        colour = np.clip(COLOURS[kind] + rng.uniform(-25, 25, size=3), 0, 255)
        b[i] = (inside[None] * colour[:, None, None]).astype(np.uint8)
        kinds[i] = kind
    return a, b, kinds


def to_tensor(img, normalize=True):
    x = torch.tensor(img, dtype=torch.float32)
    if normalize:
        x = x / 127.5 - 1.0
    return x


class UnetGenerator(nn.Module):
    def __init__(self, in_ch=1, out_ch=3, ngf=16, tanh=True):
        super().__init__()
        self.down1 = nn.Conv2d(in_ch, ngf, 4, 2, 1)                  # 16 -> 8
        self.down2 = nn.Conv2d(ngf, ngf * 2, 4, 2, 1, bias=False)    # 8 -> 4
        self.down2_norm = nn.BatchNorm2d(ngf * 2)
        self.down3 = nn.Conv2d(ngf * 2, ngf * 4, 4, 2, 1, bias=False)  # 4 -> 2
        self.down3_norm = nn.BatchNorm2d(ngf * 4)
        self.down4 = nn.Conv2d(ngf * 4, ngf * 4, 4, 2, 1, bias=False)  # 2 -> 1 (innermost)
        self.up4 = nn.ConvTranspose2d(ngf * 4, ngf * 4, 4, 2, 1, bias=False)
        self.up4_norm = nn.BatchNorm2d(ngf * 4)
        self.up3 = nn.ConvTranspose2d(ngf * 8, ngf * 2, 4, 2, 1, bias=False)
        self.up3_norm = nn.BatchNorm2d(ngf * 2)
        self.up2 = nn.ConvTranspose2d(ngf * 4, ngf, 4, 2, 1, bias=False)
        self.up2_norm = nn.BatchNorm2d(ngf)
        self.up1 = nn.ConvTranspose2d(ngf * 2, out_ch, 4, 2, 1)
        self.lrelu = nn.LeakyReLU(0.2)
        self.relu = nn.ReLU()
        self.tanh = tanh

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2_norm(self.down2(self.lrelu(d1)))
        d3 = self.down3_norm(self.down3(self.lrelu(d2)))
        d4 = self.down4(self.lrelu(d3))
        u4 = self.up4_norm(self.up4(self.relu(d4)))
        u3 = self.up3_norm(self.up3(self.relu(torch.cat([u4, d3], 1))))
        u2 = self.up2_norm(self.up2(self.relu(torch.cat([u3, d2], 1))))
        out = self.up1(self.relu(torch.cat([u2, d1], 1)))
        if self.tanh:
            out = torch.tanh(out)
        # BUG (no-tanh): the outermost block's nn.Tanh() left out: the output is unbounded
        # while the targets are in [-1, 1].
        return out


class NLayerDiscriminator(nn.Module):
    def __init__(self, in_ch=4, ndf=32):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, ndf, 4, 2, 1)                   # 16 -> 8
        self.conv2 = nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False)     # 8 -> 4
        self.norm2 = nn.BatchNorm2d(ndf * 2)
        self.conv3 = nn.Conv2d(ndf * 2, 1, 3, 1, 1)                   # 4x4 patch logits
        self.lrelu = nn.LeakyReLU(0.2)

    def forward(self, x):
        h = self.lrelu(self.conv1(x))
        h = self.lrelu(self.norm2(self.conv2(h)))
        return self.conv3(h)


def init_weights(net, gain=0.02):
    # networks.init_weights(init_type='normal', init_gain=0.02)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def main():
    p = common.parser(__doc__)
    p.add_argument("--ngf", type=int, default=16)
    p.add_argument("--ndf", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--lambda-l1", type=float, default=100.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--bug", default=None,
                   choices=("targets-unscaled", "d-output-only", "g-labels-swapped", "no-tanh"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    a, b, _ = draw_pairs(1024, seed=args.seed)
    va, vb, vkinds = draw_pairs(256, seed=1000 + args.seed)
    real_a, val_a = to_tensor(a), to_tensor(va)
    if args.bug == "targets-unscaled":
        # BUG (targets-unscaled): the target images kept as 0..255 bytes; only the inputs go
        # through the Normalize((0.5,), (0.5,)) to [-1, 1].
        real_b, val_b = to_tensor(b, normalize=False), to_tensor(vb, normalize=False)
    else:
        real_b, val_b = to_tensor(b), to_tensor(vb)

    generator = UnetGenerator(1, 3, args.ngf, tanh=args.bug != "no-tanh")
    d_in = 3 if args.bug == "d-output-only" else 4
    discriminator = NLayerDiscriminator(d_in, args.ndf)
    init_weights(generator)
    init_weights(discriminator)
    pix2pix = nn.ModuleDict({"generator": generator, "discriminator": discriminator})

    opt_g = torch.optim.Adam(generator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    criterion_gan = nn.BCEWithLogitsLoss()
    criterion_l1 = nn.L1Loss()
    steps_per_epoch = len(real_a) // args.batch_size
    rec = common.recording.torch_recorder(
        pix2pix, args.out, optimizer=[opt_g, opt_d], loss_name="BCEWithLogitsLoss",
        objective="adversarial", loss_added=True, steps_per_epoch=steps_per_epoch,
        batch_size=args.batch_size)

    def pair(x_a, x_b):
        if args.bug == "d-output-only":
            # BUG (d-output-only): the discriminator sees only the image, not the
            # (input, output) pair: an unconditional GAN loss.
            return x_b
        return torch.cat([x_a, x_b], 1)

    mean_b = real_b.mean(0, keepdim=True)
    history = common.History()
    gen = torch.Generator().manual_seed(args.seed)
    val_l1 = None
    for epoch in range(args.epochs):
        generator.train()
        discriminator.train()
        perm = torch.randperm(len(real_a), generator=gen)
        for s in range(steps_per_epoch):
            idx = perm[s * args.batch_size:(s + 1) * args.batch_size]
            xa, xb = real_a[idx], real_b[idx]
            fake_b = generator(xa)

            # update D (set_requires_grad(netD, True))
            for q in discriminator.parameters():
                q.requires_grad_(True)
            opt_d.zero_grad()
            pred_fake = discriminator(pair(xa, fake_b.detach()))
            loss_d_fake = criterion_gan(pred_fake, torch.zeros_like(pred_fake))
            pred_real = discriminator(pair(xa, xb))
            loss_d_real = criterion_gan(pred_real, torch.ones_like(pred_real))
            loss_d = (loss_d_fake + loss_d_real) * 0.5
            loss_d.backward()
            opt_d.step()

            # update G (set_requires_grad(netD, False))
            for q in discriminator.parameters():
                q.requires_grad_(False)
            opt_g.zero_grad()
            pred_fake = discriminator(pair(xa, fake_b))
            if args.bug == "g-labels-swapped":
                # BUG (g-labels-swapped): the generator's GAN loss with the fake label (0):
                # it learns to look fake to the discriminator instead of real.
                loss_g_gan = criterion_gan(pred_fake, torch.zeros_like(pred_fake))
            else:
                loss_g_gan = criterion_gan(pred_fake, torch.ones_like(pred_fake))
            loss_g_l1 = criterion_l1(fake_b, xb) * args.lambda_l1
            loss_g = loss_g_gan + loss_g_l1
            loss_g.backward()
            opt_g.step()

            val_loss = None
            if s == steps_per_epoch - 1:
                generator.eval()
                with torch.no_grad():
                    val_l1 = criterion_l1(generator(val_a), val_b).item()
                generator.train()
                val_loss = val_l1
            rec.step(loss_g, inputs=xa, targets=xb, val_loss=val_loss)
            history.step(loss_g.item())
        history.epoch(val_loss)
        print("epoch %d: G loss %.4f D loss %.4f  train L1 %.4f  held-out L1 %.4f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), loss_d.item(),
            criterion_l1(fake_b.detach(), xb).item(), val_l1))
    rec.close()

    generator.eval()
    with torch.no_grad():
        out = generator(val_a).numpy()
    mean_l1 = criterion_l1(mean_b.expand_as(val_b), val_b).item()
    shape = (va[:, 0] > 0) | (vb.max(1) > 0)
    truth = np.broadcast_to(vkinds[:, None, None], shape.shape)
    strongest = out.argmax(1)
    kind_channel = np.array([0, 2, 1])[strongest]  # red, blue, green channels -> kinds 0, 1, 2
    colour_acc = float((kind_channel[shape] == truth[shape]).mean())
    common.report(history.result(
        val_l1=val_l1, mean_image_l1=mean_l1, val_colour_accuracy=colour_acc,
        d_loss=loss_d.item()))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "p2p-targets-unscaled", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing preprocessing (the target images not scaled "
               "to the range of the generator's tanh output)",
     "bug": "the target images are left as 0..255 bytes while the generator ends in tanh: its "
            "output saturates at 1 and can never reach them; the generator loss stays at 2415 in "
            "the first epoch and 2409 in the 16th, the discriminator separates the pairs at once "
            "(its loss 0.0004), the held-out L1 ends at 24.57 (the mean target image 28.0) and "
            "the held-out shape pixels get their kind's colour at chance (0.330), against the "
            "twin's held-out L1 of 0.0383 (in [-1, 1]; the mean target image 0.220) and colour "
            "accuracy 0.996",
     "fix": "scale the targets as the inputs, x / 127.5 - 1 (Normalize((0.5,), (0.5,)))",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug targets-unscaled --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "p2p-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "Adam at 0.05 (meant 2e-3) for both networks: the generator loss rises from 25.3 in "
            "the first epoch to 30.2 in the 16th, and the held-out L1 ends at 0.190 (the mean "
            "target image about 0.22), against the twin's 37.1 to 4.90 and held-out L1 of 0.053",
     "fix": "Adam at 2e-3",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 0.05 --seed 1 --record-every 4",
          "fixed": "--lr 2e-3 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-p2p", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "pix2pix translating outline drawings of shapes into filled, coloured shapes",
     "healthy": [
         {"id": "ngf32-seed2",
          "args": "--ngf 32 --seed 2 --record-every 4",
          "description": "32 filters in the generator's first layer"},
     ]},
]


if __name__ == "__main__":
    main()
