package io.dlanalyze.trace.parquet;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ColumnType;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import org.apache.parquet.bytes.ByteBufferInputStream;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.Encoding;
import org.apache.parquet.column.ValuesType;
import org.apache.parquet.column.page.DataPage;
import org.apache.parquet.column.page.DataPageV1;
import org.apache.parquet.column.page.DataPageV2;
import org.apache.parquet.column.page.DictionaryPage;
import org.apache.parquet.column.page.PageReader;
import org.apache.parquet.column.values.ValuesReader;
import org.apache.parquet.io.ParquetDecodingException;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.jspecify.annotations.Nullable;

/**
 * Decodes the pages of one column chunk straight into a {@link TraceBatch}'s primitive arrays, the
 * way Spark's and Iceberg's vectorized Parquet readers do: a page's definition levels and values
 * are decoded in bulk, never value by value through parquet-mr's {@code ColumnReader}.
 *
 * <ul>
 *   <li>PLAIN int32 / int64 / double: one {@link ByteBuffer} view bulk get per run of values.
 *   <li>PLAIN_DICTIONARY / RLE_DICTIONARY: the dictionary page is decoded once per column chunk
 *       into an array of the target type (strings: mapped once to {@link TraceDictionary} ids); a
 *       page's ids are RLE-decoded in bulk, then one array lookup per value.
 *   <li>Widening (float to double, int32 to int64) and checked narrowing (int64 to int32) take a
 *       plain index loop.
 *   <li>BYTE_STREAM_SPLIT (DuckDB's choice for doubles in V2 files): the value's bytes are gathered
 *       from the page's byte streams in a plain loop.
 *   <li>Any other encoding (DELTA_*) goes through parquet-mr's {@link ValuesReader}, value by
 *       value: correct, slower, and rare in traces.
 * </ul>
 *
 * <p>Nulls: definition levels are decoded for a run; the non-null values are decoded to the front
 * of the run and then spread backwards over the null slots. A run of a page without nulls skips the
 * levels in O(1). Batches may end in the middle of a page; the decoder keeps its position.
 *
 * <p>This class is larger than most because the per-type fast paths are spelled out: a generic
 * version would need a virtual call or boxing per value.
 */
final class ColumnDecoder {
  private static final int MODE_PLAIN = 0;
  private static final int MODE_DICTIONARY = 1;
  private static final int MODE_FALLBACK = 2;
  private static final int MODE_BYTE_STREAM_SPLIT = 3;

  private final Path file;
  private final Column column;
  private final ColumnDescriptor descriptor;
  private final PrimitiveTypeName physical;
  private final int maxDefinition;
  private final int definitionBitWidth;
  private final TraceDictionary dictionary;
  private final int nullId;
  private final RleDecoder definitions = new RleDecoder();
  private final RleDecoder ids = new RleDecoder();

  private @Nullable PageReader pages;
  private int rowGroup;
  private long rowGroupFirstRow;
  private long rowsDone;

  private int dictionarySize = -1;
  private int[] dictionaryInts = new int[0];
  private long[] dictionaryLongs = new long[0];
  private double[] dictionaryDoubles = new double[0];

  private int pageLeft;
  private boolean pageHasLevels;
  private int mode;

  /** The current page's bytes (empty before the first page). */
  private byte[] pageArray = new byte[0];

  private int plainBase;
  private ByteBuffer plain = ByteBuffer.wrap(pageArray);
  private @Nullable ValuesReader fallback;
  private int splitStreamLength;
  private int splitNext;
  private int[] levels = new int[0];
  private int[] scratchIds = new int[0];
  private boolean sawUnknownPhase;

  ColumnDecoder(Path file, Column column, ColumnDescriptor descriptor, TraceDictionary dictionary) {
    this.file = file;
    this.column = column;
    this.descriptor = descriptor;
    this.physical = descriptor.getPrimitiveType().getPrimitiveTypeName();
    this.maxDefinition = descriptor.getMaxDefinitionLevel();
    this.definitionBitWidth = 32 - Integer.numberOfLeadingZeros(maxDefinition);
    this.dictionary = dictionary;
    this.nullId = column.type() == ColumnType.STRING ? -1 : 0;
  }

