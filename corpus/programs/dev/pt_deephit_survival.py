"""DeepHit (Lee et al. 2018) in PyTorch for a single risk: an MLP over covariates to a
distribution over discretized event times, trained on generated right-censored survival data.

The model and loss follow pycox's ``DeepHitSingle`` and its re-implementations
(``havakv/pycox``: ``LabTransDiscreteTime``, ``MLPVanilla``, ``nll_pmf`` and
``rank_loss_deephit_single``): the follow-up time is cut into ``--bins`` (20) equidistant
intervals from 0 to the longest training time (``LabTransDiscreteTime.fit`` on the training
durations; the held-out durations are transformed with the same cuts); the network's outputs,
padded with a zero logit for "after the last cut", go through a softmax over the time axis into
the probability mass function (pmf) of the event bin, and the cumulative incidence F_i(t) is its
cumulative sum over the time axis. The loss is the paper's ``L1 + alpha * L2``: L1 the negative
log-likelihood (the pmf at the event bin for events, the survival 1 - F at the censoring bin for
censored rows), L2 the ranking loss ``exp(-(F_i(t_i) - F_j(t_i)) / sigma)`` averaged over the
batch's comparable pairs (i has an event and an earlier time than j); ``--alpha`` 0.2,
``--sigma`` 0.1.

The data (``make_survival``) are generated: 2000 patients with 10 standard normal covariates;
the log-risk is linear as ``make_regression`` draws it (6 informative covariates, coefficients
uniform in 0..100, rescaled to a deviation of 1); event times are exponential with a baseline
hazard of 0.1 times ``exp(log-risk)``; censoring times are exponential with a mean of 25 (about
30% censored). 1500 train and 500 are held out; the covariates are standardized with the
training statistics.

``MLPVanilla`` as pycox builds it: ``net.0`` (``Linear`` 10-32), ``net.1`` (``BatchNorm1d``),
ReLU, dropout 0.1, ``net.4`` (``Linear`` 32-32), ``net.5`` (``BatchNorm1d``), ReLU, dropout
0.1, ``net.8`` (``Linear`` 32-20). Adam (``--lr``), minibatches of ``--batch-size`` shuffled
each epoch (6 steps with 256), 15 epochs (90 steps). After every epoch the held-out loss is the validation loss and
the held-out time-dependent concordance index (Antolini's C-td on the bins: among comparable
pairs, the share with F_i(t_i) > F_j(t_i); random 0.5, the true log-risk about 0.76) the
validation accuracy. The mistakes of the families in CASES are selected with ``--bug`` or show
in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


def make_survival(n, seed):
    from sklearn.datasets import make_regression
    x, _, coef = make_regression(n_samples=n, n_features=10, n_informative=6, coef=True,
                                 noise=0.0, random_state=seed)
    log_risk = x @ coef
    log_risk = (log_risk - log_risk.mean()) / log_risk.std()
    rng = np.random.default_rng(seed)
    event_time = rng.exponential(1.0, n) / (0.1 * np.exp(log_risk))
    censor_time = rng.exponential(25.0, n)
    time = np.minimum(event_time, censor_time)
    event = (event_time <= censor_time).astype(np.float64)
    return x, time, event, log_risk


class LabTransDiscreteTime:
    """Equidistant cuts from 0 to the longest fitted duration; a duration's bin index."""

    def __init__(self, bins):
        self.bins = bins

    def fit(self, durations):
        self.cuts = np.linspace(0, durations.max(), self.bins)
        return self

    def transform(self, durations):
        return np.clip(np.searchsorted(self.cuts, durations, side="left"), 0, self.bins - 1)


class MLPVanilla(nn.Module):
    def __init__(self, n_in, width, n_out, dropout):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_in, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, n_out))

    def forward(self, x):
        return self.net(x)


def pmf_and_cif(phi, bug=None):
    """The pmf over the time bins (a zero logit padded for 'after the last cut') and F."""
    padded = F.pad(phi, (0, 1))
    if bug == "softmax-over-batch":
        # BUG (softmax-over-batch): the softmax taken over dim 0, the patients of the batch,
        # instead of over the time bins.
        pmf = torch.softmax(padded, dim=0)
    else:
        pmf = torch.softmax(padded, dim=1)
    if bug == "cumsum-batch-axis":
        # BUG (cumsum-batch-axis): the cumulative incidence summed over dim 0, the batch,
        # instead of over the time axis.
        cif = pmf.cumsum(0)
    else:
        cif = pmf.cumsum(1)
    return pmf[:, :-1], cif[:, :-1]


def deephit_loss(phi, idx, events, alpha, sigma, bug=None, eps=1e-7):
    pmf, cif = pmf_and_cif(phi, bug)
    idx = idx.view(-1, 1)
    pmf_at = pmf.gather(1, idx).squeeze(1)
    surv_at = (1.0 - cif.gather(1, idx).squeeze(1)).clamp(min=0.0)
    nll = -(events * torch.log(pmf_at + eps) + (1.0 - events) * torch.log(surv_at + eps)).mean()
    # ranking: F_j(t_i) for every pair, comparable when i has an event before t_j
    f_at = cif[:, idx.squeeze(1)]                      # [j, i] = F_j(t_i)
    diag = f_at.diagonal()                             # F_i(t_i)
    t_i, t_j = idx.view(-1, 1), idx.view(1, -1)
    comparable = ((t_i < t_j) | ((t_i == t_j) & (events.view(1, -1) == 0))) \
        & (events.view(-1, 1) == 1)
    diff = diag.view(-1, 1) - f_at.t()                 # [i, j] = F_i(t_i) - F_j(t_i)
    rank = (comparable.float() * torch.exp(-diff / sigma)).mean()
    return nll + alpha * rank


