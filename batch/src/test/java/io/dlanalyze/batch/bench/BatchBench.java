package io.dlanalyze.batch.bench;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Generates the input of {@code bench/batch.sh}: {@code COUNT} synthetic traces of {@code STEPS}
 * steps of a 6-layer MLP (32 rows a step), 60% Parquet, 30% Arrow IPC stream, 10% Arrow IPC file; a
 * quarter of them with a fault (NaN, dead layer, frozen weights, loss plateau in turn).
 *
 * <pre>{@code java -cp ... io.dlanalyze.batch.bench.BatchBench DIR COUNT STEPS}</pre>
 */
public final class BatchBench {
  private BatchBench() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int count = Integer.parseInt(args[1]);
    long steps = Long.parseLong(args[2]);
    Files.createDirectories(dir);
    for (int i = 0; i < count; i++) {
      SyntheticTrace.Builder builder =
          SyntheticTrace.builder().layers(6).steps(steps).stepsPerEpoch(500).seed(i);
      if (i % 4 == 1) {
        builder.fault(
            switch (i / 4 % 4) {
              case 0 -> Fault.nan(i % 6, steps * 3 / 4);
              case 1 -> Fault.deadLayer(1 + i % 4, steps / 2);
              case 2 -> Fault.frozenWeights(i % 6, steps / 2);
              default -> Fault.lossPlateau(steps / 3);
            });
      }
      int kind = i % 10;
      String extension = kind < 6 ? ".parquet" : kind < 9 ? ".arrows" : ".arrow";
      Path file = dir.resolve(format(ROOT, "team-%d/run-%04d%s", i % 8, i, extension));
      TestTraces.write(file, builder.build(), WriteOptions.defaults());
    }
  }
}
