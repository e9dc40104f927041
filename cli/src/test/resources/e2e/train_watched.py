"""A small MLP trained with the PyTorch recorder for `dl-analyze watch`: flushes every step (or
every --flush-every steps), sleeps --step-seconds per step, and from step --nan-at on, writes NaN
into the first layer's weights. The recorder looks for --stop-file after each step.

    python train_watched.py REPO TRACE [--stop-file PATH] [--nan-at N] [--steps N]
        [--flush-every N] [--step-seconds S] [--times FILE]

TRACE's directory is created if needed (a directory of parts: TRACE is its first part).
--times FILE: per step, the step and the wall-clock time its rows were handed to the writer
(the benchmark's start of latency). Prints `last step N` at the end; exit 0 when stopped too.
SIGINT (`dl-analyze watch --signal PID`) ends training: the script prints `interrupted after
step N`, closes the trace and exits with 130.
"""

import argparse
import os
import signal
import sys
import time

# A process a non-interactive shell starts in the background (`nohup ... &`, a CI step's `&`)
# inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler: restore it, as a
# training run started from a terminal has it.
signal.signal(signal.SIGINT, signal.default_int_handler)

parser = argparse.ArgumentParser()
parser.add_argument("repo")
parser.add_argument("trace")
parser.add_argument("--stop-file", default=None)
parser.add_argument("--nan-at", type=int, default=-1)
parser.add_argument("--steps", type=int, default=2000)
parser.add_argument("--flush-every", type=int, default=1)
parser.add_argument("--step-seconds", type=float, default=0.02)
parser.add_argument("--times", default=None)
args = parser.parse_args()
sys.path.insert(0, args.repo + "/recorders")

import torch  # noqa: E402
from torch import nn  # noqa: E402

import dltrace  # noqa: E402
from dltrace.pytorch import attach  # noqa: E402

torch.manual_seed(0)
x = torch.randn(512, 20)
y = (x[:, :5].sum(1) > 0).long()
model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
loss_fn = nn.CrossEntropyLoss()
os.makedirs(os.path.dirname(os.path.abspath(args.trace)), exist_ok=True)
rec = attach(model, args.trace, optimizer=opt, task="classification", loss_name="CrossEntropyLoss",
             flush_every=args.flush_every, stop_file=args.stop_file)
times = open(args.times, "w") if args.times else None
step = 0
try:
    for step in range(args.steps):
        i = (step * 32) % 512
        xb, yb = x[i:i + 32], y[i:i + 32]
        if step == args.nan_at:
            with torch.no_grad():
                model[0].weight[0, 0] = float("nan")
        opt.zero_grad()
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        opt.step()
        if times is not None:
            times.write("%d %.6f\n" % (step, time.time()))
            times.flush()
        rec.step(loss, accuracy=(out.argmax(1) == yb).float().mean(), inputs=xb, targets=yb)
        time.sleep(args.step_seconds)
except dltrace.TrainingStopped as stopped:
    print("last step %d (stopped: %s)" % (stopped.step, stopped.reason), flush=True)
    sys.exit(0)
except KeyboardInterrupt:
    rec.close()
    print("interrupted after step %d" % step, flush=True)
    sys.exit(130)
rec.close()
print("last step %d" % step, flush=True)
