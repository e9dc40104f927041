#!/usr/bin/env python3
"""Benchmarks `dl-analyze watch` beside a real PyTorch run (docs/performance.md, "watch").

    python3 bench/watch.py [--python PY] [--repeats 3] [--directory]

Latency: cli/src/test/resources/e2e/train_watched.py writes NaN into its first layer at step 40
and notes when it hands each step's rows to the recorder; `watch --format json` follows the
trace, and this script notes when the finding's line arrives on watch's standard output. The
latency is the difference, for the recorder flushing every step and every 10 steps, with 20 ms
steps (the finding of step t is complete only when step t+1's rows arrive, or the batch of N
steps that holds it is flushed).

CPU: watch's user + system CPU (from wait4) while following runs of 1,000 and 5,000 steps
flushed every step, as fast as the run goes; the difference per 1,000 steps leaves out the JVM's
start.

--directory: the run writes its trace as the first part of a directory (DIR/part-00000.arrows)
and watch follows the directory (`watch DIR --part-wait 1`: it ends 1 s after the part's
end-of-stream marker, when no next part came), so both figures include listing the directory.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "cli/src/test/resources/e2e/train_watched.py")
CLI = os.path.join(ROOT, "dl-analyze")


def watch(args, **popen):
    return subprocess.Popen([CLI, "watch"] + args, stdout=subprocess.PIPE, text=True,
                            bufsize=1, **popen)


def paths(tmp, directory):
    """The file the run writes, and what watch follows, with watch's extra options."""
    if directory:
        parts = os.path.join(tmp, "run")
        return os.path.join(parts, "part-00000.arrows"), parts, ["--part-wait", "1"]
    trace = os.path.join(tmp, "run.arrows")
    return trace, trace, []


def latency(python, flush_every, directory, nan_at=40):
    with tempfile.TemporaryDirectory() as tmp:
        (trace, watched, extra), times = paths(tmp, directory), os.path.join(tmp, "times")
        w = watch([watched, "--format", "json", "--idle", "60"] + extra)
        w.stdout.readline()  # the start event: watch is up
        run = subprocess.Popen([python, TRAIN, ROOT, trace, "--nan-at", str(nan_at),
                                "--steps", str(nan_at + 30), "--flush-every", str(flush_every),
                                "--step-seconds", "0.02", "--times", times],
                               stdout=subprocess.DEVNULL, env=dict(os.environ, OMP_NUM_THREADS="1"))
        seen = None
        for line in w.stdout:
            event = json.loads(line)
            if event["event"] == "finding" and seen is None:
                seen = time.time()
                found_step = event["step"]
        run.wait()
        w.wait()
        handed = {}
        with open(times) as f:
            for line in f:
                step, at = line.split()
                handed[int(step)] = float(at)
        return (seen - handed[found_step]) * 1000, found_step


def cpu(python, steps, directory):
    with tempfile.TemporaryDirectory() as tmp:
        trace, watched, extra = paths(tmp, directory)
        w = watch([watched, "--format", "json", "--idle", "120"] + extra)
        w.stdout.readline()
        subprocess.run([python, TRAIN, ROOT, trace, "--steps", str(steps), "--flush-every", "1",
                        "--step-seconds", "0"], stdout=subprocess.DEVNULL, check=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
        w.stdout.read()
        _, status, usage = os.wait4(w.pid, 0)
        return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", default=os.path.join(ROOT, "target/test-env/python/bin/python"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--directory", action="store_true")
    args = parser.parse_args()
    if args.directory:
        print("watching a directory of parts", flush=True)
    for flush in (1, 10):
        values = [latency(args.python, flush, args.directory) for _ in range(args.repeats)]
        ms = [v for v, _ in values]
        print("latency, flush every %d step(s): median %.0f ms (min %.0f, max %.0f; steps %s)"
              % (flush, statistics.median(ms), min(ms), max(ms), [s for _, s in values]),
              flush=True)
    small, large = cpu(args.python, 1000, args.directory), cpu(args.python, 5000, args.directory)
    print("watch CPU: %.2f s for 1,000 steps, %.2f s for 5,000 steps: %.3f s per 1,000 steps"
          " after start-up" % (small, large, (large - small) / 4), flush=True)


if __name__ == "__main__":
    sys.exit(main())
