package io.dlanalyze.trace.arrow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged Arrow IPC files that once made the reader allocate what a corrupt length said, or read
 * shifted data without a word (issue 17, items 4 and 5): each is now a one-line CORRUPT error.
 */
class HostileArrowTest {
  @TempDir Path dir;

  private static final SyntheticTrace TRACE =
      SyntheticTrace.builder().layers(3).steps(20).seed(4).build();

  /** One IPC message: where it starts, where its body starts and ends, and its type. */
  record Span(int start, int bodyStart, int end, byte type) {}

  private Path write(String name, String compression) {
    return TestTraces.write(
        dir.resolve(name),
        TRACE,
        WriteOptions.defaults().withRowGroupRows(100).withCompression(compression));
  }

  /** The messages of a stream (or of a file from byte 8), found by their framing. */
  static List<Span> messages(byte[] bytes, int from) {
    List<Span> spans = new ArrayList<>();
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int at = from;
    while (at + 8 <= bytes.length && b.getInt(at) == -1 && b.getInt(at + 4) > 0) {
      int length = b.getInt(at + 4);
      ByteBuffer metadata = ByteBuffer.wrap(bytes, at + 8, length).slice();
      Message message = Message.getRootAsMessage(metadata.order(ByteOrder.LITTLE_ENDIAN));
      int bodyStart = at + 8 + length;
      int end = bodyStart + (int) message.bodyLength();
      spans.add(new Span(at, bodyStart, end, message.headerType()));
      at = end;
    }
    return spans;
  }

  private static TraceFormatException readFails(Path path) {
    return catchThrowableOfType(
        TraceFormatException.class,
        () -> {
          try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
            while (reader.next()) {
              // read everything
            }
          }
        });
  }

  private static Span firstRecordBatch(List<Span> spans) {
    return spans.stream()
        .filter(s -> s.type() == MessageHeader.RecordBatch)
        .findFirst()
        .orElseThrow();
  }

  @Test
  void streamWithHugeMessageLength_corruptWithoutAllocatingIt() throws IOException {
    Path path = write("huge.arrows", "default");
    byte[] bytes = Files.readAllBytes(path);
    Span batch = firstRecordBatch(messages(bytes, 0));
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(batch.start() + 4, 0x7FFF_FFF0);
    Files.write(path, bytes);
    TraceFormatException error = readFails(path);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage())
        .isEqualTo(
            path
                + ": record batch 0: cannot read: the message at byte "
                + batch.start()
                + " declares a header of 2147483632 bytes (the limit is 64 MiB)");
  }

  @Test
  void fileWhoseFooterGivesAHugeBodyLength_corrupt() throws IOException {
    Path path = write("huge.arrow", "default");
    byte[] bytes = Files.readAllBytes(path);
    Span batch = firstRecordBatch(messages(bytes, 8));
    // the footer's Block struct: offset (8 bytes), metadata length (4), padding (4), body (8)
    byte[] offset =
        ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(batch.start()).array();
    int footer =
        bytes.length
            - 10
            - ByteBuffer.wrap(bytes, bytes.length - 10, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    int block = -1;
    for (int i = Math.max(footer, 0); i + 24 <= bytes.length; i++) {
      if (Arrays.equals(bytes, i, i + 8, offset, 0, 8)) {
        block = i;
      }
    }
    assertThat(block).isPositive();
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(block + 16, 1L << 40);
    Files.write(path, bytes);
    TraceFormatException error = readFails(path);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage())
        .startsWith(path + ": not a valid Arrow IPC file: the footer lists a block of ")
        .contains("1099511627776 bytes at byte " + batch.start());
  }

  @Test
  void streamWithFourBytesDeletedInABody_corruptInsteadOfShiftedData() throws IOException {
    Path path = write("shifted.arrows", "default");
    byte[] bytes = Files.readAllBytes(path);
    List<Span> spans = messages(bytes, 0);
    Span batch = firstRecordBatch(spans);
    int cut = (batch.bodyStart() + batch.end()) / 2;
    byte[] damaged = new byte[bytes.length - 4];
    System.arraycopy(bytes, 0, damaged, 0, cut);
    System.arraycopy(bytes, cut + 4, damaged, cut, bytes.length - cut - 4);
    Files.write(path, damaged);
    TraceFormatException error = readFails(path);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage())
        .contains("has no continuation marker 0xFFFFFFFF, unlike the messages before it");
  }

  @Test
  void streamWithFourBytesDeletedInTheLastBody_corruptNotAQuietEnd() throws IOException {
    Path path = write("last.arrows", "default");
    byte[] bytes = Files.readAllBytes(path);
    List<Span> spans = messages(bytes, 0);
    Span last = spans.get(spans.size() - 1);
    int cut = (last.bodyStart() + last.end()) / 2;
    byte[] damaged = new byte[bytes.length - 4];
    System.arraycopy(bytes, 0, damaged, 0, cut);
    System.arraycopy(bytes, cut + 4, damaged, cut, bytes.length - cut - 4);
    Files.write(path, damaged);
    TraceFormatException error = readFails(path);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage()).contains("has no continuation marker");
  }

  @Test
  void compressedStreams_readLikeUncompressedOnes() throws IOException {
    List<String> plain = io.dlanalyze.trace.TraceRows.text(write("p.arrows", "default"), 64);
    for (String codec : List.of("zstd", "lz4")) {
      Path stream = write(codec + ".arrows", codec);
      Path file = write(codec + ".arrow", codec);
      assertThat(io.dlanalyze.trace.TraceRows.text(stream, 64)).isEqualTo(plain);
      assertThat(io.dlanalyze.trace.TraceRows.text(file, 64)).isEqualTo(plain);
      assertThat(Files.size(stream)).isLessThan(Files.size(dir.resolve("p.arrows")));
    }
  }
}
