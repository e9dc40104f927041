"""DeepSurv (Katzman et al. 2018) in PyTorch: a Cox proportional-hazards network trained on
generated right-censored survival data.

The model and loss are written as the PyTorch ports of DeepSurv write them
(``czifan/DeepSurv.pytorch``, pycox's ``CoxPH`` with ``cox_ph_loss``): an MLP gives one
log-risk per patient; a batch is sorted by time, longest first, so that the risk set of a
patient (everyone still at risk at its time) is the patients before it, and the negative Cox
partial log-likelihood is ``-sum(events * (log_h - logcumsumexp(log_h))) / sum(events)``.

The data are a generated cohort (``make_cohort``): 2000 patients with ten covariates in their
own units (age in years, systolic blood pressure in mmHg, BMI, creatinine in mg/dL, tumour size
in mm, albumin in g/L, cholesterol in mg/dL, heart rate, white cells per uL, yearly income in
dollars), drawn from standard normal factors. The true log-hazard is a non-linear function of
the first six factors (linear terms, a product, a tanh and a square; the last four covariates
are noise); event times are exponential with a baseline hazard of 0.05 a month times
``exp(log-hazard)``, censoring times uniform in 0..60 months (about 45% censored), and
follow-up ends at 48 months. 1500 patients train and 500 are held out; the covariates are
standardized with the training mean and deviation.

``DeepSurv``: ``net.0`` (``Linear`` 10-64, ReLU, dropout 0.1), ``net.3`` (``Linear`` 64-64,
ReLU, dropout 0.1), ``net.6`` (``Linear`` 64-1, no bias: a Cox model's baseline absorbs it).
Adam (``--lr``), minibatches of ``--batch-size`` patients shuffled each epoch. The training
accuracy is the batch's concordance index (Harrell's C: the share of comparable pairs whose
earlier event has the higher risk); after every epoch the held-out Cox loss is the validation
loss and the held-out C-index the validation accuracy (random risks: 0.5; the true
log-hazard 0.80 to 0.83, added to the result line as ``true_cindex``). The mistakes of the
families in CASES are selected with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

UNITS = [(60.0, 10.0), (130.0, 15.0), (27.0, 4.0), (1.0, 0.25), (25.0, 8.0),
         (40.0, 5.0), (200.0, 35.0), (72.0, 10.0), (7000.0, 1800.0), (52000.0, 15000.0)]


def true_log_hazard(z):
    return (0.9 * z[:, 0] - 0.7 * z[:, 1] + 0.6 * z[:, 2] * z[:, 3]
            + 0.8 * np.tanh(2 * z[:, 4]) - 0.4 * z[:, 5] ** 2)


def make_cohort(n, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, len(UNITS)))
    x = np.stack([m + s * z[:, i] for i, (m, s) in enumerate(UNITS)], 1)
    h = true_log_hazard(z)
    event_time = rng.exponential(1.0, n) / (0.05 * np.exp(h))
    censor_time = np.minimum(rng.uniform(0, 60, n), 48.0)
    time = np.minimum(event_time, censor_time)
    event = (event_time <= censor_time).astype(np.float64)
    return x, time, event, h


def concordance_index(risk, time, event):
    """Harrell's C: among pairs (i, j) with an event at i and time_i < time_j, the share with
    risk_i > risk_j (ties count half)."""
    risk, time, event = (np.asarray(a, dtype=np.float64) for a in (risk, time, event))
    comparable = (time[:, None] < time[None, :]) & (event[:, None] == 1)
    if not comparable.any():
        return 0.5
    diff = risk[:, None] - risk[None, :]
    score = (diff > 0) + 0.5 * (diff == 0)
    return float(score[comparable].sum() / comparable.sum())


class DeepSurv(nn.Module):
    def __init__(self, n_in, width, dropout):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_in, width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, 1, bias=False))

    def forward(self, x):
        return self.net(x).squeeze(-1)


def cox_ph_loss(log_h, durations, events, bug=None):
    """The negative Cox partial log-likelihood of a batch (pycox's cox_ph_loss)."""
    if bug == "sort-ascending":
        # BUG (sort-ascending): sorted shortest time first, so the cumulative sum before each
        # patient holds those who died or left earlier, not those still at risk.
        order = torch.argsort(durations, descending=False)
    else:
        order = torch.argsort(durations, descending=True)
    log_h, events = log_h[order], events[order]
    log_risk = torch.logcumsumexp(log_h, dim=0)
    loss = -((log_h - log_risk) * events).sum() / events.sum().clamp(min=1.0)
    if bug == "loss-sign":
        # BUG (loss-sign): the partial log-likelihood minimized instead of its negative.
        loss = -loss
    return loss


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--bug", default=None,
                   choices=("sort-ascending", "events-inverted", "loss-sign", "no-standardize"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, time, event, _ = make_cohort(2000, seed=args.seed)
    x_tr, x_te = x[:1500], x[1500:]
    t_tr, t_te, e_tr, e_te = time[:1500], time[1500:], event[:1500], event[1500:]
    if args.bug == "events-inverted":
        # BUG (events-inverted): the censoring indicator read as the event indicator (1 for
        # a censored patient), as with a data set whose column is `censored`, not `event`.
        e_tr, e_te = 1.0 - e_tr, 1.0 - e_te
    if args.bug != "no-standardize":
        x_tr, x_te = common.standardize(x_tr, x_te)
    # BUG (no-standardize): without the line above the covariates go in in their own units.
    print("patients: %d train, %d held out; %.0f%% censored" % (
        len(x_tr), len(x_te), 100 * (1 - event.mean())))

    xt = torch.tensor(x_tr, dtype=torch.float32)
    tt = torch.tensor(t_tr, dtype=torch.float32)
    et = torch.tensor(e_tr, dtype=torch.float32)
    xv = torch.tensor(x_te, dtype=torch.float32)
    tv = torch.tensor(t_te, dtype=torch.float32)
    ev = torch.tensor(e_te, dtype=torch.float32)

    model = DeepSurv(xt.shape[1], args.width, args.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(xt) + args.batch_size - 1) // args.batch_size
    bug = args.bug if args.bug in ("sort-ascending", "loss-sign") else None

    # a ranking objective: the recorder knows no survival task (as for the ranking programs)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification", loss_name="cox_ph_loss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_c = None
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, tb, eb = xt[idx], tt[idx], et[idx]
            optimizer.zero_grad()
            log_h = model(xb)
            loss = cox_ph_loss(log_h, tb, eb, bug=bug)
            loss.backward()
            optimizer.step()
            acc = concordance_index(log_h.detach().numpy(), tb.numpy(), eb.numpy())
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    risk_v = model(xv)
                    val_loss = cox_ph_loss(risk_v, tv, ev, bug=bug).item()
                # the C-index against the true events, whatever the loss was given
                val_c = concordance_index(risk_v.numpy(), t_te, event[1500:])
                val_acc = val_c
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=(tb, eb), val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        if (epoch + 1) % 10 == 0:
            print("epoch %d: cox loss %.4f  batch C %.3f  held-out C %.4f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
                val_c))
    rec.close()
    true_c = concordance_index(true_log_hazard(
        (x[1500:] - np.array([m for m, _ in UNITS])) / np.array([s for _, s in UNITS])),
        t_te, event[1500:])
    print("held-out C-index %.4f (true log-hazard %.4f)" % (val_c, true_c))
    common.report(history.result(val_cindex=val_c, true_cindex=true_c))


if __name__ == "__main__":
    main()


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "deepsurv-sort-ascending", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (the risk sets of a Cox partial "
               "likelihood built from a batch sorted in the wrong direction)",
     "bug": "sorted shortest time first: the logcumsumexp before each patient sums those who died"
            " or left earlier, so the loss rewards giving the earlier events the lower risk; the "
            "loss falls only from 3.54 to 3.39, the batch C-index ends at 0.414 and the held-out "
            "C-index at 0.424 (random 0.5), against the twin's 0.790",
     "fix": "torch.argsort(durations, descending=True) before the logcumsumexp",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug sort-ascending --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "deepsurv-loss-sign", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (the partial log-likelihood "
               "minimized instead of its negative)",
     "bug": "the partial log-likelihood minimized instead of its negative: the loss is unbounded "
            "below and runs from -4.29 in the first epoch to -5136 in the 40th as the log-risks "
            "grow apart in the wrong order, held-out C-index 0.257 (random 0.5) against the "
            "twin's 0.818 (loss 4.23 to 3.61)",
     "fix": "minimize -sum(events * (log_h - logcumsumexp(log_h))) / sum(events)",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug loss-sign --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "deepsurv-no-standardize", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing preprocessing (covariates not standardized)",
     "bug": "covariates in their own units (income in dollars, white cells per uL): the first "
            "epoch's Cox loss is 2756 (log-risks in the thousands), the final epoch's 5.23 "
            "against the twin's 3.58, and the held-out C-index ends at 0.532 (random 0.5) against"
            " 0.800",
     "fix": "standardize the covariates with the training mean and deviation",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug no-standardize --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-deepsurv", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a DeepSurv Cox network on a generated right-censored cohort",
     "healthy": [
         {"id": "width32-drop02-seed3",
          "args": "--width 32 --dropout 0.2 --seed 3 --record-every 4",
          "description": "32 units per hidden layer, dropout 0.2"},
     ]},
]
