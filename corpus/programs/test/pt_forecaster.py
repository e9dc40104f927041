"""Multi-step-ahead forecasting of a noisy signal with a GRU in PyTorch.

Windows of 40 steps of a sum of two sines with noise; the model (GRU -> Linear) predicts the
next 5 values. Targets are the raw signal values times ``--amplitude`` (a sensor reading in
its own units). Gradient clipping is optional (``--clip``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402


def make_signal(n, window, horizon, amplitude, seed):
    rng = common.np.random.default_rng(seed)
    t = common.np.arange(window + horizon)[None, :]
    f1, f2 = rng.uniform(0.05, 0.2, (n, 1)), rng.uniform(0.2, 0.5, (n, 1))
    ph = rng.uniform(0, 2 * math.pi, (n, 2))
    s = common.np.sin(f1 * t + ph[:, :1]) + 0.5 * common.np.sin(f2 * t + ph[:, 1:])
    s = amplitude * (s + 0.1 * rng.standard_normal(s.shape))
    return s[:, :window, None].astype("float32"), s[:, window:].astype("float32")


class Forecaster(nn.Module):
    def __init__(self, hidden, horizon, layers):
        super().__init__()
        self.gru = nn.GRU(1, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, horizon)

    def forward(self, x):
        h, _ = self.gru(x)
        return self.out(h[:, -1])


def main():
    p = common.parser(__doc__)
    p.add_argument("--amplitude", type=float, default=1.0)
    p.add_argument("--window", type=int, default=40)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--clip", type=float, default=None)
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = make_signal(1400, args.window, 5, args.amplitude, args.seed)
    n_val = 280
    X_tr, Y_tr = torch.tensor(x[n_val:]), torch.tensor(y[n_val:])
    X_val, Y_val = torch.tensor(x[:n_val]), torch.tensor(y[:n_val])
    model = Forecaster(args.hidden, 5, args.layers)
    criterion = nn.MSELoss()
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    elif args.optimizer == "rmsprop":
        optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = (len(X_tr) + args.batch_size - 1) // args.batch_size
    rec = common.recording.torch_recorder(model, args.out, optimizer=optimizer, task="regression",
                                          loss_name="MSELoss", steps_per_epoch=steps)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(X_tr), generator=g)
        model.train()
        for i in range(steps):
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size]
            optimizer.zero_grad()
            loss = criterion(model(X_tr[idx]), Y_tr[idx])
            loss.backward()
            if args.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            val_loss = None
            if i == steps - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = criterion(model(X_val), Y_val).item()
                model.train()
            rec.step(loss, inputs=X_tr[idx], targets=Y_tr[idx], val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "forecaster-exploding-no-clip", "split": "test", "architecture": "gru",
     "origin": "AUTOTRAINER: exploding gradient (a recurrent network without gradient clipping)",
     "bug": "a GRU forecasting a signal in its raw units (amplitude 20) with SGD + momentum at "
            "learning rate 0.05 and no clipping: the squared errors are in the hundreds, the "
            "gradients explode and the loss diverges",
     "fix": "gradients clipped to norm 1",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["numerical_error", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-amplitude20",
          "buggy": "--amplitude 20 --optimizer sgd --lr 0.05",
          "fixed": "--amplitude 20 --optimizer sgd --lr 0.05 --clip 1"},
     ]},
    {"family": "healthy-forecaster", "split": "test", "architecture": "gru",
     "origin": "healthy run",
     "description": "a GRU forecaster that trains well",
     "healthy": [
         {"id": "adam", "args": ""},
         {"id": "rmsprop-2layers", "args": "--optimizer rmsprop --lr 0.002 --layers 2"},
         {"id": "adam-bs16", "args": "--batch-size 16 --epochs 3"},
     ]},
]


if __name__ == "__main__":
    main()
