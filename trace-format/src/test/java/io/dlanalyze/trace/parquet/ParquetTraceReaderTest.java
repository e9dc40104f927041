package io.dlanalyze.trace.parquet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.TraceRows;
import io.dlanalyze.trace.TraceWriter;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import org.apache.parquet.NoHadoopReadOptions;
import org.apache.parquet.format.PageHeader;
import org.apache.parquet.format.Util;
import org.apache.parquet.hadoop.metadata.ColumnChunkMetaData;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ParquetTraceReaderTest {
  private static final String MISSING_FOOTER =
      "the Parquet footer is missing: the file was probably cut off while being written (did the"
          + " training run crash?), and without the footer no row group can be recovered; record"
          + " traces to the Arrow IPC stream format (.arrows), which keeps every complete batch"
          + " of a crashed run";

  @TempDir Path dir;

  private static final SyntheticTrace SMALL =
      SyntheticTrace.builder().layers(3).steps(500).seed(3).fault(Fault.nan(1, 400)).build();

  private static Path writeSynthetic(Path path, SyntheticTrace trace, int rowGroupRows) {
    return TestTraces.write(path, trace, WriteOptions.defaults().withRowGroupRows(rowGroupRows));
  }

  private static TraceFormatException openFails(Path path) {
    return catchThrowableOfType(
        TraceFormatException.class, () -> ParquetTraceReader.open(path, ReadOptions.all()));
  }

  private static TraceRows read(Path path, ReadOptions options) {
    try (TraceReader reader = ParquetTraceReader.open(path, options)) {
      return TraceRows.readAll(reader);
    }
  }

  // ---- truncated, empty, not Parquet ----------------------------------------------------------

  @Test
  void open_cutAtHalf_truncatedFooterMissing() throws IOException {
    Path whole = writeSynthetic(dir.resolve("whole.parquet"), SMALL, 2_000);
    byte[] bytes = Files.readAllBytes(whole);
    Path cut = Files.write(dir.resolve("cut.parquet"), Arrays.copyOf(bytes, bytes.length / 2));

    TraceFormatException error = openFails(cut);
    assertThat(error.code()).isEqualTo(ErrorCode.TRUNCATED);
    assertThat(error.getMessage()).isEqualTo(cut + ": " + MISSING_FOOTER);
    // The same through the format-detecting entry point.
    TraceFormatException viaReaders =
        catchThrowableOfType(
            TraceFormatException.class, () -> TraceReaders.open(cut, ReadOptions.all()));
    assertThat(viaReaders.code()).isEqualTo(ErrorCode.TRUNCATED);
    assertThat(viaReaders.getMessage()).isEqualTo(cut + ": " + MISSING_FOOTER);
  }

  @Test
  void open_cutAtLengthMinusOne_truncatedFooterMissing() throws IOException {
    Path whole = writeSynthetic(dir.resolve("whole.parquet"), SMALL, 2_000);
    byte[] bytes = Files.readAllBytes(whole);
    Path cut = Files.write(dir.resolve("cut.parquet"), Arrays.copyOf(bytes, bytes.length - 1));

    TraceFormatException error = openFails(cut);
    assertThat(error.code()).isEqualTo(ErrorCode.TRUNCATED);
    assertThat(error.getMessage()).isEqualTo(cut + ": " + MISSING_FOOTER);
    assertThat(error.getMessage()).doesNotContain("LocalInputFile");
  }

  @Test
  void open_onlyTheHeaderMagic_truncated() throws IOException {
    Path cut =
        Files.write(dir.resolve("started.parquet"), "PAR1".getBytes(StandardCharsets.US_ASCII));
    TraceFormatException error = openFails(cut);
    assertThat(error.code()).isEqualTo(ErrorCode.TRUNCATED);
    assertThat(error.getMessage()).isEqualTo(cut + ": " + MISSING_FOOTER);
  }

  @Test
  void open_emptyFile_empty() throws IOException {
    Path empty = Files.createFile(dir.resolve("empty.parquet"));
    TraceFormatException error = openFails(empty);
    assertThat(error.code()).isEqualTo(ErrorCode.EMPTY);
    assertThat(error.getMessage()).isEqualTo(empty + ": file is empty (0 bytes)");
  }

  @Test
  void open_textFile_corruptNotParquet() throws IOException {
    Path text = Files.writeString(dir.resolve("notes.parquet"), "epoch,batch,step\n0,0,0\n");
    TraceFormatException error = openFails(text);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage())
        .isEqualTo(text + ": not a Parquet file: it does not start with the magic number PAR1");
  }

  @Test
  void open_footerLengthLargerThanFile_corrupt() throws IOException {
    byte[] bytes = new byte[64];
    System.arraycopy("PAR1".getBytes(StandardCharsets.US_ASCII), 0, bytes, 0, 4);
    bytes[56] = (byte) 0xFF; // footer length 255
    System.arraycopy("PAR1".getBytes(StandardCharsets.US_ASCII), 0, bytes, 60, 4);
    Path bad = Files.write(dir.resolve("bad.parquet"), bytes);
    TraceFormatException error = openFails(bad);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage())
        .isEqualTo(bad + ": footer: footer length 255 does not fit in a file of 64 bytes");
  }

  @Test
  void open_garbageFooter_corruptNamesTheFooter() throws IOException {
    byte[] bytes = new byte[64];
    System.arraycopy("PAR1".getBytes(StandardCharsets.US_ASCII), 0, bytes, 0, 4);
    Arrays.fill(bytes, 4, 56, (byte) 0x7F);
    bytes[56] = 40; // footer length 40
    System.arraycopy("PAR1".getBytes(StandardCharsets.US_ASCII), 0, bytes, 60, 4);
    Path bad = Files.write(dir.resolve("bad.parquet"), bytes);
    TraceFormatException error = openFails(bad);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage()).startsWith(bad + ": footer: the footer cannot be decoded: ");
  }

  /** Overwrites part of the first page of 'mean' in row group 1: its header or its data. */
  static void corruptMeanPage(Path file, boolean header) throws IOException {
    ParquetPart part =
        ParquetPart.open(file, NoHadoopReadOptions.create(new NoHadoopCodecFactory()));
    ColumnChunkMetaData mean = part.block(1).getColumns().get(Column.MEAN.ordinal());
    byte[] bytes = Files.readAllBytes(file);
    int start = (int) mean.getStartingPos();
    if (header) {
      Arrays.fill(bytes, start, start + 6, (byte) 0xEE);
    } else {
      ByteArrayInputStream in = new ByteArrayInputStream(bytes, start, bytes.length - start);
      PageHeader pageHeader = Util.readPageHeader(in);
      int dataStart = bytes.length - in.available();
      Arrays.fill(bytes, dataStart, dataStart + pageHeader.getCompressed_page_size(), (byte) 0x55);
    }
    Files.write(file, bytes);
  }

  private static TraceFormatException secondBatchFails(Path file) {
    try (TraceReader reader = ParquetTraceReader.open(file, ReadOptions.all())) {
      assertThat(reader.next()).isTrue();
      assertThat(reader.batch().size()).isEqualTo(400);
      return catchThrowableOfType(TraceFormatException.class, reader::next);
    }
  }

  @Test
  void next_corruptPageWithChecksum_corruptNamesRowGroupAndColumn() throws IOException {
    Path file = dir.resolve("pages.parquet");
    ParquetTestFile.v1Trace(200).codec(CompressionCodecName.ZSTD).rowGroupRows(400).write(file);
    corruptMeanPage(file, false);
    TraceFormatException error = secondBatchFails(file);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage())
        .isEqualTo(
            file
                + ": row group 1, column 'mean': corrupt page: could not verify page integrity,"
                + " CRC checksum verification failed");
  }

  @Test
  void next_corruptPageWithoutChecksum_corruptNamesRowGroupAndColumn() throws IOException {
    Path file = dir.resolve("pages.parquet");
    ParquetTestFile.v1Trace(200)
        .codec(CompressionCodecName.ZSTD)
        .rowGroupRows(400)
        .noChecksums()
        .write(file);
    corruptMeanPage(file, false);
    TraceFormatException error = secondBatchFails(file);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage())
        .startsWith(
            file
                + ": row group 1, column 'mean': corrupt page: could not decompress page:"
                + " zstd decompression failed: ");
  }

  @Test
  void next_corruptPageHeader_corruptNamesRowGroupAndColumn() throws IOException {
    Path file = dir.resolve("pages.parquet");
    ParquetTestFile.v1Trace(200)
        .codec(CompressionCodecName.SNAPPY)
        .rowGroupRows(400)
        .noChecksums()
        .write(file);
    corruptMeanPage(file, true);
    TraceFormatException error = secondBatchFails(file);
    assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
    assertThat(error.getMessage())
        .startsWith(file + ": row group 1, column 'mean': corrupt page: the page header at byte ")
        .doesNotContain("@")
        .doesNotContain("org.apache");
  }

  // ---- schema ---------------------------------------------------------------------------------

  @Test
  void open_missingRequiredColumn_missingColumnNamesColumnAndType() throws IOException {
    Path file = dir.resolve("no-phase.parquet");
    ParquetTestFile.v1Trace(3).remove("phase").write(file);
    TraceFormatException error = openFails(file);
    assertThat(error.code()).isEqualTo(ErrorCode.MISSING_COLUMN);
    assertThat(error.getMessage())
        .isEqualTo(
            file
                + ": column 'phase' is missing (required by trace format v1, expected BYTE_ARRAY"
                + " (UTF8 string))");
  }

  @Test
  void open_meanAsString_wrongTypeNamesColumnAndExpectedType() throws IOException {
    Path file = dir.resolve("mean-string.parquet");
    ParquetTestFile trace = ParquetTestFile.v1Trace(3);
    Object[] text = new Object[12];
    Arrays.fill(text, "0.5");
    trace.column("mean", "required binary (STRING)", text).write(file);
    TraceFormatException error = openFails(file);
    assertThat(error.code()).isEqualTo(ErrorCode.WRONG_TYPE);
    assertThat(error.getMessage())
        .isEqualTo(file + ": column 'mean' is Parquet type BINARY, expected DOUBLE (or FLOAT)");
  }

  @Test
  void open_stepAsDouble_wrongType() throws IOException {
    Path file = dir.resolve("step-double.parquet");
    ParquetTestFile trace = ParquetTestFile.v1Trace(3);
    trace.column("step", "required double", trace.values("mean")).write(file);
    TraceFormatException error = openFails(file);
    assertThat(error.code()).isEqualTo(ErrorCode.WRONG_TYPE);
    assertThat(error.getMessage())
        .isEqualTo(file + ": column 'step' is Parquet type DOUBLE, expected INT64 (or INT32)");
  }

  @Test
  void read_lenientTypesAllOptionalAndExtraColumns_widensAndIgnores() throws IOException {
    Path file = dir.resolve("lenient.parquet");
    int steps = 50;
    ParquetTestFile strict = ParquetTestFile.v1Trace(steps);
    Path strictFile = dir.resolve("strict.parquet");
    strict.write(strictFile);
    ParquetTestFile lenient = ParquetTestFile.v1Trace(steps);
    for (String name : List.of("epoch", "batch", "layer_index")) {
      lenient.column(name, "optional int64", lenient.values(name));
    }
    lenient.column("step", "optional int32", lenient.values("step"));
    for (String name : List.of("nan_count", "inf_count", "numel")) {
      lenient.column(name, "optional int32", lenient.values(name));
    }
    lenient.column("layer_name", "optional binary", lenient.values("layer_name"));
    lenient.column("phase", "optional binary (ENUM)", lenient.values("phase"));
    Object[] floats = new Object[steps * 4];
    for (int r = 0; r < floats.length; r++) {
      floats[r] = (float) ParquetTestFile.value(r, 1); // exact in float32
    }
    lenient.column("std", "optional float", floats);
    Object[] extra = new Object[steps * 4];
    Arrays.fill(extra, "ignored");
    lenient.column("device", "optional binary (STRING)", extra);
    lenient.column("grad_scale", "required double", lenient.values("mean"));
    lenient.write(file);

    try (TraceReader reader = ParquetTraceReader.open(file, ReadOptions.all())) {
      assertThat(reader.columnsInFile()).isEqualTo(EnumSet.allOf(Column.class));
      TraceRows rows = TraceRows.readAll(reader);
      TraceRows expected = read(strictFile, ReadOptions.all());
      assertThat(rows.columns()).isEqualTo(expected.columns());
    }
  }

  @Test
  void next_int64EpochOutOfInt32Range_invalidValue() throws IOException {
    Path file = dir.resolve("huge-epoch.parquet");
    ParquetTestFile trace = ParquetTestFile.v1Trace(5);
    Object[] epoch = trace.values("epoch").clone();
    for (int r = 0; r < epoch.length; r++) {
      epoch[r] = r == 7 ? 1L << 40 : ((Number) epoch[r]).longValue();
    }
    trace.column("epoch", "required int64", epoch).noDictionary().write(file);
    try (TraceReader reader = ParquetTraceReader.open(file, ReadOptions.all())) {
      TraceFormatException error = catchThrowableOfType(TraceFormatException.class, reader::next);
      assertThat(error.code()).isEqualTo(ErrorCode.INVALID_VALUE);
      assertThat(error.getMessage())
          .isEqualTo(
              file + ": row group 0, column 'epoch': value 1099511627776 does not fit in int32");
    }
  }

  @Test
  void next_nullInRequiredMean_invalidValueNamesRow() throws IOException {
    Path file = dir.resolve("null-mean.parquet");
    ParquetTestFile trace = ParquetTestFile.v1Trace(10).rowGroupRows(16);
    Object[] mean = trace.values("mean").clone();
    mean[21] = null;
    trace.column("mean", "optional double", mean).write(file);
    try (TraceReader reader = ParquetTraceReader.open(file, ReadOptions.all())) {
      assertThat(reader.next()).isTrue();
      TraceFormatException error = catchThrowableOfType(TraceFormatException.class, reader::next);
      assertThat(error.code()).isEqualTo(ErrorCode.INVALID_VALUE);
      assertThat(error.getMessage())
          .isEqualTo(
              file
                  + ": row group 1, row 21: column 'mean' is null, but trace format v1 requires a"
                  + " value");
    }
  }

  @Test
  void read_absentNullableColumns_allNullAndNotInFile() throws IOException {
    Path file = dir.resolve("minimal.parquet");
    ParquetTestFile.v1Trace(4).remove("std").remove("numel").remove("layer_type").write(file);
    try (TraceReader reader = ParquetTraceReader.open(file, ReadOptions.all())) {
      assertThat(reader.columnsInFile())
          .isEqualTo(EnumSet.complementOf(EnumSet.of(Column.STD, Column.NUMEL, Column.LAYER_TYPE)));
      assertThat(reader.next()).isTrue();
      TraceBatch batch = reader.batch();
      assertThat(batch.size()).isEqualTo(16);
      for (int row = 0; row < 16; row++) {
        assertThat(batch.isNull(Column.STD, row)).isTrue();
        assertThat(batch.isNull(Column.NUMEL, row)).isTrue();
        assertThat(batch.isNull(Column.LAYER_TYPE, row)).isTrue();
        assertThat(batch.ints(Column.LAYER_TYPE)[row]).isEqualTo(-1);
        assertThat(batch.isNull(Column.MIN, row)).isFalse();
      }
    }
  }

  @Test
  void read_unknownPhases_oneWarningPerNameWithRowCount() throws IOException {
    Path file = dir.resolve("phases.parquet");
    ParquetTestFile trace = ParquetTestFile.v1Trace(30).rowGroupRows(50);
    Object[] phase = trace.values("phase").clone();
    int gradNorm = 0;
    for (int r = 0; r < phase.length; r++) {
      if (r % 4 == 3) {
        phase[r] = r % 8 == 3 ? "grad_norm" : "throughput";
        gradNorm += r % 8 == 3 ? 1 : 0;
      }
    }
    trace.column("phase", "required binary (STRING)", phase).write(file);
    try (TraceReader reader = ParquetTraceReader.open(file, ReadOptions.all().withBatchRows(7))) {
      TraceRows rows = TraceRows.readAll(reader);
      assertThat(rows.get(Column.PHASE).strings())
          .isEqualTo(Arrays.copyOf(phase, phase.length, String[].class));
      assertThat(reader.warnings())
          .containsExactly(
              "unknown phase 'grad_norm' in "
                  + gradNorm
                  + " rows: the rows are kept, but no detector reads them",
              "unknown phase 'throughput' in "
                  + (30 - gradNorm)
                  + " rows: the rows are kept, but no detector reads them");
    }
  }

  // ---- encodings and page versions ------------------------------------------------------------

  @Test
  void read_everyPageVersionEncodingAndCodec_sameRows() throws IOException {
    ParquetTestFile base = ParquetTestFile.v1Trace(300);
    Object[] std = base.values("std").clone();
    Object[] numel = base.values("numel").clone();
    Object[] layerType = base.values("layer_type");
    for (int r = 0; r < std.length; r += 5) {
      std[r] = null;
      numel[r] = null;
    }
    Path reference = dir.resolve("reference.parquet");
    base.column("std", "optional double", std)
        .column("numel", "optional int64", numel)
        .write(reference);
    TraceRows expected = read(reference, ReadOptions.all());
    // The reference read matches the values written, so every variant is checked against them.
    assertThat(expected.size()).isEqualTo(1_200);
    for (int r = 0; r < expected.size(); r++) {
      assertThat(expected.get(Column.STD).nulls()[r]).isEqualTo(std[r] == null);
      assertThat(expected.get(Column.NUMEL).nulls()[r]).isEqualTo(numel[r] == null);
      if (std[r] != null) {
        assertThat(expected.doubles(Column.STD)[r]).isEqualTo(ParquetTestFile.value(r, 1));
        assertThat(expected.get(Column.NUMEL).bits()[r]).isEqualTo((Long) numel[r]);
      }
      assertThat(expected.get(Column.LAYER_TYPE).strings()[r]).isEqualTo(layerType[r]);
      assertThat(expected.get(Column.LAYER_TYPE).nulls()[r]).isEqualTo(layerType[r] == null);
      assertThat(expected.get(Column.PHASE).strings()[r]).isEqualTo(base.values("phase")[r]);
      assertThat(expected.get(Column.STEP).bits()[r]).isEqualTo(r / 4);
      assertThat(expected.doubles(Column.MEAN)[r]).isEqualTo(ParquetTestFile.value(r, 0));
    }

    int variant = 0;
    for (boolean v2 : new boolean[] {false, true}) {
      for (boolean dictionary : new boolean[] {true, false}) {
        for (boolean split : new boolean[] {false, true}) {
          for (CompressionCodecName codec :
              List.of(
                  CompressionCodecName.UNCOMPRESSED,
                  CompressionCodecName.SNAPPY,
                  CompressionCodecName.ZSTD,
                  CompressionCodecName.GZIP)) {
            ParquetTestFile file =
                ParquetTestFile.v1Trace(300)
                    .column("std", "optional double", std)
                    .column("numel", "optional int64", numel)
                    .codec(codec)
                    .rowGroupRows(500)
                    .pageRows(97);
            if (v2) {
              file.v2Pages();
            }
            if (!dictionary) {
              file.noDictionary();
            }
            if (split) {
              file.byteStreamSplit();
            }
            Path path = dir.resolve("variant-" + variant++ + ".parquet");
            file.write(path);
            for (int batchRows : new int[] {33, 1 << 16}) {
              TraceRows rows = read(path, ReadOptions.all().withBatchRows(batchRows));
              assertThat(rows.columns())
                  .as(
                      "v2=%s dictionary=%s split=%s codec=%s batchRows=%d",
                      v2, dictionary, split, codec, batchRows)
                  .isEqualTo(expected.columns());
            }
          }
        }
      }
    }
  }

  @Test
  void read_dictionaryFallingBackToPlainMidChunk_sameValues() throws IOException {
    int steps = 2_000;
    ParquetTestFile file = ParquetTestFile.v1Trace(steps).pageRows(100).dictionaryPageSize(2_048);
    Object[] names = new Object[steps * 4];
    for (int r = 0; r < names.length; r++) {
      names[r] = "layer-" + (r / 4); // distinct names overflow the 2 KB dictionary after some pages
    }
    Object[] min = new Object[steps * 4];
    for (int r = 0; r < min.length; r++) {
      min[r] = (r / 20) * 0.5; // few values per page, so the dictionary pays off until it is full
    }
    file.column("layer_name", "required binary (STRING)", names);
    file.column("min", "optional double", min);
    Path path = dir.resolve("fallback.parquet");
    file.write(path);
    ParquetPart part =
        ParquetPart.open(path, NoHadoopReadOptions.create(new NoHadoopCodecFactory()));
    var chunks = part.block(0).getColumns();
    assertThat(chunks.get(Column.LAYER_NAME.ordinal()).getEncodings())
        .contains(
            org.apache.parquet.column.Encoding.PLAIN_DICTIONARY,
            org.apache.parquet.column.Encoding.PLAIN);
    assertThat(chunks.get(Column.MIN.ordinal()).getEncodings())
        .contains(
            org.apache.parquet.column.Encoding.PLAIN_DICTIONARY,
            org.apache.parquet.column.Encoding.PLAIN);

    TraceRows rows = read(path, ReadOptions.all().withBatchRows(1_000));
    for (int r = 0; r < rows.size(); r++) {
      assertThat(rows.get(Column.LAYER_NAME).strings()[r]).isEqualTo(names[r]);
      assertThat(rows.doubles(Column.MIN)[r]).isEqualTo(min[r]);
    }
  }

  // ---- directories ----------------------------------------------------------------------------

  @Test
  void read_directoryOfParts_oneTraceInNameOrder() throws IOException {
    SyntheticTrace trace = SyntheticTrace.builder().layers(2).steps(300).seed(5).build();
    Path single = writeSynthetic(dir.resolve("single.parquet"), trace, 1_000);
    Path parts = Files.createDirectory(dir.resolve("parts"));
    // Rows of the synthetic trace split over three part files, named so that name order is row
    // order.
    try (TraceReader source = trace.open(ReadOptions.all().withBatchRows(1_200))) {
      int part = 0;
      while (source.next()) {
        TraceMetadata metadata = part == 0 ? source.metadata() : TraceMetadata.empty();
        try (TraceWriter writer =
            ParquetTraceWriter.create(
                parts.resolve(String.format("part-%05d.parquet", part)),
                metadata,
                WriteOptions.defaults().withRowGroupRows(500))) {
          writer.write(source.batch());
        }
        part++;
      }
      assertThat(part).isEqualTo(3);
    }
    Files.writeString(parts.resolve("_SUCCESS"), "");
    Files.writeString(parts.resolve(".part-00000.parquet.crc"), "crc");
    Files.writeString(parts.resolve("_common_metadata.parquet"), "not a part");

    try (TraceReader reader = TraceReaders.open(parts, ReadOptions.all())) {
      assertThat(reader.path()).isEqualTo(parts);
      assertThat(reader.totalRows()).isEqualTo(trace.totalRows());
      assertThat(reader.metadata()).isEqualTo(trace.metadata());
      TraceRows rows = TraceRows.readAll(reader);
      assertThat(rows.columns()).isEqualTo(read(single, ReadOptions.all()).columns());
    }
  }

  @Test
  void open_partsWithDifferentColumnTypes_wrongTypeNamesBothParts() throws IOException {
    Path parts = Files.createDirectory(dir.resolve("parts"));
    ParquetTestFile.v1Trace(3).write(parts.resolve("part-0.parquet"));
    ParquetTestFile second = ParquetTestFile.v1Trace(3);
    second
        .column("step", "required int32", second.values("step"))
        .write(parts.resolve("part-1.parquet"));
    TraceFormatException error = openFails(parts);
    assertThat(error.code()).isEqualTo(ErrorCode.WRONG_TYPE);
    assertThat(error.getMessage())
        .isEqualTo(
            parts.resolve("part-1.parquet")
                + ": column 'step' is Parquet type INT32 here but INT64 in the first part file"
                + " part-0.parquet");
  }

  @Test
  void open_partMissingAColumn_missingColumn() throws IOException {
    Path parts = Files.createDirectory(dir.resolve("parts"));
    ParquetTestFile.v1Trace(3).write(parts.resolve("part-0.parquet"));
    ParquetTestFile.v1Trace(3).remove("std").write(parts.resolve("part-1.parquet"));
    TraceFormatException error = openFails(parts);
    assertThat(error.code()).isEqualTo(ErrorCode.MISSING_COLUMN);
    assertThat(error.getMessage())
        .isEqualTo(
            parts.resolve("part-1.parquet")
                + ": column 'std' is missing here but present in the first part file"
                + " part-0.parquet");
  }

  @Test
  void open_directoryWithoutParts_empty() throws IOException {
    Path parts = Files.createDirectory(dir.resolve("parts"));
    Files.writeString(parts.resolve("_SUCCESS"), "");
    TraceFormatException error = openFails(parts);
    assertThat(error.code()).isEqualTo(ErrorCode.EMPTY);
    assertThat(error.getMessage()).isEqualTo(parts + ": directory has no *.parquet part files");
  }

  @Test
  void open_directoryWithATruncatedPart_truncatedNamesThePart() throws IOException {
    Path parts = Files.createDirectory(dir.resolve("parts"));
    ParquetTestFile.v1Trace(3).write(parts.resolve("part-0.parquet"));
    Path second = parts.resolve("part-1.parquet");
    ParquetTestFile.v1Trace(3).write(second);
    byte[] bytes = Files.readAllBytes(second);
    Files.write(second, Arrays.copyOf(bytes, bytes.length - 10));
    TraceFormatException error = openFails(parts);
    assertThat(error.code()).isEqualTo(ErrorCode.TRUNCATED);
    assertThat(error.getMessage()).isEqualTo(second + ": " + MISSING_FOOTER);
  }

  // ---- misc -----------------------------------------------------------------------------------

  @Test
  void read_noColumnsProjected_countsRowsWithoutDecoding() {
    Path file = writeSynthetic(dir.resolve("t.parquet"), SMALL, 900);
    try (TraceReader reader =
        ParquetTraceReader.open(file, ReadOptions.columns(EnumSet.noneOf(Column.class)))) {
      long rows = 0;
      while (reader.next()) {
        rows += reader.batch().size();
      }
      assertThat(rows).isEqualTo(SMALL.totalRows());
      assertThat(reader.rowsRead()).isEqualTo(SMALL.totalRows());
    }
  }

  @Test
  void next_afterClose_illegalState() {
    Path file = writeSynthetic(dir.resolve("t.parquet"), SMALL, 900);
    TraceReader reader = ParquetTraceReader.open(file, ReadOptions.all());
    reader.close();
    reader.close();
    assertThatThrownBy(reader::next)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void open_footerWithOtherWritersSchemaCopies_keepsOnlyTraceMetadataInFileOrder()
      throws IOException {
    Path file = dir.resolve("pyarrow.parquet");
    ParquetTestFile.v1Trace(2)
        .keyValue("dltrace.version", "1")
        .keyValue("ARROW:schema", "/////3gBAAAQAAAAAAAKAA4ABgAFAAgACgAAAAABBAAQAAAA")
        .keyValue("dltrace.run_id", "run-7")
        .keyValue("pandas", "{\"index_columns\": []}")
        .keyValue("recorder.host", "gpu-3")
        .write(file);
    try (TraceReader reader = ParquetTraceReader.open(file, ReadOptions.all())) {
      assertThat(List.copyOf(reader.metadata().asMap().keySet()))
          .containsExactly("dltrace.version", "dltrace.run_id", "recorder.host");
      assertThat(reader.metadata().runId()).contains("run-7");
    }
  }

  @Test
  void open_badLayersMetadata_badMetadata() throws IOException {
    Path file = dir.resolve("layers.parquet");
    ParquetTestFile.v1Trace(2).keyValue(TraceMetadata.LAYERS, "{not json").write(file);
    TraceFormatException error = openFails(file);
    assertThat(error.code()).isEqualTo(ErrorCode.BAD_METADATA);
    assertThat(error.getMessage()).startsWith(file + ": footer: dltrace.layers is not valid JSON");
  }

  @Test
  void describe_decoderNullPointer_noJavaInternalsInTheMessage() {
    Exception error =
        new RuntimeException(
            new NullPointerException(
                "Cannot invoke \"org.apache.parquet.format.DictionaryPageHeader.getNum_values()\""
                    + " because \"dicHeader\" is null"));

    assertThat(io.dlanalyze.trace.ReadErrors.describe(error))
        .isEqualTo("the data cannot be decoded");
  }

  @Test
  void describe_thriftFooterError_classNamesShortened() {
    Exception error =
        new IOException(
            "can not read class org.apache.parquet.format.FileMetaData: don't know what type: 14",
            new ArrayIndexOutOfBoundsException("Index 14 out of bounds for length 3"));

    assertThat(io.dlanalyze.trace.ReadErrors.describe(error))
        .isEqualTo("cannot decode the footer: a field of unknown type 14");
  }
}
