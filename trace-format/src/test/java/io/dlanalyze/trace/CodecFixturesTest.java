package io.dlanalyze.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.apache.parquet.format.CompressionCodec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Files written by pyarrow with every codec a Python user may choose (fixtures/pyarrow, made by its
 * make_fixtures.py): each reads to the same 204 rows, including the NaN rows of layer fc1 from step
 * 8, and the same metadata. Codecs pyarrow 25 cannot write are derived from its files: LZ4 in
 * Hadoop's framing (parquet-mr with Hadoop, Arrow C++ 4 to 7) and the bare LZ4 block older Arrow
 * C++ wrote under the same codec id; LZO stands for a codec that is not read.
 */
class CodecFixturesTest {
  @TempDir Path dir;

  static Path fixture(String name) {
    try {
      return Path.of(CodecFixturesTest.class.getResource("/fixtures/pyarrow/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The reference: the zstd Parquet file (zstd was read before the other codecs). */
  private static List<String> reference() {
    return TraceRows.text(fixture("parquet-zstd.parquet"), 1000);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "arrow-file-lz4.arrow",
        "arrow-file-zstd.arrow",
        "arrow-stream-lz4.arrows",
        "arrow-stream-zstd.arrows",
        "parquet-lz4-raw.parquet",
        "parquet-brotli.parquet",
        "parquet-gzip.parquet"
      })
  void read_pyarrowCodec_sameRowsAsZstdParquet(String name) {
    Path file = fixture(name);
    List<String> rows = TraceRows.text(file, 50);
    assertThat(rows).hasSize(204).isEqualTo(reference());
    assertThat(rows.get(8 * 17 + 2))
        .contains("step=8", "layer_name=[fc1]", "phase=[forward]", "mean=NaN");
    try (TraceReader reader = TraceReaders.open(file, ReadOptions.all())) {
      assertThat(reader.metadata().runId()).contains("pyarrow-codec-fixture");
      assertThat(reader.metadata().layers()).hasSize(3);
      assertThat(reader.warnings()).isEmpty();
    }
  }

  @Test
  void read_parquetLz4HadoopFraming_sameRows() throws IOException {
    Path file = dir.resolve("lz4-hadoop.parquet");
    ParquetSurgery.rewrite(
        fixture("parquet-lz4-raw.parquet"),
        file,
        (meta, header, data) -> {
          meta.setCodec(CompressionCodec.LZ4);
          ByteBuffer framed = ByteBuffer.allocate(data.length + 8);
          framed.putInt(header.getUncompressed_page_size()).putInt(data.length).put(data);
          header.unsetCrc();
          return framed.array();
        });
    assertThat(TraceRows.text(file, 50)).isEqualTo(reference());
  }

  @Test
  void read_parquetLz4BareBlock_sameRows() throws IOException {
    Path file = dir.resolve("lz4-bare.parquet");
    ParquetSurgery.rewrite(
        fixture("parquet-lz4-raw.parquet"),
        file,
        (meta, header, data) -> {
          meta.setCodec(CompressionCodec.LZ4);
          return data;
        });
    assertThat(TraceRows.text(file, 50)).isEqualTo(reference());
  }

  @Test
  void open_parquetLzo_oneLineUnsupportedCodec() throws IOException {
    Path file = dir.resolve("lzo.parquet");
    ParquetSurgery.rewrite(
        fixture("parquet-lz4-raw.parquet"),
        file,
        (meta, header, data) -> {
          meta.setCodec(CompressionCodec.LZO);
          return data;
        });
    TraceFormatException error =
        catchThrowableOfType(
            TraceFormatException.class, () -> TraceReaders.open(file, ReadOptions.all()));
    assertThat(error.code()).isEqualTo(ErrorCode.UNKNOWN_FORMAT);
    assertThat(error.getMessage())
        .isEqualTo(
            file
                + ": row group 0, column 'epoch': unsupported codec LZO: dl-analyze reads zstd,"
                + " snappy, gzip, lz4_raw, lz4, brotli and uncompressed pages; rewrite the file"
                + " with zstd")
        .doesNotContain("corrupt");
  }
}
