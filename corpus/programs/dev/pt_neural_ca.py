"""Growing Neural Cellular Automata (Mordvintsev et al. 2020, Distill) in PyTorch, scaled down:
a 16x16 grid of 12-channel cells learns to grow a target picture from one live cell and to keep
it.

Written as the PyTorch re-implementations of the Distill article's notebook write it
(``growing_ca.ipynb``; e.g. the ``CAModel`` of ``chenmingxiang110/Growing-Neural-Cellular-
Automata``): the state is RGBA plus 8 hidden channels; the perception step is a depthwise
convolution with fixed filters, identity, Sobel-x and Sobel-y, for every channel (48 perceived
values a cell); the update rule is a per-cell MLP written as two 1x1 convolutions (``update.0``,
48 -> ``--hidden`` with ReLU, and ``update.2``, -> 12, zero-initialized so that the untrained
rule does nothing, without bias); each cell fires with probability 0.5 per step (stochastic,
asynchronous updates); a cell is alive when the max-pooled (3x3) alpha of its neighbourhood
exceeds 0.1, and cells not alive both before and after the update are zeroed. The target is a
picture the program draws: a disc of radius 5.5 whose colour shades from red to yellow across
and green to blue down, with a dark ring, alpha 1 inside, premultiplied RGBA. Training follows
the article's "persistent" experiment: a pool of 128 states (all the seed at the start);
every iteration takes a batch of 8 from the pool, replaces the one with the highest loss by the
seed, runs 32 to 48 steps (a random count per iteration), and takes the MSE of the RGBA
channels against the target; the gradients are normalized per parameter (``p.grad /
(p.grad.norm() + 1e-8)``) before Adam (``--lr``, 5e-3) as the article does, and the final states
return to the pool. 20 iterations an epoch, 15 epochs (300 iterations). After every epoch the
MSE of a fresh seed grown for 40 steps is the validation loss; at the end the result line adds
``mse_40`` and ``mse_80`` (the same seed after twice as many steps: persistence). The mistakes
of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

CHANNELS = 12
SIZE = 16


def draw_target(size=SIZE):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2.0
    r = np.sqrt((xx - c) ** 2 + (yy - c) ** 2)
    alpha = (r <= 5.5).astype(np.float32)
    u, v = (xx - c + 5.5) / 11.0, (yy - c + 5.5) / 11.0
    rgb = np.stack([np.ones_like(u) * 0.9, 0.2 + 0.7 * u, 0.2 + 0.7 * v], 0)
    ring = ((r > 3.0) & (r <= 4.0)).astype(np.float32)
    rgb = rgb * (1 - 0.8 * ring)
    rgba = np.concatenate([rgb * alpha, alpha[None]], 0)
    return torch.tensor(rgba, dtype=torch.float32)


def make_seed(n, size=SIZE):
    x = torch.zeros(n, CHANNELS, size, size)
    x[:, 3:, size // 2, size // 2] = 1.0
    return x


class CAModel(nn.Module):
    def __init__(self, channels=CHANNELS, hidden=96, fire_rate=0.5, zero_init=True,
                 mask_mode="before-after", shared_fire=False, alpha_last=False):
        super().__init__()
        self.channels, self.fire_rate = channels, fire_rate
        self.mask_mode, self.shared_fire = mask_mode, shared_fire
        self.alpha_last = alpha_last
        ident = torch.tensor([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=torch.float32)
        sobel_x = torch.tensor([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=torch.float32) / 8
        kernel = torch.stack([ident, sobel_x, sobel_x.t()])          # 3, 3, 3
        self.register_buffer("kernel", kernel.repeat(channels, 1, 1)[:, None])  # 3C, 1, 3, 3
        self.update = nn.Sequential(
            nn.Conv2d(3 * channels, hidden, 1), nn.ReLU(),
            nn.Conv2d(hidden, channels, 1, bias=False))
        if zero_init:
            nn.init.zeros_(self.update[2].weight)
        # BUG (last-layer-not-zero-init): the last 1x1 convolution keeps PyTorch's default
        # initialization instead of zeros (the line above skipped), so that the untrained rule
        # already changes every cell at every step.

    def perceive(self, x):
        return F.conv2d(x, self.kernel, padding=1, groups=self.channels)

    def alive(self, x):
        if self.alpha_last:
            # BUG (alpha-channels-last): the alpha channel indexed as the TensorFlow notebook's
            # channels-last state does, x[..., 3:4], which on an NCHW tensor is the grid's fourth
            # column, not the alpha channel.
            return F.max_pool2d(x[..., 3:4], kernel_size=3, stride=1, padding=1) > 0.1
        return F.max_pool2d(x[:, 3:4], kernel_size=3, stride=1, padding=1) > 0.1

    def forward(self, x, gen=None):
        pre_life = self.alive(x)
        dx = self.update(self.perceive(x))
        if self.shared_fire:
            # BUG (shared-fire-mask): one random draw for the whole batch and grid, so that all
            # cells update together or not at all (synchronous updates).
            fire = torch.rand(1, 1, 1, 1, generator=gen) <= self.fire_rate
        else:
            fire = torch.rand(x.shape[0], 1, x.shape[2], x.shape[3], generator=gen) <= self.fire_rate
        x = x + dx * fire.float()
        post_life = self.alive(x)
        if self.mask_mode == "before-after":
            life = pre_life & post_life
        else:
            # BUG (alive-mask-after-update): the alive mask taken from the state after the update
            # only, so that any cell the update gives some alpha counts as alive.
            life = post_life
        return x * life.float()

    def grow(self, x, steps, gen=None):
        for _ in range(steps):
            x = self(x, gen)
        return x


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=96)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--pool-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--iters-per-epoch", type=int, default=20)
    p.add_argument("--no-grad-norm", action="store_true",
                   help="leave out the per-parameter gradient normalization")
    p.add_argument("--bug", default=None, choices=(
        "last-layer-not-zero-init", "alive-mask-after-update", "shared-fire-mask",
        "alpha-channels-last"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    target = draw_target()
    model = CAModel(hidden=args.hidden, zero_init=args.bug != "last-layer-not-zero-init",
                    mask_mode="after" if args.bug == "alive-mask-after-update" else "before-after",
                    shared_fire=args.bug == "shared-fire-mask",
                    alpha_last=args.bug == "alpha-channels-last")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    pool = make_seed(args.pool_size)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="MSELoss",
        steps_per_epoch=args.iters_per_epoch, batch_size=args.batch_size)
    history = common.History()

    def evaluate(steps):
        with torch.no_grad():
            x = model.grow(make_seed(4), steps, torch.Generator().manual_seed(10_000 + args.seed))
            return F.mse_loss(x[:, :4], target.expand(4, -1, -1, -1)).item()

    mse_40 = None
    for epoch in range(args.epochs):
        for it in range(args.iters_per_epoch):
            idx = torch.randperm(args.pool_size, generator=gen)[:args.batch_size]
            x0 = pool[idx].clone()
            with torch.no_grad():
                per = ((x0[:, :4] - target) ** 2).mean(dim=(1, 2, 3))
            x0[per.argmax()] = make_seed(1)[0]
            steps = int(torch.randint(32, 49, (1,), generator=gen))
            optimizer.zero_grad()
            x = model.grow(x0, steps, gen)
            targets = target.expand(args.batch_size, -1, -1, -1)
            loss = F.mse_loss(x[:, :4], targets)
            loss.backward()
            if not args.no_grad_norm:
                for prm in model.parameters():
                    prm.grad.data = prm.grad.data / (prm.grad.data.norm() + 1e-8)
            optimizer.step()
            pool[idx] = x.detach()
            val_loss = None
            if it == args.iters_per_epoch - 1:
                mse_40 = evaluate(40)
                val_loss = mse_40
            rec.step(loss, inputs=x0, targets=targets, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: train mse %.5f  mse after 40 steps %.5f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), mse_40))
    rec.close()
    mse_80 = evaluate(80)
    print("mse after 40 steps %.5f, after 80 steps %.5f" % (mse_40, mse_80))
    common.report(history.result(mse_40=mse_40, mse_80=mse_80))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "nca-alpha-channels-last", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong tensor indexing (a channels-last index, x[..., 3:4], "
               "kept when porting to a channels-first state)",
     "bug": "the alive mask is taken from x[..., 3:4], the grid's fourth column, which is empty: "
            "every cell is zeroed at the first step, the output never depends on the weights, "
            "the gradients are exactly zero and the MSE stays at 0.1849 from the first "
            "iteration to the last (mse_40 and mse_80 0.1849), against the twin's MSE after 40 "
            "and 80 steps of 0.0218 and 0.0157",
     "fix": "take the alpha channel, x[:, 3:4]",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["unchanged_values", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug alpha-channels-last --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "nca-last-layer-not-zero-init", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong weight initialization (the update rule's last layer "
               "left at its default initialization instead of zeros)",
     "bug": "update.2 keeps PyTorch's default initialization: the untrained rule already changes every cell, the first epoch's MSE is 0.333 "
            "(twin 0.248); the pool states learn (the MSE falls to 0.051, twin 0.018) but a "
            "fresh seed dies under the learned rule: the MSE after 40 and after 80 steps ends at "
            "0.1849, the empty grid's, against the twin's 0.0122 and 0.0128",
     "fix": "nn.init.zeros_(self.update[2].weight)",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero"],
     "root_cause": {"layer_name": "update.2", "layer_index": 1},
     "pairs": [
         {"id": "adam",
          "buggy": "--bug last-layer-not-zero-init --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "nca-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "Adam at 0.1 (meant 5e-3): the state blows up over the unrolled steps and the "
            "loss is NaN from the first epoch on, the MSE after 40 and 80 steps NaN, against the "
            "twin's 0.0176 and 0.0156",
     "fix": "Adam at 5e-3",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed3",
          "buggy": "--lr 0.1 --seed 3 --record-every 4",
          "fixed": "--lr 5e-3 --seed 3 --record-every 4"},
     ]},
    {"family": "healthy-nca", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a neural cellular automaton that learns to grow and keep a picture",
     "healthy": [
         {"id": "hidden64-seed2",
          "args": "--hidden 64 --seed 2 --record-every 4",
          "description": "64 hidden units in the update rule, seed 2"},
     ]},
]


if __name__ == "__main__":
    main()
