package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.nio.file.Path;
import java.util.Set;
import java.util.function.Function;

/**
 * Schema and value errors worded the same for every format, in the shape the Parquet reader uses:
 * {@code run.arrows: column 'phase' is missing (required by trace format v1, expected utf8 (plain
 * or dictionary-encoded))} and {@code run.arrows: column 'step' is Arrow type utf8, expected int64
 * (or another integer type)}.
 */
public final class SchemaErrors {
  private SchemaErrors() {}

  /**
   * Throws {@link ErrorCode#MISSING_COLUMN} for the first required column (in contract order)
   * absent from {@code present}; does nothing when all are there.
   *
   * @param expected the format's spelling of the type a column is read from
   */
  public static void requireColumns(
      Path file, Set<Column> present, Function<Column, String> expected) {
    for (Column column : Column.values()) {
      if (!column.isNullable() && !present.contains(column)) {
        throw new TraceFormatException(
            ErrorCode.MISSING_COLUMN,
            file,
            null,
            format(
                ROOT,
                "column '%s' is missing (required by trace format v1, expected %s)",
                column.wireName(),
                expected.apply(column)));
      }
    }
  }

  /**
   * A column whose type cannot be read as the contract's type.
   *
   * @param actual the file's type, e.g. {@code "Arrow type utf8"}
   * @param expected the types the reader accepts, e.g. {@code "int64 (or another integer type)"}
   */
  public static TraceFormatException wrongType(
      Path file, Column column, String actual, String expected) {
    return new TraceFormatException(
        ErrorCode.WRONG_TYPE,
        file,
        null,
        format(ROOT, "column '%s' is %s, expected %s", column.wireName(), actual, expected));
  }

  /** A contract column that appears more than once. */
  public static TraceFormatException duplicateColumn(Path file, Column column) {
    return new TraceFormatException(
        ErrorCode.CORRUPT,
        file,
        null,
        format(ROOT, "column '%s' appears more than once", column.wireName()));
  }

  /** A null in a column the contract requires, at a global row number. */
  public static TraceFormatException nullInRequiredColumn(Path file, Column column, long row) {
    return new TraceFormatException(
        ErrorCode.INVALID_VALUE,
        file,
        rowLocation(row),
        format(ROOT, "column '%s' is null (the column is required)", column.wireName()));
  }

  /** The contract's own name of a column's type: int32, int64, float64 or string. */
  public static String contractType(Column column) {
    return switch (column.type()) {
      case INT32 -> "int32";
      case INT64 -> "int64";
      case FLOAT64 -> "float64";
      case STRING -> "string";
    };
  }

  /** The location of a row: {@code "row 1043"} (0-based over the whole trace). */
  public static String rowLocation(long row) {
    return "row " + row;
  }
}
