#!/usr/bin/env python3
"""Re-records the corpus: every case of every program in programs/, and manifest.json.

    python3 corpus/regenerate.py                     # everything, 2 jobs
    python3 corpus/regenerate.py --split test --framework keras -j 1
    python3 corpus/regenerate.py --only 'mlp-zero-init-*'
    python3 corpus/regenerate.py --labels-only       # manifest.json from the CASES, nothing run
    python3 corpus/regenerate.py --no-record         # train without recording (outcomes only)

The cases are defined next to the code that produces them: each program in programs/dev/ and
programs/test/ has a ``CASES`` literal (read with ``ast``, without importing the program)
listing its families, each with its split, ground truth (symptom class, acceptable classes,
root cause) and its runs: buggy/fixed pairs (``pairs``) or healthy runs (``healthy``).

Each run is one process (``python3 PROGRAM ARGS --seed N --out TRACE.arrows``) with one thread
(OMP/MKL/TF threads = 1) and a fixed seed; PyTorch programs use deterministic algorithms, Keras
programs ``keras.utils.set_random_seed`` and TensorFlow op determinism. The Arrow IPC stream the
recorder writes is converted to zstd Parquet in traces/<split>/<case-id>.parquet (with pyarrow,
or ``./dl-analyze convert`` with ``--converter dl-analyze``). The final loss/accuracy the
program prints becomes the case's ``final`` field; the root cause's ``layer_index`` is checked
against the trace's ``dltrace.layers`` metadata.

The recorder is the repository's own (recorders/, imported by programs/recording.py).
"""

import argparse
import ast
import concurrent.futures
import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROGRAMS = os.path.join(HERE, "programs")
TRACES = os.path.join(HERE, "traces")
MANIFEST = os.path.join(HERE, "manifest.json")
SPLITS = ("dev", "test")
SYMPTOMS = ("numerical_error", "dead_or_zero", "unchanged_values", "not_learning",
            "exploding_gradient", "vanishing_gradient", "saturation", "oscillation",
            "slow_convergence", "loss_mismatch", "missing_activation")
ARCHITECTURES = ("mlp", "cnn", "lstm", "gru", "rnn", "autoencoder", "regression", "transformer", "gcn")

DESCRIPTION = ("A labelled corpus of real PyTorch and Keras 3 training runs: buggy/fixed pairs and"
               " healthy runs, split by family into dev and test (corpus/README.md); regenerate"
               " with: python3 corpus/regenerate.py")


# ------------------------------------------------------------------ cases

def program_files():
    out = []
    for split in SPLITS:
        folder = os.path.join(PROGRAMS, split)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py") and not name.startswith("_"):
                out.append((split, os.path.join(split, name)))
    return out


def load_cases(relpath):
    with open(os.path.join(PROGRAMS, relpath)) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CASES"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit("%s has no CASES" % relpath)


def framework_of(relpath):
    base = os.path.basename(relpath)
    if base.startswith("pt_"):
        return "pytorch"
    if base.startswith("keras_"):
        return "keras"
    raise SystemExit("%s: program names start with pt_ or keras_" % relpath)


def check_truth(where, truth):
    if truth["symptom"] not in SYMPTOMS:
        raise SystemExit("%s: unknown symptom %r" % (where, truth["symptom"]))
    for s in truth["acceptable_symptoms"]:
        if s not in SYMPTOMS or s == truth["symptom"]:
            raise SystemExit("%s: bad acceptable symptom %r" % (where, s))
    rc = truth["root_cause"]
    if rc != "model" and not (isinstance(rc, dict) and isinstance(rc.get("layer_name"), str)
                              and isinstance(rc.get("layer_index"), int)):
        raise SystemExit("%s: root_cause must be 'model' or {layer_name, layer_index}" % where)


