package io.dlanalyze.trace.parquet;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ColumnType;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import java.nio.file.Path;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;
import org.apache.parquet.schema.Type.Repetition;
import org.apache.parquet.schema.Types;

/**
 * The trace schema in Parquet terms: what the writer writes, and which Parquet types the reader
 * accepts for each contract column.
 *
 * <table>
 *   <caption>Accepted Parquet physical types</caption>
 *   <tr><th>contract type</th><th>written as</th><th>also read</th></tr>
 *   <tr><td>int32</td><td>INT32</td><td>INT64 (an error names the row group if a value does not fit)</td></tr>
 *   <tr><td>int64</td><td>INT64</td><td>INT32 (widened)</td></tr>
 *   <tr><td>float64</td><td>DOUBLE</td><td>FLOAT (widened)</td></tr>
 *   <tr><td>string</td><td>BYTE_ARRAY, STRING annotation</td><td>BYTE_ARRAY with any or no annotation</td></tr>
 * </table>
 *
 * <p>Columns must be top-level and not repeated; REQUIRED and OPTIONAL are both accepted for every
 * column (a null in a column the contract requires is reported when it is read). Columns the
 * contract does not name are ignored.
 */
final class TraceParquetSchema {
  /** The message name of the schema the writer writes. */
  static final String MESSAGE_NAME = "dltrace";

  private TraceParquetSchema() {}

  /** The v1 schema in contract column order; nullable columns are OPTIONAL. */
  static MessageType v1() {
    Types.MessageTypeBuilder builder = Types.buildMessage();
    for (Column column : Column.values()) {
      Repetition repetition = column.isNullable() ? Repetition.OPTIONAL : Repetition.REQUIRED;
      switch (column.type()) {
        case INT32 ->
            builder.primitive(PrimitiveTypeName.INT32, repetition).named(column.wireName());
        case INT64 ->
            builder.primitive(PrimitiveTypeName.INT64, repetition).named(column.wireName());
        case FLOAT64 ->
            builder.primitive(PrimitiveTypeName.DOUBLE, repetition).named(column.wireName());
        case STRING ->
            builder
                .primitive(PrimitiveTypeName.BINARY, repetition)
                .as(LogicalTypeAnnotation.stringType())
                .named(column.wireName());
      }
    }
    return builder.named(MESSAGE_NAME);
  }

  /**
   * The contract columns of a file's schema, indexed by {@link Column#ordinal()}: the Parquet type,
   * or {@code null} for a nullable column the file does not have.
   *
   * @throws TraceFormatException MISSING_COLUMN for an absent required column, WRONG_TYPE for a
   *     column of a type the reader cannot convert
   */
  static PrimitiveType[] resolve(Path file, MessageType schema) {
    PrimitiveType[] types = new PrimitiveType[Column.COUNT];
    for (Column column : Column.values()) {
      String name = column.wireName();
      if (!schema.containsField(name)) {
        if (!column.isNullable()) {
          throw new TraceFormatException(
              ErrorCode.MISSING_COLUMN,
              file,
              null,
              format(
                  ROOT,
                  "column '%s' is missing (required by trace format v1, expected %s)",
                  name,
                  expected(column.type())));
        }
        continue;
      }
      Type field = schema.getType(name);
      if (!field.isPrimitive()) {
        throw wrongType(file, column, "a group");
      }
      if (field.isRepetition(Repetition.REPEATED)) {
        throw wrongType(file, column, "a repeated field");
      }
      PrimitiveType primitive = field.asPrimitiveType();
      if (!accepts(column.type(), primitive.getPrimitiveTypeName())) {
        throw wrongType(file, column, "Parquet type " + primitive.getPrimitiveTypeName());
      }
      if (!acceptsAnnotation(column.type(), primitive.getLogicalTypeAnnotation())) {
        throw new TraceFormatException(
            ErrorCode.WRONG_TYPE,
            file,
            null,
            format(
                ROOT,
                "column '%s' is Parquet type %s annotated %s, expected %s holding plain integers"
                    + " (no annotation, or a signed INT one)",
                name,
                primitive.getPrimitiveTypeName(),
                primitive.getLogicalTypeAnnotation(),
                expected(column.type())));
      }
      types[column.ordinal()] = primitive;
    }
    return types;
  }

  static boolean accepts(ColumnType type, PrimitiveTypeName physical) {
    return switch (type) {
      case INT32, INT64 ->
          physical == PrimitiveTypeName.INT32 || physical == PrimitiveTypeName.INT64;
      case FLOAT64 -> physical == PrimitiveTypeName.DOUBLE || physical == PrimitiveTypeName.FLOAT;
      case STRING -> physical == PrimitiveTypeName.BINARY;
    };
  }

  /**
   * Integer columns hold plain numbers: no annotation or a signed integer one, or an unsigned one
   * narrower than 32 bits (its values fit). A timestamp, date, time, decimal or 32/64-bit unsigned
   * annotation means the numbers are something else, or would change sign: the Arrow reader rejects
   * the same types.
   */
  static boolean acceptsAnnotation(ColumnType type, LogicalTypeAnnotation annotation) {
    if (annotation == null || type == ColumnType.STRING || type == ColumnType.FLOAT64) {
      return true;
    }
    return annotation instanceof LogicalTypeAnnotation.IntLogicalTypeAnnotation integer
        && (integer.isSigned() || integer.getBitWidth() < 32);
  }

  /** The Parquet types a contract type is read from, for messages. */
  static String expected(ColumnType type) {
    return switch (type) {
      case INT32 -> "INT32 (or INT64)";
      case INT64 -> "INT64 (or INT32)";
      case FLOAT64 -> "DOUBLE (or FLOAT)";
      case STRING -> "BYTE_ARRAY (UTF8 string)";
    };
  }

  private static TraceFormatException wrongType(Path file, Column column, String actual) {
    return new TraceFormatException(
        ErrorCode.WRONG_TYPE,
        file,
        null,
        format(
            ROOT,
            "column '%s' is %s, expected %s",
            column.wireName(),
            actual,
            expected(column.type())));
  }
}
