package io.dlanalyze.trace.parquet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.luben.zstd.ZstdDecompressCtx;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.compression.CompressionCodecFactory.BytesInputDecompressor;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.junit.jupiter.api.Test;

class ZstdContextsTest {
  @Test
  void oneContextPerThread_freedOnClose_thenMadeAgain() throws Exception {
    ZstdContexts contexts = new ZstdContexts();
    try {
      ZstdDecompressCtx first = contexts.forCurrentThread();
      assertThat(contexts.forCurrentThread()).isSameAs(first);

      AtomicReference<ZstdDecompressCtx> other = new AtomicReference<>();
      Thread thread = new Thread(() -> other.set(contexts.forCurrentThread()));
      thread.start();
      thread.join();
      assertThat(other.get()).isNotNull().isNotSameAs(first);
      assertThat(contexts.size()).isEqualTo(2);

      contexts.close();
      assertThat(contexts.size()).isZero();
      assertThat(contexts.forCurrentThread()).isNotSameAs(first);
      assertThat(contexts.size()).isEqualTo(1);
    } finally {
      contexts.close();
    }
  }

  private static byte[] bytes(BytesInput input) throws IOException {
    ByteBuffer buffer = input.toByteBuffer();
    byte[] bytes = new byte[buffer.remaining()];
    buffer.get(bytes);
    return bytes;
  }

  /** Pages of different sizes and contents through one decompressor, with a release between. */
  @Test
  void decompressor_manyPagesOneContext_sameBytesAsWritten_acrossRelease() throws IOException {
    NoHadoopCodecFactory codecs = new NoHadoopCodecFactory();
    BytesInputDecompressor decompressor = codecs.getDecompressor(CompressionCodecName.ZSTD);
    Random random = new Random(7);
    for (int page = 0; page < 20; page++) {
      byte[] raw = new byte[1 + random.nextInt(200_000)];
      for (int i = 0; i < raw.length; i++) {
        raw[i] = (byte) random.nextInt(page + 2); // compressible, different per page
      }
      byte[] compressed =
          bytes(codecs.getCompressor(CompressionCodecName.ZSTD).compress(BytesInput.from(raw)));
      if (page == 10) {
        assertThat(codecs.zstdContexts()).as("one context for ten pages").isEqualTo(1);
        codecs.release();
        assertThat(codecs.zstdContexts()).isZero();
      }
      byte[] back = bytes(decompressor.decompress(BytesInput.from(compressed), raw.length));
      assertThat(Arrays.equals(back, raw)).as("page %d", page).isTrue();
    }
    assertThat(codecs.zstdContexts()).isEqualTo(1);
    codecs.release();
    assertThat(codecs.zstdContexts()).isZero();
  }

  @Test
  void corruptPage_thenAGoodOne_contextStillUsable() throws IOException {
    NoHadoopCodecFactory codecs = new NoHadoopCodecFactory();
    BytesInputDecompressor decompressor = codecs.getDecompressor(CompressionCodecName.ZSTD);
    byte[] raw = new byte[5000];
    Arrays.fill(raw, (byte) 3);
    byte[] good =
        bytes(codecs.getCompressor(CompressionCodecName.ZSTD).compress(BytesInput.from(raw)));
    byte[] bad = good.clone();
    bad[bad.length / 2] ^= 0x5A;
    bad[0] ^= 0x11; // not a zstd frame any more

    assertThatThrownBy(
            () -> decompressor.decompress(BytesInput.from(ByteBuffer.wrap(bad)), raw.length))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith("zstd decompression failed: ");
    byte[] back = bytes(decompressor.decompress(BytesInput.from(good), raw.length));
    assertThat(back).isEqualTo(raw);
    codecs.release();
  }
}
