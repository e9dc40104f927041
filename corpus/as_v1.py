#!/usr/bin/env python3
"""The corpus as a recorder that writes only the v1 contract would write it.

    python3 corpus/as_v1.py                                 # -> target/v1-corpus
    python3 corpus/as_v1.py --drop-optional --out target/v1-bare
    ./dl-analyze eval target/v1-corpus/manifest.json        # the same cases, v1 traces

The traces in the corpus come from dltrace, which writes more than format v1 asks for: metadata
keys such as ``dltrace.num_classes``, ``dltrace.weight_decay``, ``dltrace.momentum``,
``dltrace.record_every`` or ``dltrace.loss_added``, and per-layer fields such as ``fan_in``,
``in_optimizer`` or ``regularizer``. A trace written by another recorder that follows only the
v1 contract (docs/trace-format.md, "Version 1") has none of them. This script copies every trace
of the manifest (or of ``--split``) with its metadata cut down to the v1 keys (``dltrace.version``,
``run_id``, ``model``, ``framework``, ``optimizer``, ``learning_rate``, ``batch_size``, ``task``,
``loss`` and ``layers`` with only ``index``, ``name``, ``type``, ``activation``, ``params``,
``trainable``) and writes a manifest of the same cases beside them, so that the eval measures
what the analyzer owes to the extra facts. With ``--drop-optional`` the optional model-level
phases go too (``input``, ``target``, ``learning_rate``, ``val_loss``, ``val_accuracy``,
``episode_return``): a recorder that records only the seven phases every v1 trace has. Rows,
columns and their order are kept. Parquet traces only, as the corpus holds. Nothing under corpus/
is changed; the output (default target/v1-corpus) is never committed.
"""

import argparse
import json
import os
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

V1_KEYS = ("dltrace.version", "dltrace.run_id", "dltrace.model", "dltrace.framework",
           "dltrace.optimizer", "dltrace.learning_rate", "dltrace.batch_size", "dltrace.task",
           "dltrace.loss", "dltrace.layers")
V1_LAYER_FIELDS = ("index", "name", "type", "activation", "params", "trainable")
OPTIONAL_PHASES = ("input", "target", "learning_rate", "val_loss", "val_accuracy", "episode_return")


def v1_metadata(metadata):
    """The v1 part of a trace's key-value metadata (bytes keys and values, as pyarrow gives)."""
    kept = {}
    for key, value in (metadata or {}).items():
        name = key.decode()
        if name not in V1_KEYS:
            continue
        if name == "dltrace.layers":
            layers = json.loads(value.decode())
            value = json.dumps([{f: layer[f] for f in V1_LAYER_FIELDS if f in layer}
                                for layer in layers]).encode()
        kept[key] = value
    return kept


def convert(source, target, drop_optional):
    table = pq.read_table(source)
    if drop_optional:
        phases = table.column("phase")
        if hasattr(phases.type, "value_type"):
            phases = phases.cast("string")
        table = table.filter(pc.invert(pc.is_in(phases, value_set=pa.array(OPTIONAL_PHASES))))
    table = table.replace_schema_metadata(v1_metadata(table.schema.metadata))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temporary = target + ".part"
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, target)


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--manifest", default=os.path.join(HERE, "manifest.json"))
    p.add_argument("--split", choices=("dev", "test"), help="only the cases of this split")
    p.add_argument("--out", default=os.path.join(ROOT, "target", "v1-corpus"))
    p.add_argument("--drop-optional", action="store_true",
                   help="drop the optional model-level phases as well (" +
                   ", ".join(OPTIONAL_PHASES) + ")")
    args = p.parse_args()

    with open(args.manifest) as f:
        manifest = json.load(f)
    base = os.path.dirname(os.path.abspath(args.manifest))
    cases = [c for c in manifest["cases"] if args.split is None or c["split"] == args.split]
    for i, case in enumerate(cases, 1):
        if not case["trace"].endswith(".parquet"):
            sys.exit("as_v1.py: %s: only Parquet traces are cut down (the corpus is Parquet)"
                     % case["trace"])
        convert(os.path.join(base, case["trace"]), os.path.join(args.out, case["trace"]),
                args.drop_optional)
        if i % 200 == 0:
            print("%d of %d traces" % (i, len(cases)), file=sys.stderr)
    manifest = dict(manifest, cases=cases,
                    description="The corpus cut down to format v1's metadata%s by corpus/as_v1.py"
                    % (" and phases" if args.drop_optional else ""))
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("wrote %d traces and manifest.json to %s" % (len(cases), args.out))


if __name__ == "__main__":
    main()
