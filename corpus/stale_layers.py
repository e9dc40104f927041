#!/usr/bin/env python3
"""Whether the corpus' PyTorch and Keras traces describe their layers (and the loss's pairing with
the output) as the recorders now would.

    python3 corpus/stale_layers.py                  # the first case of each PyTorch and Keras program
    python3 corpus/stale_layers.py --framework keras
    python3 corpus/stale_layers.py --all-cases --only 'boxloc-*'
    python3 corpus/stale_layers.py --framework pytorch --rows   # also the first step's layer rows

A recorder change that reads the graph differently (how an activation applied as a function is
found, which returned tensor names it) changes the ``dltrace.layers`` metadata of the traces it
would record, while the committed traces keep what the recorder wrote when they were recorded.
This script runs each selected case's program, in its own process, up to the point where the
recorder has fixed its layers, prints the layers whose activation differs from the committed
trace's, and stops the run there: a program takes seconds, not its whole training. It compares
the recorder's reading of the loss's pairing with the output the same way: the metadata key
``dltrace.loss_from_logits`` (absent on one side counts as a difference), which a recorder change
in how it judges a loss of the program's own changes, and whether ``dltrace.output_layer`` is
``none`` (a loss over a comparison of outputs; the layer's index, which traces recorded before the
recorders wrote it lack, is not compared). The programs
that differ are the ones to record again (``regenerate.py --only``); their training rows must come
out identical.

PyTorch programs (``pt_*``) stop after the recorder's first ``step()``. Keras programs
(``keras_*``) stop at the end of the first recorded step (``Recorder._end_step``, which both the
``fit`` batch end and a loop of one's own that calls the callback's hooks reach): by then the
first trace of the train step has run, the layers are numbered and their activations named from
the graph, and the trace's metadata has been written from them.

With ``--rows`` (PyTorch programs), the recorder is also closed after its first step and that
step's layer rows (forward, activation, backward, gradient, weight: mean, min and max) are compared
with the committed trace's first step: a recorder change that takes a value from another call of
a layer (the activation of a layer called at every time step) shows there, while the layer's
activation name stays the same.

Exit code 1 when some case differs or could not be run, else 0.
"""

import argparse
import fnmatch
import json
import os
import shlex
import subprocess
import sys

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))

# Run in the child: the program with one method of the framework's Recorder wrapped to print the
# layers after its first call and stop the process. PyTorch: ``step``, after which the layers are
# fixed. Keras: ``_end_step``, the end of the first recorded step (reached from ``fit``'s batch end
# and from a loop that calls the callback's hooks): the first trace of the train step has numbered
# the layers and named their activations from the graph.
CHILD = r"""
import json, os, runpy, sys
corpus = os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), "corpus")
sys.path.insert(0, sys.argv[1])
import dltrace.{framework}.recorder as recorder
method = recorder.Recorder.{method}
def first_call(self, *args, **kwargs):
    method(self, *args, **kwargs)
    meta = self.metadata()
    layers = json.loads(meta["dltrace.layers"])
    print("LAYERS " + json.dumps({{layer["name"]: layer.get("activation") for layer in layers}}),
          flush=True)
    print("METADATA " + json.dumps({{k: meta.get(k) for k in {keys!r}}}), flush=True)
    if os.environ.get("STALE_ROWS"):
        self.close()
        sys.path.insert(0, corpus)
        from stale_layers import first_step_rows
        print("ROWS " + json.dumps(first_step_rows(os.environ["STALE_ROWS"])), flush=True)
    os._exit(0)
recorder.Recorder.{method} = first_call
program = sys.argv[2]
sys.argv = sys.argv[2:]
runpy.run_path(program, run_name="__main__")
"""


# The metadata keys that say how the recorder reads the loss's pairing with the output, compared
# like the layers' activations.
PAIRING = ("dltrace.loss_from_logits", "dltrace.output_layer")


def pairing(key, value):
    """What is compared of a ``PAIRING`` key: ``dltrace.output_layer`` only as ``none`` or not."""
    if key == "dltrace.output_layer":
        return value == "none"
    return value


def first_step_rows(path):
    """The first step's layer rows of a trace (Parquet, or an Arrow IPC stream as the child
    writes), as "layer phase" -> [mean, min, max]; here and in the child."""
    if path.endswith(".parquet"):
        table = pq.read_table(path)
    else:
        with pa.OSFile(path) as f:
            table = ipc.open_stream(f).read_all()
    rows = table.to_pydict()
    first = min(rows["step"])
    out = {}
    for i, step in enumerate(rows["step"]):
        if step == first and rows["layer_index"][i] >= 0 and rows["phase"][i] in (
                "forward", "activation", "backward", "gradient", "weight"):
            out[rows["layer_name"][i] + " " + rows["phase"][i]] = [
                rows["mean"][i], rows["min"][i], rows["max"][i]]
    return out