def expand():
    """Every case, in a stable order: dicts with the manifest fields plus how to run them."""
    cases, ids, family_split = [], set(), {}
    for split, rel in program_files():
        framework = framework_of(rel)
        short = "pt" if framework == "pytorch" else "keras"
        for fam in load_cases(rel):
            name = fam["family"]
            if fam["split"] != split:
                raise SystemExit("%s: family %s says split %s but the program is in %s/"
                                 % (rel, name, fam["split"], split))
            if family_split.setdefault(name, split) != split:
                raise SystemExit("family %s is in both splits" % name)
            common = {"family": name, "split": split, "framework": framework,
                      "origin": fam["origin"], "benchmark": fam.get("benchmark")}
            for pair in fam.get("pairs", []):
                arch = pair.get("architecture", fam["architecture"])
                truth = {k: pair.get(k, fam.get(k)) for k in
                         ("symptom", "acceptable_symptoms", "root_cause")}
                base_id = "%s-%s-%s" % (name, short, pair["id"])
                check_truth(base_id, truth)
                bug = pair.get("bug", fam["bug"])
                fix = pair.get("fix", fam["fix"])
                for buggy in (True, False):
                    cid = "%s-%s" % (base_id, "buggy" if buggy else "fixed")
                    args = pair["buggy"] if buggy else pair["fixed"]
                    case = dict(common, id=cid, architecture=arch, buggy=buggy,
                                twin="%s-%s" % (base_id, "fixed" if buggy else "buggy"),
                                program=rel, args=args, bug=bug, fix=fix,
                                description=pair.get("description", bug) if buggy else fix)
                    if buggy:
                        case.update(truth)
                    cases.append(case)
            for run in fam.get("healthy", []):
                cid = "%s-%s-%s" % (name, short, run["id"])
                cases.append(dict(common, id=cid, architecture=run.get("architecture",
                                                                       fam["architecture"]),
                                  buggy=False, program=rel, args=run["args"],
                                  description=run.get("description", fam["description"])))
    commands = {}
    for case in cases:
        if case["id"] in ids:
            raise SystemExit("duplicate case id %s" % case["id"])
        ids.add(case["id"])
        args = shlex.split(case["args"])
        key = (case["program"], tuple(args + ([] if "--seed" in args else ["--seed", "0"])))
        commands.setdefault(key, []).append(case["id"])
    same = [ids_ for ids_ in commands.values() if len(ids_) > 1]
    if same:
        raise SystemExit("cases running the same command:\n" + "\n".join(" ".join(s) for s in same))
    for case in cases:
        if case["architecture"] not in ARCHITECTURES:
            raise SystemExit("%s: unknown architecture %s" % (case["id"], case["architecture"]))
        case["trace"] = "traces/%s/%s.parquet" % (case["split"], case["id"])
    return cases


# ------------------------------------------------------------------ running

def command(case, out):
    args = shlex.split(case["args"])
    cmd = [PYTHON, os.path.join(PROGRAMS, case["program"])] + args
    if "--seed" not in args:
        cmd += ["--seed", "0"]
    if out:
        cmd += ["--out", out]
        if RECORD_EVERY != 1:
            cmd += ["--record-every", str(RECORD_EVERY)]
    return cmd


def environment():
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
               TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0",
               CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    return env


