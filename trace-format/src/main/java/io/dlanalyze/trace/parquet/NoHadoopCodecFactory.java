package io.dlanalyze.trace.parquet;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import com.aayushatharva.brotli4j.Brotli4jLoader;
import com.aayushatharva.brotli4j.decoder.BrotliInputStream;
import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdException;
import io.airlift.compress.lz4.Lz4Compressor;
import io.airlift.compress.lz4.Lz4Decompressor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.compression.CompressionCodecFactory;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.xerial.snappy.Snappy;

/**
 * Page compression for parquet-mr without Hadoop: snappy through snappy-java, zstd through
 * zstd-jni, gzip through java.util.zip, LZ4_RAW and LZ4 (Hadoop's framing of LZ4 blocks, or a bare
 * block as older Arrow C++ wrote it) through aircompressor (parquet-mr's own LZ4 library), and
 * Brotli (read only) through brotli4j. parquet-mr's own {@code CodecFactory} loads Hadoop's codec
 * classes even for uncompressed files, so both the reader and the writer use this one. LZO is not
 * read: "unsupported codec LZO".
 *
 * <p>Each {@code getCompressor}/{@code getDecompressor} call returns a new instance that reuses one
 * output buffer: as {@link CompressionCodecFactory} allows, a returned {@link BytesInput} is valid
 * until the next call on the same instance. parquet-mr asks for one decompressor per column chunk,
 * and our decoder finishes a page before it reads the next page of that column. zstd pages are
 * decompressed with one context per decoding thread ({@link ZstdContexts}), which {@link
 * #release()} frees.
 *
 * <p>The reader bounds what a page may expand to ({@link #limitPages}): a page whose header claims
 * more bytes than the row group's rows can need is an error before anything is allocated.
 */
final class NoHadoopCodecFactory implements CompressionCodecFactory {
  /** zstd level 3, the zstd and parquet-mr default. */
  static final int ZSTD_LEVEL = 3;

  /** The largest page decompressed, whatever the row group: 128 MiB. */
  static final int MAX_PAGE_BYTES = 128 << 20;

  /** Room for page-level overhead (run headers, bit-packing groups) on top of the values. */
  private static final int PAGE_SLACK = 64 << 10;

  /** zstd contexts for the decompressors, one per decoding thread. */
  private final ZstdContexts zstd = new ZstdContexts();

  private long pageLimit = MAX_PAGE_BYTES;
  private long pageLimitRows = -1;
  private int pageLimitValueBytes;

  @Override
  public BytesInputCompressor getCompressor(CompressionCodecName codec) {
    return switch (codec) {
      case UNCOMPRESSED, SNAPPY, ZSTD, GZIP, LZ4_RAW -> new Compressor(codec);
      case LZ4, LZO, BROTLI ->
          throw new UnsupportedOperationException(
              format(
                  ROOT,
                  "writing %s is not supported: use zstd, snappy, gzip, lz4_raw or uncompressed",
                  codec));
    };
  }

  @Override
  public BytesInputDecompressor getDecompressor(CompressionCodecName codec) {
    if (!isSupported(codec)) {
      throw new UnsupportedOperationException(unsupported(codec));
    }
    return new Decompressor(codec, this);
  }

  /** Number of live zstd contexts: one per thread that decompressed a zstd page since release. */
  int zstdContexts() {
    return zstd.size();
  }

  /** Frees the zstd contexts of this factory's decompressors ({@link ZstdContexts}). */
  @Override
  public void release() {
    zstd.close();
  }

  /**
   * Bounds the pages of the next row group: a page of {@code rows} values of at most {@code
   * valueBytes} bytes each (levels included) needs at most {@code rows * valueBytes} bytes plus 64
   * KiB of overhead, and never more than {@link #MAX_PAGE_BYTES}.
   */
  void limitPages(long rows, int valueBytes) {
    pageLimitRows = rows;
    pageLimitValueBytes = valueBytes;
    pageLimit = pageLimit(rows, valueBytes);
  }

  /**
   * The most bytes a page of {@code rows} values of at most {@code valueBytes} bytes may have
   * uncompressed: the values plus 64 KiB, never more than {@link #MAX_PAGE_BYTES}.
   */
  static long pageLimit(long rows, int valueBytes) {
    return rows > (MAX_PAGE_BYTES - PAGE_SLACK) / Math.max(1, valueBytes)
        ? MAX_PAGE_BYTES
        : rows * valueBytes + PAGE_SLACK;
  }

  /** The most bytes a page of the current row group may have uncompressed. */
  long pageLimit() {
    return pageLimit;
  }

