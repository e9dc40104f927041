package io.dlanalyze.trace.parquet;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.util.Arrays;
import org.apache.parquet.column.values.bitpacking.BytePacker;
import org.apache.parquet.column.values.bitpacking.Packer;
import org.apache.parquet.io.ParquetDecodingException;

/**
 * Parquet's RLE / bit-packed hybrid encoding (definition levels and dictionary ids), decoded run by
 * run into int arrays: an RLE run becomes one {@link Arrays#fill}, a bit-packed run is unpacked
 * eight values at a time into a buffer and copied out with {@link System#arraycopy}. One instance
 * is reused for every page of a column.
 *
 * <p>Format (parquet-format Encodings.md): a ULEB128 header; an even header {@code h} is an RLE run
 * of {@code h >>> 1} copies of a value stored in {@code ceil(bitWidth / 8)} little-endian bytes; an
 * odd header is {@code h >>> 1} groups of eight values bit-packed LSB first.
 */
final class RleDecoder {
  /** Packers by bit width, made on first use: each width is a large generated class. */
  private static final BytePacker[] PACKERS = new BytePacker[33];

  private static synchronized BytePacker packer(int bitWidth) {
    BytePacker packer = PACKERS[bitWidth];
    if (packer == null) {
      packer = Packer.LITTLE_ENDIAN.newBytePacker(bitWidth);
      PACKERS[bitWidth] = packer;
    }
    return packer;
  }

  private byte[] data = new byte[0];
  private int pos;
  private int end;
  private int bitWidth;
  private int byteWidth;
  private int maxValues;
  private BytePacker packer = packer(0);
  private boolean rle;
  private int remaining;
  private int value;
  private int[] packed = new int[64];
  private int packedPos;
  private final byte[] padded = new byte[32];

  /**
   * Starts decoding {@code data[pos, end)}.
   *
   * @param maxValues the number of values the page holds; caps the size of a bit-packed run
   */
  void init(byte[] data, int pos, int end, int bitWidth, int maxValues) {
    if (bitWidth < 0 || bitWidth > 32) {
      throw new ParquetDecodingException(format(ROOT, "invalid bit width %d", bitWidth));
    }
    this.data = data;
    this.pos = pos;
    this.end = end;
    this.bitWidth = bitWidth;
    this.byteWidth = (bitWidth + 7) >>> 3;
    this.maxValues = maxValues;
    this.packer = packer(bitWidth);
    this.remaining = 0;
  }

  /** Reads the next {@code n} values into {@code dst[off, off + n)}. */
  void read(int[] dst, int off, int n) {
    while (n > 0) {
      if (remaining == 0) {
        nextRun();
      }
      int k = Math.min(n, remaining);
      if (rle) {
        Arrays.fill(dst, off, off + k, value);
      } else {
        System.arraycopy(packed, packedPos, dst, off, k);
        packedPos += k;
      }
      remaining -= k;
      off += k;
      n -= k;
    }
  }

  /**
   * Skips the next {@code n} values if they all lie in one RLE run of {@code expected}: the fast
   * path for definition levels of a page without nulls.
   *
   * @return true when skipped; false (nothing consumed) when the caller must {@link #read}
   */
  boolean skipIfRun(int n, int expected) {
    if (remaining == 0) {
      nextRun();
    }
    if (rle && value == expected && remaining >= n) {
      remaining -= n;
      return true;
    }
    return false;
  }

  private void nextRun() {
    do {
      int header = readUnsignedVarInt();
      if ((header & 1) == 0) {
        rle = true;
        remaining = header >>> 1;
        value = readRunValue();
      } else {
        rle = false;
        int groups = header >>> 1;
        int available = bitWidth == 0 ? groups : (end - pos + bitWidth - 1) / bitWidth;
        groups = Math.min(groups, Math.min(available, (maxValues + 7) >>> 3));
        int count = groups * 8;
        if (packed.length < count) {
          packed = new int[Math.max(count, packed.length * 2)];
        }
        if (bitWidth == 0) {
          // Every value is 0, and no byte stores it: the width-0 packer writes nothing, so the
          // buffer would still hold the previous page's ids.
          Arrays.fill(packed, 0, count, 0);
          groups = 0;
        }
        for (int g = 0; g < groups; g++) {
          if (pos + bitWidth <= end) {
            packer.unpack8Values(data, pos, packed, g * 8);
          } else {
            // The last group may be cut short by the writer: unpack from zero-padded bytes.
            Arrays.fill(padded, (byte) 0);
            System.arraycopy(data, pos, padded, 0, end - pos);
            packer.unpack8Values(padded, 0, packed, g * 8);
          }
          pos += bitWidth;
        }
        pos = Math.min(pos, end);
        remaining = count;
        packedPos = 0;
      }
    } while (remaining == 0);
  }

  private int readRunValue() {
    if (pos + byteWidth > end) {
      throw new ParquetDecodingException("RLE run value runs past the end of the page");
    }
    int v = 0;
    for (int i = 0; i < byteWidth; i++) {
      v |= (data[pos + i] & 0xFF) << (8 * i);
    }
    pos += byteWidth;
    return v;
  }

  private int readUnsignedVarInt() {
    int result = 0;
    int shift = 0;
    while (true) {
      if (pos >= end) {
        throw new ParquetDecodingException("RLE data ends before all values were read");
      }
      int b = data[pos++] & 0xFF;
      result |= (b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        return result;
      }
      shift += 7;
      if (shift > 28) {
        throw new ParquetDecodingException("RLE run header is not a valid varint");
      }
    }
  }
}