def convert(source, target, converter):
    tmp = target + ".tmp"
    if converter == "pyarrow":
        import pyarrow.ipc
        import pyarrow.parquet
        import pyarrow.types
        import pyarrow
        # Keys the recorder knows only at the end (the carried-over gradient counts, a stop
        # reason) ride on the stream's last record batch: they join the schema's metadata.
        batches, extra = [], {}
        with pyarrow.ipc.open_stream(source) as reader:
            schema = reader.schema
            while True:
                try:
                    batch = reader.read_next_batch_with_custom_metadata()
                except StopIteration:
                    break
                batches.append(batch.batch)
                extra.update(batch.custom_metadata or {})
        table = pyarrow.Table.from_batches(batches, schema=schema)
        if extra:
            table = table.replace_schema_metadata({**(schema.metadata or {}), **extra})
        floats = [f.name for f in table.schema if pyarrow.types.is_floating(f.type)]
        others = [f.name for f in table.schema if f.name not in floats]
        # Statistics as BYTE_STREAM_SPLIT + zstd 19 (about 25% smaller than dictionary-encoded
        # doubles), everything else dictionary-encoded; the row order is the recorder's.
        pyarrow.parquet.write_table(table, tmp, compression="zstd", compression_level=19,
                                    use_dictionary=others, use_byte_stream_split=floats,
                                    write_statistics=False)
    else:
        result = subprocess.run([os.path.join(ROOT, "dl-analyze"), "convert", source, tmp],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(result.stdout + result.stderr)
    os.replace(tmp, target)


def trace_layers(path):
    import pyarrow.parquet
    meta = pyarrow.parquet.read_schema(path).metadata or {}
    layers = meta.get(b"dltrace.layers")
    return [] if layers is None else [l["name"] for l in json.loads(layers)]


def format_final(result):
    parts = ["steps=%d" % result["steps"]]
    if result.get("first_loss") is not None:
        parts.append("first-epoch loss=%.4g" % result["first_loss"] if isinstance(
            result["first_loss"], float) else "first-epoch loss=%s" % result["first_loss"])
    loss = result.get("loss")
    parts.append("final-epoch loss=%s" % ("%.4g" % loss if isinstance(loss, float) else loss))
    if result.get("accuracy") is not None:
        parts.append("accuracy=%.4f" % result["accuracy"])
    if result.get("val_loss") is not None:
        v = result["val_loss"]
        parts.append("val_loss=%s" % ("%.4g" % v if isinstance(v, float) else v))
    if result.get("val_accuracy") is not None:
        parts.append("val_accuracy=%.4f" % result["val_accuracy"])
    if result.get("nan"):
        parts.append("(NaN/Inf loss)")
    return " ".join(parts)


def run_case(case, work, record, converter):
    out = os.path.join(work, case["id"] + ".arrows") if record else None
    started = time.time()
    proc = subprocess.run(command(case, out), capture_output=True, text=True, env=environment(),
                          cwd=PROGRAMS)
    seconds = time.time() - started
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"status": "failed", "seconds": seconds,
                "error": (proc.stdout + proc.stderr)[-3000:]}
    result = json.loads(lines[-1][len("RESULT "):])
    status = {"status": "ok", "seconds": seconds, "result": result,
              "final": format_final(result), "recorder": result.get("recorder")}
    if record:
        target = os.path.join(HERE, case["trace"])
        os.makedirs(os.path.dirname(target), exist_ok=True)
        convert(out, target, converter)
        os.remove(out)
        status["layers"] = trace_layers(target)
        status["bytes"] = os.path.getsize(target)
    else:
        status["layers"] = result.get("layers")
    return status


# ------------------------------------------------------------------ manifest

FIELDS = ("id", "trace", "program", "buggy", "symptom", "acceptable_symptoms", "root_cause",
          "origin", "benchmark", "description", "bug", "fix", "twin", "final", "family",
          "split", "framework", "architecture")


def manifest_entry(case, final):
    entry = {
        "id": case["id"], "trace": case["trace"],
        "program": "programs/%s %s" % (case["program"], case["args"]),
        "buggy": case["buggy"],
        "symptom": case.get("symptom") if case["buggy"] else None,
        "acceptable_symptoms": list(case.get("acceptable_symptoms", [])) if case["buggy"] else [],
        "root_cause": case.get("root_cause") if case["buggy"] else None,
        "origin": case["origin"], "benchmark": case.get("benchmark"),
        "description": case["description"],
        "bug": case.get("bug"), "fix": case.get("fix"),
        "twin": case.get("twin"), "final": final,
        "family": case["family"], "split": case["split"], "framework": case["framework"],
        "architecture": case["architecture"],
    }
    if entry["twin"] is None:
        del entry["twin"], entry["bug"], entry["fix"]
    if entry["benchmark"] is None:
        del entry["benchmark"]
    return entry


