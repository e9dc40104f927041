"""GradNorm multi-task learning (Chen et al. 2018, "GradNorm: Gradient Normalization for
Adaptive Loss Balancing in Deep Multitask Networks", ICML, arXiv:1711.02257) of three tasks on
one shared trunk.

The data are generated here: 3000 rows of 12 standardized features driving a hidden 6-unit
state; from it three targets of very different loss scales: ``load`` (a regression in its own
units, mean about 40, standard deviation 3.5 to 6.7 by seed), ``drift`` (a small regression,
standard deviation about 0.24) and ``mode`` (three classes, the largest 0.33 to 0.41). 20% of the rows validate. The regression targets are
standardized on the training rows (``--raw-targets`` leaves ``load`` in its units).

The network (``MultiTaskNet``): a shared trunk ``fc1`` and ``fc2`` (``--width`` units, ReLU)
and three heads ``head_load``, ``head_drift`` (one output each) and ``head_mode`` (three
logits). The task losses are MSE, MSE and cross-entropy. The task weights w_i are a separate
``nn.Parameter`` (all 1 at the start), trained by their own ``torch.optim.Adam``
(``--weight-lr``) on the GradNorm loss sum_i |G_i - mean(G) * r_i^alpha|, where G_i is the
norm of the gradient of w_i L_i with respect to the last shared layer's weights
(``fc2.weight``, ``torch.autograd.grad(..., create_graph=True)``) and r_i the task's loss ratio
L_i(t) / L_i(0) over its mean; the target mean(G) r_i^alpha is held constant. After each step
the weights are renormalized to sum to the number of tasks. The network is trained by Adam
(``--lr``) on sum_i w_i L_i. ``--weighting equal`` is the fixed equal-weight baseline (w_i = 1,
no GradNorm). The result line adds the validation RMSE of both regressions (in standardized
units) and the accuracy of ``mode``, and the final task weights. The mistakes of the families
in CASES are selected with ``--bug`` or show in a setting (``--raw-targets``, ``--weight-lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np
TASKS = ("load", "drift", "mode")


def plant_data(seed, n=3000, features=12):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features))
    w_h = rng.standard_normal((features, 6)) / np.sqrt(features)
    h = np.tanh(1.5 * x @ w_h)
    load = 40.0 + 6.0 * (h @ rng.standard_normal(6)) / 1.2 + 0.8 * rng.standard_normal(n)
    drift = 0.3 * np.sin(2.0 * h[:, 0] + h[:, 1] * h[:, 2]) + 0.03 * rng.standard_normal(n)
    scores = h @ rng.standard_normal((6, 3)) + 0.3 * rng.standard_normal((n, 3))
    mode = scores.argmax(1)
    return (x.astype(np.float32), load.astype(np.float32), drift.astype(np.float32),
            mode.astype(np.int64))


class MultiTaskNet(nn.Module):
    def __init__(self, features, width):
        super().__init__()
        self.fc1 = nn.Linear(features, width)
        self.fc2 = nn.Linear(width, width)
        self.head_load = nn.Linear(width, 1)
        self.head_drift = nn.Linear(width, 1)
        self.head_mode = nn.Linear(width, 3)

    def shared_layer(self):
        return self.fc2.weight

    def forward(self, x):
        h = torch.relu(self.fc2(torch.relu(self.fc1(x))))
        return self.head_load(h).squeeze(1), self.head_drift(h).squeeze(1), self.head_mode(h)


def task_losses(outputs, load, drift, mode):
    p_load, p_drift, logits = outputs
    return torch.stack([F.mse_loss(p_load, load), F.mse_loss(p_drift, drift),
                        F.cross_entropy(logits, mode)])


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-lr", type=float, default=0.025)
    p.add_argument("--alpha", type=float, default=1.5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--weighting", default="gradnorm", choices=("gradnorm", "equal"))
    p.add_argument("--raw-targets", action="store_true",
                   help="leave the load target in its own units")
    p.add_argument("--bug", default=None,
                   choices=("weights-grad-not-zeroed", "gradnorm-into-trunk"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, load, drift, mode = plant_data(args.seed)
    idx = np.arange(len(x))
    tr, va, _, _ = common.split(idx, mode, val=0.2, seed=args.seed)
    stats = {}
    for name, t in (("load", load), ("drift", drift)):
        mean, std = t[tr].mean(), t[tr].std()
        if name == "load" and args.raw_targets:
            mean, std = 0.0, 1.0
        stats[name] = (mean, std)
    load_n = (load - stats["load"][0]) / stats["load"][1]
    drift_n = (drift - stats["drift"][0]) / stats["drift"][1]
    tensors = [torch.from_numpy(a) for a in (x, load_n.astype(np.float32),
                                             drift_n.astype(np.float32), mode)]
    train_ds = TensorDataset(*[t[tr] for t in tensors])
    xv, lv, dv, mv = [t[va] for t in tensors]
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, generator=g,
                        drop_last=True)

    model = MultiTaskNet(x.shape[1], args.width)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    n_tasks = len(TASKS)
    task_weights = nn.Parameter(torch.ones(n_tasks))
    weight_optimizer = torch.optim.Adam([task_weights], lr=args.weight_lr)
    initial_losses = None

    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="GradNorm(MSELoss+MSELoss+CrossEntropyLoss)",
        steps_per_epoch=steps_per_epoch, num_classes=3, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b, (xb, lb, db, mb) in enumerate(loader):
            outputs = model(xb)
            losses = task_losses(outputs, lb, db, mb)
            if args.weighting == "equal":
                loss = losses.sum()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            else:
                if initial_losses is None:
                    initial_losses = losses.detach()
                weighted = task_weights * losses
                loss = weighted.sum()
                optimizer.zero_grad()
                weight_optimizer.zero_grad()
                loss.backward(retain_graph=True)
                if args.bug != "weights-grad-not-zeroed":
                    task_weights.grad = None
                # BUG (weights-grad-not-zeroed): the total loss's gradient dL/dw_i = L_i is
                # left in task_weights.grad and added to the GradNorm gradient below.
                shared = model.shared_layer()
                norms = torch.stack([
                    torch.norm(torch.autograd.grad(weighted[i], shared, retain_graph=True,
                                                   create_graph=True)[0])
                    for i in range(n_tasks)])
                ratios = losses.detach() / initial_losses
                inverse_rate = ratios / ratios.mean()
                target = (norms.mean() * inverse_rate ** args.alpha).detach()
                gradnorm_loss = torch.abs(norms - target).sum()
                if args.bug == "gradnorm-into-trunk":
                    # BUG: backward() of the GradNorm loss instead of a gradient w.r.t. the
                    # task weights only: its second-order gradient is added to every
                    # parameter of the trunk and the heads as well.
                    gradnorm_loss.backward()
                else:
                    g_w = torch.autograd.grad(gradnorm_loss, task_weights)[0]
                    task_weights.grad = g_w if task_weights.grad is None \
                        else task_weights.grad + g_w
                optimizer.step()
                weight_optimizer.step()
                with torch.no_grad():
                    task_weights.copy_(task_weights / task_weights.sum() * n_tasks)
            acc = (outputs[2].argmax(1) == mb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vout = model(xv)
                    vlosses = task_losses(vout, lv, dv, mv)
                    val_loss = vlosses.sum().item()
                    val_acc = (vout[2].argmax(1) == mv).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=mb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f (load %.4f drift %.4f mode %.4f) "
              "acc %.3f weights %s" % (
                  epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
                  val_loss, *vlosses.tolist(), val_acc,
                  [round(v, 3) for v in task_weights.tolist()]))
    rec.close()
    # RMSE in standardized units of the training targets (the raw load divided by its std)
    rmse_load = float(np.sqrt(vlosses[0].item()))
    if args.raw_targets:
        rmse_load /= float(load[tr].std())
    common.report(history.result(val_rmse_load=rmse_load,
                                 val_rmse_drift=float(np.sqrt(vlosses[1].item())),
                                 val_accuracy_mode=val_acc,
                                 task_weights=[float(v) for v in task_weights.tolist()]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "gradnorm-weights-grad-not-zeroed", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (training: wrong gradient computation / missing "
               "gradient reset) / GradNorm reference implementations, which zero the task "
               "weights' gradient after loss.backward(retain_graph=True)",
     "bug": "the task weights' gradient from the weighted total loss (dL/dw_i = L_i) is not "
            "cleared before the GradNorm gradient is added: the weights are also driven to "
            "shrink the total loss, the classification weight turns negative in the 6th epoch "
            "(w = [25.3, 6.6, -28.9] at the end), the network then maximizes the "
            "cross-entropy: the training loss falls to -284, the mode accuracy is 0.35 "
            "(validation mode loss 46.8) against the twin's 0.89",
     "fix": "task_weights.grad = None after loss.backward(retain_graph=True), so only the "
            "GradNorm loss moves the weights",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug weights-grad-not-zeroed --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "gradnorm-into-trunk", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (training: wrong gradient / loss applied to the wrong "
               "parameters) / GradNorm re-implementations calling gradnorm_loss.backward()",
     "bug": "gradnorm_loss.backward() instead of torch.autograd.grad(gradnorm_loss, "
            "task_weights): the second-order gradient of the GradNorm loss (which asks for "
            "small, equal gradient norms at fc2) is added to every parameter of the network; "
            "the training loss stalls at 1.09 from the 6th epoch against the twin's 0.75 and the "
            "load task's validation RMSE is 0.72 (standardized units) against 0.36",
     "fix": "the GradNorm loss's gradient taken with respect to the task weights only",
     "symptom": "slow_convergence", "acceptable_symptoms": ["oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug gradnorm-into-trunk --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "gradnorm-raw-targets", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / Humbatova et al. 2020: missing preprocessing (regression target not "
               "standardized)",
     "bug": "the load target left in its units (mean 40, std 6; initial MSE about 1600): "
            "GradNorm drives its weight to about 0 (0.018 at the end, negative in between) "
            "and the load head never reaches the targets: validation RMSE 7.2 standard "
            "deviations (load MSE 1418) against the twin's 0.39, mode accuracy 0.79 against "
            "0.83",
     "fix": "standardize the load target on the training rows like the drift target",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--raw-targets --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-gradnorm", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "GradNorm multi-task learning of two regressions and a classification "
                    "that trains well, and its fixed equal-weight baseline",
     "healthy": [
         {"id": "width32-alpha05-seed2",
          "args": "--width 32 --alpha 0.5 --seed 2 --record-every 4",
          "description": "a 32-unit trunk, GradNorm alpha 0.5"},
         {"id": "equal-weights-lr2e-3-seed3",
          "args": "--weighting equal --lr 2e-3 --seed 3 --record-every 4",
          "description": "the equal-weight baseline (no GradNorm), Adam at 2e-3"},
     ]},
]


if __name__ == "__main__":
    main()