  /** True for the codecs this factory reads. */
  static boolean isSupported(CompressionCodecName codec) {
    return switch (codec) {
      case UNCOMPRESSED, SNAPPY, ZSTD, GZIP, LZ4_RAW, LZ4 -> true;
      case BROTLI -> Brotli4jLoader.isAvailable();
      case LZO -> false;
    };
  }

  /** The one-line message for a codec that cannot be read. */
  static String unsupported(CompressionCodecName codec) {
    if (codec == CompressionCodecName.BROTLI) {
      return "unsupported codec BROTLI: the Brotli library is not available on this platform;"
          + " rewrite the file with zstd";
    }
    return format(
        ROOT,
        "unsupported codec %s: dl-analyze reads zstd, snappy, gzip, lz4_raw, lz4, brotli and"
            + " uncompressed pages; rewrite the file with zstd",
        codec);
  }

  private void checkPage(int size) throws IOException {
    if (size < 0) {
      throw new IOException(format(ROOT, "a page header states %d bytes uncompressed", size));
    }
    if (size > pageLimit) {
      if (pageLimit == MAX_PAGE_BYTES || pageLimitRows < 0) {
        throw new IOException(
            format(
                ROOT,
                "a page of %d bytes uncompressed is larger than the limit of %d MiB",
                size,
                MAX_PAGE_BYTES >> 20));
      }
      throw new IOException(
          format(
              ROOT,
              "a page of %d bytes uncompressed, more than the row group's %d rows can need"
                  + " (%d bytes a value at most, %d in all): the page header is damaged",
              size,
              pageLimitRows,
              pageLimitValueBytes,
              pageLimit));
    }
  }

  private static final class Compressor implements BytesInputCompressor {
    private final CompressionCodecName codec;
    private byte[] out = new byte[0];

    Compressor(CompressionCodecName codec) {
      this.codec = codec;
    }

    @Override
    public BytesInput compress(BytesInput bytes) throws IOException {
      if (codec == CompressionCodecName.UNCOMPRESSED) {
        return bytes;
      }
      byte[] in = bytes.toByteArray();
      int n;
      switch (codec) {
        case SNAPPY -> {
          grow(Snappy.maxCompressedLength(in.length));
          n = Snappy.compress(in, 0, in.length, out, 0);
        }
        case ZSTD -> {
          grow((int) Zstd.compressBound(in.length));
          long size = Zstd.compressByteArray(out, 0, out.length, in, 0, in.length, ZSTD_LEVEL);
          if (Zstd.isError(size)) {
            throw new IOException("zstd compression failed: " + Zstd.getErrorName(size));
          }
          n = (int) size;
        }
        case LZ4_RAW -> {
          Lz4Compressor lz4 = new Lz4Compressor();
          grow(lz4.maxCompressedLength(in.length));
          n = lz4.compress(in, 0, in.length, out, 0, out.length);
        }
        case GZIP -> {
          ByteArrayOutputStream buffer = new ByteArrayOutputStream(in.length / 2 + 64);
          try (GZIPOutputStream gzip = new GZIPOutputStream(buffer)) {
            gzip.write(in);
          }
          return BytesInput.from(buffer.toByteArray());
        }
        default -> throw new IllegalStateException("unsupported codec " + codec);
      }
      return BytesInput.from(out, 0, n);
    }

    private void grow(int size) {
      if (out.length < size) {
        out = new byte[size];
      }
    }

    @Override
    public CompressionCodecName getCodecName() {
      return codec;
    }

    @Override
    public void release() {}
  }

  private static final class Decompressor implements BytesInputDecompressor {
    private final CompressionCodecName codec;
    private final NoHadoopCodecFactory factory;
    private byte[] out = new byte[0];

    Decompressor(CompressionCodecName codec, NoHadoopCodecFactory factory) {
      this.codec = codec;
      this.factory = factory;
    }

    @Override
    public BytesInput decompress(BytesInput bytes, int size) throws IOException {
      if (codec == CompressionCodecName.UNCOMPRESSED) {
        return bytes;
      }
      factory.checkPage(size);
      ByteBuffer input = bytes.toByteBuffer();
      byte[] in;
      int offset;
      int length = input.remaining();
      if (input.hasArray()) {
        in = input.array();
        offset = input.arrayOffset() + input.position();
      } else {
        in = new byte[length];
        input.duplicate().get(in);
        offset = 0;
      }
      if (out.length < size) {
        out = new byte[size];
      }
      try {
        decompress(in, offset, length, out, size);
      } catch (RuntimeException e) {
        // zstd-jni, snappy-java, aircompressor and brotli4j throw unchecked exceptions on corrupt
        // input.
        throw new IOException(codecName() + " decompression failed", e);
      }
      return BytesInput.from(out, 0, size);
    }

