package io.dlanalyze.trace.arrow;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.AtomicOutput;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceWriter;
import io.dlanalyze.trace.WriteOptions;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.compression.CommonsCompressionFactory;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.compression.CompressionCodec;
import org.apache.arrow.vector.compression.CompressionUtil;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.ArrowWriter;
import org.apache.arrow.vector.ipc.message.ArrowDictionaryBatch;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * Writes a trace as an Arrow IPC stream or IPC file: the 16 contract columns in contract order,
 * layer_name/layer_type/phase dictionary-encoded with int32 indices, the trace metadata as schema
 * metadata, one record batch per {@link WriteOptions#rowGroupRows()} rows.
 *
 * <p>Every record batch goes straight to the file channel (no user-space buffer), so a stream cut
 * by a crash keeps every batch written before it. The file appears at its path only on {@link
 * #close()} (temporary file + rename).
 *
 * <p>Implementation notes: the dictionaries grow as new strings appear. The first record batch is
 * preceded by the full dictionaries; a later batch that brings new strings is preceded by delta
 * dictionary batches holding only the new entries (valid in both the stream and the file format),
 * so earlier indices never change.
 */
public final class ArrowTraceWriter implements TraceWriter {
  private static final ArrowType.Int INT32 = new ArrowType.Int(32, true);
  private static final ArrowType.Int INT64 = new ArrowType.Int(64, true);
  private static final ArrowType DOUBLE =
      new ArrowType.FloatingPoint(org.apache.arrow.vector.types.FloatingPointPrecision.DOUBLE);
  private static final int INITIAL_CAPACITY = 4096;

  private final Path target;
  private final int rowGroupRows;
  private final AtomicOutput output;
  private final BufferAllocator allocator;
  private final FileChannel channel;
  private final FieldVector[] vectors = new FieldVector[Column.COUNT];
  private final StringColumn[] strings = new StringColumn[Column.COUNT];
  private final VectorSchemaRoot root;
  private final DictionaryProvider.MapDictionaryProvider provider;
  private final ArrowWriter writer;
  private int filled;
  private long rowsWritten;
  private boolean done;

  private ArrowTraceWriter(
      Path target,
      TraceFormat format,
      TraceMetadata metadata,
      WriteOptions options,
      @Nullable BufferAllocator parent) {
    options.checkFor(format);
    this.target = target;
    this.rowGroupRows = options.rowGroupRows();
    try {
      this.output = AtomicOutput.create(target);
    } catch (IOException e) {
      throw failure(target, "cannot create", e);
    }
    this.allocator =
        parent == null
            ? new RootAllocator()
            : parent.newChildAllocator("arrow-trace-writer", 0, Long.MAX_VALUE);
    this.provider = new DictionaryProvider.MapDictionaryProvider();
    FileChannel opened = null;
    VectorSchemaRoot created = null;
    try {
      List<Field> fields = new ArrayList<>();
      List<FieldVector> columns = new ArrayList<>();
      long dictionaryId = 0;
      for (Column column : Column.values()) {
        Field field =
            switch (column.type()) {
              case INT32 -> field(column, INT32, null);
              case INT64 -> field(column, INT64, null);
              case FLOAT64 -> field(column, DOUBLE, null);
              case STRING -> {
                DictionaryEncoding encoding = new DictionaryEncoding(dictionaryId++, false, INT32);
                VarCharVector values =
                    new VarCharVector(
                        new Field(
                            column.wireName(),
                            new FieldType(false, new ArrowType.Utf8(), null),
                            null),
                        allocator);
                values.allocateNew();
                provider.put(new Dictionary(values, encoding));
                strings[column.ordinal()] = new StringColumn(column, values);
                yield field(column, INT32, encoding);
              }
            };
        FieldVector vector = field.createVector(allocator);
        vector.setInitialCapacity(Math.min(rowGroupRows, INITIAL_CAPACITY));
        vector.allocateNew();
        vectors[column.ordinal()] = vector;
        fields.add(field);
        columns.add(vector);
      }
      Schema schema = new Schema(fields, metadata.asMap());
      created = new VectorSchemaRoot(schema, columns, 0);
      opened =
          FileChannel.open(
              output.temporary(), StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
      this.channel = opened;
      this.root = created;
      CompressionUtil.CodecType codec = codec(options.compression());
      this.writer =
          format == TraceFormat.ARROW_FILE
              ? new DeltaFileWriter(created, provider, opened, allocator, codec)
              : new DeltaStreamWriter(created, provider, opened, allocator, codec);
      writer.start();
    } catch (IOException | RuntimeException e) {
      closeQuietly(opened, created);
      output.abort();
      if (e instanceof IOException io) {
        throw failure(target, "cannot create", io);
      }
      throw (RuntimeException) e;
    }
  }

  /** A writer for {@link TraceFormat#ARROW_FILE} or {@link TraceFormat#ARROW_STREAM}. */
  public static ArrowTraceWriter create(
      Path target, TraceFormat format, TraceMetadata metadata, WriteOptions options) {
    return create(target, format, metadata, options, null);
  }

  /**
   * As {@link #create(Path, TraceFormat, TraceMetadata, WriteOptions)}, with memory from a child of
   * {@code parent}.
   */
  public static ArrowTraceWriter create(
      Path target,
      TraceFormat format,
      TraceMetadata metadata,
      WriteOptions options,
      @Nullable BufferAllocator parent) {
    if (format != TraceFormat.ARROW_FILE && format != TraceFormat.ARROW_STREAM) {
      throw new IllegalArgumentException("not an Arrow format: " + format);
    }
    return new ArrowTraceWriter(target, format, metadata, options, parent);
  }

  /** The IPC body codec of a {@link WriteOptions#compression()} name: none by default. */
  static CompressionUtil.CodecType codec(String compression) {
    return switch (compression) {
      case "zstd" -> CompressionUtil.CodecType.ZSTD;
      case "lz4" -> CompressionUtil.CodecType.LZ4_FRAME;
      default -> CompressionUtil.CodecType.NO_COMPRESSION;
    };
  }

  private static CompressionCodec.Factory factory(CompressionUtil.CodecType codec) {
    return codec == CompressionUtil.CodecType.NO_COMPRESSION
        ? CompressionCodec.Factory.INSTANCE
        : CommonsCompressionFactory.INSTANCE;
  }

  private static Field field(Column column, ArrowType type, @Nullable DictionaryEncoding encoding) {
    return new Field(column.wireName(), new FieldType(column.isNullable(), type, encoding), null);
  }

  @Override
  public Path path() {
    return target;
  }

  /** Rows written so far. */
  public long rowsWritten() {
    return rowsWritten + filled;
  }

  @Override
  public void write(TraceBatch batch) {
    if (done) {
      throw new IllegalStateException("writer is closed");
    }
    for (Column column : Column.values()) {
      if (!column.isNullable() && !batch.has(column)) {
        throw new IllegalArgumentException(
            format(ROOT, "batch lacks required column '%s'", column.wireName()));
      }
    }
    try {
      int n = batch.size();
      int offset = 0;
      while (offset < n) {
        int take = Math.min(n - offset, rowGroupRows - filled);
        append(batch, offset, take);
        offset += take;
        if (filled == rowGroupRows) {
          flush();
        }
      }
    } catch (IOException e) {
      abort();
      throw failure(target, "cannot write", e);
    } catch (RuntimeException e) {
      abort();
      throw e;
    }
  }

  private void append(TraceBatch batch, int offset, int n) {
    int end = filled + n;
    for (Column column : Column.values()) {
      FieldVector vector = vectors[column.ordinal()];
      while (vector.getValueCapacity() < end) {
        vector.reAlloc();
      }
      ArrowBuf validity = vector.getValidityBuffer();
      ArrowBuf data = vector.getDataBuffer();
      if (!batch.has(column)) {
        int width =
            column.type() == io.dlanalyze.trace.ColumnType.INT64
                    || column.type() == io.dlanalyze.trace.ColumnType.FLOAT64
                ? 8
                : 4;
        data.setZero((long) filled * width, (long) n * width);
        setBits(validity, filled, n, false);
        continue;
      }
      switch (column.type()) {
        case INT32 ->
            data.nioBuffer(filled * 4L, n * 4)
                .order(ByteOrder.LITTLE_ENDIAN)
                .asIntBuffer()
                .put(batch.ints(column), offset, n);
        case INT64 ->
            data.nioBuffer(filled * 8L, n * 8)
                .order(ByteOrder.LITTLE_ENDIAN)
                .asLongBuffer()
                .put(batch.longs(column), offset, n);
        case FLOAT64 ->
            data.nioBuffer(filled * 8L, n * 8)
                .order(ByteOrder.LITTLE_ENDIAN)
                .asDoubleBuffer()
                .put(batch.doubles(column), offset, n);
        case STRING -> strings[column.ordinal()].append(batch, offset, n, data, filled);
      }
      setBits(validity, filled, n, true);
      boolean[] mask = batch.nullMask(column);
      if (mask != null) {
        for (int i = 0; i < n; i++) {
          if (mask[offset + i]) {
            if (!column.isNullable()) {
              throw new IllegalArgumentException(
                  format(
                      ROOT,
                      "column '%s' is null at batch row %d but required",
                      column.wireName(),
                      offset + i));
            }
            BitVectorHelper.unsetBit(validity, filled + i);
          }
        }
      }
      if (column.type() == io.dlanalyze.trace.ColumnType.STRING && column.isNullable()) {
        int[] ids = batch.ints(column);
        for (int i = 0; i < n; i++) {
          if (ids[offset + i] < 0) {
            BitVectorHelper.unsetBit(validity, filled + i);
          }
        }
      }
    }
    filled = end;
  }

  /** Sets or clears bits {@code [from, from + count)} of a validity buffer. */
  private static void setBits(ArrowBuf validity, int from, int count, boolean value) {
    int i = from;
    int end = from + count;
    while (i < end && (i & 7) != 0) {
      setBit(validity, i++, value);
    }
    int bytes = (end - i) >> 3;
    if (bytes > 0) {
      if (value) {
        validity.setOne((long) (i >> 3), (long) bytes);
      } else {
        validity.setZero(i >> 3, bytes);
      }
      i += bytes << 3;
    }
    while (i < end) {
      setBit(validity, i++, value);
    }
  }

  private static void setBit(ArrowBuf validity, int index, boolean value) {
    if (value) {
      BitVectorHelper.setBit(validity, index);
    } else {
      BitVectorHelper.unsetBit(validity, index);
    }
  }

  private void flush() throws IOException {
    if (filled == 0) {
      return;
    }
    for (FieldVector vector : vectors) {
      vector.setValueCount(filled);
    }
    root.setRowCount(filled);
    writer.writeBatch();
    rowsWritten += filled;
    filled = 0;
  }

  @Override
  public void close() {
    if (done) {
      return;
    }
    try {
      flush();
      writer.end();
      channel.force(false);
    } catch (IOException e) {
      abort();
      throw failure(target, "cannot finish writing", e);
    } catch (RuntimeException e) {
      abort();
      throw e;
    }
    done = true;
    closeQuietly(channel, root);
    try {
      output.commit();
    } catch (IOException e) {
      output.abort();
      throw failure(target, "cannot finish writing", e);
    }
  }

  @Override
  public void abort() {
    if (done) {
      return;
    }
    done = true;
    closeQuietly(channel, root);
    output.abort();
  }

  private void closeQuietly(@Nullable FileChannel opened, @Nullable VectorSchemaRoot created) {
    try {
      if (opened != null) {
        opened.close();
      }
    } catch (IOException e) {
      // The temporary file is deleted or renamed next; a failed close changes nothing.
    }
    if (created != null) {
      created.close();
    } else {
      for (FieldVector vector : vectors) {
        if (vector != null) {
          vector.close();
        }
      }
    }
    for (StringColumn column : strings) {
      if (column != null) {
        column.values.close();
      }
    }
    allocator.close();
  }

  private static TraceFormatException failure(Path target, String what, IOException e) {
    String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return new TraceFormatException(ErrorCode.IO_ERROR, target, null, what + ": " + reason, e);
  }

  /**
   * A dictionary-encoded column being written: maps the source batch's string ids to this file's
   * dictionary indices, appending strings the dictionary has not seen.
   */
  private static final class StringColumn {
    private final Column column;
    private final VarCharVector values;
    private final Map<String, Integer> indexOf = new HashMap<>();
    private @Nullable TraceDictionary source;
    private int[] cache = new int[0];
    private int count;

    StringColumn(Column column, VarCharVector values) {
      this.column = column;
      this.values = values;
    }

    void append(TraceBatch batch, int offset, int n, ArrowBuf data, int at) {
      TraceDictionary dictionary = batch.dictionary();
      if (dictionary != source) {
        source = dictionary;
        Arrays.fill(cache, -1);
      }
      int[] ids = batch.ints(column);
      for (int i = 0; i < n; i++) {
        int id = ids[offset + i];
        int index;
        if (id < 0 || batch.isNull(column, offset + i)) {
          index = 0;
        } else if (id < cache.length && cache[id] >= 0) {
          index = cache[id];
        } else {
          index = resolve(dictionary, id);
        }
        data.setInt((long) (at + i) * 4, index);
      }
    }

    private int resolve(TraceDictionary dictionary, int id) {
      String value =
          switch (column) {
            case LAYER_NAME -> dictionary.layerName(id);
            case LAYER_TYPE -> requireNonNull(dictionary.layerType(id), "a type id is -1 or known");
            case PHASE -> dictionary.phaseName(id);
            default -> throw new IllegalStateException("not a string column: " + column);
          };
      Integer index = indexOf.get(value);
      if (index == null) {
        index = count;
        values.setSafe(count, value.getBytes(StandardCharsets.UTF_8));
        count++;
        values.setValueCount(count);
        indexOf.put(value, index);
      }
      if (id >= cache.length) {
        int old = cache.length;
        cache = Arrays.copyOf(cache, Math.max(id + 1, old * 2 + 16));
        Arrays.fill(cache, old, cache.length, -1);
      }
      cache[id] = index;
      return index;
    }
  }

  /** Writes the dictionaries before the first batch, then deltas with only the new entries. */
  private static final class Deltas {
    private final Map<Long, Integer> written = new HashMap<>();

    /** The dictionary batches to write before the next record batch; the caller closes them. */
    List<ArrowDictionaryBatch> pending(
        DictionaryProvider provider, Set<Long> ids, BufferAllocator allocator) {
      List<ArrowDictionaryBatch> batches = new ArrayList<>();
      for (long id : ids.stream().sorted().toList()) {
        Dictionary dictionary = provider.lookup(id);
        VarCharVector all = (VarCharVector) dictionary.getVector();
        int count = all.getValueCount();
        Integer before = written.get(id);
        if (before != null && before == count) {
          continue;
        }
        int from = before == null ? 0 : before;
        try (VarCharVector part = new VarCharVector(all.getField(), allocator)) {
          part.allocateNew();
          for (int i = from; i < count; i++) {
            part.setSafe(i - from, all.get(i));
          }
          part.setValueCount(count - from);
          try (VectorSchemaRoot partRoot =
              new VectorSchemaRoot(List.of(part.getField()), List.of(part), count - from)) {
            ArrowRecordBatch records = new VectorUnloader(partRoot).getRecordBatch();
            batches.add(new ArrowDictionaryBatch(id, records, before != null));
          }
        }
        written.put(id, count);
      }
      return batches;
    }
  }

  private static final class DeltaStreamWriter extends ArrowStreamWriter {
    private final Deltas deltas = new Deltas();
    private final BufferAllocator allocator;

    DeltaStreamWriter(
        VectorSchemaRoot root,
        DictionaryProvider provider,
        WritableByteChannel out,
        BufferAllocator allocator,
        CompressionUtil.CodecType codec) {
      super(root, provider, out, IpcOption.DEFAULT, factory(codec), codec);
      this.allocator = allocator;
    }

    @Override
    protected void ensureDictionariesWritten(DictionaryProvider provider, Set<Long> ids)
        throws IOException {
      for (ArrowDictionaryBatch batch : deltas.pending(provider, ids, allocator)) {
        try (batch) {
          writeDictionaryBatch(batch);
        }
      }
    }
  }

  private static final class DeltaFileWriter extends ArrowFileWriter {
    private final Deltas deltas = new Deltas();
    private final BufferAllocator allocator;

    DeltaFileWriter(
        VectorSchemaRoot root,
        DictionaryProvider provider,
        WritableByteChannel out,
        BufferAllocator allocator,
        CompressionUtil.CodecType codec) {
      super(root, provider, out, null, IpcOption.DEFAULT, factory(codec), codec);
      this.allocator = allocator;
    }

    @Override
    protected void ensureDictionariesWritten(DictionaryProvider provider, Set<Long> ids)
        throws IOException {
      for (ArrowDictionaryBatch batch : deltas.pending(provider, ids, allocator)) {
        try (batch) {
          writeDictionaryBatch(batch);
        }
      }
    }
  }
}
