package io.dlanalyze.cli.eval;

import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceWriter;
import io.dlanalyze.trace.TraceWriters;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;

/** Test helpers: synthetic traces written to real files. */
public final class EvalTraces {
  private EvalTraces() {}

  /**
   * Writes a 4-layer, 200-step synthetic trace (20 steps per epoch) with the faults to {@code
   * path}.
   */
  public static Path write(Path path, Fault... faults) {
    SyntheticTrace.Builder builder =
        SyntheticTrace.builder().layers(4).steps(200).stepsPerEpoch(20).seed(3);
    for (Fault fault : faults) {
      builder.fault(fault);
    }
    SyntheticTrace trace = builder.build();
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
