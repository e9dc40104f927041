"""A heteroscedastic regression MLP (Nix and Weigend 1994; the mean-variance network of Lakshminarayanan
et al., "Simple and Scalable Predictive Uncertainty Estimation using Deep Ensembles", 2017):
a shared trunk of Linear layers with GELU or SiLU, a ``mean`` head and a ``var`` head whose
output goes through ``softplus`` (plus a floor of 1e-6) so that the predicted variance is
positive, trained on ``torch.nn.GaussianNLLLoss(input=mean, target, var=variance)``. AdamW
(``--weight-decay``) with a ``CosineAnnealingLR`` schedule over all epochs, stepped once per
epoch; ``TensorDataset`` and ``DataLoader``; the model selected on nothing (the last epoch is
kept). Validation reports the Gaussian NLL, the RMSE of the mean and how many validation
targets fall inside the predicted 95% interval.

The data are generated here: wind-farm readings of one turbine, six columns in their own
units (wind speed in m/s, wind direction in degrees, air temperature in degrees C, air
pressure in hPa, rotor speed in rpm, hour of day), and the power output in kW from a logistic
power curve of the wind speed corrected by air density; the noise grows with the wind speed
(gusts), from about 20 kW at calm to about 250 kW near rated speed, so a constant variance
fits badly. The columns are standardized with the training part's mean and standard deviation
(``StandardScaler``), the power in MW is centred and scaled the same way. The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--lr``,
``--weight-decay``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np

COLUMNS = ["wind_speed", "wind_dir", "air_temp", "pressure_hpa", "rotor_rpm", "hour"]


def turbine_readings(n, seed):
    rng = np.random.default_rng(seed)
    wind = rng.weibull(2.0, size=n) * 8.0
    direction = rng.uniform(0, 360, size=n)
    temp = rng.normal(12.0, 8.0, size=n)
    pressure = rng.normal(1013.0, 9.0, size=n)
    hour = rng.integers(0, 24, size=n).astype(float)
    rotor = np.clip(wind * 1.6 + rng.normal(0, 0.8, size=n), 0, 16)
    density = pressure * 100 / (287.05 * (temp + 273.15)) / 1.225
    curve = 2000.0 / (1.0 + np.exp(-(wind - 9.0) / 1.3)) * density
    curve *= 1.0 - 0.06 * np.cos(np.deg2rad(direction - 225))     # wake losses
    sigma = 20.0 + 230.0 * np.exp(-((wind - 10.0) / 3.0) ** 2)
    power = np.clip(curve + sigma * rng.standard_normal(n), 0, None)
    x = np.stack([wind, direction, temp, pressure, rotor, hour], axis=1)
    return x.astype(np.float32), (power / 1000.0).astype(np.float32)


class MeanVarianceNet(nn.Module):
    def __init__(self, n_in, width, depth, activation, relu_variance=False):
        super().__init__()
        act = {"gelu": nn.GELU, "silu": nn.SiLU}[activation]
        layers, d = [], n_in
        for _ in range(depth):
            layers += [nn.Linear(d, width), act()]
            d = width
        self.trunk = nn.Sequential(*layers)
        self.mean = nn.Linear(d, 1)
        self.var = nn.Linear(d, 1)
        self.relu_variance = relu_variance

    def forward(self, x):
        h = self.trunk(x)
        if self.relu_variance:
            # BUG (relu-variance): ReLU instead of softplus keeps the variance non-negative but
            # lets it be exactly zero; GaussianNLLLoss then clamps it to eps = 1e-6 (without a
            # gradient through the clamp) and divides the squared error by it.
            return self.mean(h).squeeze(-1), F.relu(self.var(h)).squeeze(-1)
        return self.mean(h).squeeze(-1), F.softplus(self.var(h)).squeeze(-1) + 1e-6


def evaluate(model, loader, criterion):
    model.eval()
    nll, sq, inside, n = 0.0, 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            mean, var = model(xb)
            nll += criterion(mean, yb, var).item() * len(yb)
            sq += ((mean - yb) ** 2).sum().item()
            inside += ((yb - mean).abs() <= 1.96 * var.clamp_min(1e-6).sqrt()).sum().item()
            n += len(yb)
    model.train()
    return nll / n, (sq / n) ** 0.5, inside / n


def main():
    p = common.parser(__doc__)
    p.add_argument("--rows", type=int, default=3000)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--activation", default="gelu", choices=("gelu", "silu"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None,
                   choices=("unscaled-columns", "relu-variance", "missing-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = turbine_readings(args.rows, args.seed)
    cut = int(0.8 * args.rows)
    x_tr, x_val, y_tr, y_val = x[:cut], x[cut:], y[:cut], y[cut:]
    if args.bug == "unscaled-columns":
        # BUG: the scaler is fitted on the training columns but the arrays passed on are the
        # raw ones (pressure near 1013 hPa, direction up to 360 degrees).
        StandardScaler().fit(x_tr)
    else:
        scaler = StandardScaler().fit(x_tr)
        x_tr, x_val = scaler.transform(x_tr), scaler.transform(x_val)
    y_mean, y_std = y_tr.mean(), y_tr.std()
    y_tr, y_val = (y_tr - y_mean) / y_std, (y_val - y_mean) / y_std

    def tensors(a, b):
        return TensorDataset(torch.as_tensor(a, dtype=torch.float32),
                             torch.as_tensor(b, dtype=torch.float32))

    g = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(tensors(x_tr, y_tr), batch_size=args.batch_size, shuffle=True,
                              generator=g)
    val_loader = DataLoader(tensors(x_val, y_val), batch_size=500)

    model = MeanVarianceNet(len(COLUMNS), args.width, args.depth, args.activation,
                            relu_variance=args.bug == "relu-variance")
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    criterion = nn.GaussianNLLLoss()
    steps = len(train_loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="GaussianNLLLoss",
        steps_per_epoch=steps, batch_size=args.batch_size)
    history = common.History()
    rmse = coverage = None
    for epoch in range(args.epochs):
        for b, (xb, yb) in enumerate(train_loader):
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            # BUG (missing-zero-grad): no zero_grad(): every batch's gradient is added to the
            # sum of all earlier ones.
            mean, var = model(xb)
            loss = criterion(mean, yb, var)
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps - 1:
                val_loss, rmse, coverage = evaluate(model, val_loader, criterion)
            rec.step(loss, inputs=xb, targets=yb, val_loss=val_loss)
            history.step(loss.item())
        scheduler.step()
        history.epoch(val_loss)
        print("epoch %d: nll %.4f val nll %.4f val rmse %.4f coverage95 %.3f lr %.2g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, rmse, coverage,
            scheduler.get_last_lr()[0]))
    rec.close()
    common.report(history.result(val_rmse=rmse, val_coverage95=coverage))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "hetreg-unscaled-columns", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: missing input normalization (a scaler fitted but not "
               "applied); DeepFD fault type: data preprocessing",
     "bug": "the StandardScaler is fitted but the raw columns go in (air pressure near 1013 "
            "hPa, wind direction up to 360 degrees, rotor speed in rpm): the first-epoch NLL is 4.8e7, the "
            "training NLL ends at 2.76 and the validation NLL at 2.75 with a validation RMSE of "
            "9.5 target standard deviations, worse than the constant Gaussian (NLL 0.49), against "
            "the twin's -1.72",
     "fix": "transform the columns with the fitted scaler",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw",
          "buggy": "--bug unscaled-columns --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "hetreg-relu-variance", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: wrong activation of the output layer (ReLU instead of "
               "softplus on the variance head of a Gaussian NLL); DeepFD fault type: "
               "activation",
     "bug": "the variance head ends in ReLU: every unit of it that is negative gives a "
            "variance of exactly 0, which GaussianNLLLoss clamps to 1e-6 without a gradient, "
            "so the squared error is multiplied by 500000 and the head cannot leave zero: "
            "the first-epoch "
            "NLL is 99700 and the validation NLL ends at 149, against the twin's -1.71",
     "fix": "softplus(var) + 1e-6 on the variance head",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["loss_mismatch", "exploding_gradient", "numerical_error"],
     "root_cause": {"layer_name": "var", "layer_index": 3},
     "pairs": [
         {"id": "adamw-seed1",
          "buggy": "--seed 1 --bug relu-variance --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "hetreg-missing-zero-grad", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad(); DeepFD fault type: "
               "training process",
     "bug": "optimizer.zero_grad() left out of the batch loop: the gradients of all earlier "
            "batches stay in .grad and AdamW follows their growing sum: the training NLL rises from "
            "0.21 in the first epoch to 0.85 in the last (validation 0.88, the constant "
            "Gaussian's 0.49), against the twin's -1.65",
     "fix": "optimizer.zero_grad() before every forward pass",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed2",
          "buggy": "--seed 2 --bug missing-zero-grad --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "hetreg-adamw-decay-dominates", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: regularization too strong (AdamW weight_decay 5e1 typed "
               "for 5e-2); DeepFD fault type: hyperparameter",
     "bug": "AdamW's weight_decay 50: every step shrinks the weights by lr x 50 (15% at the "
            "start) and the network collapses to a constant Gaussian: the NLL stays at 0.52 to 0.53 (validation 0.526, the constant "
            "Gaussian's 0.49), against the twin's -1.70",
     "fix": "weight_decay 0.01",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed3",
          "buggy": "--weight-decay 50 --seed 3 --record-every 4",
          "fixed": "--weight-decay 0.01 --seed 3 --record-every 4"},
     ]},
    {"family": "hetreg-adamw-lr-too-low", "split": "dev", "architecture": "regression",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low; AUTOTRAINER: slow "
               "convergence",
     "bug": "AdamW at 1e-5 (meant 3e-3), annealed further by the cosine schedule: the training NLL falls only from 0.57 to 0.49 "
            "(validation 0.513, about the constant Gaussian's), against the twin's -1.74",
     "fix": "learning rate 3e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed4",
          "buggy": "--lr 1e-5 --seed 4 --record-every 4",
          "fixed": "--lr 3e-3 --seed 4 --record-every 4"},
     ]},
    {"family": "healthy-hetreg", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "a mean-variance network on turbine readings that trains well",
     "healthy": [
         {"id": "silu-w128-seed5",
          "args": "--activation silu --width 128 --seed 5 --record-every 4",
          "description": "SiLU, 128 units per layer"},
         {"id": "gelu-depth3-bs32-lr1e-3-seed6",
          "args": "--depth 3 --batch-size 32 --lr 1e-3 --epochs 8 --seed 6 --record-every 4",
          "description": "three GELU layers, batches of 32, AdamW 1e-3, 8 epochs"},
         {"id": "gelu-bs128-lr1e-2-seed7",
          "args": "--batch-size 128 --lr 1e-2 --epochs 16 --seed 7 --record-every 4",
          "description": "batches of 128, AdamW 1e-2, 16 epochs"},
         {"id": "silu-w32-no-decay-seed8",
          "args": "--activation silu --width 32 --weight-decay 0 --lr 5e-3 --seed 8 --record-every 4",
          "description": "SiLU, 32 units per layer, AdamW 5e-3 without weight decay"},
     ]},
]


if __name__ == "__main__":
    main()
