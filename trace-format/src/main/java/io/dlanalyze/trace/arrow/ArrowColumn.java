package io.dlanalyze.trace.arrow;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ColumnType;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.Limits;
import io.dlanalyze.trace.ReadErrors;
import io.dlanalyze.trace.SchemaErrors;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.Utf8Ids;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.ToIntFunction;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.LargeVarCharVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.ViewVarCharVector;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.jspecify.annotations.Nullable;

/**
 * One contract column of an Arrow file bound to its vector: knows the physical kind and copies a
 * row range of the loaded record batch into a {@link TraceBatch}, widening or narrowing as the
 * contract allows and mapping string columns to {@link TraceDictionary} ids.
 *
 * <p>Implementation notes: same-width numeric columns are copied in bulk through an NIO view of the
 * Arrow data buffer (one memcpy per column and batch); other widths go through an index loop.
 * Dictionary-encoded columns are re-resolved once per record batch, because an IPC stream may
 * replace or extend a dictionary between batches.
 */
final class ArrowColumn {
  /** The physical layouts the reader accepts. */
  enum Kind {
    INT8,
    INT16,
    INT32,
    INT64,
    UINT8,
    UINT16,
    UINT32,
    FLOAT32,
    FLOAT64,
    UTF8,
    LARGE_UTF8,
    UTF8_VIEW,
    DICTIONARY
  }

  private final Path file;
  private final Column column;
  private final FieldVector vector;
  private final Kind kind;
  private final @Nullable Kind dictionaryValueKind;
  private final long dictionaryId;

  /** The id of a layer name, layer type or phase; {@code null} for a column of numbers. */
  private final @Nullable ToIntFunction<String> resolver;

  private final @Nullable Utf8Ids plainIds;
  private int[] localToGlobal = new int[0];
  private int localCount = -1;
  private int[] indexScratch = new int[0];
  private byte[] bytes = new byte[256];
  private int nullCount;

  private ArrowColumn(
      Path file,
      Column column,
      FieldVector vector,
      Kind kind,
      @Nullable Kind dictionaryValueKind,
      long dictionaryId,
      TraceDictionary dictionary) {
    this.file = file;
    this.column = column;
    this.vector = vector;
    this.kind = kind;
    this.dictionaryValueKind = dictionaryValueKind;
    this.dictionaryId = dictionaryId;
    this.resolver =
        switch (column) {
          case LAYER_NAME -> dictionary::layerNameId;
          case LAYER_TYPE -> dictionary::layerTypeId;
          case PHASE -> dictionary::phaseCode;
          default -> null;
        };
    this.plainIds = resolver == null ? null : new Utf8Ids(Limits.nameKind(column), resolver);
  }

  /**
   * Binds a column, checking that its Arrow type can be read as the contract's type.
   *
   * @param valueType for a dictionary-encoded field, the type of its dictionary values
   */
  static ArrowColumn bind(
      Path file,
      Column column,
      FieldVector vector,
      ArrowType valueType,
      TraceDictionary dictionary) {
    Field field = vector.getField();
    if (field.getDictionary() != null) {
      Kind values = kindOf(valueType);
      Kind indices = kindOf(field.getType());
      boolean ok =
          column.type() == ColumnType.STRING
              && (values == Kind.UTF8 || values == Kind.LARGE_UTF8 || values == Kind.UTF8_VIEW)
              && indices != null
              && isInteger(indices);
      if (!ok) {
        throw SchemaErrors.wrongType(
            file,
            column,
            "Arrow type dictionary<values="
                + typeName(valueType)
                + ", indices="
                + typeName(field.getType())
                + ">",
            expected(column));
      }
      return new ArrowColumn(
          file, column, vector, Kind.DICTIONARY, values, field.getDictionary().getId(), dictionary);
    }
    Kind kind = kindOf(field.getType());
    if (kind == null || !readableAs(column, kind)) {
      throw SchemaErrors.wrongType(
          file, column, "Arrow type " + typeName(field.getType()), expected(column));
    }
    return new ArrowColumn(file, column, vector, kind, null, -1, dictionary);
  }

  /** The Arrow types a contract column is read from, for messages. */
  static String expected(Column column) {
    return switch (column.type()) {
      case INT32 -> "int32 (or another integer type)";
      case INT64 -> "int64 (or another integer type)";
      case FLOAT64 -> "float64 (or float32)";
      case STRING -> "utf8 (plain or dictionary-encoded)";
    };
  }

  Column column() {
    return column;
  }

  /** Called after each record batch is loaded. */
  void onRecordBatch() {
    nullCount = vector.getNullCount();
    localCount = -1;
  }

