#!/usr/bin/env bash
# The nightly batch, measured: dl-analyze batch on this machine and the Spark job in local[2].
#
#   bench/batch.sh              # 200 traces of 5,000 steps (160,000 rows each)
#   bench/batch.sh 50 20000     # other counts and sizes: COUNT STEPS
#   BENCH_NO_BUILD=1 bench/batch.sh   # reuse the last build (and its class paths)
#   BENCH_MVN_FLAGS=-o bench/batch.sh # Maven flags for the build (-o: offline)
#
# The traces are generated once into bench/work/batch-COUNT-STEPS/in (gitignored) by
# io.dlanalyze.batch.bench.BatchBench: a 6-layer MLP, 32 rows a step, 60% Parquet (zstd),
# 30% Arrow IPC stream, 10% Arrow IPC file, a quarter with a fault, in 8 team directories.
# Each measurement is a fresh process under /usr/bin/time -v, files in the page cache, after one
# unmeasured run of dl-analyze batch over one trace (after a build, the launcher's first
# trace-reading run writes its class-data-sharing archive at exit: start-up, not batch work):
#   1. dl-analyze batch, first run (every trace analysed), --jobs = cores;
#   2. dl-analyze batch again (every trace unchanged: fingerprints only);
#   3. the Spark job jar in local[2] on Spark 4.2's own class path (its parquet-mr 1.17), first run;
#   4. the Spark job again (unchanged).
# Output: one line per measurement, then Markdown table rows for docs/performance.md. Per CPU-second
# figures divide by the process's user + system time, per second ones by the wall time.
set -euo pipefail

