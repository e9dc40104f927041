#!/usr/bin/env python3
"""Healthy runs trained several times longer than the corpus records them: a false-alarm check.

    python3 corpus/longer_runs.py                       # x6 epochs, dev, one run per program
    python3 corpus/longer_runs.py --factor 4 --split test -j 2 --out target/longer-runs
    ./dl-analyze eval target/longer-runs/manifest.json  # every case is healthy: false alarms

The corpus' runs are short (a few hundred steps), and the analyzer's windowed rules were
calibrated on them. Users' runs are longer: schedules decay further, converged weights sit still
for thousands of steps, units die late. This script takes the first healthy run (one that is
nobody's twin) of each program, multiplies its ``--epochs`` (the argument given, else the
program's default) by ``--factor``, runs it the way regenerate.py does (same program, arguments,
seed, one thread, the recorder every N steps as the case says) and writes the traces and a
manifest of healthy cases under ``--out`` (default target/longer-runs, never committed).
Programs without an ``--epochs`` argument are skipped and listed.
"""

import argparse
import concurrent.futures
import os
import re
import shlex
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import regenerate  # noqa: E402

EPOCHS = re.compile(r"""["']--epochs["']\s*,\s*type\s*=\s*int\s*,\s*default\s*=\s*(\d+)""")


def longer(case, factor):
    """The case's arguments with its epochs multiplied, or None without an --epochs argument."""
    args = shlex.split(case["args"])
    if "--epochs" in args:
        i = args.index("--epochs")
        args[i + 1] = str(int(args[i + 1]) * factor)
        return args
    with open(os.path.join(regenerate.PROGRAMS, case["program"])) as f:
        default = EPOCHS.search(f.read())
    if default is None:
        return None
    return args + ["--epochs", str(int(default.group(1)) * factor)]


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--factor", type=int, default=6, help="multiply the epochs by this (6)")
    p.add_argument("--split", choices=regenerate.SPLITS, default="dev")
    p.add_argument("--out", default=os.path.join(regenerate.ROOT, "target", "longer-runs"))
    p.add_argument("--only", help="glob on program file names, e.g. 'pt_*'")
    p.add_argument("-j", "--jobs", type=int, default=1)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--resume", action="store_true",
                   help="keep the traces already under --out instead of running them again")
    args = p.parse_args()
    if args.factor < 2:
        p.error("--factor must be at least 2")
    regenerate.PYTHON = args.python

    picked, skipped, programs = [], [], set()
    for case in regenerate.expand():
        if case["split"] != args.split or case["buggy"] or case.get("twin"):
            continue
        if case["program"] in programs:
            continue
        if args.only and not re.fullmatch(
                args.only.replace("*", ".*"), os.path.basename(case["program"])):
            continue
        programs.add(case["program"])
        run = longer(case, args.factor)
        if run is None:
            skipped.append(case["program"])
            continue
        case = dict(case, id="%s-x%d" % (case["id"], args.factor), args=shlex.join(run))
        case["trace"] = "traces/%s/%s.parquet" % (case["split"], case["id"])
        case["description"] = "%s, trained %d times longer" % (case["description"], args.factor)
        picked.append(case)

    os.makedirs(args.out, exist_ok=True)
    # run_case writes traces next to regenerate.HERE: point it at the output folder instead
    regenerate.HERE = os.path.abspath(args.out)
    entries = []
    if args.resume:
        left = []
        for case in picked:
            if os.path.exists(os.path.join(args.out, case["trace"])):
                entries.append(regenerate.manifest_entry(case, "kept from an earlier run"))
            else:
                left.append(case)
        picked = left

    def write_manifest():
        # after every run, so that an interrupted job leaves a manifest of the runs it finished
        regenerate.write_json(
            os.path.join(args.out, "manifest.json"),
            {"version": 1, "description": "healthy runs trained %d times longer than the"
             " corpus' (corpus/longer_runs.py)" % args.factor,
             "cases": sorted(entries, key=lambda e: e["id"])})
    with tempfile.TemporaryDirectory() as work:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(regenerate.run_case, c, work, True, "pyarrow"): c
                       for c in picked}
            for future in concurrent.futures.as_completed(futures):
                case = futures[future]
                status = future.result()
                if status["status"] != "ok":
                    print("FAILED %s (%.0f s)\n%s" % (case["id"], status["seconds"],
                                                       status["error"]), file=sys.stderr)
                    continue
                print("%-70s %5.0f s  %s" % (case["id"], status["seconds"], status["final"]),
                      flush=True)
                entries.append(regenerate.manifest_entry(case, status["final"]))
                write_manifest()
    write_manifest()
    print("%d runs in %s; skipped (no --epochs): %s"
          % (len(entries), args.out, ", ".join(sorted(skipped)) or "none"))


if __name__ == "__main__":
    main()
