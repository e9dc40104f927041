#!/usr/bin/env bash
# Read throughput of the trace readers: rows/s, MB/s and peak RSS, one fresh JVM per measurement.
#
#   bench/read-throughput.sh                    # 20M- and 5M-row traces, every format below
#   bench/read-throughput.sh 2000000            # other sizes (multiples of 32 rows)
#   JAVA_OPTS=-Xmx256m bench/read-throughput.sh # extra JVM flags for the read runs
#   BENCH_FORMATS="arrow-stream csv" bench/read-throughput.sh 5000000   # only these formats
#
# Each trace is generated once into bench/work/ (gitignored; delete a file to regenerate) by
# SyntheticTrace (6 Linear layers, 32 rows per step, a NaN fault at 90%) and the format's own
# writer with default options. Each measurement is a fresh `java` process under /usr/bin/time -v
# reading the whole trace: all 16 columns, or the 4-column projection step, layer_index, phase,
# mean. Files are read from the page cache (generated just before or read before).
# "read" figures are measured inside the JVM from open to the last batch; "CPU" is the reading
# thread's CPU time (the stable figure on a shared machine); "process" figures (JVM start, JIT
# and GC threads included) and the peak RSS come from /usr/bin/time -v.
# Output: one line per measurement, then the same as Markdown table rows for docs/performance.md.
set -euo pipefail

# One line per format: "<name> <file extension>". Adding a format is adding a line here.
FORMATS=(
  "parquet .parquet"
  "arrow-stream .arrows"
  "arrow-file .arrow"
  "csv .csv"
)
PROJECTIONS=(all proj4)

root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/bench/work
mkdir -p "$work"
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(20000000 5000000); fi

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(free -g | awk '/Mem:/ {print $2}') GB RAM, $(java -version 2>&1 | head -1)"
echo "# load at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# trace-format and its test classes (the bench main lives there); the runtime class path without
# the compile-only Hadoop API, i.e. what the CLI ships.
(cd "$root" && mvn -B -q -pl trace-format -am test-compile)
(cd "$root" && mvn -B -q -pl trace-format dependency:build-classpath \
  -Dmdep.includeScope=runtime -Dmdep.outputFile="$work/classpath.txt")
deps=$(tr ':' '\n' < "$work/classpath.txt" | grep -v '/org/apache/hadoop/' | paste -sd: -)
cp="$root/trace-format/target/test-classes:$root/trace-format/target/classes:$deps"
main=io.dlanalyze.trace.bench.ReadThroughput
flags=(--add-opens=java.base/java.nio=ALL-UNNAMED)

table=()
for rows in "${sizes[@]}"; do
  for format in "${FORMATS[@]}"; do
    read -r name extension <<< "$format"
    if [ -n "${BENCH_FORMATS:-}" ] && [[ " $BENCH_FORMATS " != *" $name "* ]]; then
      continue
    fi
    file=$work/trace-$rows$extension
    if [ ! -e "$file" ]; then
      echo "# generating $file"
      java "${flags[@]}" -cp "$cp" "$main" generate "$file" "$rows"
    fi
    mb=$(du -sm "$file" | cut -f1)
    for projection in "${PROJECTIONS[@]}"; do
      # shellcheck disable=SC2086
      /usr/bin/time -v -o "$work/time.txt" \
        java "${flags[@]}" ${JAVA_OPTS:-} -cp "$cp" "$main" read "$file" "$projection" > "$work/out.txt"
      result=$(cat "$work/out.txt")
      rss_mb=$(awk '/Maximum resident set size/ {printf "%d", $NF / 1024}' "$work/time.txt")
      elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
      process_cpu=$(awk '/User time/ {u = $NF} /System time/ {s = $NF} END {printf "%.1f", u + s}' "$work/time.txt")
      field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p" <<< " $result"; }
      mrows() { awk -v r="$1" 'BEGIN {printf "%.1f", r / 1e6}'; }
      echo "$name rows=$rows columns=$projection file_mb=$mb $result process_elapsed=$elapsed process_cpu_s=$process_cpu peak_rss_mb=$rss_mb"
      table+=("| $name | $rows | $projection | $mb | $(field seconds) | $(field cpu) | $(mrows "$(field rows_per_s)") | $(mrows "$(field rows_per_cpu_s)") | $(field file_mb_per_cpu_s) | $(field decoded_mb_per_cpu_s) | $elapsed | $process_cpu | $rss_mb |")
    done
  done
done
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| format | rows | columns | file MB | read s | read CPU s | Mrows/s | Mrows/CPU-s | file MB/CPU-s | decoded MB/CPU-s | process elapsed | process CPU s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${table[@]}"