  Column column() {
    return column;
  }

  ColumnDescriptor descriptor() {
    return descriptor;
  }

  /** True once a phase name this version does not know has been decoded. */
  boolean sawUnknownPhase() {
    return sawUnknownPhase;
  }

  /** Starts a new column chunk: reads and decodes its dictionary page, if any. */
  void startChunk(PageReader pages, int rowGroup, long rowGroupFirstRow) throws IOException {
    this.pages = pages;
    this.rowGroup = rowGroup;
    this.rowGroupFirstRow = rowGroupFirstRow;
    this.rowsDone = 0;
    this.pageLeft = 0;
    this.fallback = null;
    DictionaryPage page = pages.readDictionaryPage();
    dictionarySize = -1;
    if (page != null) {
      loadDictionary(page);
    }
  }

  /** Decodes the next {@code n} rows of the chunk into rows {@code [0, n)} of the batch. */
  void read(TraceBatch batch, int n) throws IOException {
    int done = 0;
    while (done < n) {
      if (pageLeft == 0) {
        nextPage();
      }
      int k = Math.min(n - done, pageLeft);
      readRun(batch, done, k);
      done += k;
      pageLeft -= k;
      rowsDone += k;
    }
  }

  /**
   * Checks that the chunk ends with the row group: its last page is used up and no page follows.
   * Values beyond the row group's rows would otherwise be dropped without a word.
   */
  void checkChunkEnd() throws IOException {
    if (pageLeft > 0 || requireNonNull(pages, "no chunk started").readPage() != null) {
      throw new ParquetDecodingException(
          format(
              ROOT, "the column chunk holds more values than the row group's %d rows", rowsDone));
    }
  }

  private void readRun(TraceBatch batch, int off, int k) {
    int nonNull = k;
    boolean withNulls = false;
    if (pageHasLevels && !definitions.skipIfRun(k, maxDefinition)) {
      if (levels.length < k) {
        levels = new int[Math.max(k, levels.length * 2)];
      }
      definitions.read(levels, 0, k);
      int[] lv = levels;
      int max = maxDefinition;
      nonNull = 0;
      for (int i = 0; i < k; i++) {
        if (lv[i] == max) {
          nonNull++;
        }
      }
      withNulls = nonNull < k;
    }
    if (withNulls) {
      if (!column.isNullable()) {
        throw nullInRequiredColumn(k);
      }
      boolean[] mask = batch.nullMaskForWrite(column);
      int[] lv = levels;
      int max = maxDefinition;
      for (int i = 0; i < k; i++) {
        mask[off + i] = lv[i] != max;
      }
    } else if (batch.hasNulls(column)) {
      Arrays.fill(batch.nullMaskForWrite(column), off, off + k, false);
    }
    switch (column.type()) {
      case INT32, STRING -> {
        int[] dst = batch.ints(column);
        decodeInts(dst, off, nonNull);
        if (withNulls) {
          spreadInts(dst, off, k, nonNull);
        }
      }
      case INT64 -> {
        long[] dst = batch.longs(column);
        decodeLongs(dst, off, nonNull);
        if (withNulls) {
          spreadLongs(dst, off, k, nonNull);
        }
      }
      case FLOAT64 -> {
        double[] dst = batch.doubles(column);
        decodeDoubles(dst, off, nonNull);
        if (withNulls) {
          spreadDoubles(dst, off, k, nonNull);
        }
      }
    }
  }

  // ---- values ------------------------------------------------------------------------------

