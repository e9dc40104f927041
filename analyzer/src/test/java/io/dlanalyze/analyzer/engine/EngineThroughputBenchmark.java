package io.dlanalyze.analyzer.engine;

import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Rows per second of the analysis engine alone: a synthetic trace is generated once into memory,
 * then replayed batch by batch (a copy of the projected columns into the reader's reused batch,
 * like a reader that decodes into reused arrays) through {@link Analyzer#analyze(TraceReader,
 * AnalysisOptions)}, in default and deeplocalize mode. The softmax output's mean is jittered in the
 * last bits so that deeplocalize mode checks every step instead of stopping at batch 4.
 *
 * <p>Run: {@code mvn -B -q -pl analyzer -am -Pengine-bench -DskipTests test} (arguments: {@code
 * -Dbench.layers=50 -Dbench.steps=4000 -Dbench.runs=5}, and {@code -Dbench.detectors=ID,...} to
 * time default mode with only some detectors).
 */
public final class EngineThroughputBenchmark {
  /** Thread CPU time tells the engine's cost apart from other load on a shared machine. */
  private static final java.lang.management.ThreadMXBean THREADS =
      java.lang.management.ManagementFactory.getThreadMXBean();

  private EngineThroughputBenchmark() {}

  public static void main(String[] args) {
    int layers = Integer.getInteger("bench.layers", 50);
    int steps = Integer.getInteger("bench.steps", 4_000);
    int runs = Integer.getInteger("bench.runs", 5);
    int batchRows = Integer.getInteger("bench.batchRows", ReadOptions.DEFAULT_BATCH_ROWS);
    SyntheticTrace trace =
        SyntheticTrace.builder().layers(layers).steps(steps).stepsPerEpoch(500).seed(7).build();
    MemoryTrace memory = MemoryTrace.of(trace);
    jitterSoftmaxMean(memory.columns(), trace.layers() - 1);
    System.out.printf(
        ROOT,
        "engine throughput: %d layers x %d steps = %d rows, batches of %d rows, %d cores, %s%n",
        layers,
        steps,
        memory.size(),
        batchRows,
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
    for (AnalysisMode mode : AnalysisMode.values()) {
      AnalysisOptions.Builder builder = AnalysisOptions.builder().mode(mode);
      String only = System.getProperty("bench.detectors");
      if (only != null && mode == AnalysisMode.DEFAULT) {
        builder.enableOnly(List.of(only.split(",")));
      }
      AnalysisOptions options = builder.build();
      Analyzer analyzer = new Analyzer();
      Set<Column> projection = analyzer.projection(options);
      for (int i = 0; i < 3; i++) {
        analyzer.analyze(memory.open(projection, batchRows), options);
      }
      double[] rates = new double[runs];
      double[] cpuRates = new double[runs];
      Report last = null;
      for (int i = 0; i < runs; i++) {
        long cpuStart = THREADS.getCurrentThreadCpuTime();
        long start = System.nanoTime();
        last = analyzer.analyze(memory.open(projection, batchRows), options);
        long nanos = System.nanoTime() - start;
        long cpuNanos = THREADS.getCurrentThreadCpuTime() - cpuStart;
        rates[i] = memory.size() * 1e9 / nanos;
        cpuRates[i] = memory.size() * 1e9 / cpuNanos;
      }
      Arrays.sort(rates);
      Arrays.sort(cpuRates);
      System.out.printf(
          ROOT,
          "%-12s wall: best %6.1f, median %6.1f M rows/s; thread CPU: best %6.1f, median %6.1f M"
              + " rows/s (%d runs; %d columns; verdict %s)%n",
          mode.wireName(),
          rates[runs - 1] / 1e6,
          rates[runs / 2] / 1e6,
          cpuRates[runs - 1] / 1e6,
          cpuRates[runs / 2] / 1e6,
          runs,
          projection.size(),
          last.verdict().wireName());
    }
  }

  /**
   * The softmax output's mean is exactly 1/K, so deeplocalize mode would stop at batch 4 and
   * measure nothing after it: jitter it in the last bits so every step is checked.
   */
  private static void jitterSoftmaxMean(TraceBatch rows, int outputLayer) {
    int[] layer = rows.ints(Column.LAYER_INDEX);
    int[] phase = rows.ints(Column.PHASE);
    double[] mean = rows.doubles(Column.MEAN);
    for (int r = 0; r < rows.size(); r++) {
      if (layer[r] == outputLayer && phase[r] == Phase.ACTIVATION.code()) {
        mean[r] += 1e-12 * (r % 7);
      }
    }
  }
}
