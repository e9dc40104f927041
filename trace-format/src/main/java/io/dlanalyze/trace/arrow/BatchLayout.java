package io.dlanalyze.trace.arrow;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.arrow.CheckedMessages.Corrupt;
import io.dlanalyze.trace.arrow.CheckedMessages.Truncated;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.flatbuf.BodyCompression;
import org.apache.arrow.flatbuf.BodyCompressionMethod;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.CompressionType;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.vector.BufferLayout;
import org.apache.arrow.vector.TypeLayout;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * Checks the body of a record or dictionary batch against its header and the schema before Arrow
 * Java loads it (see {@link CheckedMessages}): a damaged header must not make the reader allocate
 * what it declares, nor read one column's bytes as another's.
 */
final class BatchLayout {
  /** Gaps between buffers and slack after the last one stay below the largest alignment, 64. */
  private static final int ALIGNMENT = 64;

  private BatchLayout() {}

  /** Reads eight little-endian bytes at an absolute file position. */
  interface LongReader {
    long read(long at) throws IOException;
  }

  /** The body of a message: where it starts in the file and its declared length. */
  record Body(LongReader reader, long start, long length) {}

  /** One field node's type in the order of the batch's nodes. */
  private record Slot(String column, ArrowType type, boolean topLevel) {}

  /** Fields a schema may declare in all, nested ones included (a trace has 16 columns). */
  static final int MAX_FIELDS = 1024;

  /** How deep fields may nest (a trace's columns do not nest at all). */
  static final int MAX_DEPTH = 8;

  /** A schema message, its fields checked first ({@link #checkFields}). */
  static Schema schema(Message message) throws Corrupt {
    checkFields(
        (org.apache.arrow.flatbuf.Schema) message.header(new org.apache.arrow.flatbuf.Schema()));
    return MessageSerializer.deserializeSchema(message);
  }

  /**
   * Walks a schema's fields without recursion before Arrow Java converts them, which it does
   * recursively: damaged child offsets can make a field its own descendant, and the conversion then
   * overflows the stack (found by fuzzing).
   */
  static void checkFields(org.apache.arrow.flatbuf.Schema schema) throws Corrupt {
    if (schema == null) {
      return;
    }
    record Pending(org.apache.arrow.flatbuf.Field field, int depth) {}
    List<Pending> stack = new ArrayList<>();
    int declared = schema.fieldsLength();
    if (declared > MAX_FIELDS) {
      throw tooManyFields(declared);
    }
    for (int i = 0; i < declared; i++) {
      stack.add(new Pending(schema.fields(i), 0));
    }
    int fields = declared;
    while (!stack.isEmpty()) {
      Pending next = stack.remove(stack.size() - 1);
      if (next.field() == null) {
        continue;
      }
      int children = next.field().childrenLength();
      if (children == 0) {
        continue;
      }
      if (next.depth() + 1 > MAX_DEPTH) {
        throw new Corrupt(
            format(
                ROOT,
                "the schema nests fields more than %d levels deep (a field that contains itself?)",
                MAX_DEPTH));
      }
      if (children > MAX_FIELDS - fields) {
        throw tooManyFields((long) fields + children);
      }
      fields += children;
      for (int i = 0; i < children; i++) {
        stack.add(new Pending(next.field().children(i), next.depth() + 1));
      }
    }
  }

  private static Corrupt tooManyFields(long fields) {
    return new Corrupt(
        format(
            ROOT,
            "the schema declares %d fields or more, above the limit of %d",
            fields,
            MAX_FIELDS));
  }

