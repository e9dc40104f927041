package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Printable;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceWriter;
import io.dlanalyze.trace.TraceWriters;
import io.dlanalyze.trace.WriteOptions;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The output side shared by {@code convert} and {@code generate}: the format from the extension,
 * the writer options, and a copy loop in which any failure of the writer is an output error (exit
 * 5) and leaves nothing at the output path.
 */
final class TraceOutput {
  /** Writer options as command-line options (a picocli mixin). */
  static final class Options {
    @Option(
        names = "--compression",
        paramLabel = "CODEC",
        description =
            "Codec: zstd, lz4, snappy, gzip, lz4_raw or uncompressed. Parquet takes all (default"
                + " zstd; lz4 is LZ4_RAW), Arrow IPC takes zstd and lz4 (LZ4_FRAME; default"
                + " uncompressed); CSV output is not compressed.")
    @Nullable String compression;

    @Option(
        names = "--row-group-rows",
        paramLabel = "ROWS",
        description = "Rows per Parquet row group and per Arrow record batch (default: 1048576).")
    @Nullable Integer rowGroupRows;

    WriteOptions writeOptions(CommandSpec spec) {
      try {
        WriteOptions options =
            WriteOptions.defaults().withCompression(compression == null ? "default" : compression);
        return rowGroupRows == null ? options : options.withRowGroupRows(rowGroupRows);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage(), e);
      }
    }
  }

  private TraceOutput() {}

  /** The format {@code output}'s extension names; a usage error when it names none. */
  static TraceFormat outputFormat(CommandSpec spec, Path output) {
    return TraceFormat.fromExtension(output)
        .orElseThrow(
            () ->
                new ParameterException(
                    spec.commandLine(),
                    format(
                        ROOT,
                        "cannot tell the output format of '%s' from its extension: use .parquet,"
                            + " .arrow (IPC file), .arrows (IPC stream) or .csv",
                        output)));
  }

  /**
   * Warns when an option that does not apply to the output format was given explicitly; a codec the
   * format cannot use is a usage error.
   */
  static void warnUnusedOptions(CommandSpec spec, TraceFormat format, WriteOptions options) {
    CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
    if (format == TraceFormat.CSV && parsed.hasMatchedOption("--compression")) {
      warn(spec, "--compression does not apply to CSV output, which is not compressed");
    }
    try {
      options.checkFor(format);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    if (format == TraceFormat.CSV && parsed.hasMatchedOption("--row-group-rows")) {
      warn(spec, "--row-group-rows does not apply to CSV output");
    }
  }

  static void warn(CommandSpec spec, String message) {
    spec.commandLine().getErr().println("dl-analyze: warning: " + Printable.escape(message));
    spec.commandLine().getErr().flush();
  }

  /** Creates the writer; a failure (missing directory, permissions) is an output error. */
  static TraceWriter create(
      Path output, TraceFormat format, TraceMetadata metadata, WriteOptions options) {
    try {
      return TraceWriters.create(output, format, metadata, options);
    } catch (RuntimeException e) {
      throw outputError(e);
    }
  }

  /**
   * Streams every batch of {@code reader} into {@code writer} and closes it. A failure to read is
   * an input error (the reader's exception), a failure to write an output error; either way the
   * writer is aborted and nothing is left at its path.
   *
   * @return the rows written
   */
  static long copy(TraceReader reader, TraceWriter writer) {
    boolean done = false;
    try {
      long rows = 0;
      while (reader.next()) {
        try {
          writer.write(reader.batch());
        } catch (RuntimeException e) {
          throw outputError(e);
        }
        rows += reader.batch().size();
      }
      try {
        writer.close();
      } catch (RuntimeException e) {
        throw outputError(e);
      }
      done = true;
      return rows;
    } finally {
      if (!done) {
        writer.abort();
      }
    }
  }

  private static CliException outputError(RuntimeException e) {
    if (e instanceof CliException cli) {
      return cli;
    }
    String message = e.getMessage();
    if (e instanceof java.io.UncheckedIOException io && io.getCause() != null) {
      message = io.getCause().getMessage();
    }
    return new CliException(ExitCodes.OUTPUT_ERROR, message == null ? e.toString() : message, e);
  }
}
