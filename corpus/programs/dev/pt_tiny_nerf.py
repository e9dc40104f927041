"""A tiny NeRF (Mildenhall et al. 2020) in PyTorch, written as the "tiny_nerf" notebooks write
it (the paper authors' ``tiny_nerf.ipynb`` and its PyTorch ports), on a scene the program makes.

The scene is an analytic field: two soft spheres (a red one of radius 0.55 and a blue one of
radius 0.35 beside it), each a density ``30 * sigmoid(40 * (r - |x - c|))`` with its own
colour, the colour at a point the density-weighted mix. 24 cameras on a circle of radius 3
around the scene (elevations of 10 to 40 degrees alternating), looking at the origin, give
16x16 views (focal 20 pixels); 20 views train (5120 rays) and 4 views between them are held
out. The ground-truth pixels are rendered from the analytic field with the same
volume-rendering quadrature as the model (``render_rays``) at 64 evenly spaced samples between
``near`` 1.5 and ``far`` 4.5, on black.

The model is the notebook's MLP on positionally encoded points: ``posenc`` maps a 3-D point to
(x, sin(2^k x), cos(2^k x)) for k < ``--L`` (4 frequencies: 27 inputs), then ``fc1``..``fc3``
(``--width`` units, ReLU) and ``out`` (4 outputs: rgb and sigma). ``render_rays`` takes
``--samples`` (24) stratified depths per ray (one uniform sample in each bin while training,
the bin centres when evaluating), ``sigma = relu(raw[..., 3])``, ``rgb = sigmoid(raw[..., :3])``,
``alpha = 1 - exp(-sigma * delta)``, the weights ``alpha * T`` with the transmittance ``T`` the
exclusive cumulative product of ``1 - alpha + 1e-10``, and the pixel the weighted sum of rgb.
``MSELoss`` on random batches of ``--batch-size`` rays (512: 10 steps an epoch), Adam
(``--lr`` 5e-3), ``--epochs`` epochs. After every epoch the MSE of the held-out views is the
validation loss; the result line adds their PSNR (``val_psnr``, ``-10 log10(MSE)``) and that of
predicting black everywhere (``black_psnr``). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

H = W = 16
FOCAL = 20.0
NEAR, FAR = 1.5, 4.5
SPHERES = [((0.25, 0.0, 0.0), 0.55, (0.9, 0.15, 0.1)),
           ((-0.55, 0.35, 0.2), 0.35, (0.1, 0.3, 0.95))]


def scene_field(pts):
    """The analytic scene: (sigma, rgb) of points (..., 3)."""
    sigma = torch.zeros(pts.shape[:-1])
    rgb = torch.zeros(pts.shape[:-1] + (3,))
    for centre, radius, colour in SPHERES:
        d = (pts - torch.tensor(centre)).norm(dim=-1)
        s = 30.0 * torch.sigmoid(40.0 * (radius - d))
        sigma = sigma + s
        rgb = rgb + s[..., None] * torch.tensor(colour)
    return sigma, rgb / (sigma[..., None] + 1e-6)


def pose(azimuth, elevation, radius=3.0):
    """camera-to-world: the camera at the angles, looking at the origin (OpenGL axes)."""
    az, el = np.radians(azimuth), np.radians(elevation)
    eye = radius * np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
    forward = -eye / np.linalg.norm(eye)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, up, -forward, eye
    return torch.tensor(c2w, dtype=torch.float32)


def get_rays(c2w, normalize=True):
    i, j = torch.meshgrid(torch.arange(W, dtype=torch.float32),
                          torch.arange(H, dtype=torch.float32), indexing="xy")
    dirs = torch.stack([(i - W * 0.5 + 0.5) / FOCAL, -(j - H * 0.5 + 0.5) / FOCAL,
                        -torch.ones_like(i)], -1)
    rays_d = (dirs[..., None, :] * c2w[:3, :3]).sum(-1)
    if normalize:
        rays_d = rays_d / rays_d.norm(dim=-1, keepdim=True)
    rays_o = c2w[:3, -1].expand(rays_d.shape)
    return rays_o.reshape(-1, 3), rays_d.reshape(-1, 3)


def posenc(x, L):
    rets = [x]
    for k in range(L):
        for fn in (torch.sin, torch.cos):
            rets.append(fn(2.0 ** k * x))
    return torch.cat(rets, -1)


class NeRF(nn.Module):
    def __init__(self, L=6, width=128):
        super().__init__()
        self.fc1 = nn.Linear(3 + 6 * L, width)
        self.fc2 = nn.Linear(width, width)
        self.fc3 = nn.Linear(width, width)
        self.out = nn.Linear(width, 4)
        self.act = nn.ReLU()

    def forward(self, x):
        h = self.act(self.fc1(x))
        h = self.act(self.fc2(h))
        h = self.act(self.fc3(h))
        return self.out(h)


def render_rays(field, rays_o, rays_d, n_samples, rand=False, gen=None, bug=None):
    t = torch.linspace(NEAR, FAR, n_samples + 1)
    lower, upper = t[:-1], t[1:]
    if rand:
        u = torch.rand(rays_o.shape[0], n_samples, generator=gen)
    else:
        u = torch.full((rays_o.shape[0], n_samples), 0.5)
    z = lower + (upper - lower) * u
    pts = rays_o[:, None, :] + rays_d[:, None, :] * z[..., None]
    sigma, rgb = field(pts)
    delta = torch.cat([z[:, 1:] - z[:, :-1], torch.full_like(z[:, :1], 1e10)], -1)
    alpha = 1.0 - torch.exp(-sigma * delta)
    if bug == "transmittance-inclusive":
        # BUG (transmittance-inclusive): the cumulative product not made exclusive (no shift
        # by one sample): each sample's weight is also attenuated by its own alpha.
        trans = torch.cumprod(1.0 - alpha + 1e-10, -1)
    else:
        trans = torch.cumprod(1.0 - alpha + 1e-10, -1)
        trans = torch.cat([torch.ones_like(trans[:, :1]), trans[:, :-1]], -1)
    weights = alpha * trans
    return (weights[..., None] * rgb).sum(1)


def main():
    p = common.parser(__doc__)
    p.add_argument("--L", type=int, default=4)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--samples", type=int, default=24)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--bug", default=None,
                   choices=("no-posenc", "sigma-no-relu", "transmittance-inclusive",
                            "rgb-no-sigmoid"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    # cameras: 24 around the scene, every 6th held out
    views = [(az, 10.0 + 30.0 * (k % 2)) for k, az in enumerate(np.linspace(0, 360, 24,
                                                                           endpoint=False))]
    rays_o, rays_d, val_o, val_d = [], [], [], []
    for k, (az, el) in enumerate(views):
        o, d = get_rays(pose(az + 7.0 * args.seed, el))
        (val_o if k % 6 == 3 else rays_o).append(o)
        (val_d if k % 6 == 3 else rays_d).append(d)
    rays_o, rays_d = torch.cat(rays_o), torch.cat(rays_d)
    val_o, val_d = torch.cat(val_o), torch.cat(val_d)
    with torch.no_grad():
        target = render_rays(scene_field, rays_o, rays_d, 64)
        val_target = render_rays(scene_field, val_o, val_d, 64)

    model = NeRF(0 if args.bug == "no-posenc" else args.L, args.width)
    L = args.L

    def field(pts):
        if args.bug == "no-posenc":
            # BUG (no-posenc): the raw points fed to the MLP, posenc(pts, L) left out.
            raw = model(pts)
        else:
            raw = model(posenc(pts, L))
        if args.bug == "sigma-no-relu":
            # BUG (sigma-no-relu): the density taken from the raw output without relu: it
            # can be negative, and alpha = 1 - exp(-sigma * delta) with it.
            sigma = raw[..., 3]
        else:
            sigma = torch.relu(raw[..., 3])
        if args.bug == "rgb-no-sigmoid":
            # BUG (rgb-no-sigmoid): the colour taken without sigmoid.
            rgb = raw[..., :3]
        else:
            rgb = torch.sigmoid(raw[..., :3])
        return sigma, rgb

    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.MSELoss()
    steps_per_epoch = len(rays_o) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="MSELoss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    gen = torch.Generator().manual_seed(args.seed)
    val_mse = None
    for epoch in range(args.epochs):
        perm = torch.randperm(len(rays_o), generator=gen)
        for s in range(steps_per_epoch):
            idx = perm[s * args.batch_size:(s + 1) * args.batch_size]
            optimizer.zero_grad()
            rgb = render_rays(field, rays_o[idx], rays_d[idx], args.samples, rand=True,
                              gen=gen, bug=args.bug)
            loss = criterion(rgb, target[idx])
            loss.backward()
            optimizer.step()
            val_loss = None
            if s == steps_per_epoch - 1:
                with torch.no_grad():
                    val_rgb = render_rays(field, val_o, val_d, args.samples, bug=args.bug)
                    val_mse = criterion(val_rgb, val_target).item()
                val_loss = val_mse
            rec.step(loss, inputs=torch.cat([rays_o[idx], rays_d[idx]], 1),
                     targets=target[idx], val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: train mse %.5f  held-out mse %.5f  psnr %.2f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_mse,
                -10 * np.log10(max(val_mse, 1e-12)) if np.isfinite(val_mse) else float("nan")))
    rec.close()
    val_psnr = (-10 * float(np.log10(val_mse))
                if val_mse is not None and np.isfinite(val_mse) and val_mse > 0 else float("nan"))
    black_psnr = -10 * float(np.log10((val_target ** 2).mean().item()))
    common.report(history.result(val_psnr=val_psnr, black_psnr=black_psnr))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "nerf-sigma-no-relu", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing activation function (the density taken from "
               "the MLP's raw output without relu)",
     "bug": "sigma = raw[..., 3] without relu: a negative density with the last sample's delta of"
            " 1e10 gives alpha = 1 - exp(+inf) = -inf, the loss is NaN from the first epoch on "
            "(first and last epoch NaN, held-out MSE NaN), against the twin's MSE 0.0982 to "
            "0.00038 and held-out MSE 0.00099 (PSNR 30.0; black everywhere 10.7)",
     "fix": "sigma = torch.relu(raw[..., 3])",
     "symptom": "numerical_error", "acceptable_symptoms": ["missing_activation"],
     "root_cause": {"layer_name": "out", "layer_index": 3},
     "pairs": [
         {"id": "adam",
          "buggy": "--bug sigma-no-relu --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "nerf-transmittance-inclusive", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong model formula (the volume-rendering "
               "transmittance as an inclusive cumulative product)",
     "bug": "the transmittance is the inclusive cumulative product of 1 - alpha: every sample is "
            "also dimmed by its own alpha, its weight alpha (1 - alpha) T at most 0.25, so an "
            "opaque sphere cannot be rendered at its full colour; the MSE falls from 0.066 to "
            "0.0075 and stops there, the held-out MSE ends at 0.0070 (PSNR 21.6), against the "
            "twin's 0.101 to 0.00034 and 0.00079 (PSNR 31.0)",
     "fix": "shift the cumulative product by one sample: "
            "torch.cat([torch.ones_like(trans[:, :1]), trans[:, :-1]], -1)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug transmittance-inclusive --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-nerf", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a tiny NeRF fitting a scene of two spheres from 20 views",
     "healthy": [
         {"id": "width64-samples32-seed2",
          "args": "--width 64 --samples 32 --seed 2 --record-every 4",
          "description": "64 units per hidden layer, 32 samples per ray"},
     ]},
]


if __name__ == "__main__":
    main()
