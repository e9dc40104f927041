#!/usr/bin/env bash
# dl-analyze against DuckDB on the same Parquet trace, in the same run (issue 6).
#
#   bench/run.sh                 # the medium trace (5M rows)
#   bench/run.sh small|medium|large|all
#   REPS=5 bench/run.sh large    # repetitions per measurement (default 3; best and median reported)
#   BENCH_NO_BUILD=1 bench/run.sh   # reuse the last build
#
# Traces (generated once into bench/work/, gitignored; delete a file to regenerate): the real
# `dl-analyze generate` of a 160-layer MLP (802 rows a step: forward, activation, weight, gradient
# and backward per layer, loss, accuracy) with a dead layer injected at 60% of the run and a NaN at
# 90%: small = 1,250 steps (1.0M rows), medium = 6,250 steps (5.0M rows), large = 40,000 steps
# (32.1M rows). Files are read from the page cache (each is read once before measuring).
#
# Measurements, one line each:
#   dl-analyze  the real launcher as a process (JVM start, rendering and exit included) under
#               /usr/bin/time -v: wall, user+sys CPU, peak RSS; modes default, deeplocalize and
#               default --first-fault. `analysis_s` is the analysis alone as the report times it.
#   warm        the same analysis through the Analyzer API inside one warm JVM (io.dlanalyze.bench.
#               WarmAnalyze): wall, process CPU, main-thread CPU, peak RSS (VmHWM reset per rep).
#   duckdb      DuckDB 2.0 JDBC, 2 threads, inside one warm JVM (io.dlanalyze.bench.DuckDbBench):
#               scan_mean, scan_alg2 (6 columns), scan_default / scan_deeplocalize (the columns
#               dl-analyze loads in that mode), deeplocalize_sql (DeepLocalize's checks with window
#               functions, first hit).
# Then the comparison: one line per pair with the ratio (best against best, and the CPU-time
# ratio, the stable figure on a shared machine), Markdown rows for docs/performance.md, and last
# one `goal` line per goal of issue 18 item 2 (medians): the goal, the figure, met or not met, and
# why when not met.
#
#   DL_ANALYZE_ARGS="--decode-threads 1" bench/run.sh large   # extra arguments for every process run
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/bench/work
mkdir -p "$work"
reps=${REPS:-3}
case "${1:-medium}" in
  small | medium | large) sizes=("${1:-medium}") ;;
  all) sizes=(small medium large) ;;
  *) echo "usage: bench/run.sh [small|medium|large|all]" >&2; exit 2 ;;
esac

steps_of() {
  case "$1" in
    small) echo 1250 ;;
    medium) echo 6250 ;;
    large) echo 40000 ;;
  esac
}

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(free -g | awk '/Mem:/ {print $2}') GB RAM, $(java -version 2>&1 | head -1)"
echo "# uptime at start: $(uptime)"

if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
  echo "# building cli and benchmarks"
  (cd "$root" && mvn -B -q -DskipTests -pl cli,benchmarks -am package)
fi
export DL_ANALYZE_NO_BUILD=1
launcher=$root/dl-analyze
bench_cp="$root/benchmarks/target/benchmarks-0.1.0-SNAPSHOT.jar:$root/benchmarks/target/lib/*"
bench_java=(java --add-opens=java.base/java.nio=ALL-UNNAMED -XX:+UseParallelGC -Xmx1g -cp "$bench_cp")

# field NAME LINE: the value of NAME=... in a key=value line.
field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p" <<< " $2"; }

