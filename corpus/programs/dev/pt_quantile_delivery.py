"""Quantile regression in PyTorch: the 10th, 50th and 90th percentile of a delivery time, with a
hand-written pinball loss, ``Dropout``, ``LeakyReLU`` and early stopping on a validation split.

The data are generated here: 4000 deliveries with 6 columns in their own units (distance in
km, parcel weight in kg, the hour of the day, the number of stops before it, the traffic index
0..10, rain in mm) and a delivery time in minutes: a non-linear function of them (a rush-hour
bump, a traffic term growing with the distance, a penalty per stop) plus noise whose spread
grows with the distance and the traffic, so the quantiles are not a constant offset from the
median. Columns and the target are standardized with the training part's means and standard
deviations (a small ``Standardizer``); the program reports its figures in minutes as well.

The model is an ``nn.Sequential`` built from an ``OrderedDict`` of named layers (``fc1``,
``act1``, ``drop1``, ``fc2``, ``act2``, ``drop2``, ``out``: Linear, ``LeakyReLU(0.1)``,
``Dropout``; ``out`` has one unit per quantile). The loss is the pinball (quantile) loss,
written by hand: for each quantile q and error e = y - prediction, max(q e, (q - 1) e), averaged.
Training is a plain loop over shuffled index batches of tensors already in memory; after every
epoch the validation pinball loss is computed and the best ``state_dict`` kept; training stops
after ``--patience`` epochs without improvement and the best weights are restored. The mistakes
of the families in CASES are selected with ``--bug`` or show in a setting (``--optimizer``,
``--lr``, ``--weight-decay``).
"""

import copy
import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

QUANTILES = (0.1, 0.5, 0.9)


def deliveries(n, seed):
    rng = np.random.default_rng(seed)
    distance = rng.gamma(2.0, 4.0, n)                 # km
    weight = rng.lognormal(1.0, 0.8, n)               # kg
    hour = rng.uniform(7, 21, n)
    stops = rng.integers(0, 12, n).astype(float)
    traffic = rng.uniform(0, 10, n)
    rain = rng.exponential(1.5, n) * (rng.uniform(size=n) < 0.3)
    rush = np.exp(-((hour - 8.5) ** 2) / 2) + np.exp(-((hour - 17.5) ** 2) / 3)
    minutes = (12 + 2.2 * distance * (1 + 0.08 * traffic) + 14 * rush + 3.5 * stops
               + 0.6 * np.sqrt(weight) + 2.0 * rain)
    spread = 2 + 0.35 * distance * (1 + traffic / 5)
    minutes = minutes + spread * rng.gumbel(0, 1, n)
    x = np.stack([distance, weight, hour, stops, traffic, rain], 1)
    return x.astype(np.float32), minutes.astype(np.float32)


class Standardizer:
    def fit(self, a):
        self.mean, self.std = a.mean(0), a.std(0)
        return self

    def transform(self, a):
        return (a - self.mean) / self.std


def pinball_loss(pred, target, quantiles):
    """Mean pinball loss of pred [B, Q] for target [B, 1]."""
    q = torch.tensor(quantiles).unsqueeze(0)
    err = target - pred
    return torch.max(q * err, (q - 1) * err).mean()


def build(width, dropout, slope, quantiles):
    return nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(6, width)), ("act1", nn.LeakyReLU(slope)), ("drop1", nn.Dropout(dropout)),
        ("fc2", nn.Linear(width, width)), ("act2", nn.LeakyReLU(slope)),
        ("drop2", nn.Dropout(dropout)),
        ("out", nn.Linear(width, len(quantiles))),
    ]))


