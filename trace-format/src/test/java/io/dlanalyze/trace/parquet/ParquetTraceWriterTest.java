package io.dlanalyze.trace.parquet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceRows;
import io.dlanalyze.trace.TraceWriter;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.parquet.NoHadoopReadOptions;
import org.apache.parquet.column.Encoding;
import org.apache.parquet.hadoop.metadata.ColumnChunkMetaData;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ParquetTraceWriterTest {
  @TempDir Path dir;

  private static final SyntheticTrace TRACE =
      SyntheticTrace.builder()
          .layers(4)
          .steps(700)
          .seed(11)
          .optionalPhases(true)
          .fault(Fault.nan(2, 600))
          .build();

  private static TraceRows read(Path path) {
    try (TraceReader reader = ParquetTraceReader.open(path, ReadOptions.all())) {
      return TraceRows.readAll(reader);
    }
  }

  private static ParquetPart footer(Path path) {
    return ParquetPart.open(path, NoHadoopReadOptions.create(new NoHadoopCodecFactory()));
  }

  @Test
  void roundTrip_everyCodec_identicalRowsAndMetadata() {
    TraceRows expected;
    try (TraceReader source = TRACE.open(ReadOptions.all())) {
      expected = TraceRows.readAll(source);
    }
    assertThat(expected.get(Column.LAYER_TYPE).nulls()).contains(true);
    assertThat(expected.doubles(Column.MEAN)).contains(Double.NaN);
    Map<String, CompressionCodecName> codecs = new LinkedHashMap<>();
    codecs.put("zstd", CompressionCodecName.ZSTD);
    codecs.put("snappy", CompressionCodecName.SNAPPY);
    codecs.put("uncompressed", CompressionCodecName.UNCOMPRESSED);
    for (var codec : codecs.entrySet()) {
      Path path = dir.resolve(codec.getKey() + ".parquet");
      try (TraceReader source = TRACE.open(ReadOptions.all().withBatchRows(999))) {
        TestTraces.copy(
            source,
            path,
            WriteOptions.defaults().withCompression(codec.getKey()).withRowGroupRows(5_000));
      }
      assertThat(read(path).columns()).as(codec.getKey()).isEqualTo(expected.columns());
      try (TraceReader reader = ParquetTraceReader.open(path, ReadOptions.all())) {
        assertThat(reader.metadata()).isEqualTo(TRACE.metadata());
        assertThat(List.copyOf(reader.metadata().asMap().keySet()))
            .isEqualTo(List.copyOf(TRACE.metadata().asMap().keySet()));
        assertThat(reader.totalRows()).isEqualTo(TRACE.totalRows());
      }
      for (ColumnChunkMetaData column : footer(path).block(0).getColumns()) {
        assertThat(column.getCodec()).isEqualTo(codec.getValue());
      }
    }
  }

  @Test
  void create_defaults_zstdV1SchemaDictionaryStrings() {
    Path path;
    try (TraceReader source = TRACE.open(ReadOptions.all())) {
      path = TestTraces.copy(source, dir.resolve("t.parquet"), WriteOptions.defaults());
    }
    ParquetPart part = footer(path);
    // the reader does not keep column orders (statistics are not read)
    String schema = part.schema().toString().replaceAll(" columnorder\\([A-Z_0-9]+\\)", "");
    assertThat(schema).isEqualTo(TraceParquetSchema.v1().toString());
    assertThat(schema)
        .contains(
            "required int32 epoch;",
            "required int64 step;",
            "required binary layer_name (STRING);",
            "optional binary layer_type (STRING);",
            "required double mean;",
            "optional double std;",
            "optional int64 numel;");
    List<ColumnChunkMetaData> columns = part.block(0).getColumns();
    for (Column column : Column.values()) {
      ColumnChunkMetaData chunk = columns.get(column.ordinal());
      assertThat(chunk.getPath().toDotString()).isEqualTo(column.wireName());
      assertThat(chunk.getCodec()).isEqualTo(CompressionCodecName.ZSTD);
    }
    assertThat(columns.get(Column.PHASE.ordinal()).getEncodings())
        .contains(Encoding.PLAIN_DICTIONARY);
    assertThat(columns.get(Column.LAYER_NAME.ordinal()).getEncodings())
        .contains(Encoding.PLAIN_DICTIONARY);
    assertThat(columns.get(Column.MEAN.ordinal()).getEncodings())
        .contains(Encoding.PLAIN)
        .doesNotContain(Encoding.PLAIN_DICTIONARY);
  }

  @Test
  void write_rowGroupRows_flushesARowGroupEveryNRows() {
    SyntheticTrace trace =
        SyntheticTrace.builder().layers(1).steps(1_000).seed(2).build(); // 7 rows/step
    Path path;
    try (TraceReader source = trace.open(ReadOptions.all().withBatchRows(1_234))) {
      path =
          TestTraces.copy(
              source, dir.resolve("t.parquet"), WriteOptions.defaults().withRowGroupRows(3_000));
    }
    List<Long> groups = new ArrayList<>();
    ParquetPart part = footer(path);
    for (int i = 0; i < part.rowGroupCount(); i++) {
      groups.add(part.block(i).getRowCount());
    }
    assertThat(groups).containsExactly(3_000L, 3_000L, 1_000L);
    try (TraceReader reader =
        ParquetTraceReader.open(path, ReadOptions.all().withBatchRows(1 << 20))) {
      List<Integer> batches = new ArrayList<>();
      while (reader.next()) {
        batches.add(reader.batch().size());
      }
      assertThat(batches).containsExactly(3_000, 3_000, 1_000);
    }
  }

  @Test
  void roundTrip_tinyRowGroups_identicalRows() {
    SyntheticTrace trace = SyntheticTrace.builder().layers(4).steps(300).seed(5).build();
    TraceRows expected;
    try (TraceReader source = trace.open(ReadOptions.all())) {
      expected = TraceRows.readAll(source);
    }
    for (int rows : new int[] {1, 2, 3, 7, 13}) {
      Path path;
      try (TraceReader source = trace.open(ReadOptions.all().withBatchRows(50))) {
        path =
            TestTraces.copy(
                source,
                dir.resolve("g" + rows + ".parquet"),
                WriteOptions.defaults().withRowGroupRows(rows));
      }
      assertThat(read(path).columns())
          .as("row groups of %d rows", rows)
          .isEqualTo(expected.columns());
    }
  }

  @Test
  void roundTrip_nullsInEveryNullableColumn_keptAsNulls() {
    TraceDictionary dictionary = new TraceDictionary();
    TraceBatch batch = TraceBatch.allColumns(dictionary, 10);
    batch.reset(10);
    int fc = dictionary.layerNameId("fc0");
    int linear = dictionary.layerTypeId("Linear");
    for (int i = 0; i < 10; i++) {
      batch.ints(Column.EPOCH)[i] = 0;
      batch.ints(Column.BATCH)[i] = i;
      batch.longs(Column.STEP)[i] = i;
      batch.ints(Column.LAYER_INDEX)[i] = 0;
      batch.ints(Column.LAYER_NAME)[i] = fc;
      batch.ints(Column.LAYER_TYPE)[i] = linear;
      batch.ints(Column.PHASE)[i] = dictionary.phaseCode(i == 9 ? "grad_norm" : "forward");
      batch.doubles(Column.MEAN)[i] = i == 4 ? Double.NEGATIVE_INFINITY : i * 0.5;
      for (Column column :
          List.of(Column.STD, Column.MIN, Column.MAX, Column.L2_NORM, Column.ZERO_FRACTION)) {
        batch.doubles(column)[i] = i + column.ordinal();
      }
      for (Column column : List.of(Column.NAN_COUNT, Column.INF_COUNT, Column.NUMEL)) {
        batch.longs(column)[i] = i * 100L + column.ordinal();
      }
    }
    for (Column column : Column.values()) {
      if (column.isNullable()) {
        batch.setNull(column, column.ordinal() % 10);
        batch.setNull(column, 3);
      }
    }
    Path path = dir.resolve("nulls.parquet");
    try (TraceWriter writer =
        ParquetTraceWriter.create(path, TraceMetadata.empty(), WriteOptions.defaults())) {
      writer.write(batch);
    }
    try (TraceReader reader = ParquetTraceReader.open(path, ReadOptions.all())) {
      assertThat(reader.next()).isTrue();
      TraceBatch back = reader.batch();
      assertThat(back.size()).isEqualTo(10);
      for (Column column : Column.values()) {
        for (int i = 0; i < 10; i++) {
          boolean expectNull = column.isNullable() && (i == 3 || i == column.ordinal() % 10);
          assertThat(back.isNull(column, i))
              .as("%s row %d", column.wireName(), i)
              .isEqualTo(expectNull);
          if (expectNull) {
            continue;
          }
          switch (column.type()) {
            case INT32 -> assertThat(back.ints(column)[i]).isEqualTo(batch.ints(column)[i]);
            case INT64 -> assertThat(back.longs(column)[i]).isEqualTo(batch.longs(column)[i]);
            case FLOAT64 -> assertThat(back.doubles(column)[i]).isEqualTo(batch.doubles(column)[i]);
            case STRING -> {}
          }
        }
      }
      assertThat(reader.dictionary().phaseName(back.ints(Column.PHASE)[9])).isEqualTo("grad_norm");
      assertThat(reader.dictionary().layerType(back.ints(Column.LAYER_TYPE)[0]))
          .isEqualTo("Linear");
      assertThat(back.ints(Column.LAYER_TYPE)[3]).isEqualTo(-1);
      assertThat(back.doubles(Column.STD)[3]).isNaN();
      assertThat(reader.warnings())
          .containsExactly(
              "unknown phase 'grad_norm' in 1 rows: the rows are kept, but no detector reads them");
    }
  }

  @Test
  void write_batchWithoutNullableColumns_writesNulls() {
    EnumSet<Column> required = EnumSet.copyOf(Column.required());
    Path path;
    try (TraceReader source = TRACE.open(ReadOptions.columns(required))) {
      path = TestTraces.copy(source, dir.resolve("required-only.parquet"), WriteOptions.defaults());
    }
    TraceRows rows = read(path);
    assertThat(rows.size()).isEqualTo((int) TRACE.totalRows());
    for (Column column : Column.values()) {
      boolean[] nulls = rows.get(column).nulls();
      for (int i = 0; i < rows.size(); i += 97) {
        assertThat(nulls[i]).as(column.wireName()).isEqualTo(column.isNullable());
      }
    }
  }

  @Test
  void write_batchWithoutARequiredColumn_illegalArgument() {
    Path path = dir.resolve("t.parquet");
    try (TraceReader source =
        TRACE.open(ReadOptions.columns(EnumSet.of(Column.STEP, Column.MEAN)))) {
      source.next();
      TraceWriter writer =
          ParquetTraceWriter.create(path, TraceMetadata.empty(), WriteOptions.defaults());
      assertThatThrownBy(() -> writer.write(source.batch()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("the batch does not load required column epoch");
      writer.abort();
    }
    assertThat(path).doesNotExist();
  }

  @Test
  void write_nullInRequiredColumn_invalidValue() {
    TraceDictionary dictionary = new TraceDictionary();
    TraceBatch batch = TraceBatch.allColumns(dictionary, 4);
    batch.reset(4);
    batch.setNull(Column.MEAN, 2);
    Path path = dir.resolve("t.parquet");
    TraceWriter writer =
        ParquetTraceWriter.create(path, TraceMetadata.empty(), WriteOptions.defaults());
    TraceFormatException error =
        catchThrowableOfType(TraceFormatException.class, () -> writer.write(batch));
    writer.abort();
    assertThat(error.code()).isEqualTo(ErrorCode.INVALID_VALUE);
    assertThat(error.getMessage())
        .isEqualTo(
            path + ": batch row 2: column 'mean' is null, but trace format v1 requires a value");
  }

  @Test
  void close_renamesTheTemporaryFileOntoTheTarget() throws IOException {
    Path path = dir.resolve("t.parquet");
    try (TraceReader source = TRACE.open(ReadOptions.all())) {
      TraceWriter writer =
          ParquetTraceWriter.create(path, source.metadata(), WriteOptions.defaults());
      source.next();
      writer.write(source.batch());
      assertThat(path).doesNotExist();
      assertThat(files())
          .hasSize(1)
          .allMatch(name -> name.startsWith(".t.parquet.") && name.endsWith(".tmp"));
      writer.close();
      writer.close();
    }
    assertThat(files()).containsExactly("t.parquet");
    try (TraceReader reader = ParquetTraceReader.open(path, ReadOptions.all())) {
      assertThat(reader.totalRows())
          .isEqualTo(Math.min(TRACE.totalRows(), ReadOptions.DEFAULT_BATCH_ROWS));
    }
  }

  @Test
  void abort_deletesTheTemporaryFileAndKeepsTheOldTarget() throws IOException {
    Path path = Files.writeString(dir.resolve("t.parquet"), "old content");
    try (TraceReader source = TRACE.open(ReadOptions.all())) {
      TraceWriter writer =
          ParquetTraceWriter.create(path, source.metadata(), WriteOptions.defaults());
      source.next();
      writer.write(source.batch());
      writer.abort();
      writer.abort();
      writer.close();
    }
    assertThat(files()).containsExactly("t.parquet");
    assertThat(Files.readString(path)).isEqualTo("old content");
  }

  @Test
  void write_noRows_readableEmptyTrace() {
    Path path = dir.resolve("empty.parquet");
    try (TraceWriter writer =
        ParquetTraceWriter.create(path, TraceMetadata.empty(), WriteOptions.defaults())) {
      writer.write(TraceBatch.allColumns(new TraceDictionary(), 0));
    }
    try (TraceReader reader = ParquetTraceReader.open(path, ReadOptions.all())) {
      assertThat(reader.totalRows()).isZero();
      assertThat(reader.next()).isFalse();
      assertThat(reader.batch().size()).isZero();
    }
  }

  @Test
  void roundTrip_duckDbFixture_identicalRows() {
    Path fixture = ParquetFixturesTest.V1_ZSTD_NAN;
    Path copy = dir.resolve("copy.parquet");
    try (TraceReader source = ParquetTraceReader.open(fixture, ReadOptions.all())) {
      TestTraces.copy(source, copy, WriteOptions.defaults().withCompression("snappy"));
    }
    assertThat(read(copy).columns()).isEqualTo(read(fixture).columns());
    try (TraceReader a = ParquetTraceReader.open(fixture, ReadOptions.all());
        TraceReader b = ParquetTraceReader.open(copy, ReadOptions.all())) {
      assertThat(b.metadata()).isEqualTo(a.metadata());
    }
  }

  private List<String> files() throws IOException {
    try (Stream<Path> list = Files.list(dir)) {
      return list.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
