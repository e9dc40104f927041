#!/usr/bin/env python3
"""Records the healthy (--fixed) sample programs again with other seeds, to measure how far two
seeds of the same healthy run drift apart under `dl-analyze compare` (bench/compare-seeds.sh).

    python3 bench/seed_pairs.py OUTDIR [--seeds 1,2] [--only PREFIX]

For every program in sample-traces/programs/ and every seed S, trains the fixed run once with the
model's initial weights and the batch order drawn from seed S (the data set itself stays the one
the program builds from its own seed, as two seeds of one experiment share their data) and writes
OUTDIR/<program>-seed<S>.arrows. Prints one line per run.
"""

import argparse
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(os.path.dirname(HERE), "sample-traces", "programs")


def record(program, seed, out):
    sys.path.insert(0, PROGRAMS)
    import common
    import torch

    module = importlib.import_module(program)
    common.deterministic(seed)  # the weights' initialization below draws from this seed
    setup = module.build(True)
    # common.train draws the batch order from common.SEED: the same seed, so the order differs
    # with the initialization. The data was built above, from the program's own seed.
    data_seed = common.SEED
    common.SEED = seed
    try:
        summary = common.train(setup, out, program)
    finally:
        common.SEED = data_seed
    del torch
    return summary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--only", default="")
    parser.add_argument("--program", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    if args.program:  # one run, in its own process (see below)
        out = os.path.join(args.outdir, "%s-seed%d.arrows" % (args.program.replace("_", "-"), args.seed))
        print("%s seed %d: %s" % (args.program, args.seed, record(args.program, args.seed, out)),
              flush=True)
        return
    import subprocess
    names = sorted(f[:-3] for f in os.listdir(PROGRAMS)
                   if f.endswith(".py") and f != "common.py" and f.startswith(args.only))
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for name in names:
        for seed in (int(s) for s in args.seeds.split(",")):
            # One process per run: each program builds its own torch state and module globals.
            subprocess.run([sys.executable, __file__, args.outdir, "--program", name,
                            "--seed", str(seed)], check=True, env=env, cwd=PROGRAMS)


if __name__ == "__main__":
    main()
