package io.dlanalyze.trace.csv;

import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.SchemaErrors;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.UnknownPhases;
import io.dlanalyze.trace.Utf8Ids;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Reads a CSV trace: a header line naming the columns (any order; unknown columns are ignored), one
 * row per line, empty cell = null, {@code nan}/{@code inf}/{@code -inf} as Python prints them
 * ({@code NaN}, {@code Infinity} also accepted), RFC 4180 quoting. The metadata comes from the
 * sidecar ({@link CsvSidecar}).
 *
 * <p>Crash tolerance: every row ends with a line break, so a last line without one was cut while
 * being written; it is dropped and reported as a truncation. Errors name the row (0-based, like
 * every reader) and the line: {@code run.csv: row 17 (line 19): column 'step': 'abc' is not an
 * integer}.
 *
 * <p>Implementation notes: {@link CsvScanner} splits rows into byte ranges of one buffer, numbers
 * are parsed from the bytes ({@link CsvNumbers}) and strings are interned by their bytes ({@link
 * Utf8Ids}), so a row costs no objects unless a number needs the slow path of {@link
 * Double#parseDouble}.
 */
public final class CsvTraceReader implements TraceReader {
  private static final int ABSENT = -1;

  private final Path path;
  private final InputStream in;
  private final CsvScanner scanner;
  private final TraceMetadata metadata;
  private final Set<Column> columnsInFile;
  private final TraceDictionary dictionary = new TraceDictionary();
  private final TraceBatch batch;
  private final int batchRows;
  private final int headerFields;

  /** For each header field, the projected column it fills, or null. */
  private final Column[] fieldColumns;

  private final List<Column> absent = new ArrayList<>();
  private final Utf8Ids[] stringIds = new Utf8Ids[Column.COUNT];
  private final CsvNumbers.Result number = new CsvNumbers.Result();
  private final List<String> warnings = new ArrayList<>();
  private final UnknownPhases unknownPhases = new UnknownPhases();
  private byte[] scratch = new byte[256];
  private long rowsRead;
  private boolean truncated;
  private boolean finished;
  private boolean closed;

  private CsvTraceReader(Path path, ReadOptions options) {
    this.path = path;
    this.batchRows = options.batchRows();
    this.metadata = CsvSidecar.read(path, warnings);
    InputStream opened = null;
    try {
      opened = Files.newInputStream(path);
      this.in = opened;
      this.scanner = new CsvScanner(opened);
      scanner.skipByteOrderMark();
      if (!scanner.nextRow()) {
        throw new TraceFormatException(ErrorCode.EMPTY, path, null, "no header line");
      }
      this.headerFields = scanner.fieldCount();
      this.fieldColumns = new Column[headerFields];
      EnumSet<Column> present = EnumSet.noneOf(Column.class);
      Set<Column> wanted = options.columns();
      for (int f = 0; f < headerFields; f++) {
        String name = text(f).strip();
        var column = Column.fromWireName(name);
        if (column.isEmpty()) {
          continue;
        }
        if (!present.add(column.get())) {
          throw SchemaErrors.duplicateColumn(path, column.get());
        }
        if (wanted.contains(column.get())) {
          fieldColumns[f] = column.get();
        }
      }
      if (scanner.rowEnd() == CsvScanner.End.END_OF_INPUT) {
        if (!present.containsAll(Column.required())) {
          throw new TraceFormatException(
              ErrorCode.TRUNCATED,
              path,
              null,
              "truncated inside the header line: the file holds no complete row");
        }
        markTruncated("the header line has no line break", 0);
        finished = true;
      }
      SchemaErrors.requireColumns(path, present, SchemaErrors::contractType);
      this.columnsInFile = present;
      for (Column column : wanted) {
        if (!present.contains(column)) {
          absent.add(column);
        }
      }
      stringIds[Column.LAYER_NAME.ordinal()] = new Utf8Ids("layer name", dictionary::layerNameId);
      stringIds[Column.LAYER_TYPE.ordinal()] = new Utf8Ids("layer type", dictionary::layerTypeId);
      stringIds[Column.PHASE.ordinal()] = new Utf8Ids("phase name", dictionary::phaseCode);
      this.batch = new TraceBatch(dictionary, wanted, Math.min(batchRows, 1 << 16));
    } catch (NoSuchFileException e) {
      closeQuietly(opened);
      throw new TraceFormatException(ErrorCode.NOT_FOUND, path, null, "no such file");
    } catch (IOException e) {
      closeQuietly(opened);
      throw new TraceFormatException(
          ErrorCode.IO_ERROR,
          path,
          null,
          String.format(ROOT, "cannot read: %s", e.getMessage()),
          e);
    } catch (RuntimeException e) {
      closeQuietly(opened);
      throw e;
    }
  }

  /** Opens a CSV trace and its sidecar metadata. */
  public static CsvTraceReader open(Path path, ReadOptions options) {
    return new CsvTraceReader(path, options);
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public TraceFormat format() {
    return TraceFormat.CSV;
  }

  @Override
  public TraceMetadata metadata() {
    return metadata;
  }

  @Override
  public Set<Column> columnsInFile() {
    return EnumSet.copyOf(columnsInFile);
  }

  @Override
  public TraceDictionary dictionary() {
    return dictionary;
  }

  @Override
  public TraceBatch batch() {
    return batch;
  }

  @Override
  public boolean next() {
    if (closed) {
      throw new IllegalStateException("reader is closed");
    }
    if (finished) {
      batch.reset(0);
      return false;
    }
    batch.reset(batchRows);
    int rows = 0;
    try {
      while (rows < batchRows) {
        if (!scanner.nextRow()) {
          finished = true;
          break;
        }
        if (scanner.rowEnd() == CsvScanner.End.END_OF_INPUT) {
          if (scanner.unclosedQuote() && scanner.unclosedQuoteLines() > 1) {
            // a writer cut off inside a field leaves part of one row, not whole lines after it
            throw error(
                rowsRead + rows,
                String.format(
                    ROOT,
                    "a quoted field opened here is never closed: the %d lines after it up to the"
                        + " end of the file would be part of it",
                    scanner.unclosedQuoteLines()));
          }
          if (!scanner.blank()) {
            markTruncated("the last line has no line break", rowsRead + rows);
          }
          finished = true;
          break;
        }
        if (scanner.blank()) {
          continue;
        }
        parseRow(rows, rowsRead + rows);
        rows++;
      }
    } catch (TraceFormatException e) {
      throw e.at(path, String.format(ROOT, "row %d (line %d)", rowsRead + rows, scanner.rowLine()));
    } catch (CsvScanner.RowTooLongException e) {
      throw new TraceFormatException(
          ErrorCode.INVALID_VALUE,
          path,
          String.format(ROOT, "row %d (line %d)", rowsRead + rows, e.line()),
          String.format(ROOT, "%s (a quoted field that is never closed?)", e.getMessage()),
          e);
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR,
          path,
          null,
          String.format(ROOT, "cannot read: %s", e.getMessage()),
          e);
    }
    batch.setSize(rows);
    for (Column column : absent) {
      fillAbsent(column, rows);
    }
    if (batch.has(Column.PHASE)) {
      unknownPhases.count(batch.ints(Column.PHASE), rows);
    }
    rowsRead += rows;
    return rows > 0;
  }

  private void parseRow(int r, long row) {
    if (scanner.malformed()) {
      throw error(row, "malformed quoted field: text after the closing quote");
    }
    if (scanner.fieldCount() != headerFields) {
      throw error(
          row,
          String.format(
              ROOT, "%d fields, but the header has %d", scanner.fieldCount(), headerFields));
    }
    byte[] b = scanner.buffer();
    for (int f = 0; f < headerFields; f++) {
      Column column = fieldColumns[f];
      if (column == null) {
        continue;
      }
      int start = scanner.start(f);
      int end = scanner.end(f);
      if (start == end
          && (!scanner.quoted(f) || column.type() != io.dlanalyze.trace.ColumnType.STRING)) {
        setNull(column, r, row);
        continue;
      }
      switch (column.type()) {
        case INT32 -> {
          long value = parseInteger(column, f, b, start, end, r, row);
          if (batch.isNull(column, r)) {
            continue;
          }
          if (value != (int) value) {
            throw error(
                row,
                String.format(
                    ROOT, "column '%s': %d does not fit in int32", column.wireName(), value));
          }
          batch.ints(column)[r] = (int) value;
        }
        case INT64 -> {
          long value = parseInteger(column, f, b, start, end, r, row);
          if (!batch.isNull(column, r)) {
            batch.longs(column)[r] = value;
          }
        }
        case FLOAT64 -> {
          if (CsvNumbers.parseDouble(b, start, end, number) != CsvNumbers.Status.OK) {
            throw error(
                row,
                String.format(
                    ROOT, "column '%s': '%s' is not a number", column.wireName(), shown(f)));
          }
          batch.doubles(column)[r] = number.doubleValue;
        }
        case STRING -> {
          Utf8Ids ids = stringIds[column.ordinal()];
          if (scanner.escaped(f)) {
            if (scratch.length < end - start) {
              scratch = new byte[Math.max(end - start, scratch.length * 2)];
            }
            int n = scanner.unescape(f, scratch);
            batch.ints(column)[r] = ids.id(scratch, 0, n);
          } else {
            batch.ints(column)[r] = ids.id(b, start, end - start);
          }
        }
      }
    }
  }

  /**
   * Parses an integer cell; a NaN spelling in a nullable column becomes null (pandas writes it).
   */
  private long parseInteger(Column column, int f, byte[] b, int start, int end, int r, long row) {
    CsvNumbers.Status status = CsvNumbers.parseLong(b, start, end, number);
    switch (status) {
      case OK -> {
        return number.longValue;
      }
      case NOT_FINITE -> {
        if (column.isNullable() && CsvNumbers.isNanSpelling(b, start, end)) {
          setNull(column, r, row);
          return 0;
        }
        throw error(
            row,
            String.format(
                ROOT, "column '%s': '%s' is not an integer", column.wireName(), shown(f)));
      }
      case INVALID ->
          throw error(
              row,
              String.format(
                  ROOT, "column '%s': '%s' is not an integer", column.wireName(), shown(f)));
      case OUT_OF_RANGE ->
          throw error(
              row,
              String.format(
                  ROOT, "column '%s': '%s' does not fit in int64", column.wireName(), shown(f)));
    }
    throw new IllegalStateException(status.toString());
  }

  private void setNull(Column column, int r, long row) {
    if (!column.isNullable()) {
      throw error(
          row,
          String.format(ROOT, "column '%s' is null (the column is required)", column.wireName()));
    }
    switch (column.type()) {
      case INT32 -> batch.ints(column)[r] = 0;
      case STRING -> batch.ints(column)[r] = -1;
      case INT64 -> batch.longs(column)[r] = 0;
      case FLOAT64 -> batch.doubles(column)[r] = Double.NaN;
    }
    batch.setNull(column, r);
  }

  private void fillAbsent(Column column, int n) {
    switch (column.type()) {
      case INT32 -> Arrays.fill(batch.ints(column), 0, n, 0);
      case STRING -> Arrays.fill(batch.ints(column), 0, n, ABSENT);
      case INT64 -> Arrays.fill(batch.longs(column), 0, n, 0L);
      case FLOAT64 -> Arrays.fill(batch.doubles(column), 0, n, Double.NaN);
    }
    Arrays.fill(batch.nullMaskForWrite(column), 0, n, true);
  }

  private TraceFormatException error(long row, String detail) {
    return new TraceFormatException(
        ErrorCode.INVALID_VALUE,
        path,
        String.format(ROOT, "row %d (line %d)", row, scanner.rowLine()),
        detail);
  }

  /** The text of a field for a message: at most 40 characters, line breaks shown as spaces. */
  private String shown(int field) {
    String text = text(field).replace('\n', ' ').replace('\r', ' ');
    return text.length() > 40 ? text.substring(0, 37) + "..." : text;
  }

  private String text(int field) {
    if (scanner.escaped(field)) {
      byte[] out = new byte[scanner.length(field)];
      int n = scanner.unescape(field, out);
      return new String(out, 0, n, StandardCharsets.UTF_8);
    }
    return new String(
        scanner.buffer(), scanner.start(field), scanner.length(field), StandardCharsets.UTF_8);
  }

  private void markTruncated(String why, long recovered) {
    truncated = true;
    warnings.add(
        String.format(
            ROOT,
            "truncated: %s (the writer did not finish); recovered %d rows, the partial last row is"
                + " dropped",
            why,
            recovered));
  }

  @Override
  public long rowsRead() {
    return rowsRead;
  }

  @Override
  public long totalRows() {
    return -1;
  }

  @Override
  public boolean truncated() {
    return truncated;
  }

  /** A missing sidecar, a truncation, then one line per phase this version does not know. */
  @Override
  public List<String> warnings() {
    List<String> all = new ArrayList<>(warnings);
    all.addAll(unknownPhases.warnings(dictionary));
    return all;
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      closeQuietly(in);
    }
  }

  private static void closeQuietly(@Nullable InputStream stream) {
    if (stream == null) {
      return;
    }
    try {
      stream.close();
    } catch (IOException e) {
      // Read-only: nothing is lost when closing fails.
    }
  }
}
