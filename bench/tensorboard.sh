#!/usr/bin/env bash
# Reading a large TensorBoard run, measured: the event files of a long PyTorch run (SummaryWriter,
# 100,000 scalars and 10,000 histograms of 64x64 weights with default bins by default) read by
# dl-analyze inspect (the reader alone, plus the validator) and dl-analyze analyze.
#
#   bench/tensorboard.sh                    # 100000 scalars, 10000 histograms
#   bench/tensorboard.sh 300000 30000       # other counts: SCALARS HISTOGRAMS
#
# The run is generated once into bench/work/tensorboard-SCALARS-HISTOGRAMS (gitignored) with
# python3 (torch); each command runs 3 times under /usr/bin/time, files in the page cache.
set -euo pipefail
scalars=${1:-100000}
histograms=${2:-10000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/bench/work/tensorboard-$scalars-$histograms
if [ ! -d "$work" ]; then
  python3 "$root/bench/tensorboard_events.py" "$work" "$scalars" "$histograms"
fi
echo "# machine: $(nproc) cores, load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# event files: $(du -b "$work" | tail -1 | cut -f1) bytes"
"$root/dl-analyze" --version >/dev/null
for command in inspect analyze; do
  for i in 1 2 3; do
    /usr/bin/time -f "$command: %e s wall, %U s user, %M KB max RSS" \
      "$root/dl-analyze" "$command" "$work" >/dev/null 2>"$work.time" || true
    tail -1 "$work.time"
  done
done
