"""Per-step overhead of the recorder against the bare training step (small MLP and CNN).

    /usr/bin/python3 recorders/pytorch/bench_overhead.py [--steps 300]

Times the same training loop three times per model (bare, recorded to CSV, recorded to CSV
without the input/target rows) after a warm-up, single-threaded, and prints ms per step and
the overhead ratio.
"""

import argparse
import os
import sys
import tempfile
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dltrace_recorder as dltrace  # noqa: E402


def mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, 10)), (64,)


def cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 64), nn.ReLU(),
                         nn.Linear(64, 10)), (1, 28, 28)


def run(factory, steps, batch, mode, tmp):
    torch.manual_seed(0)
    model, shape = factory()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(batch, *shape)
    y = torch.randint(0, 10, (batch,))
    rec = None
    if mode != "bare":
        rec = dltrace.attach(model, os.path.join(tmp, "%s.csv" % mode), optimizer=opt,
                             task="classification", record_inputs=(mode == "recorded"))
    times = []
    for step in range(steps + 20):
        start = time.perf_counter()
        opt.zero_grad()
        out = model(x)
        loss = nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
        if rec is not None:
            acc = (out.argmax(1) == y).float().mean()
            rec.step(loss, accuracy=acc, inputs=x, targets=y)
        if step >= 20:
            times.append(time.perf_counter() - start)
    if rec is not None:
        rec.close()
    times.sort()
    return 1000.0 * times[len(times) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("torch %s, 1 thread, batch %d, median of %d steps" % (torch.__version__, args.batch, args.steps))
    print("%-4s %10s %14s %14s %9s" % ("model", "bare ms", "recorded ms", "no-io ms", "overhead"))
    with tempfile.TemporaryDirectory() as tmp:
        for name, factory in (("mlp", mlp), ("cnn", cnn)):
            bare = run(factory, args.steps, args.batch, "bare", tmp)
            recorded = run(factory, args.steps, args.batch, "recorded", tmp)
            no_io = run(factory, args.steps, args.batch, "no_inputs", tmp)
            print("%-4s %10.3f %14.3f %14.3f %8.2fx" % (name, bare, recorded, no_io, recorded / bare))


if __name__ == "__main__":
    main()
