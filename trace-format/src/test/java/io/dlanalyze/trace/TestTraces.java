package io.dlanalyze.trace;

import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Test traces on disk, for every module's tests (the trace-format test jar): the one place that
 * writes a trace to files. A file's format comes from its extension ({@code .parquet}, {@code
 * .arrows}, {@code .arrow}, {@code .csv} with its sidecar); a directory of part files is one trace
 * ({@link #writeParts}). Also the small synthetic trace the batch and Spark tests share, ready-made
 * input directories, and damage (a cut file, a moved mtime).
 *
 * <p>What to use for what: a synthetic trace to a file, {@link #write(Path, SyntheticTrace)}; rows
 * written by hand, {@link MemoryTrace} and its {@link MemoryTrace#write}; any reader's rows, {@link
 * #copy}; a batch, {@link #write(Path, TraceMetadata, WriteOptions, TraceBatch...)}; reading a file
 * back for comparison, {@link TraceRows}; hostile values, {@link HostileTraces}.
 */
public final class TestTraces {
  private TestTraces() {}

  /** A small synthetic trace: 4 layers, 200 steps, 50 steps per epoch, with the faults. */
  public static SyntheticTrace small(long seed, Fault... faults) {
    SyntheticTrace.Builder builder =
        SyntheticTrace.builder().layers(4).steps(200).stepsPerEpoch(50).seed(seed);
    for (Fault fault : faults) {
      builder.fault(fault);
    }
    return builder.build();
  }

  /** Writes a synthetic trace, in row groups of 1,000 rows; returns the path. */
  public static Path write(Path path, SyntheticTrace trace) {
    return write(path, trace, WriteOptions.defaults().withRowGroupRows(1_000));
  }

  public static Path write(Path path, SyntheticTrace trace, WriteOptions options) {
    try (TraceReader source = trace.open(ReadOptions.all().withBatchRows(1_000))) {
      return copy(source, path, options);
    }
  }

  /** Writes batches to a trace file; returns the path. */
  public static Path write(
      Path path, TraceMetadata metadata, WriteOptions options, TraceBatch... batches) {
    createParent(path);
    TraceWriter writer = TraceWriters.create(path, metadata, options);
    try {
      for (TraceBatch batch : batches) {
        writer.write(batch);
      }
      writer.close();
    } catch (RuntimeException e) {
      writer.abort();
      throw e;
    }
    return path;
  }

  /**
   * Copies the rest of {@code source}'s rows to a trace file, making its directory first; returns
   * the path.
   */
  public static Path copy(TraceReader source, Path path, WriteOptions options) {
    createParent(path);
    try (TraceWriter writer = TraceWriters.create(path, source.metadata(), options)) {
      while (source.next()) {
        writer.write(source.batch());
      }
    }
    return path;
  }

  /**
   * Writes a synthetic trace as a directory of part files {@code part-00000.EXT}, {@code
   * part-00001.EXT}...: the first holds the steps before {@code cuts[0]}, the next the steps from
   * there to {@code cuts[1]}, the last the rest; returns the parts in order.
   */
  public static List<Path> writeParts(
      Path directory, SyntheticTrace trace, String extension, long... cuts) {
    return writeParts(
        directory,
        "part-%05d" + extension,
        WriteOptions.defaults(),
        MemoryTrace.of(trace).split(cuts));
  }

  /**
   * Writes each trace of {@code parts} to a part file of {@code directory} (made first) named by
   * {@code nameFormat} and its index ({@code "part-%05d.arrows"}); returns the parts in order.
   */
  public static List<Path> writeParts(
      Path directory, String nameFormat, WriteOptions options, List<MemoryTrace> parts) {
    List<Path> files = new ArrayList<>();
    for (int p = 0; p < parts.size(); p++) {
      Path file = directory.resolve(String.format(Locale.ROOT, nameFormat, p));
      files.add(parts.get(p).write(file, options));
    }
    return files;
  }

  /**
   * Copies a run of real TensorBoard event files from the trace-format test fixtures
   * (trace-format/src/test/resources/tensorboard, made by make_fixtures.py) into {@code to}: {@code
   * keras-buggy}, Keras' TensorBoard callback on a model trained at a far too high learning rate,
   * its {@code train} and {@code validation} event files. Works from the test jar too.
   */
  public static Path kerasBuggyRun(Path to) throws IOException {
    for (String file :
        new String[] {
          "train/events.out.tfevents.0.fixture.v2", "validation/events.out.tfevents.0.fixture.v2"
        }) {
      Path target = to.resolve(file);
      Files.createDirectories(target.getParent());
      try (InputStream in =
          TestTraces.class.getResourceAsStream("/tensorboard/keras-buggy/" + file)) {
        if (in == null) {
          throw new IOException("no fixture tensorboard/keras-buggy/" + file);
        }
        Files.copy(in, target);
      }
    }
    return to;
  }

  /**
   * A directory of batch inputs: healthy and buggy {@link #small} traces in Parquet, Arrow file,
   * Arrow stream and CSV (with its sidecar), some in subdirectories, a directory of Parquet parts,
   * a stream cut by a crash (recoverable), and a corrupt, a truncated-past-recovery and an empty
   * file; plus files that are not traces.
   */
  public static void mixed(Path root) throws IOException {
    write(root.resolve("healthy.arrows"), small(1));
    write(root.resolve("nan.arrow"), small(2, Fault.nan(1, 50)));
    write(root.resolve("deep/inf.parquet"), small(3, Fault.inf(3, 80)));
    write(root.resolve("deep/er/plateau.parquet"), small(4, Fault.lossPlateau(60)));
    writeParts(root.resolve("dataset.parquet"), small(5, Fault.nan(0, 150)), ".parquet", 100);
    write(root.resolve("team/run.csv"), small(9, Fault.deadLayer(2, 40)));
    Path cut = write(root.resolve("crashed.arrows"), small(7, Fault.nan(2, 30)));
    truncate(cut, Files.size(cut) * 3 / 4);
    Files.writeString(root.resolve("corrupt.parquet"), "this is not a parquet file");
    Path truncated = write(root.resolve("truncated.arrows"), small(8));
    truncate(truncated, 40);
    Files.createFile(root.resolve("empty.arrow"));
    Files.writeString(root.resolve("notes.txt"), "not a trace");
    Files.writeString(root.resolve("run.csv.meta.json"), "{}");
  }

  /** Cuts a file to its first {@code bytes} bytes (a crash, a partial copy). */
  public static void truncate(Path path, long bytes) throws IOException {
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
      channel.truncate(bytes);
    }
  }

  /** Keeps the file's bytes, moves its mtime by {@code millis}. */
  public static void touch(Path path, long millis) throws IOException {
    FileTime time = Files.getLastModifiedTime(path);
    Files.setLastModifiedTime(path, FileTime.fromMillis(time.toMillis() + millis));
  }

  private static void createParent(Path path) {
    try {
      Path parent = path.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
