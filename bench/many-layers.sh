#!/usr/bin/env bash
# Traces whose dltrace.layers lists very many layers, measured in the launcher's 320 MB heap:
# inspect (text, JSON) and analyze (text, JSON, HTML) with /usr/bin/time (wall seconds, peak RSS),
# exit code and output size.
#
#   bench/many-layers.sh                  # 300,000 layers (pyarrow-written, 80 MB) and 1,048,577
#   bench/many-layers.sh 100000           # other counts
#   BENCH_NO_BUILD=1 bench/many-layers.sh
#
# The traces are the bundled sample trace so-48385830-buggy.parquet (5,400 rows, 2 layers in the
# data) with its dltrace.layers replaced (full entries up to 300,000 layers, {"name": "lN"} above:
# the 64 MiB limit of the value), written by pyarrow (which keeps a second copy of the
# metadata in ARROW:schema), into bench/work/layers-N.parquet (gitignored).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/bench/work
mkdir -p "$work"
if [ $# -gt 0 ]; then counts=("$@"); else counts=(300000 1048577); fi
python=${PYTHON:-python3}

echo "# machine: $(nproc) cores, $(java -version 2>&1 | head -1), heap: the launcher's (-Xmx320m)"
if [ "${BENCH_NO_BUILD:-}" = 1 ]; then
  export DL_ANALYZE_NO_BUILD=1
fi
export DL_ANALYZE_CDS=0
for n in "${counts[@]}"; do
  trace=$work/layers-$n.parquet
  if [ ! -f "$trace" ]; then
    "$python" - "$root/sample-traces/traces/so-48385830-buggy.parquet" "$trace" "$n" <<'PY'
import json, sys
import pyarrow.parquet as pq
source, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
table = pq.read_table(source)
metadata = dict(table.schema.metadata)
if n <= 300000:
    layers = [{"index": i, "name": "block%d.linear" % i, "type": "Linear",
               "activation": "relu", "params": 4160, "trainable": True} for i in range(n)]
else:  # short entries: the value stays under the 64 MiB limit of dltrace.layers
    layers = [{"name": "l%d" % i} for i in range(n)]
metadata[b"dltrace.layers"] = json.dumps(layers).encode()
pq.write_table(table.replace_schema_metadata(metadata), target)
PY
  fi
  echo "# $n layers: $trace ($(du -h "$trace" | cut -f1))"
  printf '%-24s %5s %8s %10s %14s\n' command exit seconds "peak RSS" "output bytes"
  for command in "inspect" "inspect --format json" "analyze" "analyze --format json" \
      "analyze --format html"; do
    out=$work/many-layers.out
    set +e
    # shellcheck disable=SC2086
    /usr/bin/time -f '%e %M' -o "$work/time.txt" "$root/dl-analyze" $command "$trace" \
      >"$out" 2>"$work/stderr.txt"
    code=$?
    set -e
    # time -o puts "Command exited with non-zero status N" first: the figures are the last line
    printf '%-24s %5s %8s %7s MB %14s\n' "$command" "$code" "$(tail -1 "$work/time.txt" | cut -d' ' -f1)" \
      "$(($(tail -1 "$work/time.txt" | cut -d' ' -f2) / 1024))" "$(wc -c <"$out")"
  done
done
