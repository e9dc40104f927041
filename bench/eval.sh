#!/usr/bin/env bash
# dl-analyze eval over a few hundred traces, measured.
#
#   bench/eval.sh                                   # sample-traces/manifest.json, its 34 cases x 8
#   bench/eval.sh corpus/manifest.json 1            # a manifest as it is: MANIFEST COPIES
#   BENCH_NO_BUILD=1 bench/eval.sh                  # reuse the last build
#
# The manifest's cases are copied COPIES times (ids suffixed -cN, twins kept within a copy, trace
# paths made absolute) into bench/work/eval-COPIES-NAME.json (gitignored), so a small manifest
# gives a few hundred cases; the copies read the same files, which stay in the page cache. Each
# measurement is a fresh process (./dl-analyze, its JVM flags) under /usr/bin/time: eval with
# --per-detector, Markdown to a file, with --jobs 1 and then --jobs 2 (the outputs must be equal).
# Output: one line per measurement.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
manifest=$(readlink -f "${1:-$root/sample-traces/manifest.json}")
copies=${2:-8}
work=$root/bench/work
mkdir -p "$work"
name=$(basename "$(dirname "$manifest")")
copy=$work/eval-$copies-$name.json

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(free -g | awk '/Mem:/ {print $2}') GB RAM, $(java -version 2>&1 | head -1)"
echo "# load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
  (cd "$root" && mvn -B -q -DskipTests -Drelease.skip=true -pl cli -am package)
fi

python3 - "$manifest" "$copies" "$copy" <<'PY'
import json, os, sys
src, copies, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base = os.path.dirname(os.path.abspath(src))
cases = []
for c in range(copies):
    for case in json.load(open(src))["cases"]:
        case["trace"] = os.path.join(base, case["trace"])
        if copies > 1:
            case["id"] = f"{case['id']}-c{c}"
            if case.get("twin"):
                case["twin"] = f"{case['twin']}-c{c}"
        cases.append(case)
json.dump({"version": 1, "cases": cases}, open(out, "w"))
size = sum(os.path.getsize(case["trace"]) for case in cases)
print(f"# {len(cases)} cases ({copies} x {len(cases) // copies}), {size / 1e6:.1f} MB of traces read")
PY

for jobs in 1 2; do
  DL_ANALYZE_NO_BUILD=1 /usr/bin/time -f "jobs $jobs: %e s elapsed, %U s user, %S s sys, %M KB peak RSS" \
    "$root/dl-analyze" eval "$copy" --per-detector --format markdown --jobs "$jobs" \
    -o "$work/eval-$copies-$name-jobs$jobs.md" || [ $? -eq 4 ]
done
cmp "$work/eval-$copies-$name-jobs1.md" "$work/eval-$copies-$name-jobs2.md"
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg); outputs of --jobs 1 and 2 equal"
