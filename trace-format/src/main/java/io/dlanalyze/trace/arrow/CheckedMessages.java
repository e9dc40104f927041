package io.dlanalyze.trace.arrow;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.List;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.CompressionType;
import org.apache.arrow.flatbuf.DictionaryBatch;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.ipc.ReadChannel;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.ipc.message.MessageChannelReader;
import org.apache.arrow.vector.ipc.message.MessageResult;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * The IPC messages of a file, checked before Arrow Java reads them: Arrow Java trusts every length
 * it reads and allocates it, so a damaged length becomes an allocation of gigabytes, and a stream
 * with four bytes missing is read on through the legacy length prefix as if nothing happened.
 *
 * <p>Each message is inspected with positional reads, then handed to {@link MessageChannelReader},
 * which reads the same bytes. Checks:
 *
 * <ul>
 *   <li>framing: every message has the continuation marker {@code 0xFFFFFFFF} when the first one
 *       has it (the legacy format before Arrow 0.15 has none), and the end-of-stream marker too;
 *   <li>lengths: the metadata fits in the file (at most {@link #MAX_METADATA_BYTES}), the body fits
 *       in the file; in an IPC file, every message lies where the footer says it does;
 *   <li>message types: a schema first, then dictionary and record batches only;
 *   <li>the body of a batch ({@link BatchLayout}): buffers inside the body, in order, with no gap
 *       or slack of {@code 64} bytes or more; one field node per field, top-level lengths equal to
 *       the row count, null counts within the length, buffers as large as the lengths need; for a
 *       compressed body, a known codec and uncompressed sizes no larger than the lengths need.
 * </ul>
 *
 * <p>A message cut by the end of a stream is {@link Truncated} (the reader recovers the batches
 * before it); anything else is {@link Corrupt}.
 */
final class CheckedMessages extends MessageChannelReader {
  /** The largest message header (flatbuffer metadata) read: 64 MiB. */
  static final int MAX_METADATA_BYTES = 64 << 20;

  private static final int CONTINUATION = -1;

  private final FileChannel channel;
  private long end;
  private final ArrowTraceReader.@Nullable Follow growth;
  private final java.util.Map<String, String> trailing = new java.util.LinkedHashMap<>();
  private final boolean endIsFooter;
  private final @Nullable List<ArrowBlock> recordBlocks;
  private final @Nullable List<ArrowBlock> dictionaryBlocks;
  private @Nullable Boolean continuation;
  private @Nullable Schema schema;
  private long messages;
  private int recordBatches;
  private int dictionaryBatches;

  /**
   * Reads messages from the channel's position up to {@code end}.
   *
   * @param footer the IPC file's footer, whose blocks every message must match, or {@code null} for
   *     a stream (or a file without its footer); then {@code end} is the file size
   */
  CheckedMessages(
      FileChannel channel, long end, @Nullable IpcFooter footer, BufferAllocator allocator) {
    this(channel, end, footer, allocator, null);
  }

  /**
   * Reads the messages of a stream that is still being written: where a message needs bytes past
   * the current end, {@code growth} is asked to wait for them (a stream only).
   */
  CheckedMessages(
      FileChannel channel,
      long end,
      @Nullable IpcFooter footer,
      BufferAllocator allocator,
      ArrowTraceReader.@Nullable Follow growth) {
    super(new ReadChannel(channel), allocator);
    this.channel = channel;
    this.end = end;
    this.growth = footer == null ? growth : null;
    this.endIsFooter = footer != null;
    this.recordBlocks = footer == null ? null : footer.recordBatches();
    this.dictionaryBlocks = footer == null ? null : footer.dictionaries();
  }

  /** The schema of the stream, once its first message is read. */
  Schema schema() {
    return requireNonNull(schema, "no message read yet");
  }

  /** Key-value pairs in the custom metadata of record batch messages, in stream order. */
  java.util.Map<String, String> trailingMetadata() {
    return trailing;
  }

  /**
   * Waits, when following a growing stream, until the data reaches {@code needed} bytes or {@link
   * ArrowTraceReader.Follow#await} gives up; returns the bytes left from {@code at}.
   */
  private long await(long at, long needed) throws IOException {
    while (growth != null && end < needed) {
      if (!growth.await(end)) {
        break;
      }
      end = Math.max(end, channel.size());
    }
    return end - at;
  }

  @Override
  public @Nullable MessageResult readNext() throws IOException {
    long at = channel.position();
    long left = await(at, at + 8);
    if (left == 0) {
      if (messages == 0) {
        throw endIsFooter
            ? new Corrupt("the file holds no schema before its footer")
            : new Truncated("the file ends before its schema");
      }
      if (endIsFooter && recordBlocks != null && recordBatches < recordBlocks.size()) {
        throw new Corrupt(
            format(
                ROOT,
                "the footer lists %d record batches, but the data before it holds %d",
                recordBlocks.size(),
                recordBatches));
      }
      return null; // the caller tells a missing end-of-stream marker from a clean end
    }
    int first = readInt(at, left, "message prefix");
    int prefix = 4;
    int length = first;
    if (first == CONTINUATION) {
      length = readInt(at + 4, left - 4, "message prefix");
      prefix = 8;
    }
    boolean marked = first == CONTINUATION;
    if (continuation == null) {
      continuation = marked;
    } else if (continuation != marked) {
      throw new Corrupt(
          format(
              ROOT,
              "the message at byte %d has %s continuation marker 0xFFFFFFFF, unlike the messages"
                  + " before it: bytes are missing or were inserted before it",
              at,
              marked ? "a" : "no"));
    }
    if (length == 0) {
      if (endIsFooter && at + prefix != end) {
        throw new Corrupt(
            format(
                ROOT,
                "end-of-stream marker at byte %d, but the footer starts at byte %d",
                at,
                end));
      }
      return super.readNext();
    }
    if (length < 0 || length > MAX_METADATA_BYTES) {
      throw new Corrupt(
          format(
              ROOT,
              "the message at byte %d declares a header of %d bytes (the limit is %d MiB)",
              at,
              length,
              MAX_METADATA_BYTES >> 20));
    }
    left = await(at, at + prefix + length);
    if (length > left - prefix) {
      throw cut(at, "header", length, left - prefix);
    }
    ByteBuffer metadata = ByteBuffer.allocate(length);
    readFully(metadata, at + prefix);
    metadata.flip();
    Message message;
    byte type;
    long bodyLength;
    try {
      message = Message.getRootAsMessage(metadata);
      type = message.headerType();
      bodyLength = message.bodyLength();
    } catch (RuntimeException e) {
      throw new Corrupt(format(ROOT, "the header of the message at byte %d cannot be decoded", at));
    }
    long bodyStart = at + prefix + length;
    checkType(at, type, bodyLength);
    if (bodyLength > 0) {
      await(at, bodyStart + bodyLength);
    }
    BatchLayout.Body body = new BatchLayout.Body(this::readLong, bodyStart, bodyLength);
    try {
      switch (type) {
        case MessageHeader.Schema -> schema = BatchLayout.schema(message);
        case MessageHeader.RecordBatch -> {
          RecordBatch batch = (RecordBatch) message.header(new RecordBatch());
          checkBlock(recordBlocks, recordBatches, "record batch", at, prefix + length, bodyLength);
          BatchLayout.check(schema(), batch, body, end - bodyStart, null);
          recordBatches++;
          for (int i = 0; i < message.customMetadataLength(); i++) {
            var pair = message.customMetadata(i);
            if (pair.key() != null && pair.value() != null && trailing.size() < 64) {
              trailing.put(pair.key(), pair.value());
            }
          }
        }
        case MessageHeader.DictionaryBatch -> {
          DictionaryBatch batch = (DictionaryBatch) message.header(new DictionaryBatch());
          checkBlock(
              dictionaryBlocks,
              dictionaryBatches,
              "dictionary batch",
              at,
              prefix + length,
              bodyLength);
          BatchLayout.check(schema(), batch.data(), body, end - bodyStart, batch.id());
          dictionaryBatches++;
        }
        default -> throw new IllegalStateException("checked above");
      }
    } catch (Corrupt | Truncated e) {
      throw e;
    } catch (RuntimeException e) {
      throw new Corrupt(format(ROOT, "the header of the message at byte %d cannot be decoded", at));
    }
    messages++;
    return super.readNext();
  }

  private void checkType(long at, byte type, long bodyLength) throws Corrupt {
    if (messages == 0 && type != MessageHeader.Schema) {
      throw new Corrupt(
          format(
              ROOT, "the first message (at byte %d) is a %s, not the schema", at, typeName(type)));
    }
    if (messages > 0
        && type != MessageHeader.RecordBatch
        && type != MessageHeader.DictionaryBatch) {
      throw new Corrupt(
          format(
              ROOT,
              "the message at byte %d is a %s, where only record and dictionary batches may follow"
                  + " the schema",
              at,
              typeName(type)));
    }
    if (bodyLength < 0 || type == MessageHeader.Schema && bodyLength != 0) {
      throw new Corrupt(
          format(ROOT, "the message at byte %d declares a body of %d bytes", at, bodyLength));
    }
  }

  private static String typeName(byte type) {
    return switch (type) {
      case MessageHeader.Schema -> "schema";
      case MessageHeader.RecordBatch -> "record batch";
      case MessageHeader.DictionaryBatch -> "dictionary batch";
      case MessageHeader.Tensor -> "tensor";
      case MessageHeader.SparseTensor -> "sparse tensor";
      default -> "message of unknown type " + type;
    };
  }

  /** In an IPC file, the i-th batch of a kind must be where the footer's i-th block says. */
  private void checkBlock(
      @Nullable List<ArrowBlock> blocks,
      int index,
      String what,
      long at,
      int metadataLength,
      long body)
      throws Corrupt {
    if (blocks == null) {
      return;
    }
    if (index >= blocks.size()) {
      throw new Corrupt(
          format(
              ROOT,
              "%s %d at byte %d is not listed in the footer (it lists %d)",
              what,
              index,
              at,
              blocks.size()));
    }
    ArrowBlock block = blocks.get(index);
    if (block.getOffset() != at
        || block.getMetadataLength() != metadataLength
        || block.getBodyLength() != body) {
      throw new Corrupt(
          format(
              ROOT,
              "%s %d is at byte %d with %d + %d bytes, but the footer says byte %d with %d + %d"
                  + " bytes",
              what,
              index,
              at,
              metadataLength,
              body,
              block.getOffset(),
              block.getMetadataLength(),
              block.getBodyLength()));
    }
  }

  /** A header or body that runs past the end: a cut stream, or a damaged length in a file. */
  private IOException cut(long at, String what, long length, long left) {
    String detail =
        format(
            ROOT,
            "the message at byte %d declares a %s of %d bytes, but only %d bytes follow",
            at,
            what,
            length,
            Math.max(0, left));
    return endIsFooter ? new Corrupt(detail + " before the footer") : new Truncated(detail);
  }

  private int readInt(long at, long left, String what) throws IOException {
    if (left < 4) {
      throw cut(at, what, 4, left);
    }
    ByteBuffer buffer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    readFully(buffer, at);
    return buffer.getInt(0);
  }

  /** Eight little-endian bytes at an absolute position (within the body being checked). */
  private long readLong(long at) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(buffer, at);
    return buffer.getLong(0);
  }

  private void readFully(ByteBuffer buffer, long position) throws IOException {
    long at = position;
    while (buffer.hasRemaining()) {
      int n = channel.read(buffer, at);
      if (n < 0) {
        throw new Truncated(format(ROOT, "the file ends at byte %d inside a message", at));
      }
      at += n;
    }
  }

  /** The compression codecs Arrow Java reads. */
  static String codecName(byte codec) {
    return switch (codec) {
      case CompressionType.LZ4_FRAME -> "LZ4_FRAME";
      case CompressionType.ZSTD -> "ZSTD";
      default -> "id " + codec;
    };
  }

  /** Field nodes of a batch, for {@link BatchLayout}. */
  static FieldNode node(RecordBatch batch, int i) {
    return batch.nodes(new FieldNode(), i);
  }

  /** Buffers of a batch, for {@link BatchLayout}. */
  static Buffer buffer(RecordBatch batch, int i) {
    return batch.buffers(new Buffer(), i);
  }

  /** A message that the end of the data cuts off: the batches before it are intact. */
  static final class Truncated extends IOException {
    private static final long serialVersionUID = 1L;

    Truncated(String message) {
      super(message);
    }
  }

  /** A message whose framing, lengths or layout are impossible. */
  static final class Corrupt extends IOException {
    private static final long serialVersionUID = 1L;

    Corrupt(String message) {
      super(message);
    }
  }
}
