"""A deep equilibrium model (DEQ, Bai et al. 2019) in PyTorch: a small convolutional classifier
of scikit-learn's digits whose middle layer is the fixed point of a residual block.

Written as the "implicit layers" tutorial (implicit-layers-tutorial.org, chapter 4, "Deep
equilibrium models") writes it. ``ResNetLayer`` is the tutorial's block
``f(z, x) = norm3(relu(z + norm2(x + conv2(norm1(relu(conv1(z)))))))`` (two 3x3 convolutions
without bias, initialized from N(0, 0.01), three GroupNorms). ``DEQFixedPoint`` finds its fixed
point z* = f(z*, x) under ``torch.no_grad()`` with the tutorial's ``anderson`` solver
(Anderson acceleration, m = 5, tolerance ``--tol``, at most ``--max-iter`` iterations; or its
``forward_iteration``, ``--solver forward``), then
calls f once more with gradients on, and registers on that output a backward hook that solves
the adjoint fixed point g = (df/dz*)^T g + grad with the same solver, through
``autograd.grad(f0, z0, y, retain_graph=True)`` (the implicit-function-theorem gradient).

The model is the tutorial's: a stem ``Conv2d(1, --channels, 3)`` and ``BatchNorm2d``, the DEQ
block, ``BatchNorm2d``, ``AvgPool2d(2)`` and a ``Linear`` classifier (the digits' 8x8 images,
standardized by their global mean and deviation, 20% held out). Adam (``--lr``), batches of
``--batch-size`` (23 steps an epoch with 64), cross-entropy, ``--epochs`` epochs. The held-out
loss and accuracy are the validation after every epoch; the result line adds the mean number of
forward solver iterations over the last epoch (``solver_iters``) and the mean relative residual
of the last forward solve (``forward_residual``). The mistakes of the families in CASES are
selected with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn, autograd  # noqa: E402
import torch.nn.functional as F  # noqa: E402

np = common.np


class ResNetLayer(nn.Module):
    def __init__(self, n_channels, n_inner_channels, kernel_size=3, num_groups=8):
        super().__init__()
        self.conv1 = nn.Conv2d(n_channels, n_inner_channels, kernel_size,
                               padding=kernel_size // 2, bias=False)
        self.conv2 = nn.Conv2d(n_inner_channels, n_channels, kernel_size,
                               padding=kernel_size // 2, bias=False)
        self.norm1 = nn.GroupNorm(num_groups, n_inner_channels)
        self.norm2 = nn.GroupNorm(num_groups, n_channels)
        self.norm3 = nn.GroupNorm(num_groups, n_channels)
        self.conv1.weight.data.normal_(0, 0.01)
        self.conv2.weight.data.normal_(0, 0.01)

    def forward(self, z, x):
        y = self.norm1(F.relu(self.conv1(z)))
        return self.norm3(F.relu(z + self.norm2(x + self.conv2(y))))


def forward_iteration(f, x0, max_iter=50, tol=1e-2, **unused):
    """Plain fixed-point iteration z <- f(z) (the tutorial's)."""
    f0 = f(x0)
    res = []
    for k in range(max_iter):
        x = f0
        f0 = f(x)
        res.append((f0 - x).norm().item() / (1e-5 + f0.norm().item()))
        if res[-1] < tol:
            break
    return f0, res


def anderson(f, x0, m=5, lam=1e-4, max_iter=50, tol=1e-2, beta=1.0):
    """Anderson acceleration for fixed point iteration (the tutorial's)."""
    bsz, d, H, W = x0.shape
    X = torch.zeros(bsz, m, d * H * W, dtype=x0.dtype)
    F_ = torch.zeros(bsz, m, d * H * W, dtype=x0.dtype)
    X[:, 0], F_[:, 0] = x0.reshape(bsz, -1), f(x0).reshape(bsz, -1)
    X[:, 1], F_[:, 1] = F_[:, 0], f(F_[:, 0].view_as(x0)).reshape(bsz, -1)

    Hm = torch.zeros(bsz, m + 1, m + 1, dtype=x0.dtype)
    Hm[:, 0, 1:] = Hm[:, 1:, 0] = 1
    y = torch.zeros(bsz, m + 1, 1, dtype=x0.dtype)
    y[:, 0] = 1

    res = []
    k = 1
    for k in range(2, max_iter):
        n = min(k, m)
        G = F_[:, :n] - X[:, :n]
        Hm[:, 1:n + 1, 1:n + 1] = torch.bmm(G, G.transpose(1, 2)) + \
            lam * torch.eye(n, dtype=x0.dtype)[None]
        alpha = torch.linalg.solve(Hm[:, :n + 1, :n + 1], y[:, :n + 1])[:, 1:n + 1, 0]
        X[:, k % m] = beta * (alpha[:, None] @ F_[:, :n])[:, 0] + \
            (1 - beta) * (alpha[:, None] @ X[:, :n])[:, 0]
        F_[:, k % m] = f(X[:, k % m].view_as(x0)).reshape(bsz, -1)
        res.append((F_[:, k % m] - X[:, k % m]).norm().item() /
                   (1e-5 + F_[:, k % m].norm().item()))
        if res[-1] < tol:
            break
    return X[:, k % m].view_as(x0), res


SOLVERS = {"anderson": anderson, "forward": forward_iteration}


class DEQFixedPoint(nn.Module):
    def __init__(self, f, solver, bug=None, **kwargs):
        super().__init__()
        self.f = f
        self.solver = solver
        self.kwargs = kwargs
        self.bug = bug
        self.forward_res = self.backward_res = []

    def forward(self, x):
        # compute the forward pass and re-engage autograd tape
        with torch.no_grad():
            z, self.forward_res = self.solver(lambda z: self.f(z, x), torch.zeros_like(x),
                                              **self.kwargs)
        z = self.f(z, x)

        # set up the Jacobian vector product (without additional forward calls)
        z0 = z.clone().detach().requires_grad_()
        f0 = self.f(z0, x)

        def backward_hook(grad):
            if self.bug == "adjoint-sign":
                # BUG (adjoint-sign): the adjoint equation written g = J^T g - grad: its
                # solution is -(I - J^T)^-1 grad, the implicit gradient with the wrong sign.
                g, self.backward_res = self.solver(
                    lambda y: autograd.grad(f0, z0, y, retain_graph=True)[0] - grad,
                    grad, **self.kwargs)
                return g
            g, self.backward_res = self.solver(
                lambda y: autograd.grad(f0, z0, y, retain_graph=True)[0] + grad,
                grad, **self.kwargs)
            return g

        if self.training:
            z.register_hook(backward_hook)
        return z


def main():
    p = common.parser(__doc__)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--inner-channels", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--max-iter", type=int, default=25)
    p.add_argument("--solver", default="anderson", choices=("anderson", "forward"))
    p.add_argument("--tol", type=float, default=1e-2)
    p.add_argument("--bug", default=None, choices=("adjoint-sign",))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x_tr, x_va, y_tr, y_va = common.split(x, y, seed=args.seed)
    mean, std = x_tr.mean(), x_tr.std()
    x_tr = torch.tensor((x_tr - mean) / std, dtype=torch.float32).reshape(-1, 1, 8, 8)
    x_va = torch.tensor((x_va - mean) / std, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y_tr = torch.tensor(y_tr, dtype=torch.long)
    y_va = torch.tensor(y_va, dtype=torch.long)

    chan = args.channels
    f = ResNetLayer(chan, args.inner_channels, kernel_size=3)
    model = nn.Sequential(nn.Conv2d(1, chan, kernel_size=3, bias=True, padding=1),
                          nn.BatchNorm2d(chan),
                          DEQFixedPoint(f, SOLVERS[args.solver], bug=args.bug, tol=args.tol,
                                        max_iter=args.max_iter, m=5),
                          nn.BatchNorm2d(chan),
                          nn.AvgPool2d(2, 2),
                          nn.Flatten(),
                          nn.Linear(chan * 4 * 4, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    n = len(y_tr)
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=10,
        batch_size=args.batch_size)
    history = common.History()
    deq = model[2]
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        iters = []
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            optimizer.zero_grad()
            out = model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            iters.append(len(deq.forward_res) + (2 if args.solver == "anderson" else 1))
            acc = (out.argmax(1) == yb).float().mean().item()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vo = model(x_va)
                    val_loss = criterion(vo, y_va).item()
                    val_acc = (vo.argmax(1) == y_va).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb,
                     val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        residual = deq.forward_res[-1] if deq.forward_res else float("nan")
        print("epoch %d: loss %.4f  acc %.3f  val loss %.4f  val acc %.3f  "
              "solver iters %.1f  residual %.4f" % (
                  epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
                  val_loss, val_acc, np.mean(iters), residual))
    rec.close()
    common.report(history.result(solver_iters=float(np.mean(iters)),
                                 forward_residual=float(residual)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "deq-adjoint-sign", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong gradient computation (the implicit backward of a "
               "deep equilibrium layer solving its adjoint equation with the wrong sign)",
     "bug": "the backward hook solves g = J^T g - grad and returns -(I - J^T)^-1 grad: the stem and "
            "the equilibrium block climb the loss the head descends, the training accuracy is "
            "0.034 in the first epoch and 0.021 in the eighth (loss 2.54 to 2.72), the held-out "
            "accuracy ends at 0.089 (loss 2.59), below chance, against the twin's 0.981 (loss "
            "0.055)",
     "fix": "solve g = J^T g + grad: autograd.grad(f0, z0, y, retain_graph=True)[0] + grad",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "anderson",
          "buggy": "--bug adjoint-sign --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "healthy-deq", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a deep equilibrium classifier of the digits with an implicit backward",
     "healthy": [
         {"id": "forward-seed1",
          "args": "--solver forward --seed 1 --record-every 4",
          "description": "plain forward iteration instead of Anderson acceleration, seed 1"},
     ]},
]


if __name__ == "__main__":
    main()