  /**
   * Checks one batch.
   *
   * @param available the bytes between the start of the body and the end of the data
   * @param dictionaryId the dictionary a dictionary batch fills, or {@code null} for a record batch
   * @throws Truncated when the body runs past the end of the data but is otherwise consistent
   * @throws Corrupt for anything impossible
   */
  static void check(
      Schema schema, RecordBatch batch, Body body, long available, @Nullable Long dictionaryId)
      throws IOException {
    if (batch == null) {
      throw new Corrupt("a dictionary batch without data");
    }
    String what = dictionaryId == null ? "record batch" : "dictionary batch " + dictionaryId;
    long rows = batch.length();
    if (rows < 0 || rows > Integer.MAX_VALUE) {
      throw new Corrupt(format(ROOT, "%s declares %d rows", what, rows));
    }
    List<Slot> slots = new ArrayList<>();
    if (dictionaryId == null) {
      for (Field field : schema.getFields()) {
        flatten(field, field.getName(), true, slots);
      }
    } else {
      Field values = dictionaryField(schema.getFields(), dictionaryId);
      if (values == null) {
        throw new Corrupt(
            format(
                ROOT,
                "dictionary batch for id %d, which no column of the schema uses",
                dictionaryId));
      }
      flattenValues(values, slots);
    }
    if (batch.nodesLength() != slots.size()) {
      throw new Corrupt(
          format(
              ROOT,
              "%s has %d field nodes for the schema's %d",
              what,
              batch.nodesLength(),
              slots.size()));
    }
    int variadicIndex = 0;
    int expectedBuffers = 0;
    List<List<BufferLayout>> layouts = new ArrayList<>(slots.size());
    long[] variadicBuffers = new long[slots.size()];
    for (int i = 0; i < slots.size(); i++) {
      Slot slot = slots.get(i);
      List<BufferLayout> layout = new ArrayList<>();
      for (BufferLayout b : TypeLayout.getTypeLayout(slot.type()).getBufferLayouts()) {
        if (b.getType() != BufferLayout.BufferType.VARIADIC_DATA_BUFFERS) {
          layout.add(b);
        }
      }
      layouts.add(layout);
      expectedBuffers += layout.size();
      if (isView(slot.type())) {
        if (variadicIndex >= batch.variadicBufferCountsLength()) {
          throw new Corrupt(format(ROOT, "%s lacks the variadic buffer counts", what));
        }
        long variadic = batch.variadicBufferCounts(variadicIndex++);
        if (variadic < 0 || variadic > batch.buffersLength()) {
          throw new Corrupt(format(ROOT, "%s declares %d variadic buffers", what, variadic));
        }
        expectedBuffers += (int) variadic;
        variadicBuffers[i] = variadic;
      }
    }
    if (batch.buffersLength() != expectedBuffers) {
      throw new Corrupt(
          format(
              ROOT,
              "%s has %d buffers where its columns have %d",
              what,
              batch.buffersLength(),
              expectedBuffers));
    }
    checkGeometry(batch, body, what);
    if (body.length() > available) {
      throw new Truncated(
          format(
              ROOT,
              "the body of a %s (%d bytes) runs past the end of the file (%d bytes left)",
              what,
              body.length(),
              available));
    }
    BodyCompression compression = batch.compression();
    if (compression != null) {
      byte codec = compression.codec();
      if (codec != CompressionType.LZ4_FRAME && codec != CompressionType.ZSTD) {
        throw new Corrupt(
            format(
                ROOT,
                "unsupported codec %s: Arrow IPC bodies are LZ4_FRAME or ZSTD",
                CheckedMessages.codecName(codec)));
      }
      if (compression.method() != BodyCompressionMethod.BUFFER) {
        throw new Corrupt(
            format(ROOT, "unsupported compression method %d (only BUFFER)", compression.method()));
      }
    }
    int buffer = 0;
    for (int i = 0; i < slots.size(); i++) {
      Slot slot = slots.get(i);
      FieldNode node = CheckedMessages.node(batch, i);
      long length = node.length();
      long nulls = node.nullCount();
      if (length < 0 || length > Integer.MAX_VALUE || nulls < 0 || nulls > length) {
        throw new Corrupt(
            format(
                ROOT,
                "%s, column '%s': %d values with %d nulls",
                what,
                slot.column(),
                length,
                nulls));
      }
      if (slot.topLevel() && length != rows) {
        throw new Corrupt(
            format(
                ROOT,
                "%s, column '%s': %d values in a batch of %d rows",
                what,
                slot.column(),
                length,
                rows));
      }
      boolean variableWidth = false;
      for (BufferLayout layout : layouts.get(i)) {
        variableWidth |= layout.getType() == BufferLayout.BufferType.OFFSET;
      }
      for (BufferLayout layout : layouts.get(i)) {
        Buffer b = CheckedMessages.buffer(batch, buffer++);
        long size = size(b, body, compression != null, what, slot);
        if (!(variableWidth && layout.getType() == BufferLayout.BufferType.DATA)) {
          checkSize(layout, length, nulls, size, compression != null, what, slot);
        }
      }
      buffer += (int) variadicBuffers[i];
    }
  }