results=$work/results.txt
: > "$results"
for size in "${sizes[@]}"; do
  steps=$(steps_of "$size")
  trace=$work/trace-$size.parquet
  if [ ! -e "$trace" ]; then
    echo "# generating $trace"
    "$launcher" generate "$trace" --layers 160 --steps "$steps" --steps-per-epoch 1000 \
      --fault "dead:40:$((steps * 6 / 10))" --fault "nan:120:$((steps * 9 / 10))"
  fi
  cat "$trace" > /dev/null
  mb=$(du -m "$trace" | cut -f1)
  echo "# $size: $trace, $mb MB; uptime: $(uptime | sed 's/.*load/load/')"

  # DuckDB, warm JVM.
  "${bench_java[@]}" io.dlanalyze.bench.DuckDbBench "$trace" "$reps" | tee "$work/duckdb-$size.txt" \
    | grep --line-buffered -v ' rep=' | sed -u "s/^duckdb /duckdb size=$size /"
  grep '^duckdb .* stat=' "$work/duckdb-$size.txt" | sed "s/^duckdb /duckdb size=$size /" >> "$results"

  # dl-analyze, warm JVM.
  for mode in default deeplocalize; do
    "${bench_java[@]}" io.dlanalyze.bench.WarmAnalyze "$trace" "$mode" "$reps" | tee "$work/warm-$size-$mode.txt" \
      | grep --line-buffered -v ' rep=' | sed -u "s/^warm /warm size=$size /"
    grep '^warm .* stat=' "$work/warm-$size-$mode.txt" | sed "s/^warm /warm size=$size /" >> "$results"
  done

  # dl-analyze, the launcher as a process. After a build the launcher's first trace-reading run
  # writes its class-data-sharing archive (at exit; start-up, not analysis): one unmeasured run.
  "$launcher" analyze "$trace" --mode deeplocalize --first-fault --format json -o "$work/warm-up.json" || true
  : > "$work/process-$size.txt"
  for run in "default" "deeplocalize" "default --first-fault" "deeplocalize --first-fault"; do
    read -r mode extra <<< "$run"
    name=$mode${extra:+_first_fault}
    lines=()
    for ((i = 0; i < reps; i++)); do
      set +e
      # shellcheck disable=SC2086
      /usr/bin/time -v -o "$work/time.txt" "$launcher" analyze "$trace" --mode "$mode" $extra ${DL_ANALYZE_ARGS:-} --timing \
        --format json -o "$work/report-$size-$name.json"
      status=$?
      set -e
      if [ "$status" != 0 ] && [ "$status" != 3 ]; then
        echo "dl-analyze failed with exit code $status" >&2
        exit 1
      fi
      wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; printf "%.3f", s}' "$work/time.txt")
      cpu=$(awk '/User time/ {u = $NF} /System time/ {s = $NF} END {printf "%.2f", u + s}' "$work/time.txt")
      rss=$(awk '/Maximum resident set size/ {printf "%d", $NF / 1024}' "$work/time.txt")
      rows=$(sed -n 's/.*"rows": \([0-9]*\).*/\1/p' "$work/report-$size-$name.json" | head -1)
      analysis=$(sed -n 's/.*"elapsed_ms": \([0-9]*\).*/\1/p' "$work/report-$size-$name.json" | head -1)
      line=$(awk -v w="$wall" -v c="$cpu" -v r="$rows" -v m="$rss" -v a="$analysis" \
        'BEGIN {printf "wall_s=%.3f cpu_s=%.2f analysis_s=%.3f rows=%d rows_per_s=%.0f rows_per_cpu_s=%.0f peak_rss_mb=%d", w, c, a / 1000, r, r / w, r / c, m}')
      echo "dl-analyze size=$size mode=$name rep=$i $line" >> "$work/process-$size.txt"
      lines+=("$line")
    done
    best=$(printf '%s\n' "${lines[@]}" | sort -t= -k2 -g | head -1)
    median=$(printf '%s\n' "${lines[@]}" | sort -t= -k2 -g | sed -n "$(((reps + 1) / 2))p")
    echo "dl-analyze size=$size mode=$name stat=best $best" | tee -a "$results"
    echo "dl-analyze size=$size mode=$name stat=median $median" | tee -a "$results"
  done
done
echo "# uptime at end: $(uptime)"