def write_json(path, value):
    """Writes ``value`` as indented JSON to ``path`` through a temporary file and a rename."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def write_manifest(entries):
    write_json(MANIFEST, {"version": 1, "description": DESCRIPTION, "cases": entries})


def previous_entries():
    if not os.path.exists(MANIFEST):
        return {}
    with open(MANIFEST) as f:
        return {e["id"]: e for e in json.load(f)["cases"]}


def print_summary(cases):
    def count(key):
        rows = {}
        for c in cases:
            k = key(c)
            r = rows.setdefault(k, [0, 0, 0])
            if c["buggy"]:
                r[0] += 1
            elif c.get("twin"):
                r[1] += 1
            else:
                r[2] += 1
        return rows

    for title, key in (("split", lambda c: c["split"]), ("framework", lambda c: c["framework"]),
                       ("architecture", lambda c: c["architecture"]),
                       ("split x framework", lambda c: "%s %s" % (c["split"], c["framework"]))):
        print("| %s | pairs | healthy runs | traces |" % title)
        print("|---|---|---|---|")
        for k, (b, f, h) in sorted(count(key).items()):
            print("| %s | %d | %d | %d |" % (k, b, h, b + f + h))
        print()
    print("| symptom (buggy runs) | dev | test |")
    print("|---|---|---|")
    rows = {}
    for c in cases:
        if c["buggy"]:
            r = rows.setdefault(c["symptom"], {"dev": 0, "test": 0})
            r[c["split"]] += 1
    for k, r in sorted(rows.items()):
        print("| %s | %d | %d |" % (k, r["dev"], r["test"]))
    total = sum(1 for c in cases)
    pairs = sum(1 for c in cases if c["buggy"])
    print("\n%d traces: %d pairs, %d healthy runs" % (total, pairs, total - 2 * pairs))


def print_families(cases):
    families = {}
    for c in cases:
        f = families.setdefault(c["family"], {"split": c["split"], "frameworks": set(),
                                              "architectures": set(), "pairs": 0,
                                              "healthy": 0, "symptoms": set(), "origin": c["origin"]})
        f["frameworks"].add(c["framework"])
        f["architectures"].add(c["architecture"])
        if c["buggy"]:
            f["pairs"] += 1
            f["symptoms"].add(c["symptom"])
        elif c.get("twin") is None:
            f["healthy"] += 1
    print("| family | split | frameworks | architecture | pairs | healthy runs | symptoms |")
    print("|---|---|---|---|---|---|---|")
    order = sorted(families.items(), key=lambda kv: (kv[1]["split"], kv[1]["pairs"] == 0, kv[0]))
    for name, f in order:
        print("| %s | %s | %s | %s | %d | %d | %s |" % (
            name, f["split"], ", ".join(sorted(f["frameworks"])),
            ", ".join(sorted(f["architectures"])), f["pairs"], f["healthy"],
            ", ".join(sorted(f["symptoms"])) or "-"))


def main():
    global PYTHON, RECORD_EVERY
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="case ids matching this glob (repeatable)")
    parser.add_argument("--family", action="append", help="families matching this glob")
    parser.add_argument("--split", choices=SPLITS)
    parser.add_argument("--framework", choices=("pytorch", "keras"))
    parser.add_argument("--buggy", action="store_true", help="only the buggy runs")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--labels-only", action="store_true",
                        help="write manifest.json from the CASES without running anything")
    parser.add_argument("--no-record", action="store_true",
                        help="train without recording: training outcomes only (manifest untouched)")
    parser.add_argument("--converter", choices=("pyarrow", "dl-analyze"), default="pyarrow")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--record-every", type=int, default=1, metavar="N",
                        help="record the per-layer rows of every N-th step (the recorder's every=N;"
                             " loss, accuracy, learning rate and validation rows of every step)")
    parser.add_argument("--list", action="store_true", help="list the selected cases and exit")
    parser.add_argument("--summary", action="store_true",
                        help="print the counts (per split, framework, architecture, symptom) and exit")
    parser.add_argument("--families", action="store_true",
                        help="print the families as a markdown table (as in README.md) and exit")
    args = parser.parse_args()
    PYTHON = args.python
    if args.record_every < 1:
        parser.error("--record-every must be 1 or more: %d" % args.record_every)
    RECORD_EVERY = args.record_every

    cases = expand()

    def selected(case):
        if args.only and not any(fnmatch.fnmatch(case["id"], g) for g in args.only):
            return False
        if args.family and not any(fnmatch.fnmatch(case["family"], g) for g in args.family):
            return False
        if args.split and case["split"] != args.split:
            return False
        if args.framework and case["framework"] != args.framework:
            return False
        if args.buggy and not case["buggy"]:
            return False
        return True

    todo = [c for c in cases if selected(c)]
    if args.families:
        print_families(todo)
        return
    if args.summary:
        print_summary(todo)
        return
    if args.list:
        for c in todo:
            print(c["id"], "programs/%s %s" % (c["program"], c["args"]))
        print("%d cases" % len(todo))
        return
    previous = previous_entries()
    if args.labels_only:
        entries = []
        for c in cases:
            old = previous.get(c["id"], {})
            entry = manifest_entry(c, old.get("final", "not recorded yet"))
            entries.append(entry)
        write_manifest(entries)
        print("%d cases, manifest: %s" % (len(entries), os.path.relpath(MANIFEST)))
        return

    started = time.time()
    results = {}
    record = not args.no_record
    with tempfile.TemporaryDirectory(prefix="dltrace-corpus-") as work:
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            futures = {pool.submit(run_case, c, work, record, args.converter): c for c in todo}
            for future in concurrent.futures.as_completed(futures):
                case = futures[future]
                try:
                    status = future.result()
                except Exception as e:  # conversion failure
                    status = {"status": "failed", "error": str(e), "seconds": 0}
                results[case["id"]] = status
                if status["status"] == "ok":
                    size = " %6.1f KB" % (status["bytes"] / 1024) if "bytes" in status else ""
                    print("%-62s %5.1fs%s %s" % (case["id"], status["seconds"], size,
                                                 status["final"]), flush=True)
                else:
                    print("%-62s %s" % (case["id"], status["status"].upper()), flush=True)
                    if status["status"] == "failed":
                        print(status["error"], file=sys.stderr)
    problems = []
    for case in todo:
        status = results[case["id"]]
        rc = case.get("root_cause")
        if status["status"] == "ok" and case["buggy"] and isinstance(rc, dict) and status.get("layers"):
            names = status["layers"]
            if rc["layer_name"] not in names:
                problems.append("%s: root-cause layer %s is not among the recorded layers %s"
                                % (case["id"], rc["layer_name"], names))
            elif names.index(rc["layer_name"]) != rc["layer_index"]:
                problems.append("%s: root-cause layer %s has index %d in the trace, not %d"
                                % (case["id"], rc["layer_name"], names.index(rc["layer_name"]),
                                   rc["layer_index"]))
    failed = [cid for cid, s in results.items() if s["status"] == "failed"]
    elapsed = time.time() - started
    if record:
        entries = []
        for c in cases:
            status = results.get(c["id"])
            if status is not None and status["status"] == "ok":
                entries.append(manifest_entry(c, status["final"]))
            else:
                old = previous.get(c["id"])
                entries.append(manifest_entry(c, old["final"] if old else "not recorded yet"))
        write_manifest(entries)
        total = 0
        for split in SPLITS:
            folder = os.path.join(TRACES, split)
            if os.path.isdir(folder):
                total += sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        print("%d cases run in %.0f s (%d jobs); traces now %.1f MB"
              % (len(todo), elapsed, args.jobs, total / 1e6))
    else:
        print("%d cases run in %.0f s (%d jobs), not recorded" % (len(todo), elapsed, args.jobs))
    for p in problems:
        print("LAYER INDEX: " + p, file=sys.stderr)
    if failed:
        print("%d cases failed: %s" % (len(failed), " ".join(failed)), file=sys.stderr)
    if failed or problems:
        sys.exit(1)


PYTHON = sys.executable
RECORD_EVERY = 1

if __name__ == "__main__":
    main()