  private void decodeInts(int[] dst, int off, int m) {
    if (m == 0) {
      return;
    }
    switch (mode) {
      case MODE_DICTIONARY -> {
        ids.read(dst, off, m);
        int[] dict = dictionaryInts;
        int size = dictionarySize;
        for (int i = off, end = off + m; i < end; i++) {
          int id = dst[i];
          if (id >= size) {
            throw badDictionaryId(id);
          }
          dst[i] = dict[id];
        }
      }
      case MODE_PLAIN -> {
        switch (physical) {
          case INT32 -> {
            plain.asIntBuffer().get(dst, off, m);
            plain.position(plain.position() + 4 * m);
          }
          case INT64 -> {
            for (int i = off, end = off + m; i < end; i++) {
              dst[i] = narrow(plain.getLong());
            }
          }
          case BINARY -> {
            for (int i = off, end = off + m; i < end; i++) {
              int length = plain.getInt();
              if (length < 0 || length > plain.remaining()) {
                throw new ParquetDecodingException(
                    format(ROOT, "string length %d runs past the end of the page", length));
              }
              int start = plainBase + plain.position();
              dst[i] = globalId(new String(pageArray, start, length, StandardCharsets.UTF_8));
              plain.position(plain.position() + length);
            }
          }
          default -> throw unexpectedType();
        }
      }
      case MODE_BYTE_STREAM_SPLIT -> {
        for (int i = off, end = off + m; i < end; i++) {
          dst[i] = physical == PrimitiveTypeName.INT32 ? (int) splitBits(4) : narrow(splitBits(8));
        }
      }
      default -> {
        ValuesReader values = fallbackValues();
        for (int i = off, end = off + m; i < end; i++) {
          dst[i] =
              switch (physical) {
                case INT32 -> values.readInteger();
                case INT64 -> narrow(values.readLong());
                case BINARY -> globalId(values.readBytes().toStringUsingUTF8());
                default -> throw unexpectedType();
              };
        }
      }
    }
  }

  private void decodeLongs(long[] dst, int off, int m) {
    if (m == 0) {
      return;
    }
    switch (mode) {
      case MODE_DICTIONARY -> {
        int[] scratch = readIds(m);
        long[] dict = dictionaryLongs;
        int size = dictionarySize;
        for (int i = 0; i < m; i++) {
          int id = scratch[i];
          if (id >= size) {
            throw badDictionaryId(id);
          }
          dst[off + i] = dict[id];
        }
      }
      case MODE_PLAIN -> {
        if (physical == PrimitiveTypeName.INT64) {
          plain.asLongBuffer().get(dst, off, m);
          plain.position(plain.position() + 8 * m);
        } else {
          for (int i = off, end = off + m; i < end; i++) {
            dst[i] = plain.getInt();
          }
        }
      }
      case MODE_BYTE_STREAM_SPLIT -> {
        boolean int64 = physical == PrimitiveTypeName.INT64;
        for (int i = off, end = off + m; i < end; i++) {
          dst[i] = int64 ? splitBits(8) : (int) splitBits(4);
        }
      }
      default -> {
        boolean int64 = physical == PrimitiveTypeName.INT64;
        ValuesReader values = fallbackValues();
        for (int i = off, end = off + m; i < end; i++) {
          dst[i] = int64 ? values.readLong() : values.readInteger();
        }
      }
    }
  }

