package io.dlanalyze.trace.tensorboard;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;

/**
 * Reads the records of a TFRecord file, the container of TensorBoard event files: each record is an
 * 8-byte little-endian length, the masked CRC32C of those 8 bytes, the data, and the masked CRC32C
 * of the data. Both checksums are verified.
 *
 * <p>Crash tolerance: a file that ends inside a record (its header, or data announced by a header
 * whose checksum is right), or whose rest is all zero bytes (what a file system may leave after a
 * crash), ends the records there and {@link #truncation()} says so. Anything else that does not
 * check out is a {@link ErrorCode#CORRUPT} error naming the file and the byte offset of the record.
 * A length is checked against the bytes left in the file before anything is allocated for it.
 *
 * <p>The file is read sequentially through one 64 KiB buffer; the data array is reused and grows to
 * the largest record.
 */
final class TfRecordReader implements AutoCloseable {
  /** Length (8) and its checksum (4). */
  static final int HEADER_BYTES = 12;

  /** The data checksum after the data. */
  static final int FOOTER_BYTES = 4;

  /** Protobuf messages are at most 2 GiB; no writer produces a longer record. */
  static final long MAX_RECORD_BYTES = Integer.MAX_VALUE - 8;

  private static final int MASK_DELTA = 0xa282ead8;

  private final Path file;
  private final InputStream in;
  private final long size;
  private final byte[] buffer = new byte[64 * 1024];
  private final byte[] header = new byte[HEADER_BYTES];
  private final byte[] footer = new byte[FOOTER_BYTES];
  private final CRC32C crc = new CRC32C();
  private int bufferPos;
  private int bufferEnd;
  private long position;
  private byte[] data = new byte[256];
  private int length;
  private long recordOffset = -1;
  private long records;
  private @Nullable String truncation;
  private boolean finished;

  private TfRecordReader(Path file, InputStream in, long size) {
    this.file = file;
    this.in = in;
    this.size = size;
  }

