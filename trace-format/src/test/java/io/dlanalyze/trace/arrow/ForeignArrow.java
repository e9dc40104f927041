package io.dlanalyze.trace.arrow;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BaseIntVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.ArrowWriter;
import org.apache.arrow.vector.ipc.ReadChannel;
import org.apache.arrow.vector.ipc.message.MessageChannelReader;
import org.apache.arrow.vector.ipc.message.MessageResult;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Writes Arrow files the way other writers (pyarrow, pandas) lay them out, with the stock Arrow
 * Java writers: any column types, plain or dictionary strings, replacement dictionaries.
 */
final class ForeignArrow {
  static final ArrowType INT32 = new ArrowType.Int(32, true);
  static final ArrowType INT64 = new ArrowType.Int(64, true);
  static final ArrowType FLOAT32 = new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
  static final ArrowType FLOAT64 = new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
  static final ArrowType UTF8 = new ArrowType.Utf8();

  private final List<Field> fields = new ArrayList<>();
  private final List<VarCharVector> dictionaryValues = new ArrayList<>();
  private final BufferAllocator allocator = new RootAllocator();
  private final DictionaryProvider.MapDictionaryProvider provider =
      new DictionaryProvider.MapDictionaryProvider();

  ForeignArrow column(String name, ArrowType type) {
    fields.add(new Field(name, FieldType.nullable(type), null));
    return this;
  }

  /**
   * A dictionary-encoded utf8 column with int8 or int32 indices; its dictionary starts as {@code
   * values}.
   */
  ForeignArrow dictionaryColumn(String name, int indexBits, String... values) {
    long id = dictionaryValues.size();
    DictionaryEncoding encoding =
        new DictionaryEncoding(id, false, new ArrowType.Int(indexBits, true));
    VarCharVector dictionary = new VarCharVector(name + "_dict", allocator);
    dictionary.allocateNew();
    setDictionary(dictionary, values);
    dictionaryValues.add(dictionary);
    provider.put(new Dictionary(dictionary, encoding));
    fields.add(
        new Field(name, new FieldType(true, new ArrowType.Int(indexBits, true), encoding), null));
    return this;
  }

  /**
   * Replaces the contents of dictionary {@code id} (the stream writer then sends a replacement).
   */
  void replaceDictionary(int id, String... values) {
    setDictionary(dictionaryValues.get(id), values);
  }

  private static void setDictionary(VarCharVector dictionary, String... values) {
    dictionary.reset();
    for (int i = 0; i < values.length; i++) {
      dictionary.setSafe(i, values[i].getBytes(StandardCharsets.UTF_8));
    }
    dictionary.setValueCount(values.length);
  }

  /** One row of values by column, in column order; null for a null cell. */
  interface Rows extends Consumer<VectorSchemaRoot> {}

  /**
   * Writes one record batch per element of {@code batches}; each is a list of rows, each row a list
   * of cell values (Number, String for utf8 columns, Integer index for dictionary columns).
   */
  void write(
      Path path,
      boolean file,
      Map<String, String> metadata,
      List<List<List<Object>>> batches,
      List<Runnable> beforeBatch) {
    Schema schema = new Schema(fields, metadata);
    try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
        FileChannel channel =
            FileChannel.open(
                path,
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
      ArrowWriter writer =
          file
              ? new ArrowFileWriter(root, provider, channel)
              : new ArrowStreamWriter(root, provider, channel);
      writer.start();
      for (int b = 0; b < batches.size(); b++) {
        if (beforeBatch != null && beforeBatch.get(b) != null) {
          beforeBatch.get(b).run();
        }
        List<List<Object>> rows = batches.get(b);
        root.allocateNew();
        for (int r = 0; r < rows.size(); r++) {
          for (int c = 0; c < fields.size(); c++) {
            set(root.getVector(c), r, rows.get(r).get(c));
          }
        }
        root.setRowCount(rows.size());
        writer.writeBatch();
      }
      writer.end();
      writer.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void set(FieldVector vector, int row, Object value) {
    if (value == null) {
      if (vector instanceof BaseFixedWidthVector fixed) {
        fixed.setNull(row);
      } else if (vector instanceof BaseVariableWidthVector variable) {
        variable.setNull(row);
      }
      return;
    }
    if (vector instanceof BaseIntVector ints) {
      ints.setWithPossibleTruncate(row, ((Number) value).longValue());
    } else if (vector instanceof Float8Vector doubles) {
      doubles.setSafe(row, ((Number) value).doubleValue());
    } else if (vector instanceof Float4Vector floats) {
      floats.setSafe(row, ((Number) value).floatValue());
    } else if (vector instanceof VarCharVector strings) {
      strings.setSafe(row, ((String) value).getBytes(StandardCharsets.UTF_8));
    } else {
      throw new IllegalArgumentException("unsupported vector " + vector);
    }
  }

  void close() {
    for (VarCharVector vector : dictionaryValues) {
      vector.close();
    }
    allocator.close();
  }

  /**
   * Message boundaries of an IPC stream starting at {@code start}: element 0 is the end of the
   * schema message, then the end of every record batch message.
   */
  static List<Long> boundaries(Path path, long start) throws IOException {
    List<Long> ends = new ArrayList<>();
    try (FileChannel channel = FileChannel.open(path);
        BufferAllocator allocator = new RootAllocator()) {
      channel.position(start);
      MessageChannelReader reader = new MessageChannelReader(new ReadChannel(channel), allocator);
      MessageResult message;
      while ((message = reader.readNext()) != null) {
        byte type = message.getMessage().headerType();
        if (type == MessageHeader.Schema || type == MessageHeader.RecordBatch) {
          ends.add(channel.position());
        }
        if (message.getBodyBuffer() != null) {
          message.getBodyBuffer().close();
        }
      }
    }
    return ends;
  }
}
