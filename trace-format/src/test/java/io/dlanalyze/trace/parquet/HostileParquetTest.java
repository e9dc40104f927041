package io.dlanalyze.trace.parquet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.github.luben.zstd.Zstd;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.HostileTraces;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.ParquetSurgery;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.TraceRows;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.parquet.format.CompressionCodec;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged or unusual Parquet files from the fuzzing of issue 17 (items 5, 9, 11 and 12): each is a
 * one-line error naming the cause, never a silently different result or an allocation the file
 * cannot justify.
 */
class HostileParquetTest {
  @TempDir Path dir;

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

  private Path writeTrace(String name) {
    return MemoryTrace.of(SyntheticTrace.builder().layers(2).steps(3).build())
        .withMetadata(HostileTraces.metadata())
        .write(dir.resolve(name), WriteOptions.defaults());
  }

  @Test
  void footerWhoseMetadataListCountIsOverwritten_corruptNotAMissingKey() throws IOException {
    Path path = writeTrace("keys.parquet");
    byte[] bytes = Files.readAllBytes(path);
    int keys = HostileTraces.metadata().asMap().size();
    assertThat(keys).isLessThan(15);
    byte listHeader = (byte) (keys << 4 | 12); // compact protocol: size, then struct type
    int at = -1;
    for (int i = bytes.length - 9; i > 0; i--) {
      if (bytes[i] == 0x19 && bytes[i + 1] == listHeader) { // field 5 (list), delta 1
        at = i + 1;
        break;
      }
    }
    assertThat(at).isPositive();
    bytes[at] = (byte) ((keys - 1) << 4 | 12);
    Files.write(path, bytes);
    TraceFormatException error = readFails(path);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage())
        .startsWith(path + ": footer: ")
        .contains("the footer is damaged");
  }

  @Test
  void pageThatExpandsBeyondItsRowGroup_corruptBeforeAllocating() throws IOException {
    Path small = dir.resolve("small.parquet");
    ParquetTestFile.v1Trace(3).codec(CompressionCodecName.ZSTD).noChecksums().write(small);
    Path bomb = dir.resolve("bomb.parquet");
    byte[] zeros = new byte[64 << 20];
    byte[] packed = Zstd.compress(zeros, 19);
    ParquetSurgery.rewrite(
        small,
        bomb,
        (chunk, header, data) -> {
          if (!chunk.getPath_in_schema().equals(List.of("mean"))
              || !header.isSetData_page_header()) {
            return data;
          }
          header.setUncompressed_page_size(zeros.length);
          return packed;
        });
    assertThat(Files.size(bomb)).isLessThan(64 << 10);
    TraceFormatException error = readFails(bomb);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage())
        .startsWith(bomb + ": row group 0, column 'mean': corrupt page: the page at byte ")
        .contains("claims 67108864 bytes uncompressed, more than the 65644 its rows can need");
  }

  @Test
  void int64StepAnnotatedTimestampOrUnsigned_wrongTypeAsInArrow() throws IOException {
    for (String annotation : List.of("TIMESTAMP(MICROS,true)", "INTEGER(64,false)")) {
      ParquetTestFile trace = ParquetTestFile.v1Trace(2);
      Path file = dir.resolve("step.parquet");
      trace.column("step", "required int64 (" + annotation + ")", trace.values("step")).write(file);
      TraceFormatException error = readFails(file);
      assertThat(error.code()).isEqualTo(ErrorCode.WRONG_TYPE);
      assertThat(error.getMessage())
          .startsWith(file + ": column 'step' is Parquet type INT64 annotated ")
          .endsWith(
              "expected INT64 (or INT32) holding plain integers (no annotation, or a signed"
                  + " INT one)");
    }
    ParquetTestFile signed = ParquetTestFile.v1Trace(2);
    Path file = dir.resolve("signed.parquet");
    signed.column("step", "required int64 (INTEGER(64,true))", signed.values("step")).write(file);
    assertThat(TraceRows.text(file, 10)).hasSize(8);
  }

  @Test
  void layerNameOverTheLimit_invalidValueNamingRowGroupAndColumn() throws IOException {
    ParquetTestFile trace = ParquetTestFile.v1Trace(2);
    Object[] names = trace.values("layer_name").clone();
    names[1] = "x".repeat(2_000);
    Path file = dir.resolve("long.parquet");
    trace.column("layer_name", trace.declaration("layer_name"), names).write(file);
    TraceFormatException error = readFails(file);
    assertThat(error.code()).isEqualTo(ErrorCode.INVALID_VALUE);
    assertThat(error.getMessage())
        .startsWith(
            file
                + ": row group 0, column 'layer_name': a layer name of 2000 characters is longer"
                + " than the limit of 1024 characters");
  }

  @Test
  void lzoChunkInAnotherColumnThanTheContract_notRead() throws IOException {
    Path small = dir.resolve("small.parquet");
    ParquetTestFile.v1Trace(3)
        .column("note", "optional int32", new Object[12])
        .codec(CompressionCodecName.UNCOMPRESSED)
        .write(small);
    Path lzo = dir.resolve("note-lzo.parquet");
    ParquetSurgery.rewrite(
        small,
        lzo,
        (chunk, header, data) -> {
          if (chunk.getPath_in_schema().equals(List.of("note"))) {
            chunk.setCodec(CompressionCodec.LZO);
          }
          return data;
        });
    assertThat(TraceRows.text(lzo, 10)).hasSize(12);
  }
}
