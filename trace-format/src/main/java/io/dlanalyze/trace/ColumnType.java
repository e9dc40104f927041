package io.dlanalyze.trace;

/** Physical type of a trace column as it is held in a {@link TraceBatch}. */
public enum ColumnType {
  /** int32; held in an {@code int[]}. */
  INT32,
  /** int64; held in a {@code long[]}. */
  INT64,
  /** float64; held in a {@code double[]}. */
  FLOAT64,
  /** utf8 string, dictionary-encoded; held as {@code int[]} ids into a {@link TraceDictionary}. */
  STRING
}
