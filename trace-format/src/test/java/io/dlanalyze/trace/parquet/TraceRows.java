package io.dlanalyze.trace.parquet;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceReader;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;

/**
 * Every row of a trace, column by column, in a form that compares across readers: numbers as the
 * bits of their value (doubles through {@link Double#doubleToLongBits}, so NaN equals NaN), strings
 * resolved through the reader's dictionary (phases by name), nulls as a mask.
 */
final class TraceRows {
  /** One column: values as bits (numbers) or strings, plus the null mask. */
  record Values(long[] bits, String[] strings, boolean[] nulls) {
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

  final Map<Column, Values> columns = new EnumMap<>(Column.class);
  final int rows;

  private TraceRows(int rows) {
    this.rows = rows;
  }

  Values get(Column column) {
    return columns.get(column);
  }

  double[] doubles(Column column) {
    long[] bits = get(column).bits();
    double[] values = new double[bits.length];
    for (int i = 0; i < bits.length; i++) {
      values[i] = Double.longBitsToDouble(bits[i]);
    }
    return values;
  }

  /** Reads the rest of {@code reader}; rows must fit in an int. */
  static TraceRows readAll(TraceReader reader) {
    TraceBatch batch = reader.batch();
    Column[] loaded = batch.columns().toArray(new Column[0]);
    int capacity = reader.totalRows() > 0 ? (int) reader.totalRows() : 1024;
    long[][] bits = new long[Column.COUNT][];
    String[][] strings = new String[Column.COUNT][];
    boolean[][] nulls = new boolean[Column.COUNT][];
    for (Column column : loaded) {
      int c = column.ordinal();
      nulls[c] = new boolean[capacity];
      if (column.type() == io.dlanalyze.trace.ColumnType.STRING) {
        strings[c] = new String[capacity];
      } else {
        bits[c] = new long[capacity];
      }
    }
    int row = 0;
    TraceDictionary dictionary = reader.dictionary();
    while (reader.next()) {
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
                    default -> dictionary.phaseName(id);
                  };
            }
          }
        }
      }
      row += n;
    }
    TraceRows result = new TraceRows(row);
    for (Column column : loaded) {
      int c = column.ordinal();
      result.columns.put(
          column,
          new Values(
              bits[c] == null ? null : Arrays.copyOf(bits[c], row),
              strings[c] == null ? null : Arrays.copyOf(strings[c], row),
              Arrays.copyOf(nulls[c], row)));
    }
    return result;
  }
}