# The comparison: one line per goal and size.
get() { # get SIZE TOOL KEY STAT FIELD
  local line
  line=$(grep "^$2 size=$1 .*=$3 stat=$4 " "$results" | head -1)
  field "$5" "$line"
}
echo
echo "# comparison (best of $reps; ratio = dl-analyze / DuckDB, < 1 is faster)"
table=()
for size in "${sizes[@]}"; do
  for pair in "default scan_default" "default scan_alg2" "default_first_fault scan_default" \
      "deeplocalize deeplocalize_sql" "deeplocalize_first_fault deeplocalize_sql" "deeplocalize scan_deeplocalize"; do
    read -r mode query <<< "$pair"
    for kind in dl-analyze warm; do
      if [ -z "$(get "$size" "$kind" "$mode" best wall_s)" ]; then
        continue
      fi
      ours_wall=$(get "$size" "$kind" "$mode" best wall_s)
      ours_cpu=$(get "$size" "$kind" "$mode" best cpu_s)
      ours_rss=$(get "$size" "$kind" "$mode" best peak_rss_mb)
      rows=$(get "$size" "$kind" "$mode" best rows)
      duck_wall=$(get "$size" duckdb "$query" best wall_s)
      duck_cpu=$(get "$size" duckdb "$query" best cpu_s)
      duck_rss=$(get "$size" duckdb "$query" best peak_rss_mb)
      line=$(awk -v ow="$ours_wall" -v oc="$ours_cpu" -v dw="$duck_wall" -v dc="$duck_cpu" -v r="$rows" \
        'BEGIN {printf "ratio_wall=%.2f ratio_cpu=%.2f ours_wall_s=%.3f ours_cpu_s=%.2f duckdb_wall_s=%.3f duckdb_cpu_s=%.2f ours_rows_per_s=%.0f", ow / dw, (dc > 0 ? oc / dc : 0), ow, oc, dw, dc, r / ow}')
      echo "compare size=$size ours=$kind:$mode duckdb=$query $line ours_rss_mb=$ours_rss duckdb_rss_mb=$duck_rss"
      table+=("| $size | $rows | $kind $mode | $ours_wall | $ours_cpu | $ours_rss | $query | $duck_wall | $duck_cpu | $duck_rss | $(field ratio_wall "$line") | $(field ratio_cpu "$line") |")
    done
  done
done
echo
echo "| size | rows | dl-analyze | wall s | CPU s | peak RSS MB | DuckDB query | wall s | CPU s | peak RSS MB | ratio wall | ratio CPU |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${table[@]}"

# Linearity: rows per CPU-second of each process run, per size.
echo
echo "| mode | $(printf '%s | ' "${sizes[@]}")"
echo "|---|$(printf -- '---|%.0s' "${sizes[@]}")"
for mode in default deeplocalize default_first_fault deeplocalize_first_fault; do
  row="| $mode (Mrows/CPU-s, Mrows/s) |"
  for size in "${sizes[@]}"; do
    row+=" $(awk -v c="$(get "$size" dl-analyze "$mode" best rows_per_cpu_s)" -v w="$(get "$size" dl-analyze "$mode" best rows_per_s)" 'BEGIN {printf "%.2f, %.2f", c / 1e6, w / 1e6}') |"
  done
  echo "$row"
done

