package io.dlanalyze.trace.arrow;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.arrow.CheckedMessages.Corrupt;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.apache.arrow.flatbuf.Footer;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.ipc.message.ArrowFooter;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The footer of an Arrow IPC file, checked: its length fits in the file, and every block it lists
 * lies between the header and the footer without overlapping another. The reader then reads the
 * file's messages in order and checks each against its block ({@link CheckedMessages}).
 *
 * @param start the byte at which the footer starts (where the messages end)
 */
record IpcFooter(
    Schema schema,
    List<ArrowBlock> dictionaries,
    List<ArrowBlock> recordBatches,
    Map<String, String> metadata,
    long start) {

  /** {@code ARROW1} plus two bytes of padding before the first message. */
  static final int HEADER_BYTES = 8;

  /** The footer length and the closing {@code ARROW1}. */
  private static final int TRAILER_BYTES = 10;

  IpcFooter {
    dictionaries = List.copyOf(dictionaries);
    recordBatches = List.copyOf(recordBatches);
    metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
  }

  /** Reads the footer of a file that ends with the {@code ARROW1} magic. */
  static IpcFooter read(FileChannel channel, long fileSize) throws IOException {
    ByteBuffer length = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    readFully(channel, length, fileSize - TRAILER_BYTES);
    int footerLength = length.getInt(0);
    long room = fileSize - TRAILER_BYTES - HEADER_BYTES;
    if (footerLength <= 0
        || footerLength > room
        || footerLength > CheckedMessages.MAX_METADATA_BYTES) {
      throw new Corrupt(
          format(
              ROOT,
              "the footer length %d does not fit in a file of %d bytes",
              footerLength,
              fileSize));
    }
    long start = fileSize - TRAILER_BYTES - footerLength;
    ByteBuffer bytes = ByteBuffer.allocate(footerLength);
    readFully(channel, bytes, start);
    bytes.flip();
    ArrowFooter footer;
    try {
      Footer flat = Footer.getRootAsFooter(bytes);
      BatchLayout.checkFields(flat.schema());
      footer = new ArrowFooter(flat);
    } catch (RuntimeException e) {
      throw new Corrupt("the footer cannot be decoded");
    }
    if (footer.getSchema() == null) {
      throw new Corrupt("the footer has no schema");
    }
    List<ArrowBlock> all = new ArrayList<>(footer.getDictionaries());
    all.addAll(footer.getRecordBatches());
    all.sort(Comparator.comparingLong(ArrowBlock::getOffset));
    long previousEnd = HEADER_BYTES;
    for (ArrowBlock block : all) {
      long offset = block.getOffset();
      long metadata = block.getMetadataLength();
      long body = block.getBodyLength();
      if (offset < previousEnd
          || metadata < 8
          || body < 0
          || metadata > start - offset
          || body > start - offset - metadata) {
        throw new Corrupt(
            format(
                ROOT,
                "the footer lists a block of %d + %d bytes at byte %d, outside the %d bytes of"
                    + " messages or overlapping the one before it",
                metadata,
                body,
                offset,
                start));
      }
      previousEnd = offset + metadata + body;
    }
    return new IpcFooter(
        footer.getSchema(),
        footer.getDictionaries(),
        footer.getRecordBatches(),
        footer.getMetaData(),
        start);
  }

  private static void readFully(FileChannel channel, ByteBuffer buffer, long position)
      throws IOException {
    long at = position;
    while (buffer.hasRemaining()) {
      int n = channel.read(buffer, at);
      if (n < 0) {
        throw new Corrupt("the file ends inside its footer");
      }
      at += n;
    }
  }
}