  /**
   * Opens a file for reading.
   *
   * @throws TraceFormatException NOT_FOUND or IO_ERROR when it cannot be opened
   */
  static TfRecordReader open(Path file) {
    try {
      long size = Files.size(file);
      return new TfRecordReader(file, Files.newInputStream(file), size);
    } catch (NoSuchFileException e) {
      throw new TraceFormatException(ErrorCode.NOT_FOUND, file, null, "no such file");
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, file, null, format(ROOT, "cannot read: %s", e.getMessage()), e);
    }
  }

  /** The masked CRC32C of TFRecord: the CRC rotated right by 15 bits plus a constant. */
  static int maskedCrc32c(byte[] bytes, int offset, int length) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, offset, length);
    return mask((int) crc.getValue());
  }

  static int mask(int crc) {
    return ((crc >>> 15) | (crc << 17)) + MASK_DELTA;
  }

  /** True when the first 12 bytes are a record header whose length checksum is right. */
  static boolean looksLikeRecordHeader(byte[] head, int n) {
    if (n < HEADER_BYTES) {
      return false;
    }
    return maskedCrc32c(head, 0, 8) == readIntLe(head, 8);
  }

  /**
   * Reads the next record into {@link #data()}.
   *
   * @return false at the end of the file, also after a truncation ({@link #truncation()})
   * @throws TraceFormatException CORRUPT when a checksum does not match, IO_ERROR when reading
   *     fails
   */
  boolean next() {
    if (finished) {
      return false;
    }
    long start = position;
    long remaining = size - start;
    if (remaining == 0) {
      finished = true;
      return false;
    }
    if (remaining < HEADER_BYTES) {
      readFully(header, (int) remaining);
      if (allZero(header, (int) remaining)) {
        return truncated(start, "the file ends in zero bytes");
      }
      return truncated(
          start, format(ROOT, "the file ends inside a record header (%d of 12 bytes)", remaining));
    }
    readFully(header, HEADER_BYTES);
    long announced = readLongLe(header, 0);
    if (maskedCrc32c(header, 0, 8) != readIntLe(header, 8)) {
      if (allZero(header, HEADER_BYTES) && restIsZero()) {
        return truncated(start, "the rest of the file is zero bytes");
      }
      throw corrupt(start, "the record length's checksum does not match: the length is damaged");
    }
    if (announced < 0 || announced > MAX_RECORD_BYTES) {
      throw corrupt(
          start,
          format(
              ROOT,
              "record length %s is beyond the 2 GiB protobuf limit",
              Long.toUnsignedString(announced)));
    }
    if (announced + FOOTER_BYTES > remaining - HEADER_BYTES) {
      return truncated(
          start,
          format(
              ROOT,
              "the file ends inside a record of %d bytes (%d bytes left)",
              announced,
              remaining - HEADER_BYTES));
    }
    int n = (int) announced;
    if (data.length < n) {
      // doubling, but never past what the rest of the file can hold
      long room = remaining - HEADER_BYTES - FOOTER_BYTES;
      data = new byte[(int) Math.min(Math.max(n, 2L * data.length), room)];
    }
    readFully(data, n);
    readFully(footer, FOOTER_BYTES);
    crc.reset();
    crc.update(data, 0, n);
    if (mask((int) crc.getValue()) != readIntLe(footer, 0)) {
      throw corrupt(start, "the record data's checksum does not match: the record is damaged");
    }
    length = n;
    recordOffset = start;
    records++;
    return true;
  }

  /** The current record's bytes: {@code data()[0 .. length())}. Valid until the next call. */
  byte[] data() {
    return data;
  }

  int length() {
    return length;
  }

  /** The byte offset of the current record in the file. */
  long recordOffset() {
    return recordOffset;
  }

  /** Records read so far. */
  long records() {
    return records;
  }

  long size() {
    return size;
  }

  /** What ended the file early, or {@code null} when it ended at a record boundary. */
  @Nullable String truncation() {
    return truncation;
  }

  /** An error at the current record: CORRUPT with the file and the record's byte offset. */
  TraceFormatException corrupt(long offset, String detail) {
    finished = true;
    return new TraceFormatException(ErrorCode.CORRUPT, file, location(offset), detail);
  }

  static String location(long offset) {
    return format(ROOT, "record at byte %d", offset);
  }

  private boolean truncated(long offset, String why) {
    finished = true;
    truncation = format(ROOT, "%s at byte %d", why, offset);
    return false;
  }

  private void readFully(byte[] target, int n) {
    int done = 0;
    while (done < n) {
      if (bufferPos == bufferEnd) {
        fill();
      }
      int take = Math.min(n - done, bufferEnd - bufferPos);
      System.arraycopy(buffer, bufferPos, target, done, take);
      bufferPos += take;
      done += take;
    }
    position += n;
  }

  private void fill() {
    try {
      int read = in.read(buffer, 0, buffer.length);
      if (read <= 0) {
        // the size was read at open: the file shrank while it was read
        throw new TraceFormatException(
            ErrorCode.IO_ERROR,
            file,
            null,
            format(ROOT, "the file ended at byte %d, before its size of %d bytes", position, size));
      }
      bufferPos = 0;
      bufferEnd = read;
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, file, null, format(ROOT, "cannot read: %s", e.getMessage()), e);
    }
  }

  /** Reads the rest of the file through the buffer: true when every byte is zero. */
  private boolean restIsZero() {
    while (position < size) {
      if (bufferPos == bufferEnd) {
        fill();
      }
      int take = (int) Math.min(size - position, bufferEnd - bufferPos);
      for (int i = bufferPos; i < bufferPos + take; i++) {
        if (buffer[i] != 0) {
          return false;
        }
      }
      bufferPos += take;
      position += take;
    }
    return true;
  }

  private static boolean allZero(byte[] bytes, int n) {
    for (int i = 0; i < n; i++) {
      if (bytes[i] != 0) {
        return false;
      }
    }
    return true;
  }

  static long readLongLe(byte[] b, int at) {
    return (readIntLe(b, at) & 0xFFFFFFFFL) | ((long) readIntLe(b, at + 4) << 32);
  }

  static int readIntLe(byte[] b, int at) {
    return (b[at] & 0xFF)
        | (b[at + 1] & 0xFF) << 8
        | (b[at + 2] & 0xFF) << 16
        | (b[at + 3] & 0xFF) << 24;
  }

  @Override
  public void close() {
    try {
      in.close();
    } catch (IOException e) {
      // The file was only read; nothing is lost if closing it fails.
    }
  }
}
