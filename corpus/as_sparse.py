#!/usr/bin/env python3
"""The corpus as the recorder would have written it with a sparser ``every=``.

    python3 corpus/as_sparse.py --every 16                  # -> target/sparse-16
    ./dl-analyze eval target/sparse-16/manifest.json        # the same cases, sampled

A recorder left on in production samples: ``every=N`` records the per-layer phases (forward,
activation, backward, weight, gradient) and the input and target rows on steps 0, N, 2N, ...,
the model-level scalars (loss, accuracy, learning_rate, episode_return, val_*) on every step,
and the per-layer rows of a step whose loss is not finite and of the 3 steps after it whatever
``every`` says (recorders/README.md). Most corpus traces were recorded with ``every=4`` or less.
This script thins each trace of the manifest (or of ``--split``) to what ``every=N`` would have
kept, N a multiple of the trace's own ``dltrace.record_every``, and writes a manifest of the same
cases beside them, so that the eval measures what the analyzer loses when a run is sampled: a
rule that counts recorded observations instead of steps, or that needs a per-layer row on the
step a fault began. A trace whose own ``record_every`` does not divide N (a run recorded every 6
steps, against 16) is thinned to the multiples of N among its recorded steps, which is what a
recorder with the least common multiple would keep; its ``dltrace.record_every`` says which.
Rows, columns and their order are kept otherwise; Parquet traces only, as the corpus holds.
Nothing under corpus/ is changed; the output (default target/sparse-N) is never committed.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# recorded at every step whatever `every` says
SCALAR_PHASES = ("loss", "accuracy", "learning_rate", "episode_return", "val_loss",
                 "val_accuracy")
# the per-layer rows of a non-finite loss's step and of this many steps after it are kept
AFTER_NON_FINITE = 3


def _strings(column):
    return column.cast("string") if hasattr(column.type, "value_type") else column


def thin(table, every):
    """The rows of ``table`` that a recorder with ``every=every`` would have written, under the
    trace's new ``dltrace.record_every``."""
    metadata = dict(table.schema.metadata or {})
    own = int(metadata.get(b"dltrace.record_every", b"1").decode())
    step = table.column("step")
    phase = _strings(table.column("phase"))
    loss_rows = pc.equal(phase, "loss")
    bad = pc.and_(loss_rows, pc.invert(pc.is_finite(table.column("mean"))))
    bad_steps = set(pc.filter(step, bad).to_pylist())
    kept_steps = set()
    for s in bad_steps:
        kept_steps.update(range(s, s + AFTER_NON_FINITE + 1))
    steps = step.to_numpy()
    keep = pc.is_in(phase, value_set=pa.array(SCALAR_PHASES)).to_numpy(zero_copy_only=False)
    keep |= steps % every == 0
    if kept_steps:
        keep |= np.isin(steps, sorted(kept_steps))
    metadata[b"dltrace.record_every"] = str(math.lcm(own, every)).encode()
    return table.filter(pa.array(keep)).replace_schema_metadata(metadata)


def convert(source, target, every):
    table = thin(pq.read_table(source), every)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temporary = target + ".part"
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, target)


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--manifest", default=os.path.join(HERE, "manifest.json"))
    p.add_argument("--split", choices=("dev", "test"), help="only the cases of this split")
    p.add_argument("--every", type=int, required=True,
                   help="record the per-layer phases every N steps (N >= 1)")
    p.add_argument("--out", help="output folder (default target/sparse-N)")
    args = p.parse_args()
    if args.every < 1:
        sys.exit("as_sparse.py: --every must be at least 1, got %d" % args.every)
    out = args.out or os.path.join(ROOT, "target", "sparse-%d" % args.every)

    with open(args.manifest) as f:
        manifest = json.load(f)
    base = os.path.dirname(os.path.abspath(args.manifest))
    cases = [c for c in manifest["cases"] if args.split is None or c["split"] == args.split]
    for i, case in enumerate(cases, 1):
        if not case["trace"].endswith(".parquet"):
            sys.exit("as_sparse.py: %s: only Parquet traces are thinned (the corpus is Parquet)"
                     % case["trace"])
        convert(os.path.join(base, case["trace"]), os.path.join(out, case["trace"]), args.every)
        if i % 200 == 0:
            print("%d of %d traces" % (i, len(cases)), file=sys.stderr)
    manifest = dict(manifest, cases=cases,
                    description="The corpus thinned to every=%d by corpus/as_sparse.py"
                    % args.every)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("wrote %d traces and manifest.json to %s" % (len(cases), out))


if __name__ == "__main__":
    main()