  private void decodeDoubles(double[] dst, int off, int m) {
    if (m == 0) {
      return;
    }
    switch (mode) {
      case MODE_DICTIONARY -> {
        int[] scratch = readIds(m);
        double[] dict = dictionaryDoubles;
        int size = dictionarySize;
        for (int i = 0; i < m; i++) {
          int id = scratch[i];
          if (id >= size) {
            throw badDictionaryId(id);
          }
          dst[off + i] = dict[id];
        }
      }
      case MODE_PLAIN -> {
        if (physical == PrimitiveTypeName.DOUBLE) {
          plain.asDoubleBuffer().get(dst, off, m);
          plain.position(plain.position() + 8 * m);
        } else {
          for (int i = off, end = off + m; i < end; i++) {
            dst[i] = plain.getFloat();
          }
        }
      }
      case MODE_BYTE_STREAM_SPLIT -> {
        if (physical == PrimitiveTypeName.DOUBLE) {
          for (int i = off, end = off + m; i < end; i++) {
            dst[i] = Double.longBitsToDouble(splitBits(8));
          }
        } else {
          for (int i = off, end = off + m; i < end; i++) {
            dst[i] = Float.intBitsToFloat((int) splitBits(4));
          }
        }
      }
      default -> {
        boolean float64 = physical == PrimitiveTypeName.DOUBLE;
        ValuesReader values = fallbackValues();
        for (int i = off, end = off + m; i < end; i++) {
          dst[i] = float64 ? values.readDouble() : values.readFloat();
        }
      }
    }
  }

  /** The values reader of a page in an encoding without a loop of its own here. */
  private ValuesReader fallbackValues() {
    return requireNonNull(fallback, "not a page in a fallback encoding");
  }

  /**
   * The next value of a BYTE_STREAM_SPLIT page: byte k of value i is at {@code k * N + i}, where N
   * is the number of values in the page.
   */
  private long splitBits(int width) {
    int i = splitNext++;
    if (i >= splitStreamLength) {
      throw new ParquetDecodingException(
          "BYTE_STREAM_SPLIT page holds fewer values than its levels say");
    }
    byte[] data = pageArray;
    int at = plainBase + i;
    int stride = splitStreamLength;
    long bits = 0;
    for (int k = 0; k < width; k++) {
      bits |= (data[at] & 0xFFL) << (8 * k);
      at += stride;
    }
    return bits;
  }

  private int[] readIds(int m) {
    if (scratchIds.length < m) {
      scratchIds = new int[Math.max(m, scratchIds.length * 2)];
    }
    ids.read(scratchIds, 0, m);
    return scratchIds;
  }

  /** Moves {@code m} values from {@code [off, off + m)} to their rows in {@code [off, off + k)}. */
  private void spreadInts(int[] dst, int off, int k, int m) {
    int[] lv = levels;
    int j = off + m;
    for (int i = k - 1; i >= 0; i--) {
      dst[off + i] = lv[i] == maxDefinition ? dst[--j] : nullId;
    }
  }

  private void spreadLongs(long[] dst, int off, int k, int m) {
    int[] lv = levels;
    int j = off + m;
    for (int i = k - 1; i >= 0; i--) {
      dst[off + i] = lv[i] == maxDefinition ? dst[--j] : 0L;
    }
  }

  private void spreadDoubles(double[] dst, int off, int k, int m) {
    int[] lv = levels;
    int j = off + m;
    for (int i = k - 1; i >= 0; i--) {
      dst[off + i] = lv[i] == maxDefinition ? dst[--j] : Double.NaN;
    }
  }

  // ---- pages -------------------------------------------------------------------------------