def concordance_td(cif, idx, events):
    """Antolini's time-dependent C on the bins: comparable pairs (i with an event, t_i < t_j)
    concordant when F_i(t_i) > F_j(t_i) (ties half)."""
    cif, idx, events = np.asarray(cif), np.asarray(idx), np.asarray(events)
    f_at = cif[:, idx]                                 # [j, i]
    diff = f_at.diagonal()[:, None] - f_at.T           # [i, j]
    comparable = (idx[:, None] < idx[None, :]) & (events[:, None] == 1)
    if not comparable.any():
        return 0.5
    score = (diff > 0) + 0.5 * (diff == 0)
    return float(score[comparable].sum() / comparable.sum())


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--bins", type=int, default=20)
    p.add_argument("--alpha", type=float, default=0.2)
    p.add_argument("--sigma", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--bug", default=None,
                   choices=("censoring-ignored", "cumsum-batch-axis", "softmax-over-batch",
                            "bins-refit-on-test"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, time, event, log_risk = make_survival(2000, seed=args.seed)
    x_tr, x_te = common.standardize(x[:1500], x[1500:])
    t_tr, t_te, e_tr, e_te = time[:1500], time[1500:], event[:1500], event[1500:]
    labtrans = LabTransDiscreteTime(args.bins).fit(t_tr)
    idx_tr = labtrans.transform(t_tr)
    if args.bug == "bins-refit-on-test":
        # BUG (bins-refit-on-test): the held-out durations cut by a transform fitted on them.
        idx_te = LabTransDiscreteTime(args.bins).fit(t_te).transform(t_te)
    else:
        idx_te = labtrans.transform(t_te)
    ev_tr = e_tr
    if args.bug == "censoring-ignored":
        # BUG (censoring-ignored): every row passed to the loss as an event, the censoring
        # indicator ignored.
        ev_tr = np.ones_like(e_tr)
    print("patients: %d train, %d held out; %.0f%% censored" % (
        len(x_tr), len(x_te), 100 * (1 - event.mean())))

    xt = torch.tensor(x_tr, dtype=torch.float32)
    it = torch.tensor(idx_tr, dtype=torch.int64)
    et = torch.tensor(ev_tr, dtype=torch.float32)
    xv = torch.tensor(x_te, dtype=torch.float32)
    iv = torch.tensor(idx_te, dtype=torch.int64)
    evv = torch.tensor(e_te, dtype=torch.float32)

    model = MLPVanilla(xt.shape[1], args.width, args.bins, args.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(xt) + args.batch_size - 1) // args.batch_size
    bug = args.bug if args.bug in ("cumsum-batch-axis", "softmax-over-batch") else None

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="deephit_single_loss", loss_added=True, num_classes=args.bins,
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_c = None
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for b in range(steps_per_epoch):
            sel = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, ib, eb = xt[sel], it[sel], et[sel]
            optimizer.zero_grad()
            phi = model(xb)
            loss = deephit_loss(phi, ib, eb, args.alpha, args.sigma, bug=bug)
            loss.backward()
            optimizer.step()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    phi_v = model(xv)
                    val_loss = deephit_loss(phi_v, iv, evv, args.alpha, args.sigma,
                                            bug=bug).item()
                    _, cif_v = pmf_and_cif(phi_v, bug)
                val_c = concordance_td(cif_v.numpy(), idx_te, e_te)
                val_acc = val_c
                model.train()
            rec.step(loss, inputs=xb, targets=(ib, eb), val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item())
        history.epoch(val_loss, val_acc)
        if (epoch + 1) % 10 == 0:
            print("epoch %d: loss %.4f  held-out loss %.4f  held-out C-td %.4f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_c))
    rec.close()
    true_c = concordance_td(np.tile(log_risk[1500:], (args.bins, 1)).T,
                            labtrans.transform(t_te), e_te)
    print("held-out C-td %.4f (true log-risk %.4f)" % (val_c, true_c))
    common.report(history.result(val_cindex=val_c, true_cindex=true_c))


if __name__ == "__main__":
    main()


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "deephit-cumsum-batch-axis", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong tensor operation (the cumulative incidence of a "
               "survival model summed over the batch axis instead of the time axis)",
     "bug": "the cumulative incidence summed over the batch (pmf.cumsum(0)): F_j(t) of a row grows to "
            "the sum over up to 256 patients, the ranking term exp(-(F_i - F_j) / sigma) "
            "overflows to inf and inf times the zero of a non-comparable pair is NaN: the loss "
            "is NaN from the first epoch on and the held-out C-td ends at 0.0000 (NaN compares "
            "false; random 0.5), against the twin's loss 2.075 to 1.111 and C-td 0.7664",
     "fix": "cif = pmf.cumsum(1), the cumulative sum over the time bins",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug cumsum-batch-axis --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "deephit-adam-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "Adam at 0.5 (meant 0.01): the loss jumps to a first-epoch mean of 7.33 and settles at "
            "1.54; the held-out C-td ends at 0.5000 (every pair tied: every patient given the "
            "same distribution; random 0.5), held-out loss 1.52, against the twin's 0.7506 and "
            "1.36",
     "fix": "Adam at 0.01",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 0.5 --seed 1 --record-every 4",
          "fixed": "--lr 0.01 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-deephit", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a DeepHit single-risk network on generated right-censored survival data",
     "healthy": [
         {"id": "width64-drop02-seed2",
          "args": "--width 64 --dropout 0.2 --seed 2 --record-every 4",
          "description": "64 units per hidden layer, dropout 0.2"},
     ]},
]
