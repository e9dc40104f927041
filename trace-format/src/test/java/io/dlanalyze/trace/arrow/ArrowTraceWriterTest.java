package io.dlanalyze.trace.arrow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.TraceRows;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.Stream;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ArrowTraceWriterTest {
  @TempDir Path dir;

  private static final SyntheticTrace TRACE = SyntheticTrace.builder().layers(3).steps(10).build();

  private static TraceBatch firstRows(TraceReader reader) {
    assertThat(reader.next()).isTrue();
    return reader.batch();
  }

  @Test
  void close_file_schemaFollowsTheContract() throws IOException {
    Path path = dir.resolve("schema.arrow");
    try (TraceReader source = TRACE.open(ReadOptions.all())) {
      TestTraces.write(path, source.metadata(), WriteOptions.defaults(), firstRows(source));
    }
    try (RootAllocator allocator = new RootAllocator();
        FileChannel channel = FileChannel.open(path);
        ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
      Schema schema = reader.getVectorSchemaRoot().getSchema();
      List<Field> fields = schema.getFields();
      assertThat(fields)
          .extracting(Field::getName)
          .containsExactlyElementsOf(Stream.of(Column.values()).map(Column::wireName).toList());
      for (Column column : Column.values()) {
        Field field = fields.get(column.ordinal());
        assertThat(field.isNullable()).as(column.wireName()).isEqualTo(column.isNullable());
        if (column.type() == io.dlanalyze.trace.ColumnType.STRING) {
          assertThat(field.getDictionary()).as(column.wireName()).isNotNull();
          assertThat(field.getDictionary().getIndexType()).isEqualTo(new ArrowType.Int(32, true));
          assertThat(reader.lookup(field.getDictionary().getId()).getVectorType())
              .isEqualTo(new ArrowType.Utf8());
        } else {
          assertThat(field.getDictionary()).as(column.wireName()).isNull();
        }
      }
      assertThat(fields.get(Column.STEP.ordinal()).getType())
          .isEqualTo(new ArrowType.Int(64, true));
      assertThat(schema.getCustomMetadata()).isEqualTo(TRACE.metadata().asMap());
    }
  }

  @ParameterizedTest
  @EnumSource(names = {"ARROW_FILE", "ARROW_STREAM"})
  void write_oneRecordBatchPerRowGroupRows(TraceFormat format) {
    Path path = dir.resolve("groups" + format.extension());
    try (TraceReader source = TRACE.open(ReadOptions.all().withBatchRows(7))) {
      ArrowTraceWriter writer =
          ArrowTraceWriter.create(
              path, format, source.metadata(), WriteOptions.defaults().withRowGroupRows(50));
      while (source.next()) {
        writer.write(source.batch());
      }
      assertThat(writer.rowsWritten()).isEqualTo(170);
      writer.close();
    }
    try (ArrowTraceReader reader = ArrowTraceReader.open(path, format, ReadOptions.all())) {
      List<Integer> sizes = new java.util.ArrayList<>();
      while (reader.next()) {
        sizes.add(reader.batch().size());
      }
      assertThat(sizes).containsExactly(50, 50, 50, 20);
      assertThat(reader.recordBatchesRead()).isEqualTo(4);
    }
  }

  @Test
  void write_batchWithoutNullableColumns_writesNulls() {
    Path path = dir.resolve("projected.arrows");
    EnumSet<io.dlanalyze.trace.Column> required = EnumSet.copyOf(Column.required());
    try (TraceReader source = TRACE.open(ReadOptions.columns(required))) {
      TestTraces.write(path, source.metadata(), WriteOptions.defaults(), firstRows(source));
    }
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThat(reader.columnsInFile()).isEqualTo(Column.all());
      List<String> rows = TraceRows.text(reader);
      assertThat(rows).hasSize(170);
      assertThat(rows.get(0))
          .endsWith(
              "std=null | min=null | max=null | l2_norm=null | zero_fraction=null | nan_count=null"
                  + " | inf_count=null | numel=null");
    }
  }

  @Test
  void write_batchWithoutRequiredColumn_throws() {
    Path path = dir.resolve("bad.arrows");
    TraceBatch batch = new TraceBatch(new TraceDictionary(), EnumSet.of(Column.STEP), 4);
    batch.reset(1);
    ArrowTraceWriter writer =
        ArrowTraceWriter.create(
            path, TraceFormat.ARROW_STREAM, TRACE.metadata(), WriteOptions.defaults());
    assertThatThrownBy(() -> writer.write(batch))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("batch lacks required column 'epoch'");
    writer.abort();
    assertThat(dir).isEmptyDirectory();
  }

  /** A crashed recorder leaves the batches written so far readable (no user-space buffering). */
  @Test
  void write_streamBeforeClose_completeBatchesAreOnDisk() throws IOException {
    Path path = dir.resolve("live.arrows");
    try (TraceReader source = TRACE.open(ReadOptions.all().withBatchRows(25));
        RootAllocator allocator = new RootAllocator()) {
      ArrowTraceWriter writer =
          ArrowTraceWriter.create(
              path,
              TraceFormat.ARROW_STREAM,
              source.metadata(),
              WriteOptions.defaults().withRowGroupRows(10),
              allocator);
      writer.write(firstRows(source));
      assertThat(path).doesNotExist();
      Path temporary;
      try (Stream<Path> files = Files.list(dir)) {
        temporary =
            files
                .filter(p -> p.getFileName().toString().startsWith(".live.arrows."))
                .findFirst()
                .orElseThrow();
      }
      Path snapshot = Files.copy(temporary, dir.resolve("snapshot.arrows"));
      try (TraceReader crashed = TraceReaders.open(snapshot, ReadOptions.all())) {
        assertThat(TraceRows.text(crashed)).hasSize(20);
        assertThat(crashed.truncated()).isTrue();
        assertThat(crashed.warnings())
            .containsExactly(
                "truncated: recovered 20 rows in 2 complete record batches; the rest of the file is"
                    + " lost");
      }
      writer.abort();
      assertThat(temporary).doesNotExist();
      assertThat(path).doesNotExist();
      assertThat(allocator.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void abort_existingTarget_isLeftAsItWas() throws IOException {
    Path path = dir.resolve("keep.arrow");
    Files.writeString(path, "old content");
    try (TraceReader source = TRACE.open(ReadOptions.all())) {
      ArrowTraceWriter writer =
          ArrowTraceWriter.create(
              path, TraceFormat.ARROW_FILE, source.metadata(), WriteOptions.defaults());
      writer.write(firstRows(source));
      writer.abort();
      writer.abort();
    }
    assertThat(Files.readString(path)).isEqualTo("old content");
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files).containsExactly(path);
    }
  }

  @Test
  void create_missingDirectory_throwsIoErrorWithThePath() {
    Path path = dir.resolve("no/such/dir/t.arrows");
    assertThatThrownBy(
            () ->
                ArrowTraceWriter.create(
                    path, TraceFormat.ARROW_STREAM, TRACE.metadata(), WriteOptions.defaults()))
        .isInstanceOf(io.dlanalyze.trace.TraceFormatException.class)
        .hasMessage(
            path + ": cannot create: directory does not exist: " + dir.resolve("no/such/dir"));
  }
}