  private void nextPage() throws IOException {
    DataPage page = requireNonNull(pages, "no chunk started").readPage();
    if (page == null) {
      throw new ParquetDecodingException(
          format(
              ROOT,
              "the column chunk ends after %d rows, before the end of the row group",
              rowsDone));
    }
    int count = page.getValueCount();
    if (page instanceof DataPageV1 v1) {
      ByteBuffer bytes = v1.getBytes().toByteBuffer();
      byte[] array = arrayOf(bytes);
      int p = arrayStart(bytes);
      int end = p + bytes.remaining();
      pageHasLevels = false;
      if (maxDefinition > 0) {
        if (v1.getDlEncoding() != Encoding.RLE) {
          throw new ParquetDecodingException(
              "definition levels encoded as " + v1.getDlEncoding() + " are not supported");
        }
        int length = ByteBuffer.wrap(array, p, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        if (length < 0 || p + 4 + length > end) {
          throw new ParquetDecodingException(
              format(ROOT, "definition levels of %d bytes run past the end of the page", length));
        }
        definitions.init(array, p + 4, p + 4 + length, definitionBitWidth, count);
        pageHasLevels = true;
        p += 4 + length;
      }
      startValues(v1.getValueEncoding(), array, p, end, count);
    } else if (page instanceof DataPageV2 v2) {
      pageHasLevels = false;
      if (maxDefinition > 0 && v2.getDefinitionLevels().size() > 0) {
        ByteBuffer levelBytes = v2.getDefinitionLevels().toByteBuffer();
        byte[] array = arrayOf(levelBytes);
        int p = arrayStart(levelBytes);
        definitions.init(array, p, p + levelBytes.remaining(), definitionBitWidth, count);
        pageHasLevels = true;
      }
      ByteBuffer data = v2.getData().toByteBuffer();
      byte[] array = arrayOf(data);
      int p = arrayStart(data);
      startValues(v2.getDataEncoding(), array, p, p + data.remaining(), count);
    } else {
      throw new ParquetDecodingException("unknown page type " + page.getClass().getSimpleName());
    }
    if (count <= 0) {
      throw new ParquetDecodingException(format(ROOT, "data page with %d values", count));
    }
    pageLeft = count;
  }

  private void startValues(Encoding encoding, byte[] array, int p, int end, int count)
      throws IOException {
    pageArray = array;
    switch (encoding) {
      case PLAIN -> {
        mode = MODE_PLAIN;
        plainBase = p;
        plain = ByteBuffer.wrap(array, p, end - p).slice().order(ByteOrder.LITTLE_ENDIAN);
      }
      case BYTE_STREAM_SPLIT -> {
        int width =
            physical == PrimitiveTypeName.INT64 || physical == PrimitiveTypeName.DOUBLE ? 8 : 4;
        if (physical == PrimitiveTypeName.BINARY || (end - p) % width != 0) {
          throw new ParquetDecodingException(
              format(ROOT, "BYTE_STREAM_SPLIT data of %d bytes for %s values", end - p, physical));
        }
        mode = MODE_BYTE_STREAM_SPLIT;
        plainBase = p;
        splitStreamLength = (end - p) / width;
        splitNext = 0;
      }
      case PLAIN_DICTIONARY, RLE_DICTIONARY -> {
        if (dictionarySize < 0) {
          throw new ParquetDecodingException("dictionary-encoded page without a dictionary page");
        }
        mode = MODE_DICTIONARY;
        int bitWidth = p < end ? array[p] & 0xFF : 0;
        ids.init(array, Math.min(p + 1, end), end, bitWidth, count);
      }
      default -> {
        mode = MODE_FALLBACK;
        ValuesReader values = encoding.getValuesReader(descriptor, ValuesType.VALUES);
        fallback = values;
        values.initFromPage(count, ByteBufferInputStream.wrap(ByteBuffer.wrap(array, p, end - p)));
      }
    }
  }

  private void loadDictionary(DictionaryPage page) throws IOException {
    Encoding encoding = page.getEncoding();
    if (encoding != Encoding.PLAIN_DICTIONARY && encoding != Encoding.PLAIN) {
      throw new ParquetDecodingException(
          "dictionary page encoded as " + encoding + " is not supported");
    }
    ByteBuffer bytes = page.getBytes().toByteBuffer();
    int n = page.getDictionarySize();
    int width =
        switch (physical) {
          case INT32, FLOAT, BINARY -> 4;
          case INT64, DOUBLE -> 8;
          default -> throw unexpectedType();
        };
    if (n < 0 || (long) n * width > bytes.remaining()) {
      throw new ParquetDecodingException(
          format(ROOT, "dictionary of %d entries does not fit in %d bytes", n, bytes.remaining()));
    }
    byte[] array = arrayOf(bytes);
    int base = arrayStart(bytes);
    ByteBuffer in =
        ByteBuffer.wrap(array, base, bytes.remaining()).slice().order(ByteOrder.LITTLE_ENDIAN);
    switch (column.type()) {
      case INT32, STRING -> {
        if (dictionaryInts.length < n) {
          dictionaryInts = new int[n];
        }
        for (int i = 0; i < n; i++) {
          dictionaryInts[i] =
              switch (physical) {
                case INT32 -> in.getInt();
                case INT64 -> narrow(in.getLong());
                case BINARY -> {
                  int length = in.getInt();
                  if (length < 0 || length > in.remaining()) {
                    throw new ParquetDecodingException(
                        format(
                            ROOT,
                            "dictionary string length %d runs past the end of the page",
                            length));
                  }
                  String value =
                      new String(array, base + in.position(), length, StandardCharsets.UTF_8);
                  in.position(in.position() + length);
                  yield globalId(value);
                }
                default -> throw unexpectedType();
              };
        }
      }
      case INT64 -> {
        if (dictionaryLongs.length < n) {
          dictionaryLongs = new long[n];
        }
        for (int i = 0; i < n; i++) {
          dictionaryLongs[i] = physical == PrimitiveTypeName.INT64 ? in.getLong() : in.getInt();
        }
      }
      case FLOAT64 -> {
        if (dictionaryDoubles.length < n) {
          dictionaryDoubles = new double[n];
        }
        for (int i = 0; i < n; i++) {
          dictionaryDoubles[i] =
              physical == PrimitiveTypeName.DOUBLE ? in.getDouble() : in.getFloat();
        }
      }
    }
    dictionarySize = n;
  }

  // ---- helpers -----------------------------------------------------------------------------

  private int globalId(String value) {
    io.dlanalyze.trace.Limits.checkName(io.dlanalyze.trace.Limits.nameKind(column), value);
    return switch (column) {
      case LAYER_NAME -> dictionary.layerNameId(value);
      case LAYER_TYPE -> dictionary.layerTypeId(value);
      case PHASE -> {
        int code = dictionary.phaseCode(value);
        if (code >= Phase.COUNT) {
          sawUnknownPhase = true;
        }
        yield code;
      }
      default -> throw unexpectedType();
    };
  }

  private int narrow(long value) {
    int narrowed = (int) value;
    if (narrowed != value) {
      throw new TraceFormatException(
          ErrorCode.INVALID_VALUE,
          file,
          format(ROOT, "row group %d, column '%s'", rowGroup, column.wireName()),
          format(ROOT, "value %d does not fit in int32", value));
    }
    return narrowed;
  }

  private TraceFormatException nullInRequiredColumn(int k) {
    int first = 0;
    while (first < k && levels[first] == maxDefinition) {
      first++;
    }
    long row = rowGroupFirstRow + rowsDone + first;
    return new TraceFormatException(
        ErrorCode.INVALID_VALUE,
        file,
        format(ROOT, "row group %d, row %d", rowGroup, row),
        format(
            ROOT, "column '%s' is null, but trace format v1 requires a value", column.wireName()));
  }

  private ParquetDecodingException badDictionaryId(int id) {
    return new ParquetDecodingException(
        format(
            ROOT,
            "dictionary id %d out of range: the dictionary has %d entries",
            id,
            dictionarySize));
  }

  private IllegalStateException unexpectedType() {
    return new IllegalStateException(
        format(ROOT, "column %s: unexpected physical type %s", column.wireName(), physical));
  }

  /** The backing array of a heap buffer, or a copy of a direct buffer's remaining bytes. */
  private static byte[] arrayOf(ByteBuffer buffer) {
    if (buffer.hasArray()) {
      return buffer.array();
    }
    byte[] copy = new byte[buffer.remaining()];
    buffer.duplicate().get(copy);
    return copy;
  }

  private static int arrayStart(ByteBuffer buffer) {
    return buffer.hasArray() ? buffer.arrayOffset() + buffer.position() : 0;
  }
}
