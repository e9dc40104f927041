#!/usr/bin/env python3
"""Regenerates every sample trace and manifest.json from the programs in programs/.

    python3 sample-traces/regenerate.py [--only PREFIX] [--format parquet|csv]

Each program runs twice (buggy, then --fixed) in its own process, seeded, single-threaded,
with torch.use_deterministic_algorithms(True); the recorder writes an Arrow IPC stream,
which `./dl-analyze convert` turns into the committed Parquet file. The same torch version on
the same CPU records byte-identical streams; the Parquet bytes also depend on the
dl-analyze Parquet writer's version (its encodings), not the values. manifest.json is built from each program's CASES
(the ground truth lives next to the code that produces the bug).
"""

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROGRAMS = os.path.join(HERE, "programs")
TRACES = os.path.join(HERE, "traces")
PYTHON = sys.executable  # the interpreter running this script (it needs torch)


def programs():
    names = sorted(f[:-3] for f in os.listdir(PROGRAMS)
                   if f.endswith(".py") and f != "common.py" and not f.startswith("_"))
    return names


def case_id(program):
    return program.replace("_", "-")


def load_cases(program):
    """The CASES literal of a program, read without importing it (no torch needed)."""
    with open(os.path.join(PROGRAMS, program + ".py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CASES" for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit("%s.py has no CASES" % program)


def run(program, fixed, out):
    cmd = [PYTHON, os.path.join(PROGRAMS, program + ".py"), "--out", out]
    if fixed:
        cmd.append("--fixed")
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=PROGRAMS)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit("%s failed" % " ".join(cmd))
    line = result.stdout.strip().splitlines()[-1]
    print(line, flush=True)
    return line.split(": ", 1)[1]


def convert(source, target):
    launcher = os.path.join(ROOT, "dl-analyze")
    result = subprocess.run([launcher, "convert", source, target], capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit("conversion of %s failed" % source)


def manifest_entry(program, cases, buggy, summary, trace_path):
    cid = case_id(program)
    bug, fix = cases["buggy"], cases["fixed"]
    entry = {
        "id": "%s-%s" % (cid, "buggy" if buggy else "fixed"),
        "trace": os.path.relpath(trace_path, HERE).replace(os.sep, "/"),
        "program": "programs/%s.py%s" % (program, "" if buggy else " --fixed"),
        "buggy": buggy,
        "symptom": bug["symptom"] if buggy else None,
        "acceptable_symptoms": list(bug.get("acceptable_symptoms", [])) if buggy else [],
        "root_cause": bug["root_cause"] if buggy else None,
        "origin": cases["origin"],
        "benchmark": cases.get("benchmark"),
        "description": bug["description"] if buggy else fix["description"],
        "bug": bug["description"],
        "fix": fix["description"],
        "twin": "%s-%s" % (cid, "fixed" if buggy else "buggy"),
        "final": summary,
    }
    return entry


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="only programs whose name starts with this")
    parser.add_argument("--format", choices=("parquet", "arrows", "csv"), default="parquet",
                        help="format of the committed traces (recorded as an Arrow IPC stream,"
                             " converted with ./dl-analyze convert unless arrows)")
    args = parser.parse_args()
    os.makedirs(TRACES, exist_ok=True)
    entries = []
    manifest_path = os.path.join(HERE, "manifest.json")
    previous = {}
    if args.only and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            previous = {e["id"]: e for e in json.load(f)["cases"]}
    with tempfile.TemporaryDirectory(prefix="dltrace-samples-") as work:
        for program in programs():
            cases = load_cases(program)
            for buggy in (True, False):
                cid = "%s-%s" % (case_id(program), "buggy" if buggy else "fixed")
                target = os.path.join(TRACES, "%s.%s" % (cid, args.format))
                if args.only and not program.startswith(args.only):
                    if cid in previous:
                        entries.append(previous[cid])
                    continue
                if args.format == "csv":
                    summary = run(program, not buggy, target)
                else:
                    recorded = os.path.join(work, cid + ".arrows")
                    summary = run(program, not buggy, recorded)
                    if args.format == "arrows":
                        shutil.copyfile(recorded, target)
                    else:
                        convert(recorded, target)
                entries.append(manifest_entry(program, cases, buggy, summary, target))
    manifest = {
        "version": 1,
        "description": "Buggy/fixed PyTorch training runs ported from the DeepLocalize"
                       " benchmark (Stack Overflow and GitHub cases) plus generated symptom"
                       " classes; regenerate with: /usr/bin/python3 sample-traces/regenerate.py",
        "cases": entries,
    }
    with open(manifest_path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(manifest_path + ".tmp", manifest_path)
    print("%d traces, manifest: %s" % (len(entries), os.path.relpath(manifest_path)))


if __name__ == "__main__":
    main()
