package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.util.List;

/**
 * Writer settings.
 *
 * @param compression the codec: {@code "default"} (zstd for Parquet, none for Arrow IPC), {@code
 *     "zstd"}, {@code "lz4"} (Parquet LZ4_RAW, Arrow LZ4_FRAME, as pyarrow names them), {@code
 *     "snappy"}, {@code "gzip"}, {@code "lz4_raw"} (Parquet only) or {@code "uncompressed"}; CSV
 *     output is never compressed ({@link #checkFor})
 * @param rowGroupRows rows per Parquet row group, rows per Arrow record batch
 */
public record WriteOptions(String compression, int rowGroupRows) {
  public static final int DEFAULT_ROW_GROUP_ROWS = 1 << 20;

  /** Every codec name, in the order the help lists them. */
  public static final List<String> CODECS =
      List.of("default", "zstd", "lz4", "snappy", "gzip", "lz4_raw", "uncompressed");

  private static final List<String> PARQUET_CODECS =
      List.of("default", "zstd", "lz4", "snappy", "gzip", "lz4_raw", "uncompressed");
  private static final List<String> ARROW_CODECS =
      List.of("default", "zstd", "lz4", "uncompressed");

  public WriteOptions {
    if (!CODECS.contains(compression)) {
      throw new IllegalArgumentException(
          format(
              ROOT, "compression must be one of %s: %s", String.join(", ", CODECS), compression));
    }
    if (rowGroupRows <= 0) {
      throw new IllegalArgumentException(
          format(ROOT, "rowGroupRows must be positive: %s", rowGroupRows));
    }
  }

  public static WriteOptions defaults() {
    return new WriteOptions("default", DEFAULT_ROW_GROUP_ROWS);
  }

  public WriteOptions withCompression(String codec) {
    return new WriteOptions(codec, rowGroupRows);
  }

  public WriteOptions withRowGroupRows(int rows) {
    return new WriteOptions(compression, rows);
  }

  /**
   * Checks that a writer of {@code format} can use the codec: Parquet takes every codec, Arrow IPC
   * zstd and lz4 (IPC compresses with zstd or LZ4 frames only); CSV is never compressed and ignores
   * the codec.
   *
   * @throws IllegalArgumentException naming the codecs the format takes
   */
  public void checkFor(TraceFormat format) {
    List<String> allowed =
        switch (format) {
          case PARQUET -> PARQUET_CODECS;
          case ARROW_FILE, ARROW_STREAM -> ARROW_CODECS;
          case CSV, SYNTHETIC, TENSORBOARD -> CODECS; // never written compressed: ignored
        };
    if (!allowed.contains(compression)) {
      String name =
          switch (format) {
            case PARQUET -> "Parquet";
            case ARROW_FILE, ARROW_STREAM -> "Arrow IPC";
            case CSV, SYNTHETIC, TENSORBOARD -> "CSV";
          };
      throw new IllegalArgumentException(
          format(
              ROOT,
              "%s output cannot be compressed with %s: use %s",
              name,
              compression,
              String.join(", ", allowed.subList(1, allowed.size()))));
    }
  }
}
