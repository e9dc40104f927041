#!/usr/bin/env bash
# JMH kernels of the benchmarks module (CI compiles them, never runs them):
#
#   bench/jmh.sh                      # every kernel: PageDecodeBenchmark, EngineUpdateBenchmark
#   bench/jmh.sh PageDecode           # a regex over the benchmark names
#   bench/jmh.sh EngineUpdate -p mode=default -f 1 -wi 2 -i 3    # any JMH option
#   BENCH_NO_BUILD=1 bench/jmh.sh     # reuse the last build
#
# Scores are ns per row (lower is better). On a shared machine, run with -prof gc or compare
# against a run of the same build, never against figures from another day.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
  (cd "$root" && mvn -B -q -DskipTests -pl benchmarks -am package)
fi
exec java -cp "$root/benchmarks/target/benchmarks-0.1.0-SNAPSHOT.jar:$root/benchmarks/target/lib/*" \
  org.openjdk.jmh.Main "$@"
