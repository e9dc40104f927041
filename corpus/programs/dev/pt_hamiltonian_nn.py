"""A Hamiltonian neural network (HNN, Greydanus et al. 2019) in PyTorch, learning an ideal
mass-spring system from noisy observations.

The data are simulated as the paper's repository (``hamiltonian-nn``, ``spring/data.py``) does
it: the Hamiltonian ``H(q, p) = k q^2 / 2 + p^2 / (2 m)`` with ``k = m = 1``; every trajectory
starts on a random circle of radius 0.1 to 1.0 (a random angle), is integrated over 0..3 s and
observed at 30 evenly spaced times with Gaussian noise (std ``--noise``, 0.1) added to q and
p; the targets are the exact time derivatives (dq/dt, dp/dt) = (p / m, -k q) of the noiseless
states. 25 trajectories train (750 points) and 25 others (another seed) are held out.

``HNN`` wraps an MLP (``--width`` units, two tanh hidden layers, ``mlp.0``, ``mlp.2``,
``mlp.4``) that outputs one scalar, the learned Hamiltonian. Its ``time_derivative`` takes the
gradient of H with respect to the input (q, p) with
``torch.autograd.grad(H.sum(), x, create_graph=True)`` and returns the symplectic gradient
(dq/dt, dp/dt) = (dH/dp, -dH/dq), so that the loss (``MSELoss`` against the true derivatives)
can be backpropagated to the weights. Adam (``--lr``), minibatches of ``--batch-size`` points
shuffled each epoch (6 steps an epoch with 128). After every epoch the held-out derivative MSE
is the validation loss; at the end the learned field is integrated with RK4 (dt 0.05 s, 20 s)
from 8 held-out initial states and the result line adds ``energy_drift``, the mean relative
change of the true energy between the first and last state of the rollout (the exact system
conserves it: 0), and ``val_mse``. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

K, MASS = 1.0, 1.0


def hamiltonian(q, p):
    return 0.5 * K * q ** 2 + 0.5 * p ** 2 / MASS


def dynamics(q, p):
    return p / MASS, -K * q


def get_dataset(trajectories, seed, noise, samples=30, t_end=3.0):
    rng = np.random.default_rng(seed)
    xs, dxs = [], []
    t = np.linspace(0, t_end, samples)
    for _ in range(trajectories):
        radius = rng.uniform(0.1, 1.0)
        angle = rng.uniform(0, 2 * np.pi)
        q0, p0 = radius * np.cos(angle), radius * np.sin(angle)
        # the exact solution of the spring (omega = sqrt(k / m) = 1)
        q = q0 * np.cos(t) + p0 * np.sin(t)
        p = p0 * np.cos(t) - q0 * np.sin(t)
        dq, dp = dynamics(q, p)
        q = q + noise * rng.standard_normal(samples)
        p = p + noise * rng.standard_normal(samples)
        xs.append(np.stack([q, p], 1))
        dxs.append(np.stack([dq, dp], 1))
    return (torch.tensor(np.concatenate(xs), dtype=torch.float32),
            torch.tensor(np.concatenate(dxs), dtype=torch.float32))


class HNN(nn.Module):
    def __init__(self, width, symplectic=True, nonlinearity="tanh"):
        super().__init__()
        act = {"tanh": nn.Tanh, "relu": nn.ReLU}[nonlinearity]
        self.mlp = nn.Sequential(
            nn.Linear(2, width), act(),
            nn.Linear(width, width), act(),
            nn.Linear(width, 1))
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                nn.init.orthogonal_(layer.weight)
        self.symplectic = symplectic

    def forward(self, x):
        return self.mlp(x)

    def time_derivative(self, x):
        if not x.requires_grad:
            x = x.clone().requires_grad_(True)
        H = self(x)
        dH = torch.autograd.grad(H.sum(), x, create_graph=True)[0]
        dH_dq, dH_dp = dH[:, :1], dH[:, 1:]
        if self.symplectic:
            return torch.cat([dH_dp, -dH_dq], dim=1)
        # BUG (gradient-not-symplectic): the gradient of H returned as the time derivative,
        # (dH/dq, dH/dp), without the symplectic permutation (dH/dp, -dH/dq).
        return torch.cat([dH_dq, dH_dp], dim=1)


def rk4_rollout(field, x0, dt=0.05, steps=400):
    x = x0
    for _ in range(steps):
        k1 = field(x)
        k2 = field(x + 0.5 * dt * k1)
        k3 = field(x + 0.5 * dt * k2)
        k4 = field(x + dt * k3)
        x = (x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)).detach()
    return x


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=80)
    p.add_argument("--nonlinearity", default="tanh", choices=("tanh", "relu"))
    p.add_argument("--bug", default=None, choices=("gradient-not-symplectic",))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, dxdt = get_dataset(25, seed=args.seed, noise=args.noise)
    test_x, test_dxdt = get_dataset(25, seed=1000 + args.seed, noise=args.noise)

    model = HNN(args.width, symplectic=args.bug != "gradient-not-symplectic",
                nonlinearity=args.nonlinearity)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.MSELoss()
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(x) + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="MSELoss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_mse = None
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x), generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x[idx], dxdt[idx]
            optimizer.zero_grad()
            pred = model.time_derivative(xb)
            loss = criterion(pred, yb)
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                val_mse = criterion(model.time_derivative(test_x), test_dxdt).item()
                val_loss = val_mse
            rec.step(loss, inputs=xb, targets=yb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        if (epoch + 1) % 10 == 0:
            print("epoch %d: train mse %.5f  held-out mse %.5f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_mse))
    rec.close()

    # energy drift of rollouts of the learned field from held-out initial states
    rng = np.random.default_rng(2000 + args.seed)
    radius = rng.uniform(0.3, 1.0, size=8)
    angle = rng.uniform(0, 2 * np.pi, size=8)
    x0 = torch.tensor(np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1),
                      dtype=torch.float32)
    x_end = rk4_rollout(model.time_derivative, x0)
    e0 = hamiltonian(x0[:, 0], x0[:, 1])
    e1 = hamiltonian(x_end[:, 0], x_end[:, 1])
    drift = ((e1 - e0).abs() / e0).mean().item()
    print("energy drift of the learned field over 20 s: %.4f" % drift)
    common.report(history.result(val_mse=val_mse, energy_drift=drift))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "hnn-gradient-not-symplectic", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong model formula (the time derivative of a "
               "Hamiltonian network written as the gradient of H instead of its symplectic "
               "gradient)",
     "bug": "time_derivative returns (dH/dq, dH/dp) instead of (dH/dp, -dH/dq): a gradient "
            "field cannot fit the spring's rotation, the MSE stays at 0.20 (first epoch 0.205, "
            "80th 0.202), the held-out derivative MSE ends at 0.168 and the rollout's energy "
            "drift at 4.65, against the twin's 0.0094 and 0.030",
     "fix": "return the symplectic gradient torch.cat([dH_dp, -dH_dq], dim=1)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug gradient-not-symplectic --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "hnn-adam-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam at 1e-5 (meant 1e-3): in 80 epochs (480 steps) the MSE falls only from 0.194 "
            "to 0.182, the held-out derivative MSE ends at 0.182 and the energy drift at 4.88, "
            "against the twin's 0.0094 and 0.037",
     "fix": "Adam at 1e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 1e-5 --seed 1 --record-every 4",
          "fixed": "--lr 1e-3 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-hnn", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a Hamiltonian neural network that learns a mass-spring system's field",
     "healthy": [
         {"id": "width128-noise005-seed2",
          "args": "--width 128 --noise 0.05 --seed 2 --record-every 4",
          "description": "128 units per hidden layer, observation noise 0.05"},
     ]},
]


if __name__ == "__main__":
    main()
