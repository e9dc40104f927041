package io.dlanalyze.bench;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceWriter;
import io.dlanalyze.trace.TraceWriters;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/** The traces of the JMH kernels. */
final class BenchTraces {
  /** Rows of {@link #kernelTrace()}: 802 rows a step x 500 steps. */
  static final int KERNEL_ROWS = 401_000;

  /** The 6 columns a DeepLocalize Algorithm-2 pass reads. */
  static final Set<Column> ALG2_COLUMNS =
      Collections.unmodifiableSet(
          EnumSet.of(
              Column.EPOCH,
              Column.BATCH,
              Column.STEP,
              Column.LAYER_INDEX,
              Column.PHASE,
              Column.MEAN));

  private BenchTraces() {}

  /**
   * The bench traces' model (160 layers) for 500 steps, a dead layer at step 300 and a NaN at 450.
   */
  static SyntheticTrace kernelTrace() {
    SyntheticTrace trace =
        SyntheticTrace.builder()
            .layers(160)
            .steps(500)
            .stepsPerEpoch(100)
            .seed(1)
            .fault(Fault.deadLayer(40, 300))
            .fault(Fault.nan(120, 450))
            .build();
    if (trace.totalRows() != KERNEL_ROWS) {
      throw new IllegalStateException("kernel trace has " + trace.totalRows() + " rows");
    }
    return trace;
  }

  /** Writes a synthetic trace with the Parquet writer's defaults. */
  static Path writeParquet(Path path, SyntheticTrace trace) {
    try (TraceReader reader = trace.open(ReadOptions.all());
        TraceWriter writer =
            TraceWriters.create(path, reader.metadata(), WriteOptions.defaults())) {
      while (reader.next()) {
        writer.write(reader.batch());
      }
    }
    return path;
  }
}