# What each framework's child needs: its script, the prefix of its programs, its environment (the
# Keras one as regenerate.py records with: one thread, no GPU, the TensorFlow backend).
FRAMEWORKS = {
    "pytorch": ("pt_", CHILD.format(framework="pytorch", method="step", keys=PAIRING), {}),
    "keras": ("keras_", CHILD.format(framework="keras", method="_end_step", keys=PAIRING), {
        "OPENBLAS_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_ENABLE_ONEDNN_OPTS": "0", "CUDA_VISIBLE_DEVICES": "", "KERAS_BACKEND": "tensorflow"}),
}


def framework(program):
    """The framework of a program (its file name's prefix), or None."""
    name = os.path.basename(program)
    return next((f for f, (prefix, _, _) in FRAMEWORKS.items() if name.startswith(prefix)), None)


def recorded(trace):
    """The activation of each layer in the committed trace's metadata, and its ``PAIRING`` keys."""
    meta = pq.read_metadata(trace).metadata
    layers = json.loads(meta[b"dltrace.layers"])
    keys = {k: (meta[k.encode()].decode() if k.encode() in meta else None) for k in PAIRING}
    return {layer["name"]: layer.get("activation") for layer in layers}, keys


def current(case, python, out, rows=False):
    """The activation of each layer and the ``PAIRING`` keys as the recorder now writes them (and,
    with ``rows``, its first step's layer rows), or an error text."""
    words = shlex.split(case["program"])
    program = os.path.join(HERE, words[0])
    _, script, extra = FRAMEWORKS[framework(words[0])]
    command = [python, "-c", script, os.path.join(os.path.dirname(HERE), "recorders"), program]
    command += words[1:] + ["--out", out]
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **extra)
    if rows:
        env["STALE_ROWS"] = out
    try:
        done = subprocess.run(command, cwd=HERE, env=env, capture_output=True, text=True,
                              timeout=900)
    except subprocess.TimeoutExpired:
        return "did not reach its first step in 900 s"
    found = {}
    for line in done.stdout.splitlines():
        for key in ("LAYERS", "METADATA", "ROWS"):
            if line.startswith(key + " "):
                found[key] = json.loads(line[len(key) + 1:])
    if "LAYERS" in found and "METADATA" in found and (not rows or "ROWS" in found):
        now = (found["LAYERS"], found["METADATA"])
        return (now, found.get("ROWS")) if rows else now
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return "did not reach its first step: " + tail


def changed_rows(before, now):
    """The rows of ``before`` and ``now`` (``first_step_rows``) that one has and the other not, or
    whose statistics differ by more than float32 rounding: key -> (before, now)."""
    def close(a, b):
        return all(x == y or (x is not None and y is not None
                              and (x != x and y != y  # both NaN
                                   or abs(x - y) <= 1e-5 * max(1.0, abs(x), abs(y))))
                   for x, y in zip(a, b))
    return {key: (before.get(key), now.get(key)) for key in sorted(set(before) | set(now))
            if key not in before or key not in now or not close(before[key], now[key])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[],
                        help="case ids matching this glob (repeatable)")
    parser.add_argument("--all-cases", action="store_true",
                        help="every case, not the first of each program")
    parser.add_argument("--manifest", default=os.path.join(HERE, "manifest.json"),
                        help="its traces are found relative to its folder (default: the corpus')")
    parser.add_argument("--framework", choices=sorted(FRAMEWORKS) + ["all"], default="all",
                        help="the programs of this framework (default: all)")
    parser.add_argument("--rows", action="store_true",
                        help="also compare the first step's layer rows (PyTorch programs)")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    with open(args.manifest) as f:
        cases = json.load(f)["cases"]
    traces = os.path.dirname(os.path.abspath(args.manifest))
    out = os.path.join(HERE, "..", "target", "stale-layers.arrows")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    seen, checked, differing = set(), 0, 0
    for case in cases:
        program = shlex.split(case["program"])[0]
        if framework(program) is None or args.framework not in ("all", framework(program)):
            continue
        if args.only and not any(fnmatch.fnmatch(case["id"], g) for g in args.only):
            continue
        if not args.all_cases and program in seen:
            continue
        seen.add(program)
        checked += 1
        rows = args.rows and framework(program) == "pytorch"
        now = current(case, args.python, out, rows)
        if isinstance(now, str):
            print("%s: %s" % (case["id"], now), flush=True)
            differing += 1
            continue
        trace = os.path.join(traces, case["trace"])
        now, now_rows = now if rows else (now, None)
        (before, pairing_before), (now, pairing_now) = recorded(trace), now
        changed = {name: (before.get(name), now.get(name))
                   for name in sorted(set(before) | set(now)) if before.get(name) != now.get(name)}
        changed.update({key: (pairing_before[key], pairing_now[key]) for key in PAIRING
                        if pairing(key, pairing_before[key]) != pairing(key, pairing_now[key])})
        if rows:
            changed.update(changed_rows(first_step_rows(trace), now_rows))
        if changed:
            differing += 1
            print("%s: %s" % (case["id"], ", ".join(
                "%s %s -> %s" % (name, old, new) for name, (old, new) in changed.items())),
                flush=True)
    print("%d case(s) checked, %d differ" % (checked, differing))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
