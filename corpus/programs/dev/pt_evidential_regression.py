"""Deep evidential regression (Amini et al., "Deep Evidential Regression", NeurIPS 2020) in
PyTorch, written as the reference implementation (``evidential-deep-learning``'s
``DenseNormalGamma`` layer and ``EvidentialRegression`` loss) and its PyTorch ports write it,
on the paper's cubic toy problem.

The data are generated here, as in the paper's "hello world": x drawn uniformly in [-4, 4],
y = x^3 plus a heteroscedastic noise whose standard deviation grows with |x| (3 at x = 0, 9 at
|x| = 4). 2000 points, 1600 train and 400 validate. The targets are standardized with the
training part's mean and standard deviation (the RMSE is reported back in y's units).

The network (``EvidentialNet``): ``hidden`` (``--depth`` ``Linear`` layers of ``--width``
units with ReLU) and a ``DenseNormalGamma`` head (``head.dense``: one ``Linear`` with four
outputs) that returns the four parameters of a Normal-Inverse-Gamma distribution:
gamma (the mean, linear), nu = softplus(.) + 1e-6, alpha = softplus(.) + 1, beta =
softplus(.) + 1e-6. The loss is the NIG negative log-likelihood of the target (the
Student-t marginal) plus ``--lam`` times the evidence regularizer |y - gamma| * (2 nu +
alpha), averaged over the batch; Adam. Validation reports the NIG NLL (``val_loss``, in the
standardized units), the RMSE of gamma in y's units (``val_rmse``) and the mean predicted
aleatoric standard deviation sqrt(beta / (alpha - 1)). The mistakes of the families in CASES
are selected with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np


def cubic_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-4.0, 4.0, size=n)
    sigma = 3.0 * (1.0 + 0.5 * np.abs(x))
    y = x ** 3 + sigma * rng.standard_normal(n)
    return x[:, None].astype(np.float32), y[:, None].astype(np.float32)


class DenseNormalGamma(nn.Module):
    def __init__(self, n_in, n_out=1, bug=None):
        super().__init__()
        self.n_out = n_out
        self.dense = nn.Linear(n_in, 4 * n_out)
        self.bug = bug

    def evidence(self, x):
        if self.bug == "no-softplus":
            # BUG (no-softplus): the evidence taken as the raw linear output ("the layer can
            # learn to keep it positive"): nu and beta go negative and log(nu), log(beta) NaN.
            return x
        return F.softplus(x)

    def forward(self, x):
        out = self.dense(x)
        gamma, lognu, logalpha, logbeta = torch.split(out, self.n_out, dim=-1)
        nu = self.evidence(lognu) + 1e-6
        alpha = self.evidence(logalpha) + 1.0
        beta = self.evidence(logbeta) + 1e-6
        return gamma, nu, alpha, beta


class EvidentialNet(nn.Module):
    def __init__(self, width, depth, bug=None):
        super().__init__()
        layers, d = [], 1
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.ReLU()]
            d = width
        self.hidden = nn.Sequential(*layers)
        self.head = DenseNormalGamma(d, 1, bug=bug)

    def forward(self, x):
        return self.head(self.hidden(x))


def nig_nll(y, gamma, nu, alpha, beta):
    two_b_lambda = 2.0 * beta * (1.0 + nu)
    nll = 0.5 * torch.log(math.pi / nu) \
        - alpha * torch.log(two_b_lambda) \
        + (alpha + 0.5) * torch.log(nu * (y - gamma) ** 2 + two_b_lambda) \
        + torch.lgamma(alpha) - torch.lgamma(alpha + 0.5)
    return nll.mean()


def nig_reg(y, gamma, nu, alpha, beta):
    error = torch.abs(y - gamma)
    evidence = 2.0 * nu + alpha
    return (error * evidence).mean()


def evidential_regression_loss(y, gamma, nu, alpha, beta, lam):
    return nig_nll(y, gamma, nu, alpha, beta) + lam * nig_reg(y, gamma, nu, alpha, beta)


def main():
    p = common.parser(__doc__)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--lam", type=float, default=1e-2)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--bug", default=None, choices=("no-softplus", "target-shape"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = cubic_data(args.n, args.seed)
    cut = int(0.8 * args.n)
    x_tr, x_val, y_tr, y_val = x[:cut], x[cut:], y[:cut], y[cut:]
    y_mean, y_std = float(y_tr.mean()), float(y_tr.std())
    y_tr, y_val = (y_tr - y_mean) / y_std, (y_val - y_mean) / y_std
    if args.bug == "target-shape":
        # BUG (target-shape): the targets flattened to shape (N,) ("y.ravel()" as for
        # scikit-learn) while the head returns (batch, 1): y - gamma broadcasts to
        # (batch, batch) and every prediction is fitted to every target in the batch.
        y_tr = y_tr.ravel()
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr)),
                        batch_size=args.batch_size, shuffle=True, generator=g)
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val)

    model = EvidentialNet(args.width, args.depth, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression",
        loss_name="evidential_regression", steps_per_epoch=steps_per_epoch,
        batch_size=args.batch_size)
    history = common.History()
    rmse = sigma = None
    for epoch in range(args.epochs):
        model.train()
        for b, (xb, yb) in enumerate(loader):
            gamma, nu, alpha, beta = model(xb)
            loss = evidential_regression_loss(yb, gamma, nu, alpha, beta, args.lam)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vg, vn, va, vb = model(xv)
                    val_loss = nig_nll(yv, vg, vn, va, vb).item()
                    rmse = float(torch.sqrt(((vg - yv) ** 2).mean())) * y_std
                    sigma = float(torch.sqrt(vb / (va - 1.0)).mean()) * y_std
                model.train()
            rec.step(loss, inputs=xb, targets=yb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: loss %.4f val nll %.4f rmse %.3f sigma %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, rmse, sigma), flush=True)
    rec.close()
    rmse = rmse if rmse is not None and math.isfinite(rmse) else None
    sigma = sigma if sigma is not None and math.isfinite(sigma) else None
    common.report(history.result(val_rmse=rmse, val_sigma=sigma))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "evireg-target-shape", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020 (wrong tensor shape) / Stack Overflow: targets of shape "
               "(N,) against predictions of shape (N, 1) broadcast in a hand-written loss",
     "bug": "the standardized training targets flattened with ravel() while the "
            "DenseNormalGamma head returns (batch, 1): y - gamma broadcasts to (batch, batch), "
            "every prediction is fitted to every target of its batch and gamma stays near the "
            "batch mean; the loss only falls from 1.42 to 1.37, the validation RMSE is 25.4 "
            "(NIG NLL 1.35) against the twin's 6.95 (NLL 0.09)",
     "fix": "keep the targets of shape (N, 1), as the head's outputs",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug target-shape --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "evireg-no-softplus", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: missing or wrong activation function (the output "
               "activation that keeps a distribution parameter positive left out); DeepFD "
               "fault type: wrong activation",
     "bug": "the evidence function returns the raw linear output instead of softplus: nu, "
            "alpha - 1 and beta can be negative, log(pi / nu) and log(2 beta (1 + nu)) are "
            "NaN and the loss is NaN in the first epoch and stays NaN (validation RMSE NaN) "
            "against the twin's validation RMSE of 6.95",
     "fix": "evidence = softplus of the head's outputs (nu = softplus + 1e-6, alpha = "
            "softplus + 1, beta = softplus + 1e-6)",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": {"layer_name": "head.dense", "layer_index": 2},
     "pairs": [
         {"id": "adam-lr5e-3",
          "buggy": "--bug no-softplus --lr 5e-3 --record-every 4",
          "fixed": "--lr 5e-3 --record-every 4"},
     ]},
    {"family": "healthy-evireg", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "a deep evidential regression MLP on the cubic toy problem with "
                    "heteroscedastic noise that trains well",
     "healthy": [
         {"id": "width32-depth3-lr3e-3-seed1",
          "args": "--width 32 --depth 3 --lr 3e-3 --seed 1 --record-every 4",
          "description": "three hidden layers of 32, Adam at 3e-3"},
     ]},
]


if __name__ == "__main__":
    main()
