package io.dlanalyze.trace;

import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * The columns of trace format v1, in contract order. {@code wireName()} is the column's name in
 * Parquet, Arrow and CSV files.
 */
public enum Column {
  EPOCH(0, "epoch", ColumnType.INT32, false),
  BATCH(1, "batch", ColumnType.INT32, false),
  STEP(2, "step", ColumnType.INT64, false),
  LAYER_INDEX(3, "layer_index", ColumnType.INT32, false),
  LAYER_NAME(4, "layer_name", ColumnType.STRING, false),
  LAYER_TYPE(5, "layer_type", ColumnType.STRING, true),
  PHASE(6, "phase", ColumnType.STRING, false),
  MEAN(7, "mean", ColumnType.FLOAT64, false),
  STD(8, "std", ColumnType.FLOAT64, true),
  MIN(9, "min", ColumnType.FLOAT64, true),
  MAX(10, "max", ColumnType.FLOAT64, true),
  L2_NORM(11, "l2_norm", ColumnType.FLOAT64, true),
  ZERO_FRACTION(12, "zero_fraction", ColumnType.FLOAT64, true),
  NAN_COUNT(13, "nan_count", ColumnType.INT64, true),
  INF_COUNT(14, "inf_count", ColumnType.INT64, true),
  NUMEL(15, "numel", ColumnType.INT64, true);

  /** Number of columns in the contract. */
  public static final int COUNT = values().length;

  static {
    Column[] columns = values();
    for (Column column : columns) {
      if (columns[column.index] != column) {
        throw new AssertionError("column indexes must follow the declaration order: " + column);
      }
    }
  }

  private final int index;
  private final String wireName;
  private final ColumnType type;
  private final boolean nullable;

  Column(int index, String wireName, ColumnType type, boolean nullable) {
    this.index = index;
    this.wireName = wireName;
    this.type = type;
    this.nullable = nullable;
  }

  /**
   * The column's position in the contract, 0 to {@link #COUNT} - 1: the index of per-column arrays
   * (the order of the Parquet and Arrow schemas).
   */
  public int index() {
    return index;
  }

  /** {@code 1 << index()}: the column's bit in a mask of columns. */
  public int bit() {
    return 1 << index;
  }

  public String wireName() {
    return wireName;
  }

  public ColumnType type() {
    return type;
  }

  /** Whether the contract allows nulls in this column; required columns must be present. */
  public boolean isNullable() {
    return nullable;
  }

  /** The required columns: a trace without one of them is invalid. */
  public static Set<Column> required() {
    EnumSet<Column> required = EnumSet.noneOf(Column.class);
    for (Column column : values()) {
      if (!column.nullable) {
        required.add(column);
      }
    }
    return required;
  }

  /** Every column. */
  public static Set<Column> all() {
    return EnumSet.allOf(Column.class);
  }

  public static Optional<Column> fromWireName(String name) {
    for (Column column : values()) {
      if (column.wireName.equals(name)) {
        return Optional.of(column);
      }
    }
    return Optional.empty();
  }
}
