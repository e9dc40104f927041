package io.dlanalyze.trace.tensorboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TFRecord framing: checksums, truncation, corruption, bounded lengths. */
class TfRecordReaderTest {
  @TempDir Path dir;

  static byte[] record(byte[] data) {
    return TestEventFiles.record(data);
  }

  /** A header announcing {@code length} bytes, with a correct length checksum. */
  static byte[] header(long length) {
    ByteBuffer out = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(length);
    out.putInt(TfRecordReader.maskedCrc32c(Arrays.copyOf(out.array(), 8), 0, 8));
    return out.array();
  }

  private Path file(byte[]... records) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] record : records) {
      out.write(record);
    }
    Path file = dir.resolve("records");
    Files.write(file, out.toByteArray());
    return file;
  }

  private static List<String> readAll(Path file) {
    List<String> records = new ArrayList<>();
    try (TfRecordReader reader = TfRecordReader.open(file)) {
      while (reader.next()) {
        records.add(new String(reader.data(), 0, reader.length(), StandardCharsets.UTF_8));
      }
    }
    return records;
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void crc32c_isTheCastagnoliChecksumAndTheMaskRotatesAndAdds() {
    // the CRC-32C check value of "123456789" (RFC 3720, B.4)
    CRC32C crc = new CRC32C();
    crc.update(bytes("123456789"));
    assertThat((int) crc.getValue()).isEqualTo(0xE3069283);
    int raw = 0xE3069283;
    assertThat(TfRecordReader.mask(raw))
        .isEqualTo(Integer.rotateRight(raw, 15) + 0xa282ead8)
        .isEqualTo(TfRecordReader.maskedCrc32c(bytes("123456789"), 0, 9));
  }

  @Test
  void records_readInOrderIncludingAnEmptyOneAndALargeOne() throws IOException {
    String large = "x".repeat(200_000);
    Path file = file(record(bytes("first")), record(new byte[0]), record(bytes(large)));

    assertThat(readAll(file)).containsExactly("first", "", large);
  }

  @Test
  void cutInsideTheLastRecord_everyCompleteRecordIsKeptAndTheCutIsReported() throws IOException {
    byte[] first = record(bytes("first"));
    byte[] second = record(bytes("second record"));
    for (int cut = 1; cut < second.length; cut++) {
      Path file = file(first, Arrays.copyOf(second, cut));
      try (TfRecordReader reader = TfRecordReader.open(file)) {
        assertThat(reader.next()).isTrue();
        assertThat(reader.next()).as("cut at %d", cut).isFalse();
        assertThat(reader.truncation())
            .as("cut at %d", cut)
            .contains("at byte " + first.length)
            .contains(cut < 12 ? "inside a record header" : "inside a record of 13 bytes");
      }
    }
  }

  @Test
  void zeroBytesAfterTheLastRecord_areACrashedWritersTailNotCorruption() throws IOException {
    Path file = file(record(bytes("kept")), new byte[5000]);
    try (TfRecordReader reader = TfRecordReader.open(file)) {
      assertThat(reader.next()).isTrue();
      assertThat(reader.next()).isFalse();
      assertThat(reader.truncation()).contains("the rest of the file is zero bytes at byte 20");
    }
  }

  @Test
  void damagedDataInTheMiddle_isCorruptNamingTheFileAndTheRecordOffset() throws IOException {
    byte[] first = record(bytes("first"));
    byte[] second = record(bytes("second"));
    second[14] ^= 0x01;
    Path file = file(first, second, record(bytes("third")));

    assertThatThrownBy(() -> readAll(file))
        .isInstanceOfSatisfying(
            TraceFormatException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.CORRUPT);
              assertThat(e.file()).isEqualTo(file);
              assertThat(e.location()).isEqualTo("record at byte " + first.length);
            })
        .hasMessage(
            file
                + ": record at byte 21: the record data's checksum does not match: the record is"
                + " damaged");
  }

  @Test
  void damagedLength_isCorruptEvenWhenItsValueWouldFit() throws IOException {
    byte[] second = record(bytes("second"));
    second[0] = 3;
    Path file = file(record(bytes("first")), second);

    assertThatThrownBy(() -> readAll(file))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("record at byte 21: the record length's checksum does not match");
  }

  @Test
  void lengthBeyondTheFile_isATruncationAndNothingOfThatSizeIsAllocated() throws IOException {
    // a genuine header announcing 1.9 GB in a 45-byte file: the end of a cut file
    Path file = file(record(bytes("first")), header(1_900_000_000L), bytes("partial"));
    long before = allocated();
    try (TfRecordReader reader = TfRecordReader.open(file)) {
      assertThat(reader.next()).isTrue();
      assertThat(reader.next()).isFalse();
      assertThat(reader.truncation()).contains("inside a record of 1900000000 bytes");
    }
    assertThat(allocated() - before).isLessThan(4 << 20);
  }

  @Test
  void lengthBeyondTwoGibibytes_isCorrupt() throws IOException {
    Path file = file(header(Long.MAX_VALUE));

    assertThatThrownBy(() -> readAll(file))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("record at byte 0: record length 9223372036854775807 is beyond");
  }

  @Test
  void headerSniffing_recognizesARecordButNotOtherBytes() {
    byte[] head = record(bytes("anything"));
    assertThat(TfRecordReader.looksLikeRecordHeader(head, head.length)).isTrue();
    assertThat(TfRecordReader.looksLikeRecordHeader(bytes("step,epoch,b"), 12)).isFalse();
    assertThat(TfRecordReader.looksLikeRecordHeader(head, 11)).isFalse();
  }

  /** Bytes allocated by this thread so far (HotSpot's per-thread counter). */
  static long allocated() {
    return ((com.sun.management.ThreadMXBean)
            java.lang.management.ManagementFactory.getThreadMXBean())
        .getThreadAllocatedBytes(Thread.currentThread().getId());
  }
}
