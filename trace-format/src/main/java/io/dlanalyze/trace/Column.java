package io.dlanalyze.trace;

import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * The columns of trace format v1, in contract order. {@code wireName()} is the column's name in
 * Parquet, Arrow and CSV files.
 */
public enum Column {
  EPOCH("epoch", ColumnType.INT32, false),
  BATCH("batch", ColumnType.INT32, false),
  STEP("step", ColumnType.INT64, false),
  LAYER_INDEX("layer_index", ColumnType.INT32, false),
  LAYER_NAME("layer_name", ColumnType.STRING, false),
  LAYER_TYPE("layer_type", ColumnType.STRING, true),
  PHASE("phase", ColumnType.STRING, false),
  MEAN("mean", ColumnType.FLOAT64, false),
  STD("std", ColumnType.FLOAT64, true),
  MIN("min", ColumnType.FLOAT64, true),
  MAX("max", ColumnType.FLOAT64, true),
  L2_NORM("l2_norm", ColumnType.FLOAT64, true),
  ZERO_FRACTION("zero_fraction", ColumnType.FLOAT64, true),
  NAN_COUNT("nan_count", ColumnType.INT64, true),
  INF_COUNT("inf_count", ColumnType.INT64, true),
  NUMEL("numel", ColumnType.INT64, true);

  /** Number of columns in the contract. */
  public static final int COUNT = values().length;

  private final String wireName;
  private final ColumnType type;
  private final boolean nullable;

  Column(String wireName, ColumnType type, boolean nullable) {
    this.wireName = wireName;
    this.type = type;
    this.nullable = nullable;
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