  /** Buffers lie in the body in order, without overlap, gaps or slack of 64 bytes or more. */
  private static void checkGeometry(RecordBatch batch, Body body, String what) throws Corrupt {
    long previousEnd = 0;
    for (int i = 0; i < batch.buffersLength(); i++) {
      Buffer b = CheckedMessages.buffer(batch, i);
      long offset = b.offset();
      long length = b.length();
      if (offset < 0 || length < 0 || offset > body.length() || length > body.length() - offset) {
        throw new Corrupt(
            format(
                ROOT,
                "%s: buffer %d (%d bytes at offset %d) lies outside the body of %d bytes",
                what,
                i,
                length,
                offset,
                body.length()));
      }
      if (offset < previousEnd || offset - previousEnd >= ALIGNMENT) {
        throw new Corrupt(
            format(
                ROOT,
                "%s: buffer %d starts at offset %d, but the one before it ends at %d",
                what,
                i,
                offset,
                previousEnd));
      }
      previousEnd = offset + length;
    }
    if (body.length() - previousEnd >= ALIGNMENT) {
      throw new Corrupt(
          format(
              ROOT,
              "%s: the body is %d bytes, but its buffers end at %d",
              what,
              body.length(),
              previousEnd));
    }
  }

  /** The size a buffer has once loaded: its length, or for a compressed one its stated size. */
  private static long size(Buffer b, Body body, boolean compressed, String what, Slot slot)
      throws IOException {
    long length = b.length();
    if (!compressed || length == 0) {
      return length;
    }
    if (length < 8) {
      throw new Corrupt(
          format(
              ROOT,
              "%s, column '%s': a compressed buffer of %d bytes has no room for its size",
              what,
              slot.column(),
              length));
    }
    long stated = body.reader().read(body.start() + b.offset());
    if (stated == -1) {
      return length - 8; // stored uncompressed
    }
    if (stated < 0) {
      throw new Corrupt(
          format(
              ROOT,
              "%s, column '%s': a compressed buffer states a size of %d bytes",
              what,
              slot.column(),
              stated));
    }
    return stated;
  }

  private static void checkSize(
      BufferLayout layout,
      long length,
      long nulls,
      long size,
      boolean compressed,
      String what,
      Slot slot)
      throws Corrupt {
    long min;
    long max;
    int bits = layout.getTypeBitWidth();
    switch (layout.getType().getName()) {
      case "VALIDITY" -> {
        long needed = (length + 7) / 8;
        min = nulls > 0 ? needed : 0;
        max = pad(needed);
      }
      case "OFFSET" -> {
        long needed = (length + 1) * (bits / 8);
        min = length > 0 ? needed : 0;
        max = pad(needed);
      }
      case "DATA", "TYPE", "SIZE", "VIEWS" -> {
        if (bits <= 0) {
          return; // variable-width values: bounded by the reader's memory limit
        }
        long needed = (length * bits + 7) / 8;
        min = needed;
        max = pad(needed);
      }
      default -> {
        return;
      }
    }
    if (size < min) {
      throw new Corrupt(
          format(
              ROOT,
              "%s, column '%s': a %s buffer of %d bytes, but %d values need %d",
              what,
              slot.column(),
              layout.getType().getName().toLowerCase(ROOT),
              size,
              length,
              min));
    }
    if (compressed && size > max) {
      throw new Corrupt(
          format(
              ROOT,
              "%s, column '%s': a compressed %s buffer would expand to %d bytes, but %d values"
                  + " need at most %d",
              what,
              slot.column(),
              layout.getType().getName().toLowerCase(ROOT),
              size,
              length,
              max));
    }
  }

  private static long pad(long needed) {
    return (needed + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT + ALIGNMENT;
  }

  private static boolean isView(ArrowType type) {
    return type instanceof ArrowType.Utf8View || type instanceof ArrowType.BinaryView;
  }

  /** A record batch holds a dictionary-encoded field's indices, without children. */
  private static void flatten(Field field, String column, boolean topLevel, List<Slot> slots) {
    if (field.getDictionary() != null) {
      ArrowType.Int indices = field.getDictionary().getIndexType();
      slots.add(new Slot(column, indices, topLevel));
      return;
    }
    slots.add(new Slot(column, field.getType(), topLevel));
    for (Field child : field.getChildren()) {
      flatten(child, column, false, slots);
    }
  }

  /** A dictionary batch holds the values: the field's own type and children. */
  private static void flattenValues(Field field, List<Slot> slots) {
    slots.add(new Slot(field.getName(), field.getType(), true));
    for (Field child : field.getChildren()) {
      flatten(child, field.getName(), false, slots);
    }
  }

  private static @Nullable Field dictionaryField(List<Field> fields, long id) {
    for (Field field : fields) {
      if (field.getDictionary() != null && field.getDictionary().getId() == id) {
        return field;
      }
      Field nested = dictionaryField(field.getChildren(), id);
      if (nested != null) {
        return nested;
      }
    }
    return null;
  }
}
