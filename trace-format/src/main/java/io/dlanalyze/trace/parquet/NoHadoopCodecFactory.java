package io.dlanalyze.trace.parquet;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import com.github.luben.zstd.Zstd;
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
 * zstd-jni, gzip through java.util.zip. parquet-mr's own {@code CodecFactory} loads Hadoop's codec
 * classes even for uncompressed files, so both the reader and the writer use this one.
 *
 * <p>Each {@code getCompressor}/{@code getDecompressor} call returns a new instance that reuses one
 * output buffer: as {@link CompressionCodecFactory} allows, a returned {@link BytesInput} is valid
 * until the next call on the same instance. parquet-mr asks for one decompressor per column chunk,
 * and our decoder finishes a page before it reads the next page of that column.
 */
final class NoHadoopCodecFactory implements CompressionCodecFactory {
  /** zstd level 3, the zstd and parquet-mr default. */
  static final int ZSTD_LEVEL = 3;

  @Override
  public BytesInputCompressor getCompressor(CompressionCodecName codec) {
    checkSupported(codec);
    return new Compressor(codec);
  }

  @Override
  public BytesInputDecompressor getDecompressor(CompressionCodecName codec) {
    checkSupported(codec);
    return new Decompressor(codec);
  }

  @Override
  public void release() {}

  /** True for the codecs this factory handles. */
  static boolean isSupported(CompressionCodecName codec) {
    return switch (codec) {
      case UNCOMPRESSED, SNAPPY, ZSTD, GZIP -> true;
      case LZO, BROTLI, LZ4, LZ4_RAW -> false;
    };
  }

  private static void checkSupported(CompressionCodecName codec) {
    if (!isSupported(codec)) {
      throw new UnsupportedOperationException(
          format(ROOT, "%s compression is not supported: use zstd, snappy, gzip or none", codec));
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
    private byte[] out = new byte[0];

    Decompressor(CompressionCodecName codec) {
      this.codec = codec;
    }

    @Override
    public BytesInput decompress(BytesInput bytes, int size) throws IOException {
      if (codec == CompressionCodecName.UNCOMPRESSED) {
        return bytes;
      }
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
        // zstd-jni and snappy-java throw unchecked exceptions on corrupt input.
        throw new IOException(codecName() + " decompression failed: " + e.getMessage(), e);
      }
      return BytesInput.from(out, 0, size);
    }

    private void decompress(byte[] in, int offset, int length, byte[] target, int size)
        throws IOException {
      long n;
      switch (codec) {
        case SNAPPY -> n = Snappy.uncompress(in, offset, length, target, 0);
        case ZSTD -> {
          n = Zstd.decompressByteArray(target, 0, size, in, offset, length);
          if (Zstd.isError(n)) {
            throw new IOException("zstd decompression failed: " + Zstd.getErrorName(n));
          }
        }
        case GZIP -> {
          try (InputStream gzip =
              new GZIPInputStream(new ByteArrayInputStream(in, offset, length))) {
            n = gzip.readNBytes(target, 0, size);
          }
        }
        default -> throw new IllegalStateException("unsupported codec " + codec);
      }
      if (n != size) {
        throw new IOException(
            format(ROOT, "%s page decompressed to %d bytes, expected %d", codecName(), n, size));
      }
    }

    private String codecName() {
      return codec.name().toLowerCase(ROOT);
    }

    @Override
    public void decompress(ByteBuffer input, int compressedSize, ByteBuffer output, int size)
        throws IOException {
      byte[] in = new byte[compressedSize];
      input.get(in);
      byte[] target = new byte[size];
      if (codec == CompressionCodecName.UNCOMPRESSED) {
        System.arraycopy(in, 0, target, 0, Math.min(compressedSize, size));
      } else {
        decompress(in, 0, compressedSize, target, size);
      }
      output.put(target, 0, size);
    }

    @Override
    public void release() {}
  }
}
