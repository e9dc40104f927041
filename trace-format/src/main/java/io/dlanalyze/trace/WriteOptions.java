package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

/**
 * Writer settings.
 *
 * @param compression Parquet codec: "zstd" (default), "snappy" or "uncompressed"; ignored by the
 *     other formats
 * @param rowGroupRows rows per Parquet row group, rows per Arrow record batch
 */
public record WriteOptions(String compression, int rowGroupRows) {
  public static final int DEFAULT_ROW_GROUP_ROWS = 1 << 20;

  public WriteOptions {
    if (!compression.equals("zstd")
        && !compression.equals("snappy")
        && !compression.equals("uncompressed")) {
      throw new IllegalArgumentException(
          format(ROOT, "compression must be zstd, snappy or uncompressed: %s", compression));
    }
    if (rowGroupRows <= 0) {
      throw new IllegalArgumentException(
          format(ROOT, "rowGroupRows must be positive: %s", rowGroupRows));
    }
  }

  public static WriteOptions defaults() {
    return new WriteOptions("zstd", DEFAULT_ROW_GROUP_ROWS);
  }

  public WriteOptions withCompression(String codec) {
    return new WriteOptions(codec, rowGroupRows);
  }

  public WriteOptions withRowGroupRows(int rows) {
    return new WriteOptions(compression, rows);
  }
}