  /**
   * Copies rows {@code [from, from + n)} of the loaded record batch into rows {@code [0, n)} of
   * {@code batch}.
   *
   * @param firstRow the global row number of row {@code from}, for messages
   */
  void copy(TraceBatch batch, int from, int n, long firstRow, ArrowDictionaries dictionaries) {
    switch (column.type()) {
      case INT32 -> copyInts(batch.ints(column), from, n, firstRow);
      case INT64 -> copyLongs(batch.longs(column), from, n);
      case FLOAT64 -> copyDoubles(batch.doubles(column), from, n);
      case STRING -> copyStrings(batch, from, n, firstRow, dictionaries);
    }
    if (nullCount > 0) {
      copyNulls(batch, from, n, firstRow);
    }
  }

  private void copyNulls(TraceBatch batch, int from, int n, long firstRow) {
    boolean[] mask = null;
    for (int i = 0; i < n; i++) {
      if (vector.isNull(from + i)) {
        if (!column.isNullable()) {
          throw SchemaErrors.nullInRequiredColumn(file, column, firstRow + i);
        }
        if (mask == null) {
          mask = batch.nullMaskForWrite(column);
        }
        mask[i] = true;
      }
    }
  }

  private void copyInts(int[] dst, int from, int n, long firstRow) {
    ArrowBuf data = vector.getDataBuffer();
    switch (kind) {
      case INT32 ->
          data.nioBuffer(from * 4L, n * 4)
              .order(ByteOrder.LITTLE_ENDIAN)
              .asIntBuffer()
              .get(dst, 0, n);
      case INT8 -> {
        for (int i = 0; i < n; i++) {
          dst[i] = data.getByte(from + i);
        }
      }
      case UINT8 -> {
        for (int i = 0; i < n; i++) {
          dst[i] = data.getByte(from + i) & 0xFF;
        }
      }
      case INT16 -> {
        for (int i = 0; i < n; i++) {
          dst[i] = data.getShort((from + i) * 2L);
        }
      }
      case UINT16 -> {
        for (int i = 0; i < n; i++) {
          dst[i] = data.getShort((from + i) * 2L) & 0xFFFF;
        }
      }
      case INT64, UINT32 -> {
        boolean unsigned = kind == Kind.UINT32;
        for (int i = 0; i < n; i++) {
          long value =
              unsigned ? data.getInt((from + i) * 4L) & 0xFFFFFFFFL : data.getLong((from + i) * 8L);
          if (value != (int) value && !vector.isNull(from + i)) {
            throw new TraceFormatException(
                ErrorCode.INVALID_VALUE,
                file,
                SchemaErrors.rowLocation(firstRow + i),
                format(ROOT, "column '%s': %d does not fit in int32", column.wireName(), value));
          }
          dst[i] = (int) value;
        }
      }
      case FLOAT32, FLOAT64, UTF8, LARGE_UTF8, UTF8_VIEW, DICTIONARY ->
          throw new IllegalStateException("not an integer column: " + kind);
    }
  }

  private void copyLongs(long[] dst, int from, int n) {
    ArrowBuf data = vector.getDataBuffer();
    switch (kind) {
      case INT64 ->
          data.nioBuffer(from * 8L, n * 8)
              .order(ByteOrder.LITTLE_ENDIAN)
              .asLongBuffer()
              .get(dst, 0, n);
      case INT32 -> {
        for (int i = 0; i < n; i++) {
          dst[i] = data.getInt((from + i) * 4L);
        }
      }
      case UINT32 -> {
        for (int i = 0; i < n; i++) {
          dst[i] = data.getInt((from + i) * 4L) & 0xFFFFFFFFL;
        }
      }
      case INT16 -> {
        for (int i = 0; i < n; i++) {
          dst[i] = data.getShort((from + i) * 2L);
        }
      }
      case UINT16 -> {
        for (int i = 0; i < n; i++) {
          dst[i] = data.getShort((from + i) * 2L) & 0xFFFF;
        }
      }
      case INT8 -> {
        for (int i = 0; i < n; i++) {
          dst[i] = data.getByte(from + i);
        }
      }
      case UINT8 -> {
        for (int i = 0; i < n; i++) {
          dst[i] = data.getByte(from + i) & 0xFF;
        }
      }
      case FLOAT32, FLOAT64, UTF8, LARGE_UTF8, UTF8_VIEW, DICTIONARY ->
          throw new IllegalStateException("not an integer column: " + kind);
    }
  }

  private void copyDoubles(double[] dst, int from, int n) {
    ArrowBuf data = vector.getDataBuffer();
    if (kind == Kind.FLOAT64) {
      data.nioBuffer(from * 8L, n * 8)
          .order(ByteOrder.LITTLE_ENDIAN)
          .asDoubleBuffer()
          .get(dst, 0, n);
    } else {
      for (int i = 0; i < n; i++) {
        dst[i] = data.getFloat((from + i) * 4L);
      }
    }
  }

