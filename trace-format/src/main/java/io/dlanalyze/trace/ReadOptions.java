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
 * @param decodeThreads how many threads decode the columns of a Parquet batch (the reading thread
 *     included; each column of a batch is decoded by one of them, so the batch is the same whatever
 *     the number); other formats read on the calling thread
 */
public record ReadOptions(Set<Column> columns, int batchRows, int decodeThreads) {
  /** Default rows per batch: 64 Ki rows x 16 columns is about 8 MB of arrays. */
  public static final int DEFAULT_BATCH_ROWS = 1 << 16;

  /** The most decode threads a reader starts. */
  public static final int MAX_DECODE_THREADS = 64;

  public ReadOptions {
    columns = columns.isEmpty() ? EnumSet.noneOf(Column.class) : EnumSet.copyOf(columns);
    if (batchRows <= 0) {
      throw new IllegalArgumentException(format(ROOT, "batchRows must be positive: %s", batchRows));
    }
    if (decodeThreads < 1 || decodeThreads > MAX_DECODE_THREADS) {
      throw new IllegalArgumentException(
          format(
              ROOT,
              "decodeThreads must be between 1 and %d: %s",
              MAX_DECODE_THREADS,
              decodeThreads));
    }
  }

  /** These columns and rows per batch, decoded on the reading thread alone. */
  public ReadOptions(Set<Column> columns, int batchRows) {
    this(columns, batchRows, 1);
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
    return new ReadOptions(columns, rows, decodeThreads);
  }

  /** The same options with {@code threads} decode threads. */
  public ReadOptions withDecodeThreads(int threads) {
    return new ReadOptions(columns, batchRows, threads);
  }

  @Override
  public Set<Column> columns() {
    return columns.isEmpty() ? EnumSet.noneOf(Column.class) : EnumSet.copyOf(columns);
  }
}
