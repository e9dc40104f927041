package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.arrow.ArrowTraceReader;
import io.dlanalyze.trace.csv.CsvTraceReader;
import io.dlanalyze.trace.parquet.ParquetTraceReader;
import io.dlanalyze.trace.tensorboard.TensorBoardRun;
import io.dlanalyze.trace.tensorboard.TensorBoardTraceReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * Opens a trace in any supported format. The format is told from the first bytes of the file
 * (Parquet's {@code PAR1}, the Arrow IPC file's {@code ARROW1}, the IPC stream's continuation
 * marker), then TensorBoard event files by their name ({@code *tfevents*}) or their first TFRecord
 * header, falling back to the extension for CSV; a directory is read as Parquet part files, as a
 * TensorBoard run when it holds event files and no Parquet parts, or as Arrow IPC part files
 * ({@link PartFiles}, {@link PartsTraceReader}).
 */
public final class TraceReaders {
  private TraceReaders() {}

  /**
   * Opens {@code path} for streaming.
   *
   * @throws TraceFormatException when the path is missing, empty, of an unknown format, or not a
   *     valid trace
   */
  public static TraceReader open(Path path, ReadOptions options) {
    TraceFormat format = detect(path);
    switch (format) {
      case PARQUET -> {
        return ParquetTraceReader.open(path, options);
      }
      case ARROW_FILE, ARROW_STREAM -> {
        return Files.isDirectory(path)
            ? PartsTraceReader.open(path, options)
            : ArrowTraceReader.open(path, format, options);
      }
      case CSV -> {
        return CsvTraceReader.open(path, options);
      }
      case TENSORBOARD -> {
        return TensorBoardTraceReader.open(path, options);
      }
      case SYNTHETIC -> {}
    }
    throw new TraceFormatException(
        ErrorCode.UNKNOWN_FORMAT, path, null, format + " traces are not readable yet");
  }

  /** Tells the format of a trace on disk without reading more than its first bytes. */
  public static TraceFormat detect(Path path) {
    if (Files.isDirectory(path)) {
      if (hasParquetParts(path)) {
        return TraceFormat.PARQUET;
      }
      if (TensorBoardRun.isRunDirectory(path)) {
        return TraceFormat.TENSORBOARD;
      }
      List<Path> parts = PartFiles.list(path);
      return parts.isEmpty() ? TraceFormat.PARQUET : PartFiles.formatOfListed(parts.get(0));
    }
    if (!Files.exists(path)) {
      throw new TraceFormatException(ErrorCode.NOT_FOUND, path, null, "no such file");
    }
    if (!Files.isReadable(path)) {
      throw new TraceFormatException(ErrorCode.NOT_FOUND, path, null, "file is not readable");
    }
    byte[] head = new byte[12];
    int n;
    try (InputStream in = Files.newInputStream(path)) {
      n = in.readNBytes(head, 0, head.length);
    } catch (NoSuchFileException e) {
      throw new TraceFormatException(ErrorCode.NOT_FOUND, path, null, "no such file");
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, path, null, format(ROOT, "cannot read: %s", e.getMessage()), e);
    }
    if (n == 0) {
      throw new TraceFormatException(ErrorCode.EMPTY, path, null, "file is empty (0 bytes)");
    }
    if (n >= 4 && head[0] == 'P' && head[1] == 'A' && head[2] == 'R' && head[3] == '1') {
      return TraceFormat.PARQUET;
    }
    if (n >= 6
        && head[0] == 'A'
        && head[1] == 'R'
        && head[2] == 'R'
        && head[3] == 'O'
        && head[4] == 'W'
        && head[5] == '1') {
      return TraceFormat.ARROW_FILE;
    }
    if (n >= 4
        && (head[0] & 0xFF) == 0xFF
        && (head[1] & 0xFF) == 0xFF
        && (head[2] & 0xFF) == 0xFF
        && (head[3] & 0xFF) == 0xFF) {
      return TraceFormat.ARROW_STREAM;
    }
    Path fileName = path.getFileName();
    if ((fileName != null && TensorBoardRun.isEventFileName(fileName.toString()))
        || TensorBoardRun.looksLikeEventFile(head, n)) {
      return TraceFormat.TENSORBOARD;
    }
    var byName = TraceFormat.fromExtension(path);
    if (byName.isPresent() && byName.get() == TraceFormat.CSV) {
      return TraceFormat.CSV;
    }
    if (byName.isPresent()) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          path,
          null,
          format(
              ROOT,
              "not a valid %s file: its first bytes are not the %s magic number",
              byName.get(),
              byName.get()));
    }
    throw new TraceFormatException(
        ErrorCode.UNKNOWN_FORMAT,
        path,
        null,
        "unknown trace format: expected Parquet, Arrow IPC (file or stream), CSV or TensorBoard"
            + " event files");
  }

  /** True when a directory holds a {@code *.parquet} file (not hidden). */
  private static boolean hasParquetParts(Path dir) {
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
      for (Path file : stream) {
        String name = file.getFileName().toString();
        if (name.endsWith(".parquet") && !name.startsWith(".") && !name.startsWith("_")) {
          return true;
        }
      }
    } catch (IOException e) {
      return true;
    }
    return false;
  }
}
