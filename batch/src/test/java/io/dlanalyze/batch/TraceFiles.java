package io.dlanalyze.batch;

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
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Test helpers: synthetic traces written to real files. */
public final class TraceFiles {
  private TraceFiles() {}

  /** A small synthetic trace: 4 layers, 200 steps, with the faults. */
  public static SyntheticTrace small(long seed, Fault... faults) {
    SyntheticTrace.Builder builder =
        SyntheticTrace.builder().layers(4).steps(200).stepsPerEpoch(50).seed(seed);
    for (Fault fault : faults) {
      builder.fault(fault);
    }
    return builder.build();
  }

  /** Writes a synthetic trace in the format {@code path}'s extension names; returns the path. */
  public static Path write(Path path, SyntheticTrace trace) {
    return TestTraces.write(path, trace);
  }

  public static Path write(Path path, SyntheticTrace trace, WriteOptions options) {
    return TestTraces.write(path, trace, options);
  }

  /**
   * Writes a trace as a directory of {@code parts} part files ({@code part-00000} and the {@code
   * extension}: {@code .arrows}, {@code .arrow} or {@code .parquet}), each holding the next steps,
   * with the project's writers; returns the parts in order.
   */
  public static List<Path> writeParts(
      Path directory, SyntheticTrace trace, int parts, String extension) throws IOException {
    Files.createDirectories(directory);
    long rowsPerPart = (trace.totalRows() + parts - 1) / parts;
    List<Path> files = new ArrayList<>();
    try (TraceReader reader =
        trace.open(ReadOptions.all().withBatchRows(trace.rowsPerStep() * 10))) {
      for (int part = 0; part < parts; part++) {
        Path file = directory.resolve(String.format(Locale.ROOT, "part-%05d%s", part, extension));
        try (TraceWriter writer =
            TraceWriters.create(file, reader.metadata(), WriteOptions.defaults())) {
          long written = 0;
          while (written < rowsPerPart && reader.next()) {
            writer.write(reader.batch());
            written += reader.batch().size();
          }
        }
        files.add(file);
      }
    }
    return files;
  }

  /** Keeps the file's bytes, moves its mtime by {@code millis}. */
  public static void touch(Path path, long millis) throws IOException {
    FileTime time = Files.getLastModifiedTime(path);
    Files.setLastModifiedTime(path, FileTime.fromMillis(time.toMillis() + millis));
  }

  /** Cuts a file to its first {@code bytes} bytes. */
  public static void truncate(Path path, long bytes) throws IOException {
    TestTraces.truncate(path, bytes);
  }
}