count=${1:-200}
steps=${2:-5000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/bench/work/batch-$count-$steps
mkdir -p "$work"

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(free -g | awk '/Mem:/ {print $2}') GB RAM, $(java -version 2>&1 | head -1)"
echo "# uptime at start: $(uptime)"

# The class paths are the same for every COUNT and STEPS: one copy beside the work directories.
classpaths=$root/bench/work
if [ "${BENCH_NO_BUILD:-}" != 1 ] || [ ! -f "$classpaths/spark-classpath.txt" ]; then
  mvn_flags=(-B -q ${BENCH_MVN_FLAGS:-})
  (cd "$root" && mvn "${mvn_flags[@]}" -DskipTests -Drelease.skip=true -pl cli,spark -am package)
  # test-compile in the same invocation: our modules resolve to their target/ directories in the
  # reactor (they are never installed); the last module of the reactor writes the file
  (cd "$root" && mvn "${mvn_flags[@]}" -pl batch -am test-compile dependency:build-classpath \
    -Dmdep.includeScope=test -Dmdep.outputFile="$classpaths/batch-classpath.txt")
  (cd "$root" && mvn "${mvn_flags[@]}" -pl spark dependency:copy@spark-parquet)
  (cd "$root" && mvn "${mvn_flags[@]}" -pl spark -am test-compile dependency:build-classpath \
    -Dmdep.includeScope=test -Dmdep.outputFile="$classpaths/spark-classpath.txt")
fi
flags=(--add-opens=java.base/java.nio=ALL-UNNAMED)

if [ ! -d "$work/in" ]; then
  echo "# generating $count traces of $steps steps into $work/in"
  java "${flags[@]}" -cp "$root/batch/target/test-classes:$root/batch/target/classes:$(cat "$classpaths/batch-classpath.txt")" \
    io.dlanalyze.batch.bench.BatchBench "$work/in.tmp" "$count" "$steps"
  mv "$work/in.tmp" "$work/in"
fi
# the bytes of the traces, not the disk blocks they take (which round up small files)
in_mb=$(du -sm --apparent-size "$work/in" | cut -f1)
rows=$((count * steps * 32))

# Spark's class path as a cluster gives it: no module of ours, Spark's own parquet-mr.
spark_cp="$root/spark/target/dl-analyze-spark-job.jar:$(tr ':' '\n' < "$classpaths/spark-classpath.txt" \
  | grep -v -e "^$root/" -e '/io/dlanalyze/' -e '/org/apache/parquet/' -e '/junit' -e '/assertj' -e '/opentest4j' -e '/apiguardian' \
  | paste -sd: -):$(ls "$root"/spark/target/spark-parquet/*.jar | paste -sd: -)"
spark_flags=$(sed -n 's:.*<spark.jvm.flags>\(-XX.*\)</spark.jvm.flags>.*:\1:p' "$root/spark/pom.xml")
printf 'rootLogger.level = error\n' > "$work/log4j2.properties"

table=()
measure() {  # name, output dir, command...
  local name=$1 out=$2
  shift 2
  /usr/bin/time -v -o "$work/time.txt" "$@" > "$work/summary.txt" 2> "$work/stderr.txt" || true
  local elapsed cpu rss seconds analyzed skipped
  elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
  seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/time.txt")
  cpu=$(awk '/User time/ {u = $NF} /System time/ {s = $NF} END {printf "%.1f", u + s}' "$work/time.txt")
  rss=$(awk '/Maximum resident set size/ {printf "%d", $NF / 1024}' "$work/time.txt")
  analyzed=$(sed -n 's/.*this run: \([0-9]*\) analyzed, \([0-9]*\) unchanged.*/\1/p' "$work/summary.txt")
  skipped=$(sed -n 's/.*this run: \([0-9]*\) analyzed, \([0-9]*\) unchanged.*/\2/p' "$work/summary.txt")
  local per_s mb_s cpu_per per_cpu mb_cpu
  per_s=$(awk -v n="$count" -v s="$seconds" 'BEGIN {printf "%.1f", n / s}')
  mb_s=$(awk -v m="$in_mb" -v s="$seconds" 'BEGIN {printf "%.0f", m / s}')
  cpu_per=$(awk -v c="$cpu" -v n="$count" 'BEGIN {printf "%.1f", c * 1000 / n}')
  per_cpu=$(awk -v c="$cpu" -v n="$count" 'BEGIN {printf "%.1f", n / c}')
  mb_cpu=$(awk -v c="$cpu" -v m="$in_mb" 'BEGIN {printf "%.1f", m / c}')
  echo "$name traces=$count analyzed=$analyzed skipped=$skipped input_mb=$in_mb elapsed=$elapsed cpu_s=$cpu" \
    "peak_rss_mb=$rss traces_per_s=$per_s mb_per_s=$mb_s cpu_ms_per_trace=$cpu_per" \
    "traces_per_cpu_s=$per_cpu mb_per_cpu_s=$mb_cpu"
  table+=("| $name | $count | $analyzed | $skipped | $in_mb | $elapsed | $cpu | $cpu_per | $per_cpu | $mb_cpu | $per_s | $mb_s | $rss |")
}

rm -rf "$work/out-batch" "$work/out-spark" "$work/out-warm-up"
export DL_ANALYZE_NO_BUILD=1
"$root/dl-analyze" batch "$(find "$work/in" -type f | sort | head -1)" --out "$work/out-warm-up" \
  --progress none > /dev/null || true
measure "batch, first run" "$work/out-batch" "$root/dl-analyze" batch "$work/in" --out "$work/out-batch" --progress none
measure "batch, unchanged" "$work/out-batch" "$root/dl-analyze" batch "$work/in" --out "$work/out-batch" --progress none
spark=(java $spark_flags -Xmx1g -Dspark.master='local[2]' -Dspark.ui.enabled=false
  -Dspark.driver.bindAddress=127.0.0.1 -Dspark.driver.host=127.0.0.1
  -Dlog4j2.configurationFile="$work/log4j2.properties" -cp "$spark_cp" io.dlanalyze.spark.SparkBatchJob)
export SPARK_LOCAL_IP=127.0.0.1
measure "spark local[2], first run" "$work/out-spark" "${spark[@]}" "$work/in" --out "$work/out-spark"
measure "spark local[2], unchanged" "$work/out-spark" "${spark[@]}" "$work/in" --out "$work/out-spark"

echo "# uptime at end: $(uptime)"
echo "# $count traces, $rows rows, $in_mb MB"
echo
echo "| run | traces | analysed | skipped | input MB | elapsed | CPU s | CPU ms/trace | traces/CPU-s | MB/CPU-s | traces/s | MB/s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${table[@]}"
