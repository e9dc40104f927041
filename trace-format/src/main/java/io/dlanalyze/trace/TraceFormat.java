package io.dlanalyze.trace;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/** The physical formats a trace can be stored in. */
public enum TraceFormat {
  /** Apache Parquet: one file, or a directory of part files read in name order as one trace. */
  PARQUET("parquet", ".parquet"),
  /** Arrow IPC file format (random access, footer at the end). */
  ARROW_FILE("arrow-file", ".arrow"),
  /** Arrow IPC stream format: the crash-tolerant choice for recorders. */
  ARROW_STREAM("arrow-stream", ".arrows"),
  /** CSV with a header line and a sidecar {@code <trace>.meta.json}. */
  CSV("csv", ".csv"),
  /**
   * TensorBoard event files (a run directory or one {@code events.out.tfevents.*} file): read only,
   * their scalars and histograms turned into trace rows.
   */
  TENSORBOARD("tensorboard", ""),
  /** Generated in memory by the synthetic trace generator; never on disk. */
  SYNTHETIC("synthetic", "");

  private final String displayName;
  private final String extension;

  TraceFormat(String displayName, String extension) {
    this.displayName = displayName;
    this.extension = extension;
  }

  public String displayName() {
    return displayName;
  }

  /** The file extension that selects this format for output, with its dot. */
  public String extension() {
    return extension;
  }

  /**
   * The format an output path asks for, from its extension: {@code .parquet}, {@code .arrow} (IPC
   * file), {@code .arrows} (IPC stream), {@code .csv}. {@code .ipc} and {@code .feather} are read
   * as IPC file.
   */
  public static Optional<TraceFormat> fromExtension(Path path) {
    String name =
        path.getFileName() == null ? "" : path.getFileName().toString().toLowerCase(Locale.ROOT);
    if (name.endsWith(".parquet") || name.endsWith(".pq")) {
      return Optional.of(PARQUET);
    }
    if (name.endsWith(".arrows")) {
      return Optional.of(ARROW_STREAM);
    }
    if (name.endsWith(".arrow") || name.endsWith(".feather") || name.endsWith(".ipc")) {
      return Optional.of(ARROW_FILE);
    }
    if (name.endsWith(".csv")) {
      return Optional.of(CSV);
    }
    return Optional.empty();
  }

  @Override
  public String toString() {
    return displayName;
  }
}
