package io.dlanalyze.trace.parquet;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.apache.parquet.NoHadoopReadOptions;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.compression.CompressionCodecFactory;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;

/**
 * The Hadoop-free Parquet plumbing of this package, for other modules that write or read Parquet
 * files of their own with parquet-mr (the batch results tables): the codec factory the trace reader
 * and writer use, and read options built on it. Both work with no Hadoop class on the class path.
 */
public final class ParquetCodecs {
  private ParquetCodecs() {}

  /**
   * A codec factory for uncompressed, snappy, zstd and gzip pages that needs no Hadoop. Its
   * decompressors reuse one buffer (a page is valid until the next page of the column is
   * decompressed), which suits compressors and page-at-a-time decoders; parquet-mr's own column
   * readers need {@link #readOptions()}.
   */
  public static CompressionCodecFactory withoutHadoop() {
    return new NoHadoopCodecFactory();
  }

  /**
   * Read options for parquet-mr's own readers ({@code ColumnIOFactory}, the Group API): every
   * filter off, no Hadoop, and each page decompressed into its own array, because those readers
   * keep decoded dictionaries and values that point into earlier pages.
   */
  public static ParquetReadOptions readOptions() {
    return NoHadoopReadOptions.create(new CopyingCodecs(new NoHadoopCodecFactory()));
  }

  /** Delegates to a codec factory and copies each decompressed page. */
  private static final class CopyingCodecs implements CompressionCodecFactory {
    private final CompressionCodecFactory codecs;

    CopyingCodecs(CompressionCodecFactory codecs) {
      this.codecs = codecs;
    }

    @Override
    public BytesInputCompressor getCompressor(CompressionCodecName codec) {
      return codecs.getCompressor(codec);
    }

    @Override
    public BytesInputDecompressor getDecompressor(CompressionCodecName codec) {
      BytesInputDecompressor decompressor = codecs.getDecompressor(codec);
      return new BytesInputDecompressor() {
        @Override
        public BytesInput decompress(BytesInput bytes, int decompressedSize) throws IOException {
          ByteBuffer page = decompressor.decompress(bytes, decompressedSize).toByteBuffer();
          byte[] copy = new byte[page.remaining()];
          page.duplicate().get(copy);
          return BytesInput.from(copy);
        }

        @Override
        public void decompress(
            ByteBuffer input, int compressedSize, ByteBuffer output, int decompressedSize)
            throws IOException {
          decompressor.decompress(input, compressedSize, output, decompressedSize);
        }

        @Override
        public void release() {
          decompressor.release();
        }
      };
    }

    @Override
    public void release() {
      codecs.release();
    }
  }
}
