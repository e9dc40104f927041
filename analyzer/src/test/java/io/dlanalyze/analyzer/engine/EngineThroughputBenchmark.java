package io.dlanalyze.analyzer.engine;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ColumnType;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Rows per second of the analysis engine alone: a synthetic trace is generated once into memory,
 * then replayed batch by batch (a copy of the projected columns into the reader's reused batch,
 * like a reader that decodes into reused arrays) through {@link Analyzer#analyze(TraceReader,
 * AnalysisOptions)}, in default and deeplocalize mode. The softmax output's mean is jittered in
 * the last bits so that deeplocalize mode checks every step instead of stopping at batch 4.
 *
 * <p>Run: {@code mvn -B -q -pl analyzer -am -Pengine-bench -DskipTests test} (arguments:
 * {@code -Dbench.layers=50 -Dbench.steps=4000 -Dbench.runs=5}, and {@code
 * -Dbench.detectors=ID,...} to time default mode with only some detectors).
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
    SyntheticTrace trace = SyntheticTrace.builder().layers(layers).steps(steps).stepsPerEpoch(500).seed(7).build();
    Memory memory = Memory.of(trace);
    System.out.printf(ROOT, "engine throughput: %d layers x %d steps = %d rows, batches of %d rows, %d cores, %s%n",
        layers, steps, memory.rows, batchRows, Runtime.getRuntime().availableProcessors(),
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
        rates[i] = memory.rows * 1e9 / nanos;
        cpuRates[i] = memory.rows * 1e9 / cpuNanos;
      }
      Arrays.sort(rates);
      Arrays.sort(cpuRates);
      System.out.printf(ROOT,
          "%-12s wall: best %6.1f, median %6.1f M rows/s; thread CPU: best %6.1f, median %6.1f M rows/s"
              + " (%d runs; %d columns; verdict %s)%n",
          mode.wireName(), rates[runs - 1] / 1e6, rates[runs / 2] / 1e6, cpuRates[runs - 1] / 1e6,
          cpuRates[runs / 2] / 1e6, runs, projection.size(), last.verdict().wireName());
    }
  }

  /** A trace held column by column in memory. */
  private static final class Memory {
    final TraceMetadata metadata;
    final TraceDictionary dictionary;
    final TraceBatch all;
    final int rows;

    private Memory(TraceMetadata metadata, TraceDictionary dictionary, TraceBatch all) {
      this.metadata = metadata;
      this.dictionary = dictionary;
      this.all = all;
      this.rows = all.size();
    }

    static Memory of(SyntheticTrace trace) {
      if (trace.totalRows() > Integer.MAX_VALUE / 2) {
        throw new IllegalArgumentException(format(ROOT, "trace too large for memory: %d rows", trace.totalRows()));
      }
      int rows = (int) trace.totalRows();
      try (TraceReader reader = trace.open(ReadOptions.all().withBatchRows(rows))) {
        reader.next();
        TraceBatch source = reader.batch();
        TraceBatch copy = TraceBatch.allColumns(reader.dictionary(), rows);
        copy.reset(rows);
        copyInto(source, copy, Column.all(), 0, rows);
        // The softmax output's mean is exactly 1/K, so deeplocalize mode would stop at batch 4 and
        // measure nothing after it: jitter it in the last bits so every step is checked.
        int[] layer = copy.ints(Column.LAYER_INDEX);
        int[] phase = copy.ints(Column.PHASE);
        double[] mean = copy.doubles(Column.MEAN);
        for (int r = 0; r < rows; r++) {
          if (layer[r] == trace.layers() - 1 && phase[r] == io.dlanalyze.trace.Phase.ACTIVATION.code()) {
            mean[r] += 1e-12 * (r % 7);
          }
        }
        return new Memory(reader.metadata(), reader.dictionary(), copy);
      }
    }

    static void copyInto(TraceBatch from, TraceBatch to, Set<Column> columns, int offset, int n) {
      for (Column column : columns) {
        if (!to.has(column)) {
          continue;
        }
        switch (column.type()) {
          case INT32, STRING -> System.arraycopy(from.ints(column), offset, to.ints(column), 0, n);
          case INT64 -> System.arraycopy(from.longs(column), offset, to.longs(column), 0, n);
          case FLOAT64 -> System.arraycopy(from.doubles(column), offset, to.doubles(column), 0, n);
        }
        if (from.hasNulls(column)) {
          boolean[] mask = to.nullMaskForWrite(column);
          boolean[] source = from.nullMask(column);
          System.arraycopy(source, offset, mask, 0, n);
        }
      }
    }

    TraceReader open(Set<Column> projection, int batchRows) {
      return new TraceReader() {
        private final TraceBatch batch = new TraceBatch(dictionary, projection, Math.min(batchRows, rows));
        private int position;

        @Override
        public Path path() {
          return Path.of("memory:benchmark");
        }

        @Override
        public TraceFormat format() {
          return TraceFormat.SYNTHETIC;
        }

        @Override
        public TraceMetadata metadata() {
          return metadata;
        }

        @Override
        public Set<Column> columnsInFile() {
          return Column.all();
        }

        @Override
        public TraceDictionary dictionary() {
          return dictionary;
        }

        @Override
        public TraceBatch batch() {
          return batch;
        }

        @Override
        public boolean next() {
          int n = Math.min(batchRows, rows - position);
          if (n <= 0) {
            return false;
          }
          batch.reset(n);
          copyInto(all, batch, projection, position, n);
          position += n;
          return true;
        }

        @Override
        public long rowsRead() {
          return position;
        }

        @Override
        public long totalRows() {
          return rows;
        }

        @Override
        public boolean truncated() {
          return false;
        }

        @Override
        public List<String> warnings() {
          return List.of();
        }

        @Override
        public void close() {}
      };
    }
  }

}
