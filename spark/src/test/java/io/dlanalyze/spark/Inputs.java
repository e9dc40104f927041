package io.dlanalyze.spark;

import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceWriter;
import io.dlanalyze.trace.TraceWriters;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test inputs: a directory of synthetic traces in every format, plus broken files. */
final class Inputs {
  private Inputs() {}

  static SyntheticTrace trace(long seed, Fault... faults) {
    SyntheticTrace.Builder builder =
        SyntheticTrace.builder().layers(4).steps(200).stepsPerEpoch(50).seed(seed);
    for (Fault fault : faults) {
      builder.fault(fault);
    }
    return builder.build();
  }

  static Path write(Path path, SyntheticTrace trace) throws IOException {
    return TestTraces.write(path, trace);
  }

  /** Writes a trace as a directory of Parquet part files, each holding the next batches. */
  static Path writeParts(Path directory, SyntheticTrace trace, int parts) throws IOException {
    return writeParts(directory, trace, parts, ".parquet");
  }

  /**
   * Writes a trace as a directory of part files ({@code part-00000} and {@code extension}: {@code
   * .parquet}, {@code .arrows}, {@code .arrow}), each holding the next batches.
   */
  static Path writeParts(Path directory, SyntheticTrace trace, int parts, String extension)
      throws IOException {
    Files.createDirectories(directory);
    long rowsPerPart = (trace.totalRows() + parts - 1) / parts;
    try (TraceReader reader =
        trace.open(ReadOptions.all().withBatchRows(trace.rowsPerStep() * 10))) {
      for (int part = 0; part < parts; part++) {
        Path file =
            directory.resolve(String.format(java.util.Locale.ROOT, "part-%05d%s", part, extension));
        try (TraceWriter writer =
            TraceWriters.create(file, reader.metadata(), WriteOptions.defaults())) {
          long written = 0;
          while (written < rowsPerPart && reader.next()) {
            writer.write(reader.batch());
            written += reader.batch().size();
          }
        }
      }
    }
    return directory;
  }

  /**
   * Copies a run of real TensorBoard event files from trace-format's test fixtures
   * (trace-format/src/test/resources/tensorboard, made by make_fixtures.py): {@code keras-buggy},
   * Keras' TensorBoard callback on a model trained at a far too high learning rate, its {@code
   * train} and {@code validation} event files.
   */
  static Path kerasBuggyRun(Path to) throws IOException {
    for (String file :
        new String[] {
          "train/events.out.tfevents.0.fixture.v2", "validation/events.out.tfevents.0.fixture.v2"
        }) {
      Path target = to.resolve(file);
      Files.createDirectories(target.getParent());
      try (java.io.InputStream in =
          Inputs.class.getResourceAsStream("/tensorboard/keras-buggy/" + file)) {
        if (in == null) {
          throw new IOException("no fixture tensorboard/keras-buggy/" + file);
        }
        Files.copy(in, target);
      }
    }
    return to;
  }

  static void truncate(Path path, long bytes) throws IOException {
    TestTraces.truncate(path, bytes);
  }

  /**
   * Healthy and buggy traces in Parquet, Arrow file, Arrow stream and CSV (with its sidecar), a
   * directory of part files, a stream cut by a crash (recoverable), and a corrupt, a
   * truncated-past-recovery and an empty file; plus files that are not traces.
   */
  static void mixed(Path root) throws IOException {
    write(root.resolve("healthy.arrows"), trace(1));
    write(root.resolve("nan.arrow"), trace(2, Fault.nan(1, 50)));
    write(root.resolve("deep/inf.parquet"), trace(3, Fault.inf(3, 80)));
    write(root.resolve("deep/er/plateau.parquet"), trace(4, Fault.lossPlateau(60)));
    writeParts(root.resolve("dataset.parquet"), trace(5, Fault.nan(0, 150)), 2);
    write(root.resolve("team/run.csv"), trace(9, Fault.deadLayer(2, 40)));
    Path cut = write(root.resolve("crashed.arrows"), trace(7, Fault.nan(2, 30)));
    truncate(cut, Files.size(cut) * 3 / 4);
    Files.writeString(root.resolve("corrupt.parquet"), "this is not a parquet file");
    Path truncated = write(root.resolve("truncated.arrows"), trace(8));
    truncate(truncated, 40);
    Files.createFile(root.resolve("empty.arrow"));
    Files.writeString(root.resolve("notes.txt"), "not a trace");
    Files.writeString(root.resolve("run.csv.meta.json"), "{}");
  }
}
