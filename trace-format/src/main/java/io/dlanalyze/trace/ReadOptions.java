package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.util.EnumSet;
import java.util.Set;

/**
 * What a reader loads: the columns (projection) and, for formats without row groups, the number of
 * rows per batch. Parquet batches follow the file's row groups, split at {@code batchRows}.
 *
 * @param columns the columns to load; the required ones are always checked for presence
 * @param batchRows the maximum number of rows in one batch
 */
public record ReadOptions(Set<Column> columns, int batchRows) {
  /** Default rows per batch: 64 Ki rows x 16 columns is about 8 MB of arrays. */
  public static final int DEFAULT_BATCH_ROWS = 1 << 16;

  public ReadOptions {
    columns = columns.isEmpty() ? EnumSet.noneOf(Column.class) : EnumSet.copyOf(columns);
    if (batchRows <= 0) {
      throw new IllegalArgumentException(format(ROOT, "batchRows must be positive: %s", batchRows));
    }
  }

  /** Every column, default batch size. */
  public static ReadOptions all() {
    return new ReadOptions(Column.all(), DEFAULT_BATCH_ROWS);
  }

  /** Only these columns, default batch size. */
  public static ReadOptions columns(Set<Column> columns) {
    return new ReadOptions(columns, DEFAULT_BATCH_ROWS);
  }

  public ReadOptions withBatchRows(int rows) {
    return new ReadOptions(columns, rows);
  }

  @Override
  public Set<Column> columns() {
    return columns.isEmpty() ? EnumSet.noneOf(Column.class) : EnumSet.copyOf(columns);
  }
}