  private void copyStrings(
      TraceBatch batch, int from, int n, long firstRow, ArrowDictionaries dictionaries) {
    int[] dst = batch.ints(column);
    Utf8Ids ids = requireNonNull(plainIds, "not a string column");
    switch (kind) {
      case DICTIONARY -> copyDictionaryIds(batch, dst, from, n, firstRow, dictionaries);
      case UTF8 -> {
        ArrowBuf offsets = vector.getOffsetBuffer();
        ArrowBuf data = vector.getDataBuffer();
        for (int i = 0; i < n; i++) {
          int start = offsets.getInt((from + i) * 4L);
          int length = offsets.getInt((from + i + 1) * 4L) - start;
          dst[i] = plainId(ids, data, start, length, from + i);
        }
      }
      case LARGE_UTF8 -> {
        ArrowBuf offsets = vector.getOffsetBuffer();
        ArrowBuf data = vector.getDataBuffer();
        for (int i = 0; i < n; i++) {
          long start = offsets.getLong((from + i) * 8L);
          int length = (int) (offsets.getLong((from + i + 1) * 8L) - start);
          dst[i] = plainId(ids, data, start, length, from + i);
        }
      }
      case UTF8_VIEW -> {
        ViewVarCharVector views = (ViewVarCharVector) vector;
        for (int i = 0; i < n; i++) {
          if (views.isNull(from + i)) {
            dst[i] = -1;
          } else {
            byte[] value = views.get(from + i);
            dst[i] = ids.id(value, 0, value.length);
          }
        }
      }
      case INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, FLOAT32, FLOAT64 ->
          throw new IllegalStateException("not a string column: " + kind);
    }
  }

  private int plainId(Utf8Ids ids, ArrowBuf data, long start, int length, int index) {
    if (nullCount > 0 && vector.isNull(index)) {
      return -1;
    }
    Limits.checkNameBytes(Limits.nameKind(column), length);
    if (bytes.length < length) {
      bytes = new byte[Math.max(length, bytes.length * 2)];
    }
    data.getBytes(start, bytes, 0, length);
    return ids.id(bytes, 0, length);
  }

  private void copyDictionaryIds(
      TraceBatch batch, int[] dst, int from, int n, long firstRow, ArrowDictionaries dictionaries) {
    if (localCount < 0) {
      resolveDictionary(dictionaries.lookup(dictionaryId));
    }
    BaseIntVector indices = (BaseIntVector) vector;
    if (indexScratch.length < n) {
      indexScratch = new int[Math.max(n, indexScratch.length * 2)];
    }
    int[] local = indexScratch;
    if (vector.getField().getType() instanceof ArrowType.Int t && t.getBitWidth() == 32) {
      vector
          .getDataBuffer()
          .nioBuffer(from * 4L, n * 4)
          .order(ByteOrder.LITTLE_ENDIAN)
          .asIntBuffer()
          .get(local, 0, n);
    } else {
      for (int i = 0; i < n; i++) {
        long value = indices.getValueAsLong(from + i);
        local[i] = value < 0 || value > Integer.MAX_VALUE ? -1 : (int) value;
      }
    }
    int[] map = localToGlobal;
    int count = localCount;
    for (int i = 0; i < n; i++) {
      if (nullCount > 0 && vector.isNull(from + i)) {
        dst[i] = -1;
        continue;
      }
      int index = local[i];
      if (index < 0 || index >= count) {
        throw new TraceFormatException(
            ErrorCode.CORRUPT,
            file,
            SchemaErrors.rowLocation(firstRow + i),
            format(
                ROOT,
                "column '%s': dictionary index %d is out of range (the dictionary has %d entries)",
                column.wireName(),
                index,
                count));
      }
      int id = map[index];
      if (id < 0) {
        if (!column.isNullable()) {
          throw SchemaErrors.nullInRequiredColumn(file, column, firstRow + i);
        }
        batch.setNull(column, i);
      }
      dst[i] = id;
    }
  }

