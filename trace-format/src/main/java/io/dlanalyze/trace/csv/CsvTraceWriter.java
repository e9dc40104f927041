package io.dlanalyze.trace.csv;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.AtomicOutput;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceWriter;
import io.dlanalyze.trace.WriteOptions;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Writes a CSV trace and its sidecar {@code <trace>.meta.json}: a header with the 16 contract
 * columns, one line per row ending in LF, empty cell = null, quoted strings where needed (and the
 * empty string as {@code ""}, so it stays apart from null), doubles that parse back to the same
 * bits and {@code nan}/{@code inf}/{@code -inf} for the non-finite ones.
 *
 * <p>Both files are written to temporary files and renamed on {@link #close()}, the sidecar first:
 * a reader never sees the new CSV next to the old metadata. {@code compression} and {@code
 * rowGroupRows} do not apply to CSV.
 */
public final class CsvTraceWriter implements TraceWriter {
  private final Path target;
  private final TraceMetadata metadata;
  private final AtomicOutput data;
  private final Writer out;
  private final StringBuilder line = new StringBuilder(256);
  private final String[][] quoted = new String[Column.COUNT][];
  private @Nullable TraceDictionary source;
  private long rowsWritten;
  private boolean done;

  private CsvTraceWriter(Path target, TraceMetadata metadata) {
    this.target = target;
    this.metadata = metadata;
    try {
      this.data = AtomicOutput.create(target);
    } catch (IOException e) {
      throw failure(target, "cannot create", e);
    }
    try {
      this.out =
          new BufferedWriter(
              new OutputStreamWriter(
                  Files.newOutputStream(data.temporary()), StandardCharsets.UTF_8),
              1 << 16);
      StringBuilder header = new StringBuilder();
      for (Column column : Column.values()) {
        if (header.length() > 0) {
          header.append(',');
        }
        header.append(column.wireName());
      }
      out.write(header.append('\n').toString());
    } catch (IOException e) {
      data.abort();
      throw failure(target, "cannot create", e);
    }
  }

  /** A writer of {@code target} and {@link CsvSidecar#path(Path) its sidecar}. */
  public static CsvTraceWriter create(Path target, TraceMetadata metadata, WriteOptions options) {
    return new CsvTraceWriter(target, metadata);
  }

  @Override
  public Path path() {
    return target;
  }

  @Override
  public void write(TraceBatch batch) {
    if (done) {
      throw new IllegalStateException("writer is closed");
    }
    for (Column column : Column.values()) {
      if (!column.isNullable() && !batch.has(column)) {
        throw new IllegalArgumentException(
            format(ROOT, "batch lacks required column '%s'", column.wireName()));
      }
    }
    if (batch.dictionary() != source) {
      source = batch.dictionary();
      for (String[] cache : quoted) {
        if (cache != null) {
          Arrays.fill(cache, null);
        }
      }
    }
    try {
      for (int row = 0; row < batch.size(); row++) {
        line.setLength(0);
        for (Column column : Column.values()) {
          if (column.ordinal() > 0) {
            line.append(',');
          }
          if (!batch.has(column) || batch.isNull(column, row)) {
            continue;
          }
          switch (column.type()) {
            case INT32 -> line.append(batch.ints(column)[row]);
            case INT64 -> line.append(batch.longs(column)[row]);
            case FLOAT64 -> CsvNumbers.append(line, batch.doubles(column)[row]);
            case STRING -> {
              int id = batch.ints(column)[row];
              if (id >= 0) {
                line.append(cell(batch.dictionary(), column, id));
              } else if (!column.isNullable()) {
                throw new IllegalArgumentException(
                    format(
                        ROOT,
                        "column '%s' is null at batch row %d but required",
                        column.wireName(),
                        row));
              }
            }
          }
        }
        line.append('\n');
        out.append(line);
      }
      out.flush();
      rowsWritten += batch.size();
    } catch (IOException e) {
      abort();
      throw failure(target, "cannot write", e);
    } catch (RuntimeException e) {
      abort();
      throw e;
    }
  }

  /** The cell text of a string id, quoted when needed; cached per id. */
  private String cell(TraceDictionary dictionary, Column column, int id) {
    String[] cache = quoted[column.ordinal()];
    if (cache == null || id >= cache.length) {
      cache =
          cache == null
              ? new String[Math.max(16, id + 1)]
              : Arrays.copyOf(cache, Math.max(id + 1, cache.length * 2));
      quoted[column.ordinal()] = cache;
    }
    String text = cache[id];
    if (text == null) {
      String value =
          switch (column) {
            case LAYER_NAME -> dictionary.layerName(id);
            case LAYER_TYPE -> requireNonNull(dictionary.layerType(id), "a type id is -1 or known");
            case PHASE -> dictionary.phaseName(id);
            default -> throw new IllegalStateException("not a string column: " + column);
          };
      text = quote(value);
      cache[id] = text;
    }
    return text;
  }

  /** RFC 4180 quoting for a string cell; the empty string is quoted so it reads back as "". */
  static String quote(String value) {
    boolean needs = value.isEmpty();
    for (int i = 0; i < value.length() && !needs; i++) {
      char c = value.charAt(i);
      needs = c == ',' || c == '"' || c == '\n' || c == '\r';
    }
    return needs ? '"' + value.replace("\"", "\"\"") + '"' : value;
  }

  /** Rows written so far. */
  public long rowsWritten() {
    return rowsWritten;
  }

  @Override
  public void close() {
    if (done) {
      return;
    }
    AtomicOutput sidecar = null;
    try {
      out.close();
      sidecar = AtomicOutput.create(CsvSidecar.path(target));
      Files.writeString(sidecar.temporary(), CsvSidecar.render(metadata), StandardCharsets.UTF_8);
      sidecar.commit();
      data.commit();
      done = true;
    } catch (IOException e) {
      if (sidecar != null) {
        sidecar.abort();
      }
      abort();
      throw failure(target, "cannot finish writing", e);
    }
  }

  @Override
  public void abort() {
    if (done) {
      return;
    }
    done = true;
    try {
      out.close();
    } catch (IOException e) {
      // The temporary file is deleted next.
    }
    data.abort();
  }

  private static TraceFormatException failure(Path target, String what, IOException e) {
    String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return new TraceFormatException(ErrorCode.IO_ERROR, target, null, what + ": " + reason, e);
  }
}
