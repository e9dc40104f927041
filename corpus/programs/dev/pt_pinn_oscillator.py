"""A physics-informed neural network (PINN) in PyTorch for a damped oscillator.

No data set: the network ``u(t)`` (a tanh MLP, ``PINN``, an ``nn.Module`` with a ``nn.ModuleList``
of ``Linear`` layers ``layers.0`` .. ``layers.N``) is trained to satisfy the ODE
``u'' + 2 zeta omega u' + omega^2 u = 0`` on ``t`` in [0, 2] s with ``u(0) = 1`` and ``u'(0) = 0``
(``omega = 6`` rad/s, ``zeta = 0.15``), the way PINN tutorials write it: every step draws
``--points`` collocation times uniformly in [0, 2] s, computes ``u'`` and ``u''`` with
``torch.autograd.grad(..., create_graph=True)``, and minimizes the mean squared residual
(divided by ``omega^2``) plus ``--ic-weight`` times the two squared initial-condition errors.
The network sees the time scaled to [-1, 1] (``t / 1 s - 1``) and the derivatives are taken
with respect to the time in seconds. Adam (``--lr``), ``--steps-per-epoch`` steps an "epoch";
after every epoch the mean squared error against the exact solution on 200 evenly spaced times
is the validation loss. The mistakes of the families in CASES are selected with ``--bug`` or
show in a setting (``--lr``, ``--init-std``, ``--l2``: an L2 penalty on the weights
added to the loss).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

OMEGA, ZETA, T_END = 6.0, 0.15, 2.0


def exact(t):
    wd = OMEGA * math.sqrt(1 - ZETA ** 2)
    return torch.exp(-ZETA * OMEGA * t) * (torch.cos(wd * t)
                                            + ZETA * OMEGA / wd * torch.sin(wd * t))


class PINN(nn.Module):
    def __init__(self, width, depth, init_std=None, ms_input=False):
        super().__init__()
        sizes = [1] + [width] * depth + [1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.ms_input = ms_input
        for layer in self.layers:
            if init_std is None:
                nn.init.xavier_normal_(layer.weight)
            else:
                nn.init.normal_(layer.weight, std=init_std)
            nn.init.zeros_(layer.bias)

    def forward(self, t):
        # BUG (time-in-ms): the time goes in as the recorder's milliseconds (0..2000) instead
        # of scaled to [-1, 1]: the first tanh layer is saturated for almost every time.
        h = t * 1000.0 if self.ms_input else t / (T_END / 2) - 1.0
        for layer in self.layers[:-1]:
            h = torch.tanh(layer(h))
        return self.layers[-1](h)


def physics_loss(model, t, ic_weight):
    # t = 0 goes through the network with the collocation points: one forward pass, the
    # initial conditions read from its first row.
    t = torch.cat([torch.zeros(1, 1), t]).requires_grad_(True)
    u = model(t)
    du = torch.autograd.grad(u, t, torch.ones_like(u), create_graph=True)[0]
    d2u = torch.autograd.grad(du, t, torch.ones_like(du), create_graph=True)[0]
    residual = (d2u + 2 * ZETA * OMEGA * du + OMEGA ** 2 * u) / OMEGA ** 2
    ic = (u[0] - 1.0).pow(2).sum() + (du[0] / OMEGA).pow(2).sum()
    return residual[1:].pow(2).mean() + ic_weight * ic


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--depth", type=int, default=3, help="hidden tanh layers")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--points", type=int, default=64, help="collocation points per step")
    p.add_argument("--ic-weight", type=float, default=10.0)
    p.add_argument("--l2", type=float, default=0.0,
                   help="weight of an L2 penalty on the weights added to the loss")
    p.add_argument("--init-std", type=float, default=None,
                   help="normal(0, std) weights instead of Xavier")
    p.add_argument("--steps-per-epoch", type=int, default=50)
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--bug", default=None, choices=("time-in-ms", "missing-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    model = PINN(args.width, args.depth, args.init_std, ms_input=args.bug == "time-in-ms")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    t_val = torch.linspace(0, T_END, 200).unsqueeze(1)
    u_val = exact(t_val)
    gen = torch.Generator().manual_seed(args.seed)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="MSELoss",
        steps_per_epoch=args.steps_per_epoch, batch_size=args.points)
    history = common.History()
    for epoch in range(args.epochs):
        for step in range(args.steps_per_epoch):
            t = T_END * torch.rand(args.points, 1, generator=gen)
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            # BUG (missing-zero-grad): no optimizer.zero_grad(): each step's gradients are
            # added to all the earlier ones.
            loss = physics_loss(model, t, args.ic_weight)
            if args.l2 > 0:
                loss = loss + args.l2 * sum(layer.weight.pow(2).sum() for layer in model.layers)
            loss.backward()
            optimizer.step()
            val_loss = None
            if step == args.steps_per_epoch - 1:
                with torch.no_grad():
                    val_loss = (model(t_val) - u_val).pow(2).mean().item()
            rec.step(loss, inputs=t.detach(), val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: physics loss %.5f  val mse %.5f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "pinnosc-time-in-ms", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing input normalization (the time fed in "
               "milliseconds, 0..2000, to a tanh network); DeepFD fault type: unscaled inputs",
     "bug": "the network is fed the time in milliseconds (0..2000): the first tanh layer is "
            "saturated for nearly every collocation point and the derivatives taken through it "
            "are huge; the physics loss starts at 5645 in the first epoch, still 14.9 in the "
            "16th, and the validation MSE against the exact solution ends at 0.89 (predicting "
            "zero: 0.149) against the twin's loss 0.015 and validation MSE 0.046",
     "fix": "feed the time scaled to [-1, 1] (t / 1 s - 1)",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug time-in-ms --seed 1 --record-every 8",
          "fixed": "--seed 1 --record-every 8"},
     ]},
    {"family": "pinnosc-missing-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / Humbatova et al. 2020: missing optimizer.zero_grad() (the gradients "
               "of every step add up)",
     "bug": "no optimizer.zero_grad() in the loop: the gradients of all earlier steps add up, "
            "the physics loss climbs from 6.0 in the first epoch to 4470 in the 16th and the "
            "validation MSE reaches 1044, against the twin's loss 0.012 and validation MSE "
            "0.030",
     "fix": "optimizer.zero_grad() before every physics loss",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug missing-zero-grad --seed 2 --record-every 8",
          "fixed": "--seed 2 --record-every 8"},
     ]},
    {"family": "pinnosc-normal-init", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER / DeepDiagnosis: bad weight initialization (nn.init.normal_ with "
               "its default std 1 instead of Xavier for a tanh network)",
     "bug": "every Linear initialized with nn.init.normal_(weight) (std 1) instead of Xavier: "
            "the pre-activations of the 32-unit tanh layers have a standard deviation of about "
            "5.7 and saturate; the physics loss starts at 268, ends at 0.43 after 16 epochs and "
            "the validation MSE at 0.109, against the twin's 0.016 and 0.046",
     "fix": "nn.init.xavier_normal_ for every Linear",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed3",
          "buggy": "--init-std 1 --seed 3 --record-every 8",
          "fixed": "--seed 3 --record-every 8"},
     ]},
    {"family": "pinnosc-adam-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam at 1e-4 (meant 1e-2): in 16 epochs (800 steps) the physics loss falls from "
            "6.9 to 0.32 and stalls there, the validation MSE ends at 0.34 (predicting zero: "
            "0.149), against the twin's loss 0.012 and validation MSE 0.036",
     "fix": "Adam at 1e-2",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed4",
          "buggy": "--lr 1e-4 --seed 4 --record-every 8",
          "fixed": "--lr 1e-2 --seed 4 --record-every 8"},
     ]},
    {"family": "pinnosc-l2-dominates", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong regularization strength (an L2 penalty on the "
               "weights written into the loss with weight 0.1, meant 1e-5)",
     "bug": "an L2 penalty on the weights added to the loss with weight 0.1 (meant 1e-5): the "
            "penalty pulls the network to a near-constant output, the loss stays at 0.63 from "
            "the eighth epoch on and the validation MSE ends at 0.36 (predicting zero: 0.149), "
            "against the twin's loss 0.017 and validation MSE 0.043",
     "fix": "the L2 penalty's weight 1e-5",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed5",
          "buggy": "--l2 0.1 --seed 5 --record-every 8",
          "fixed": "--l2 1e-5 --seed 5 --record-every 8"},
     ]},
    {"family": "healthy-pinnosc", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a tanh PINN of a damped oscillator that satisfies the ODE",
     "healthy": [
         {"id": "width48-seed6",
          "args": "--width 48 --seed 6 --record-every 8",
          "description": "48 units per hidden layer"},
         {"id": "points32-seed7",
          "args": "--points 32 --seed 7 --record-every 8",
          "description": "32 collocation points per step"},
         {"id": "depth4-lr5e-3-seed8",
          "args": "--depth 4 --lr 5e-3 --seed 8 --record-every 8",
          "description": "four hidden tanh layers, Adam 5e-3"},
         {"id": "ic-weight1-seed9",
          "args": "--ic-weight 1 --seed 9 --record-every 8",
          "description": "the initial conditions weighted 1 instead of 10"},
     ]},
]


if __name__ == "__main__":
    main()