  private void resolveDictionary(Dictionary dictionary) {
    FieldVector values = dictionary.getVector();
    Kind valueKind = requireNonNull(dictionaryValueKind, "not a dictionary column");
    ToIntFunction<String> ids = requireNonNull(resolver, "not a string column");
    try {
      VectorChecks.check(values);
    } catch (RuntimeException e) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          file,
          null,
          format(
              ROOT,
              "column '%s': the dictionary is inconsistent: %s",
              column.wireName(),
              ReadErrors.describe(e, "its offsets or buffers do not fit")));
    }
    int count = values.getValueCount();
    if (localToGlobal.length < count) {
      localToGlobal = new int[Math.max(count, localToGlobal.length * 2)];
    }
    for (int i = 0; i < count; i++) {
      if (values.isNull(i)) {
        localToGlobal[i] = -1;
        continue;
      }
      if (values instanceof org.apache.arrow.vector.BaseVariableWidthVector strings) {
        Limits.checkNameBytes(Limits.nameKind(column), strings.getValueLength(i));
      }
      byte[] value =
          switch (valueKind) {
            case UTF8 -> ((VarCharVector) values).get(i);
            case LARGE_UTF8 -> ((LargeVarCharVector) values).get(i);
            case UTF8_VIEW -> ((ViewVarCharVector) values).get(i);
            case INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, FLOAT32, FLOAT64, DICTIONARY ->
                throw new IllegalStateException("not a string dictionary: " + valueKind);
          };
      localToGlobal[i] =
          ids.applyAsInt(
              Limits.checkName(Limits.nameKind(column), new String(value, StandardCharsets.UTF_8)));
    }
    localCount = count;
  }

  /** Fills the column with nulls: it is not in the file but the caller asked for it. */
  static void fillAbsent(TraceBatch batch, Column column, int n) {
    switch (column.type()) {
      case INT32 -> Arrays.fill(batch.ints(column), 0, n, 0);
      case STRING -> Arrays.fill(batch.ints(column), 0, n, -1);
      case INT64 -> Arrays.fill(batch.longs(column), 0, n, 0L);
      case FLOAT64 -> Arrays.fill(batch.doubles(column), 0, n, Double.NaN);
    }
    Arrays.fill(batch.nullMaskForWrite(column), 0, n, true);
  }

  private static boolean readableAs(Column column, Kind kind) {
    return switch (column.type()) {
      case INT32, INT64 -> isInteger(kind);
      case FLOAT64 -> kind == Kind.FLOAT32 || kind == Kind.FLOAT64;
      case STRING -> kind == Kind.UTF8 || kind == Kind.LARGE_UTF8 || kind == Kind.UTF8_VIEW;
    };
  }

  private static boolean isInteger(Kind kind) {
    return switch (kind) {
      case INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32 -> true;
      case FLOAT32, FLOAT64, UTF8, LARGE_UTF8, UTF8_VIEW, DICTIONARY -> false;
    };
  }

  /** The kind of an Arrow type, or {@code null} for a type the reader does not accept. */
  private static @Nullable Kind kindOf(ArrowType type) {
    if (type instanceof ArrowType.Int t) {
      return switch (t.getBitWidth()) {
        case 8 -> t.getIsSigned() ? Kind.INT8 : Kind.UINT8;
        case 16 -> t.getIsSigned() ? Kind.INT16 : Kind.UINT16;
        case 32 -> t.getIsSigned() ? Kind.INT32 : Kind.UINT32;
        case 64 -> t.getIsSigned() ? Kind.INT64 : null;
        default -> null;
      };
    }
    if (type instanceof ArrowType.FloatingPoint t) {
      return t.getPrecision() == FloatingPointPrecision.DOUBLE
          ? Kind.FLOAT64
          : t.getPrecision() == FloatingPointPrecision.SINGLE ? Kind.FLOAT32 : null;
    }
    if (type instanceof ArrowType.Utf8) {
      return Kind.UTF8;
    }
    if (type instanceof ArrowType.LargeUtf8) {
      return Kind.LARGE_UTF8;
    }
    if (type instanceof ArrowType.Utf8View) {
      return Kind.UTF8_VIEW;
    }
    return null;
  }

  /** A short, pyarrow-like name of an Arrow type for messages: int64, float32, utf8, bool... */
  static String typeName(ArrowType type) {
    if (type instanceof ArrowType.Int t) {
      return (t.getIsSigned() ? "int" : "uint") + t.getBitWidth();
    }
    if (type instanceof ArrowType.FloatingPoint t) {
      return switch (t.getPrecision()) {
        case HALF -> "float16";
        case SINGLE -> "float32";
        case DOUBLE -> "float64";
      };
    }
    if (type instanceof ArrowType.Utf8) {
      return "utf8";
    }
    if (type instanceof ArrowType.LargeUtf8) {
      return "large_utf8";
    }
    if (type instanceof ArrowType.Utf8View) {
      return "utf8_view";
    }
    if (type instanceof ArrowType.Bool) {
      return "bool";
    }
    if (type instanceof ArrowType.Binary) {
      return "binary";
    }
    return type.toString().toLowerCase(ROOT);
  }

  /** Looks a dictionary up by id; the reader passes its Arrow reader. */
  interface ArrowDictionaries {
    Dictionary lookup(long id);
  }
}