def main():
    p = common.parser(__doc__)
    p.add_argument("--rows", type=int, default=4000)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--slope", type=float, default=0.1, help="LeakyReLU's negative_slope")
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "rmsprop", "adamw"))
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--bug", default=None,
                   choices=("missing-zero-grad", "zero-init"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, minutes = deliveries(args.rows, args.seed)
    n_val = args.rows // 5
    x_tr, x_val, m_tr, m_val = x[n_val:], x[:n_val], minutes[n_val:], minutes[:n_val]
    xs = Standardizer().fit(x_tr)
    ys = Standardizer().fit(m_tr)
    x_tr, x_val = torch.from_numpy(xs.transform(x_tr)), torch.from_numpy(xs.transform(x_val))
    y_tr = torch.from_numpy(ys.transform(m_tr))[:, None]
    y_val = torch.from_numpy(ys.transform(m_val))[:, None]

    model = build(args.width, args.dropout, args.slope, QUANTILES)
    if args.bug == "zero-init":
        # BUG: "start from zero" initialization of every layer, weights and biases.
        for module in model.modules():
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.weight)
                nn.init.zeros_(module.bias)
    kind = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
            "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}[args.optimizer]
    extra = {"momentum": 0.9} if args.optimizer == "sgd" else {}
    optimizer = kind(model.parameters(), lr=args.lr, weight_decay=args.weight_decay, **extra)

    steps_per_epoch = -(-len(x_tr) // args.batch_size)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="pinball",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    best, best_state, waited = float("inf"), None, 0
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_tr), generator=g)
        if args.bug == "missing-zero-grad":
            optimizer.zero_grad()   # BUG: once per epoch, not once per batch
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            loss = pinball_loss(model(xb), yb, QUANTILES)
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = pinball_loss(model(x_val), y_val, QUANTILES).item()
                model.train()
            rec.step(loss, inputs=xb, targets=yb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: train %.4f val %.4f" % (epoch + 1, np.mean(history.epochs[-1][0]),
                                                 val_loss))
        if val_loss < best - 1e-4:
            best, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= args.patience:
                print("early stop after epoch %d" % (epoch + 1))
                break
    rec.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        pred = model(x_val)
    pred = (pred * float(ys.std) + float(ys.mean)).numpy()
    truth = m_val
    coverage = float(np.mean((truth >= pred[:, 0]) & (truth <= pred[:, 2])))
    mae = float(np.mean(np.abs(truth - pred[:, 1])))
    base = float(np.mean(np.abs(truth - np.median(m_tr))))
    print("best val pinball %.4f; 10-90%% coverage %.3f, median MAE %.2f min (constant median "
          "%.2f)" % (best, coverage, mae, base))
    common.report(history.result(coverage=coverage, median_mae_minutes=mae,
                                 constant_mae_minutes=base))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "qpin-missing-zero-grad", "split": "dev", "architecture": "regression",
     "origin": "DeepLocalize benchmark (Stack Overflow): optimizer.zero_grad() not called per "
               "batch; Humbatova et al. 2020: missing zero_grad",
     "bug": "optimizer.zero_grad() once per epoch, before the batch loop, under SGD momentum "
            "0.9 at 0.01: the gradients of the epoch's batches add up, the steps grow, the "
            "training pinball loss climbs from 0.37 in the first epoch to 1.03 and the validation "
            "loss to 1.25 by the "
            "fourth epoch, when early stopping ends the run; the restored best weights predict "
            "the median with an MAE of 20.1 minutes (a constant median: 20.0), against the "
            "twin's 9.1",
     "fix": "optimizer.zero_grad() before every batch's backward()",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "numerical_error",
                                                             "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--optimizer sgd --lr 0.01 --bug missing-zero-grad --record-every 2",
          "fixed": "--optimizer sgd --lr 0.01 --record-every 2"},
     ]},
    {"family": "qpin-zero-init", "split": "dev", "architecture": "regression",
     "origin": "AUTOTRAINER / DeepDiagnosis: bad weight initialization (every weight and bias "
               "set to zero); Humbatova et al. 2020: wrong weight initialization",
     "bug": "nn.init.zeros_ on every Linear layer's weight and bias: every hidden unit outputs "
            "LeakyReLU(0) = 0, no weight gets a gradient and only the output biases learn, three "
            "constant quantiles; the validation pinball loss stays at 0.256 (standardized "
            "minutes) and the median's MAE at 20.0 minutes (a constant median: 20.0), against "
            "the twin's 0.101 and 8.7",
     "fix": "PyTorch's default initialization of nn.Linear",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["unchanged_values", "not_learning",
                                                       "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug zero-init --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "qpin-weight-decay-dominates", "split": "dev", "architecture": "regression",
     "origin": "DeepFD fault type: regularization too strong; Humbatova et al. 2020: wrong "
               "regularization (weight_decay=1.0 where 1e-4 was meant)",
     "bug": "Adam(weight_decay=1.0): the L2 term pulls every weight to zero faster than the "
            "pinball loss's bounded gradient can move it, the network predicts about constant "
            "quantiles; the validation pinball loss ends at 0.330, the median's MAE at 19.6 "
            "minutes (a constant median: 19.1) and the 10-90% interval covers 0.095 of the "
            "deliveries, against the twin's 0.094, 8.0 and 0.81 (seed 2)",
     "fix": "weight_decay=1e-4",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--weight-decay 1.0 --seed 2 --record-every 2",
          "fixed": "--weight-decay 1e-4 --seed 2 --record-every 2"},
     ]},
    {"family": "qpin-sgd-lr-too-low", "split": "dev", "architecture": "regression",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "SGD momentum 0.9 at 1e-5 (meant 0.01): in 8 epochs the training pinball loss "
            "falls only from 0.413 to 0.409 (validation 0.410), the median's MAE is 20.8 minutes (a constant "
            "median: 19.8) and the 10-90% interval covers 0.004 of the deliveries, against the "
            "twin's 0.107, 8.9 and 0.81 (seed 1)",
     "fix": "SGD at 0.01",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--optimizer sgd --lr 1e-5 --seed 1 --record-every 2",
          "fixed": "--optimizer sgd --lr 0.01 --seed 1 --record-every 2"},
     ]},
    {"family": "healthy-qpin", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "a quantile regressor of delivery times under the pinball loss, with "
                    "dropout, LeakyReLU and early stopping, that trains well",
     "healthy": [
         {"id": "adamw-w32-bs128-seed3",
          "args": "--optimizer adamw --lr 3e-3 --weight-decay 0.01 --width 32 --batch-size 128 --seed 3 --record-every 2",
          "description": "AdamW 3e-3 with weight decay 0.01, width 32, batches of 128"},
         {"id": "rmsprop-seed4",
          "args": "--optimizer rmsprop --lr 1e-3 --seed 4 --record-every 2",
          "description": "RMSprop 1e-3"},
         {"id": "adam-w128-drop0.3-seed5",
          "args": "--width 128 --dropout 0.3 --seed 5 --record-every 2",
          "description": "width 128 with dropout 0.3, Adam 2e-3"},
         {"id": "sgd-bs32-seed6",
          "args": "--optimizer sgd --lr 0.02 --batch-size 32 --epochs 6 --seed 6 --record-every 2",
          "description": "SGD momentum 0.02, batches of 32"},
         {"id": "adam-slope0.01-seed7",
          "args": "--slope 0.01 --lr 5e-3 --dropout 0 --seed 7 --record-every 2",
          "description": "LeakyReLU(0.01), no dropout, Adam 5e-3"},
     ]},
]


if __name__ == "__main__":
    main()