    private void decompress(byte[] in, int offset, int length, byte[] target, int size)
        throws IOException {
      long n;
      switch (codec) {
        case SNAPPY -> {
          int declared = Snappy.uncompressedLength(in, offset, length);
          if (declared != size) {
            throw new IOException(
                format(ROOT, "snappy page holds %d bytes, expected %d", declared, size));
          }
          n = Snappy.uncompress(in, offset, length, target, 0);
        }
        case ZSTD -> {
          try {
            n =
                factory
                    .zstd
                    .forCurrentThread()
                    .decompressByteArray(target, 0, size, in, offset, length);
          } catch (ZstdException e) {
            throw new IOException(
                "zstd decompression failed: " + Zstd.getErrorName(e.getErrorCode()), e);
          }
        }
        case GZIP ->
            n =
                readAll(
                    new GZIPInputStream(new ByteArrayInputStream(in, offset, length)),
                    target,
                    size);
        case LZ4_RAW -> n = new Lz4Decompressor().decompress(in, offset, length, target, 0, size);
        case LZ4 -> n = lz4Hadoop(in, offset, length, target, size);
        case BROTLI ->
            n =
                readAll(
                    new BrotliInputStream(new ByteArrayInputStream(in, offset, length)),
                    target,
                    size);
        default -> throw new IllegalStateException("unsupported codec " + codec);
      }
      if (n != size) {
        throw new IOException(
            format(ROOT, "%s page decompressed to %d bytes, expected %d", codecName(), n, size));
      }
    }

    /**
     * Reads at most {@code size} bytes from a decompressing stream; a stream that holds more
     * returns {@code size + 1}, so that the caller reports the mismatch without reading on.
     */
    private static long readAll(InputStream stream, byte[] target, int size) throws IOException {
      try (InputStream in = stream) {
        int n = in.readNBytes(target, 0, size);
        return n == size && in.read() >= 0 ? size + 1L : n;
      }
    }

    /**
     * Parquet's LZ4 codec as Hadoop frames it: blocks of [uncompressed size, compressed size, both
     * 4 bytes big-endian][LZ4 block], as parquet-mr with Hadoop and Arrow C++ 4 to 7 write it.
     * Older Arrow C++ wrote one bare LZ4 block under the same codec id; when the framing does not
     * add up, the page is read as that.
     */
    private static long lz4Hadoop(byte[] in, int offset, int length, byte[] target, int size) {
      Lz4Decompressor lz4 = new Lz4Decompressor();
      int p = offset;
      int end = offset + length;
      int written = 0;
      boolean framed = length >= 8;
      while (framed && p < end) {
        if (end - p < 8) {
          framed = false;
          break;
        }
        int uncompressed = bigEndian(in, p);
        int compressed = bigEndian(in, p + 4);
        p += 8;
        if (uncompressed < 0
            || compressed < 0
            || compressed > end - p
            || uncompressed > size - written) {
          framed = false;
          break;
        }
        try {
          int n = lz4.decompress(in, p, compressed, target, written, uncompressed);
          if (n != uncompressed) {
            framed = false;
            break;
          }
        } catch (RuntimeException e) {
          framed = false;
          break;
        }
        p += compressed;
        written += uncompressed;
      }
      if (framed && written == size) {
        return written;
      }
      return lz4.decompress(in, offset, length, target, 0, size);
    }

    private static int bigEndian(byte[] b, int p) {
      return (b[p] & 0xFF) << 24
          | (b[p + 1] & 0xFF) << 16
          | (b[p + 2] & 0xFF) << 8
          | b[p + 3] & 0xFF;
    }

    private String codecName() {
      return codec.name().toLowerCase(ROOT);
    }

    @Override
    public void decompress(ByteBuffer input, int compressedSize, ByteBuffer output, int size)
        throws IOException {
      if (codec != CompressionCodecName.UNCOMPRESSED) {
        factory.checkPage(size);
      }
      byte[] in = new byte[compressedSize];
      input.get(in);
      byte[] target = new byte[size];
      if (codec == CompressionCodecName.UNCOMPRESSED) {
        System.arraycopy(in, 0, target, 0, Math.min(compressedSize, size));
      } else {
        try {
          decompress(in, 0, compressedSize, target, size);
        } catch (RuntimeException e) {
          throw new IOException(codecName() + " decompression failed", e);
        }
      }
      output.put(target, 0, size);
    }

    @Override
    public void release() {}
  }
}
