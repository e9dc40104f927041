package io.dlanalyze.trace;

import io.dlanalyze.trace.arrow.ArrowTraceWriter;
import io.dlanalyze.trace.csv.CsvTraceWriter;
import io.dlanalyze.trace.parquet.ParquetTraceWriter;
import java.nio.file.Path;

/** Creates a trace writer for a format; the output appears atomically on close. */
public final class TraceWriters {
  private TraceWriters() {}

  /** A writer for the format {@code path}'s extension names ({@link TraceFormat#fromExtension}). */
  public static TraceWriter create(Path path, TraceMetadata metadata, WriteOptions options) {
    TraceFormat format =
        TraceFormat.fromExtension(path)
            .orElseThrow(
                () ->
                    new TraceFormatException(
                        ErrorCode.UNKNOWN_FORMAT,
                        path,
                        null,
                        "cannot tell the output format from the extension: use .parquet, .arrow"
                            + " (IPC file), .arrows (IPC stream) or .csv"));
    return create(path, format, metadata, options);
  }

  public static TraceWriter create(
      Path path, TraceFormat format, TraceMetadata metadata, WriteOptions options) {
    switch (format) {
      case PARQUET -> {
        return ParquetTraceWriter.create(path, metadata, options);
      }
      case ARROW_FILE, ARROW_STREAM -> {
        return ArrowTraceWriter.create(path, format, metadata, options);
      }
      case CSV -> {
        return CsvTraceWriter.create(path, metadata, options);
      }
      case SYNTHETIC, TENSORBOARD -> {}
    }
    throw new TraceFormatException(
        ErrorCode.UNKNOWN_FORMAT, path, null, format + " traces are not writable yet");
  }
}
