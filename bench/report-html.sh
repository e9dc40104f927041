#!/usr/bin/env bash
# The HTML report of a long, wide run, measured: page size and render time in headless Chromium.
#
#   bench/report-html.sh                 # 160 layers x 40,000 steps (32M rows, 1.2 GB of Parquet)
#   bench/report-html.sh 40 40000        # other sizes: LAYERS STEPS
#   BENCH_NO_BUILD=1 bench/report-html.sh
#
# The trace is generated once into bench/work/report-LAYERS-STEPS.parquet (gitignored) with a dead
# layer from step 10,000 and exploding gradients from step 30,000. Then:
#   1. ./dl-analyze TRACE --format html -o page.html under /usr/bin/time (wall, CPU, peak RSS);
#   2. the page's size in bytes;
#   3. five runs of headless Chromium over the page (--dump-dom): the page's script records
#      performance.now() when every chart is drawn (data-render-ms on <html>: milliseconds from
#      the start of navigation, so parsing, layout, the SVG and every uPlot chart), and the
#      process' wall time (browser start included); the median and the range are printed.
set -euo pipefail

layers=${1:-160}
steps=${2:-40000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/bench/work
mkdir -p "$work"
trace=$work/report-$layers-$steps.parquet
page=$work/report-$layers-$steps.html
chromium=${CHROMIUM:-chromium}

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(free -g | awk '/Mem:/ {print $2}') GB RAM, $(java -version 2>&1 | head -1), $($chromium --version 2>/dev/null)"
echo "# load at start: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "${BENCH_NO_BUILD:-}" = 1 ]; then
  export DL_ANALYZE_NO_BUILD=1
fi
if [ ! -f "$trace" ]; then
  "$root/dl-analyze" generate "$trace" --layers "$layers" --steps "$steps" --steps-per-epoch 400 \
    --fault dead:$((layers / 4)):10000 --fault exploding:30000:1.01 >/dev/null
fi
echo "# trace: $trace ($(du -h "$trace" | cut -f1))"

set +e
/usr/bin/time -f "analyze --format html: %e s wall, %U s user, %S s sys, %M KB maxrss" \
  "$root/dl-analyze" "$trace" --format html -o "$page"
code=$?
set -e
[ "$code" = 0 ] || [ "$code" = 3 ] || { echo "dl-analyze failed with exit $code" >&2; exit 1; }
bytes=$(stat -c %s "$page")
echo "page: $bytes bytes ($(numfmt --to=si "$bytes")B)"

renders=()
walls=()
for i in 1 2 3 4 5; do
  profile=$(mktemp -d)
  start=$(date +%s%N)
  dom=$("$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --user-data-dir="$profile" --window-size=1280,900 \
    --dump-dom "file://$page" 2>/dev/null)
  end=$(date +%s%N)
  rm -rf "$profile"
  ms=$(printf '%s' "$dom" | grep -o 'data-render-ms="[0-9]*"' | head -1 | grep -o '[0-9]*')
  ok=$(printf '%s' "$dom" | grep -c 'data-render-ok="1"' || true)
  [ -n "$ms" ] && [ "$ok" -ge 1 ] || { echo "run $i: the page did not finish rendering" >&2; exit 1; }
  renders+=("$ms")
  walls+=($(( (end - start) / 1000000 )))
  echo "chromium run $i: charts drawn at $ms ms after navigation start; process $(( (end - start) / 1000000 )) ms"
done
median() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
range() { printf '%s\n' "$@" | sort -n | sed -n '1p;$p' | paste -sd- -; }
echo "render: median $(median "${renders[@]}") ms (range $(range "${renders[@]}") ms);" \
  "chromium process: median $(median "${walls[@]}") ms (range $(range "${walls[@]}") ms)"
