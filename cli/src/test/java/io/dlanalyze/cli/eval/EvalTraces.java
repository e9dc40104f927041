package io.dlanalyze.cli.eval;

import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;

/** The synthetic trace the eval tests share, written through {@link TestTraces}. */
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
    return TestTraces.write(path, builder.build(), WriteOptions.defaults());
  }
}
