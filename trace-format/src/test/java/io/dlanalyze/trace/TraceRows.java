package io.dlanalyze.trace;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * A trace read back for comparison, the one form every reader, writer and conversion test compares:
 * column by column, numbers as the bits of their value (doubles through {@link
 * Double#doubleToLongBits}, so NaN equals NaN and -0.0 does not equal 0.0), strings resolved
 * through the dictionary (phases by name), nulls as a mask; only the columns the reader loads.
 * {@link #text()} spells the same rows as lines ({@code step=3 | ... | phase=[forward] | std=null})
 * for assertions that read better as text. To hold a trace and replay or edit it, use {@link
 * MemoryTrace}.
 */
public final class TraceRows {
  /** One column: values as bits (numbers) or strings, plus the null mask. */
  public record Values(long[] bits, String[] strings, boolean[] nulls) {
    @Override
    public boolean equals(Object other) {
      return other instanceof Values that
          && Arrays.equals(bits, that.bits)
          && Arrays.equals(strings, that.strings)
          && Arrays.equals(nulls, that.nulls);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(bits) * 31 + Arrays.hashCode(strings) * 17 + Arrays.hashCode(nulls);
    }

    @Override
    public String toString() {
      int n = Math.min(nulls.length, 8);
      return "Values{rows="
          + nulls.length
          + ", first="
          + (strings != null
              ? Arrays.toString(Arrays.copyOf(strings, n))
              : Arrays.toString(Arrays.copyOf(bits, n)))
          + "}";
    }
  }

  private final Map<Column, Values> columns;
  private final int size;

  private TraceRows(Map<Column, Values> columns, int size) {
    this.columns = Collections.unmodifiableMap(columns);
    this.size = size;
  }

  /** The loaded columns, in column order. */
  public Map<Column, Values> columns() {
    return columns;
  }

  /** The number of rows. */
  public int size() {
    return size;
  }

  public Values get(Column column) {
    return columns.get(column);
  }

  /** A floating-point column's values (nulls read as 0). */
  public double[] doubles(Column column) {
    long[] bits = get(column).bits();
    double[] values = new double[bits.length];
    for (int i = 0; i < bits.length; i++) {
      values[i] = Double.longBitsToDouble(bits[i]);
    }
    return values;
  }

  /** Opens {@code path}, reads every row in batches of {@code batchRows}, closes. */
  public static TraceRows read(Path path, int batchRows) {
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all().withBatchRows(batchRows))) {
      return readAll(reader);
    }
  }

  /** Reads the rest of {@code reader}; rows must fit in an int. */
  public static TraceRows readAll(TraceReader reader) {
    Collector collector =
        new Collector(reader.batch(), reader.totalRows() > 0 ? (int) reader.totalRows() : 1024);
    while (reader.next()) {
      collector.add(reader.batch());
    }
    return collector.rows();
  }

  /** The rows of one batch. */
  public static TraceRows of(TraceBatch batch) {
    Collector collector = new Collector(batch, Math.max(1, batch.size()));
    collector.add(batch);
    return collector.rows();
  }

  /** Every row of the rest of {@code reader} as a line of text. */
  public static List<String> text(TraceReader reader) {
    return readAll(reader).text();
  }

  /** The rows of one batch as lines of text. */
  public static List<String> text(TraceBatch batch) {
    return of(batch).text();
  }

  /** Every row of the trace at {@code path}, read in batches of {@code batchRows}, as text. */
  public static List<String> text(Path path, int batchRows) {
    return read(path, batchRows).text();
  }

  /**
   * One line a row: {@code column=value} for each loaded column in column order, joined by {@code "
   * | "}; strings in brackets, nulls spelled {@code null}, numbers as Java prints them.
   */
  public List<String> text() {
    List<String> out = new ArrayList<>(size);
    for (int row = 0; row < size; row++) {
      StringBuilder line = new StringBuilder();
      for (Map.Entry<Column, Values> entry : columns.entrySet()) {
        Column column = entry.getKey();
        Values values = entry.getValue();
        if (line.length() > 0) {
          line.append(" | ");
        }
        line.append(column.wireName()).append('=');
        if (values.nulls()[row]) {
          line.append("null");
          continue;
        }
        switch (column.type()) {
          case INT32, INT64 -> line.append(values.bits()[row]);
          case FLOAT64 -> line.append(Double.longBitsToDouble(values.bits()[row]));
          case STRING -> line.append('[').append(values.strings()[row]).append(']');
        }
      }
      out.add(line.toString());
    }
    return out;
  }

  /** Gathers the batches of one reader (or one batch) into growing arrays. */
  private static final class Collector {
    private final Column[] loaded;
    private final long[][] bits = new long[Column.COUNT][];
    private final String[][] strings = new String[Column.COUNT][];
    private final boolean[][] nulls = new boolean[Column.COUNT][];
    private int capacity;
    private int row;

    Collector(TraceBatch batch, int capacity) {
      this.loaded = batch.columns().toArray(new Column[0]);
      this.capacity = capacity;
      for (Column column : loaded) {
        int c = column.ordinal();
        nulls[c] = new boolean[capacity];
        if (column.type() == ColumnType.STRING) {
          strings[c] = new String[capacity];
        } else {
          bits[c] = new long[capacity];
        }
      }
    }

    void add(TraceBatch batch) {
      int n = batch.size();
      if (row + n > capacity) {
        capacity = Math.max(row + n, capacity * 2);
        for (Column column : loaded) {
          int c = column.ordinal();
          nulls[c] = Arrays.copyOf(nulls[c], capacity);
          if (strings[c] != null) {
            strings[c] = Arrays.copyOf(strings[c], capacity);
          } else {
            bits[c] = Arrays.copyOf(bits[c], capacity);
          }
        }
      }
      TraceDictionary dictionary = batch.dictionary();
      for (Column column : loaded) {
        int c = column.ordinal();
        for (int i = 0; i < n; i++) {
          boolean isNull = batch.isNull(column, i);
          nulls[c][row + i] = isNull;
          if (isNull) {
            continue;
          }
          switch (column.type()) {
            case INT32 -> bits[c][row + i] = batch.ints(column)[i];
            case INT64 -> bits[c][row + i] = batch.longs(column)[i];
            case FLOAT64 -> bits[c][row + i] = Double.doubleToLongBits(batch.doubles(column)[i]);
            case STRING -> {
              int id = batch.ints(column)[i];
              strings[c][row + i] =
                  switch (column) {
                    case LAYER_NAME -> dictionary.layerName(id);
                    case LAYER_TYPE -> dictionary.layerType(id);
                    case PHASE -> dictionary.phaseName(id);
                    default -> throw new IllegalStateException(column.toString());
                  };
            }
          }
        }
      }
      row += n;
    }

    TraceRows rows() {
      Map<Column, Values> columns = new EnumMap<>(Column.class);
      for (Column column : loaded) {
        int c = column.ordinal();
        columns.put(
            column,
            new Values(
                bits[c] == null ? null : Arrays.copyOf(bits[c], row),
                strings[c] == null ? null : Arrays.copyOf(strings[c], row),
                Arrays.copyOf(nulls[c], row)));
      }
      return new TraceRows(columns, row);
    }
  }
}