# The goals of issue 18, item 2: one line each, from the medians of this run. The time goals are
# judged on the largest size measured; peak RSS over every process run of every size; start-up on
# the small (1M-row) trace.
median() { get "$1" "$2" "$3" median "$4"; }
largest=${sizes[${#sizes[@]}-1]}
echo
echo "# goals of issue 18 item 2 (medians of $reps; the time goals on the $largest trace);" \
  "$(uptime | sed 's/.*load/load/') at the end: with a load above 2 the wall times wait for a core, compare CPU"
goal() { # goal ID TEXT FIGURE MET WHY
  if [ "$4" = met ]; then
    echo "goal $1: $2 | measured: $3 | met"
  else
    echo "goal $1: $2 | measured: $3 | $4${5:+ | why: $5}"
  fi
}
ours_w=$(median "$largest" dl-analyze default wall_s)
ours_c=$(median "$largest" dl-analyze default cpu_s)
ours_a=$(median "$largest" dl-analyze default analysis_s)
duck_w=$(median "$largest" duckdb scan_default wall_s)
duck_c=$(median "$largest" duckdb scan_default cpu_s)
read -r ratio figure met why <<< "$(awk -v ow="$ours_w" -v oc="$ours_c" -v oa="$ours_a" -v dw="$duck_w" -v dc="$duck_c" 'BEGIN {
  r = ow / dw
  printf "%.2f %.2fx_wall_(%.3f_s_vs_%.3f_s),_%.2fx_CPU_(%.2f_vs_%.2f_s) %s ", r, r, ow, dw, oc / dc, oc, dc, (r <= 2.5 ? "met" : "not_met")
  printf "the_analysis_alone_takes_%.3f_s_(%.2fx);_JVM_start,_class_loading,_compilation_and_rendering_the_other_%.3f_s;_CPU_%.2fx:_decoding_and_detectors_cost_more_per_value_than_DuckDB'"'"'s_vectorized_scan\n", oa, oa / dw, ow - oa, oc / dc }')"
goal default-vs-scan "default mode as a process at most 2.5x DuckDB's scan of the columns it loads (scan_default)" \
  "${figure//_/ }" "${met//_/ }" "${why//_/ }"

ours_w=$(median "$largest" dl-analyze deeplocalize wall_s)
ours_c=$(median "$largest" dl-analyze deeplocalize cpu_s)
ours_a=$(median "$largest" dl-analyze deeplocalize analysis_s)
duck_w=$(median "$largest" duckdb deeplocalize_sql wall_s)
duck_c=$(median "$largest" duckdb deeplocalize_sql cpu_s)
scan_w=$(median "$largest" duckdb scan_deeplocalize wall_s)
scan_c=$(median "$largest" duckdb scan_deeplocalize cpu_s)
read -r ratio figure met why <<< "$(awk -v ow="$ours_w" -v oc="$ours_c" -v oa="$ours_a" -v dw="$duck_w" -v dc="$duck_c" -v sw="$scan_w" -v sc="$scan_c" 'BEGIN {
  r = dw / ow
  printf "%.2f %.2fx_faster_wall_(%.3f_s_vs_%.3f_s),_%.2fx_CPU_(%.2f_vs_%.2f_s) %s ", r, r, ow, dw, dc / oc, oc, dc, (r >= 8 ? "met" : "not_met")
  printf "8x_would_take_at_most_%.3f_s_(%.2f_CPU-s),_about_what_DuckDB_itself_needs_just_to_scan_the_same_8_columns_(%.3f_s,_%.2f_CPU-s);_the_analysis_alone_takes_%.3f_s,_JVM_start,_compilation_and_rendering_%.3f_s\n", dw / 8, dc / 8, sw, sc, oa, ow - oa }')"
goal deeplocalize-vs-sql "--mode deeplocalize over the whole trace at least 8x faster than DeepLocalize's checks as DuckDB SQL (deeplocalize_sql)" \
  "${figure//_/ }" "${met//_/ }" "${why//_/ }"

peak=0
peak_at=
for size in "${sizes[@]}"; do
  for mode in default deeplocalize default_first_fault deeplocalize_first_fault; do
    rss=$(grep "^dl-analyze size=$size mode=$mode rep=" "$work/process-$size.txt" | sed 's/.*peak_rss_mb=\([0-9]*\).*/\1/' | sort -n | tail -1)
    if [ -n "$rss" ] && [ "$rss" -gt "$peak" ]; then
      peak=$rss
      peak_at="$mode on the $size trace"
    fi
  done
done
if [ "$peak" -le 512 ]; then met=met; else met="not met"; fi
goal peak-rss "peak RSS at most 512 MB at any size (every process run of this benchmark)" \
  "$peak MB at most ($peak_at; sizes: ${sizes[*]})" "$met" \
  "the heap cap (-Xmx320m) plus the JVM's own memory, thread stacks and the native zstd buffers exceed 512 MB"

if [ -n "$(median small dl-analyze default wall_s)" ]; then
  small_w=$(median small dl-analyze default wall_s)
  small_c=$(median small dl-analyze default cpu_s)
  small_a=$(median small dl-analyze default analysis_s)
  read -r figure met why <<< "$(awk -v w="$small_w" -v c="$small_c" -v a="$small_a" 'BEGIN {
    printf "%.3f_s_wall,_%.2f_CPU-s_(default_mode,_1.0M_rows) %s ", w, c, (w <= 0.5 ? "met" : "not_met")
    printf "the_analysis_itself_takes_%.3f_s;_the_other_%.3f_s_are_JVM_start,_class_loading_(from_the_class-data-sharing_archive),_the_interpreter_and_C1/C2_compilation_of_the_hot_loops_(%.2f_CPU-s_on_2_cores)\n", a, w - a, c }')"
  goal small-trace "a small trace (1M rows) well under a second as a process (taken as at most 0.5 s wall, default mode)" \
    "${figure//_/ }" "${met//_/ }" "${why//_/ }"
else
  goal small-trace "a small trace (1M rows) well under a second as a process (taken as at most 0.5 s wall, default mode)" \
    "not measured in this run" "not measured" "run bench/run.sh small or all"
fi
