package io.dlanalyze.trace.arrow;

import static io.dlanalyze.trace.arrow.ForeignArrow.FLOAT32;
import static io.dlanalyze.trace.arrow.ForeignArrow.FLOAT64;
import static io.dlanalyze.trace.arrow.ForeignArrow.INT32;
import static io.dlanalyze.trace.arrow.ForeignArrow.INT64;
import static io.dlanalyze.trace.arrow.ForeignArrow.UTF8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.TraceRows;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ArrowTraceReaderTest {
  @TempDir Path dir;

  private static final SyntheticTrace SYNTHETIC =
      SyntheticTrace.builder().layers(4).steps(30).seed(9).fault(Fault.nan(2, 17)).build();

  private static List<String> syntheticRows() {
    try (TraceReader reader = SYNTHETIC.open(ReadOptions.all().withBatchRows(1000))) {
      return TraceRows.text(reader);
    }
  }

  private Path writeSynthetic(String name, int rowGroupRows) {
    Path path = dir.resolve(name);
    TraceFormat format = TraceFormat.fromExtension(path).orElseThrow();
    try (TraceReader source = SYNTHETIC.open(ReadOptions.all().withBatchRows(37));
        RootAllocator allocator = new RootAllocator()) {
      ArrowTraceWriter writer =
          ArrowTraceWriter.create(
              path,
              format,
              source.metadata(),
              WriteOptions.defaults().withRowGroupRows(rowGroupRows),
              allocator);
      while (source.next()) {
        writer.write(source.batch());
      }
      writer.close();
      assertThat(allocator.getAllocatedMemory()).isZero();
    }
    return path;
  }

  /** Reads a trace with a fresh allocator and checks that the reader gave all memory back. */
  private static Result read(Path path, TraceFormat format, int batchRows) {
    try (RootAllocator allocator = new RootAllocator()) {
      Result result;
      try (ArrowTraceReader reader =
          ArrowTraceReader.open(
              path, format, ReadOptions.all().withBatchRows(batchRows), allocator)) {
        List<String> rows = TraceRows.text(reader);
        result =
            new Result(rows, reader.truncated(), reader.warnings(), reader.recordBatchesRead());
      }
      assertThat(allocator.getAllocatedMemory()).isZero();
      return result;
    }
  }

  private record Result(
      List<String> rows, boolean truncated, List<String> warnings, long batches) {}

  @ParameterizedTest
  @EnumSource(names = {"ARROW_FILE", "ARROW_STREAM"})
  void next_writtenTrace_givesTheSameRowsAndMetadata(TraceFormat format) {
    Path path = writeSynthetic("t" + format.extension(), 100);
    try (RootAllocator allocator = new RootAllocator()) {
      try (ArrowTraceReader reader =
          ArrowTraceReader.open(path, format, ReadOptions.all().withBatchRows(7), allocator)) {
        assertThat(reader.format()).isEqualTo(format);
        assertThat(reader.metadata()).isEqualTo(SYNTHETIC.metadata());
        assertThat(reader.columnsInFile()).isEqualTo(Column.all());
        assertThat(reader.totalRows())
            .isEqualTo(format == TraceFormat.ARROW_FILE ? SYNTHETIC.totalRows() : -1);
        assertThat(TraceRows.text(reader)).isEqualTo(syntheticRows());
        assertThat(reader.truncated()).isFalse();
        assertThat(reader.warnings()).isEmpty();
        assertThat(reader.rowsRead()).isEqualTo(SYNTHETIC.totalRows());
        assertThat(reader.recordBatchesRead()).isEqualTo((SYNTHETIC.totalRows() + 99) / 100);
        assertThat(reader.next()).isFalse();
      }
      assertThat(allocator.getAllocatedMemory()).isZero();
    }
  }

  @ParameterizedTest
  @EnumSource(names = {"ARROW_FILE", "ARROW_STREAM"})
  void next_namesFirstSeenInLaterBatches_deltaDictionariesResolve(TraceFormat format) {
    Path path = writeSynthetic("deltas" + format.extension(), 3);
    Result result = read(path, format, 1000);
    assertThat(result.rows()).isEqualTo(syntheticRows());
    assertThat(result.batches()).isEqualTo(SYNTHETIC.totalRows() / 3);
  }

  @ParameterizedTest
  @EnumSource(names = {"ARROW_FILE", "ARROW_STREAM"})
  void open_detectsFormatByMagic(TraceFormat format) throws IOException {
    Path written = writeSynthetic("magic" + format.extension(), 1000);
    Path renamed = Files.move(written, dir.resolve("no-extension.bin"));
    try (TraceReader reader = TraceReaders.open(renamed, ReadOptions.all())) {
      assertThat(reader.format()).isEqualTo(format);
      assertThat(TraceRows.text(reader)).isEqualTo(syntheticRows());
    }
  }

  @Test
  void next_projection_loadsOnlyTheRequestedColumns() {
    Path path = writeSynthetic("p.arrows", 64);
    EnumSet<Column> wanted = EnumSet.of(Column.STEP, Column.PHASE, Column.MEAN);
    List<String> expected;
    try (TraceReader reader = SYNTHETIC.open(ReadOptions.columns(wanted))) {
      expected = TraceRows.text(reader);
    }
    try (TraceReader reader =
        TraceReaders.open(path, ReadOptions.columns(wanted).withBatchRows(50))) {
      assertThat(reader.batch().columns()).isEqualTo(wanted);
      assertThat(TraceRows.text(reader)).isEqualTo(expected);
    }
  }

  @ParameterizedTest
  @EnumSource(names = {"ARROW_FILE", "ARROW_STREAM"})
  void next_emptyTrace_noRowsNoWarnings(TraceFormat format) {
    Path path = dir.resolve("empty" + format.extension());
    ArrowTraceWriter.create(path, format, SYNTHETIC.metadata(), WriteOptions.defaults()).close();
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThat(reader.next()).isFalse();
      assertThat(reader.rowsRead()).isZero();
      assertThat(reader.truncated()).isFalse();
      assertThat(reader.metadata()).isEqualTo(SYNTHETIC.metadata());
    }
  }

  // ---- the batch's size ------------------------------------------------------------------------

  /** An IPC file's footer gives its rows: a small trace's batch holds them, not 64 Ki rows. */
  @Test
  void open_smallIpcFile_batchHoldsItsRows() {
    Path path = writeSynthetic("small.arrow", 100);
    assertThat(SYNTHETIC.totalRows()).isLessThan(ArrowTraceReader.FIRST_CAPACITY);
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThat(reader.batch().capacity()).isEqualTo(SYNTHETIC.totalRows());
      assertThat(TraceRows.text(reader)).isEqualTo(syntheticRows());
      assertThat(reader.batch().capacity()).isEqualTo(SYNTHETIC.totalRows());
    }
  }

  /**
   * A stream does not say how many rows it has: its batch starts small and grows to the record
   * batches by doubling, never past {@code batchRows}, and the rows are those written.
   */
  @Test
  void next_stream_batchGrowsByDoublingUpToBatchRows() {
    SyntheticTrace longer = SyntheticTrace.builder().layers(4).steps(300).seed(5).build();
    assertThat(longer.totalRows()).isGreaterThan(3 * 1500L);
    Path path =
        TestTraces.write(
            dir.resolve("growing.arrows"), longer, WriteOptions.defaults().withRowGroupRows(1500));
    List<String> expected;
    try (TraceReader reader = longer.open(ReadOptions.all().withBatchRows(1000))) {
      expected = TraceRows.text(reader);
    }
    int first = ArrowTraceReader.FIRST_CAPACITY;
    // record batches of 1,500 rows: 1,024 doubles to 2,048, or stops at batchRows
    for (int batchRows : new int[] {1 << 16, 2000, 1500, 700}) {
      try (TraceReader reader =
          TraceReaders.open(path, ReadOptions.all().withBatchRows(batchRows))) {
        assertThat(reader.batch().capacity()).isEqualTo(Math.min(first, batchRows));
        assertThat(reader.next()).isTrue();
        assertThat(reader.batch().size()).isEqualTo(Math.min(1500, batchRows));
        assertThat(reader.batch().capacity())
            .as("batchRows %s", batchRows)
            .isEqualTo(Math.min(2 * first, batchRows));
      }
      try (TraceReader reader =
          TraceReaders.open(path, ReadOptions.all().withBatchRows(batchRows))) {
        assertThat(TraceRows.text(reader)).as("batchRows %s", batchRows).isEqualTo(expected);
        assertThat(reader.batch().capacity()).isLessThanOrEqualTo(Math.max(batchRows, first));
      }
    }
  }

  @Test
  void firstCapacity_rowsWhenKnownElseSmall_neverPastBatchRowsOr64Ki() {
    assertThat(ArrowTraceReader.firstCapacity(1 << 16, 320)).isEqualTo(320);
    assertThat(ArrowTraceReader.firstCapacity(1 << 16, 0)).isZero();
    assertThat(ArrowTraceReader.firstCapacity(100, 320)).isEqualTo(100);
    assertThat(ArrowTraceReader.firstCapacity(1 << 20, 5_000_000)).isEqualTo(1 << 16);
    assertThat(ArrowTraceReader.firstCapacity(1 << 16, -1))
        .isEqualTo(ArrowTraceReader.FIRST_CAPACITY);
    assertThat(ArrowTraceReader.firstCapacity(10, -1)).isEqualTo(10);
  }

  // ---- truncation ----------------------------------------------------------------------------

  /**
   * Every complete record batch before the cut is recovered, at boundaries and in between; a cut
   * before the end of the first record batch leaves nothing to recover and is an error.
   */
  @ParameterizedTest
  @EnumSource(names = {"ARROW_FILE", "ARROW_STREAM"})
  void next_truncatedAtManyPoints_recoversEveryCompleteBatch(TraceFormat format)
      throws IOException {
    int batchRows = 40;
    Path full = writeSynthetic("full" + format.extension(), batchRows);
    boolean file = format == TraceFormat.ARROW_FILE;
    List<Long> ends = ForeignArrow.boundaries(full, file ? 8 : 0);
    long schemaEnd = ends.get(0);
    List<Long> batchEnds = ends.subList(1, ends.size());
    assertThat(batchEnds).hasSize(17);
    byte[] bytes = Files.readAllBytes(full);
    List<String> all = syntheticRows();

    TreeSet<Long> cuts = new TreeSet<>();
    for (long end : ends) {
      cuts.add(end - 1);
      cuts.add(end);
      cuts.add(end + 1);
    }
    for (long c = schemaEnd; c < bytes.length; c += 211) {
      cuts.add(c);
    }
    cuts.add((long) bytes.length - 8);
    cuts.add((long) bytes.length - 1);
    for (long cut : cuts) {
      if (cut < schemaEnd || cut >= bytes.length) {
        continue;
      }
      Path cutFile = dir.resolve("cut-" + cut + format.extension());
      Files.write(cutFile, Arrays.copyOf(bytes, (int) cut));
      int complete = 0;
      for (long end : batchEnds) {
        if (end <= cut) {
          complete++;
        }
      }
      if (complete == 0) {
        assertThatThrownBy(() -> read(cutFile, format, 25))
            .as("cut at %d", cut)
            .isInstanceOf(TraceFormatException.class)
            .hasMessage(
                cutFile
                    + ": truncated before the end of the first record batch ("
                    + cut
                    + " bytes): the file holds no complete record batch")
            .extracting(e -> ((TraceFormatException) e).code())
            .isEqualTo(ErrorCode.TRUNCATED);
        Files.delete(cutFile);
        continue;
      }
      long rows = Math.min((long) complete * batchRows, all.size());
      Result result = read(cutFile, format, 25);
      assertThat(result.rows()).as("cut at %d", cut).isEqualTo(all.subList(0, (int) rows));
      assertThat(result.truncated()).as("cut at %d", cut).isTrue();
      String what =
          file
              ? "truncated: the IPC file has no footer (the writer did not finish); read as a"
                  + " stream,"
              : "truncated:";
      assertThat(result.warnings())
          .containsExactly(
              what
                  + " recovered "
                  + rows
                  + " rows in "
                  + complete
                  + " complete record batches; the rest of the file is lost");
      Files.delete(cutFile);
    }
  }

  @ParameterizedTest
  @EnumSource(names = {"ARROW_FILE", "ARROW_STREAM"})
  void open_cutInsideTheSchema_throwsTruncated(TraceFormat format) throws IOException {
    Path full = writeSynthetic("s" + format.extension(), 40);
    boolean file = format == TraceFormat.ARROW_FILE;
    long schemaEnd = ForeignArrow.boundaries(full, file ? 8 : 0).get(0);
    byte[] bytes = Files.readAllBytes(full);
    for (long cut : new long[] {file ? 6 : 4, file ? 9 : 5, schemaEnd / 2, schemaEnd - 1}) {
      Path cutFile = dir.resolve("schema-" + cut + format.extension());
      Files.write(cutFile, Arrays.copyOf(bytes, (int) cut));
      try (RootAllocator allocator = new RootAllocator()) {
        assertThatThrownBy(
                () -> ArrowTraceReader.open(cutFile, format, ReadOptions.all(), allocator))
            .isInstanceOf(TraceFormatException.class)
            .hasMessage(
                cutFile
                    + ": truncated inside the schema ("
                    + cut
                    + " bytes): the file holds no complete record batch")
            .extracting(e -> ((TraceFormatException) e).code())
            .isEqualTo(ErrorCode.TRUNCATED);
        assertThat(allocator.getAllocatedMemory()).isZero();
      }
    }
  }

  @Test
  void next_fileWithoutFooterButCompleteStream_allRowsAndTruncated() throws IOException {
    Path full = writeSynthetic("nofooter.arrow", 100);
    List<Long> ends = ForeignArrow.boundaries(full, 8);
    long streamEnd = ends.get(ends.size() - 1) + 8;
    byte[] bytes = Files.readAllBytes(full);
    Path cut = dir.resolve("cut.arrow");
    Files.write(cut, Arrays.copyOf(bytes, (int) streamEnd));
    Result result = read(cut, TraceFormat.ARROW_FILE, 1000);
    assertThat(result.rows()).isEqualTo(syntheticRows());
    assertThat(result.truncated()).isTrue();
    assertThat(result.warnings())
        .containsExactly(
            "truncated: the IPC file has no footer (the writer did not finish); read as a stream,"
                + " recovered 660 rows in 7 complete record batches; the rest of the file is lost");
  }

  @Test
  void open_corruptFooter_throwsCorrupt() throws IOException {
    Path full = writeSynthetic("corrupt.arrow", 100);
    byte[] bytes = Files.readAllBytes(full);
    for (int i = bytes.length - 200; i < bytes.length - 10; i++) {
      bytes[i] = (byte) 0x5A;
    }
    Files.write(full, bytes);
    assertThatThrownBy(() -> TraceReaders.open(full, ReadOptions.all()))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageStartingWith(full + ": not a valid Arrow IPC file: ")
        .extracting(e -> ((TraceFormatException) e).code())
        .isEqualTo(ErrorCode.CORRUPT);
  }

  // ---- foreign writers -----------------------------------------------------------------------

  private static final Map<String, String> V1 = Map.of("dltrace.version", "1");

  /** pandas/pyarrow layout: int64 everywhere, plain utf8 strings, float32 stats, extra columns. */
  @ParameterizedTest
  @EnumSource(names = {"ARROW_FILE", "ARROW_STREAM"})
  void next_pandasStyleTypes_readLeniently(TraceFormat format) {
    ForeignArrow foreign =
        new ForeignArrow()
            .column("note", UTF8)
            .column("step", INT64)
            .column("epoch", INT64)
            .column("batch", INT64)
            .column("layer_index", INT64)
            .column("layer_name", UTF8)
            .column("layer_type", UTF8)
            .dictionaryColumn("phase", 8, "forward", "loss", "grad_norm")
            .column("mean", FLOAT64)
            .column("std", FLOAT32)
            .column("nan_count", INT32);
    Path path = dir.resolve("pandas" + format.extension());
    foreign.write(
        path,
        format == TraceFormat.ARROW_FILE,
        V1,
        List.of(
            List.of(
                row("a", 0L, 0L, 0L, 0L, "fc1", "Linear", 0, 0.5, 0.25f, 3),
                row(null, 0L, 0L, 0L, -1L, "model", null, 1, 2.5, null, null)),
            List.of(
                row(
                    "b",
                    1L,
                    0L,
                    1L,
                    -1L,
                    "model",
                    null,
                    2,
                    Double.NaN,
                    Float.POSITIVE_INFINITY,
                    0))),
        null);
    foreign.close();
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThat(reader.columnsInFile())
          .isEqualTo(
              EnumSet.of(
                  Column.STEP,
                  Column.EPOCH,
                  Column.BATCH,
                  Column.LAYER_INDEX,
                  Column.LAYER_NAME,
                  Column.LAYER_TYPE,
                  Column.PHASE,
                  Column.MEAN,
                  Column.STD,
                  Column.NAN_COUNT));
      assertThat(TraceRows.text(reader))
          .containsExactly(
              "epoch=0 | batch=0 | step=0 | layer_index=0 | layer_name=[fc1] | layer_type=[Linear]"
                  + " | phase=[forward] | mean=0.5 | std=0.25 | min=null | max=null | l2_norm=null"
                  + " | zero_fraction=null | nan_count=3 | inf_count=null | numel=null",
              "epoch=0 | batch=0 | step=0 | layer_index=-1 | layer_name=[model] | layer_type=null"
                  + " | phase=[loss] | mean=2.5 | std=null | min=null | max=null | l2_norm=null"
                  + " | zero_fraction=null | nan_count=null | inf_count=null | numel=null",
              "epoch=0 | batch=1 | step=1 | layer_index=-1 | layer_name=[model] | layer_type=null |"
                  + " phase=[grad_norm] | mean=NaN | std=Infinity | min=null | max=null |"
                  + " l2_norm=null | zero_fraction=null | nan_count=0 | inf_count=null |"
                  + " numel=null");
      assertThat(reader.dictionary().unknownPhaseNames()).containsExactly("grad_norm");
      assertThat(reader.warnings())
          .containsExactly(
              "unknown phase 'grad_norm' in 1 rows: the rows are kept, but no detector reads them");
    }
  }

  private static List<Object> row(Object... values) {
    return Arrays.asList(values);
  }

  private static ForeignArrow minimal(ArrowType stepType) {
    return new ForeignArrow()
        .column("epoch", INT32)
        .column("batch", INT32)
        .column("step", stepType)
        .column("layer_index", INT32)
        .dictionaryColumn("layer_name", 32, "fc0", "fc1")
        .dictionaryColumn("phase", 32, "forward", "backward")
        .column("mean", FLOAT64);
  }

  /** A stream may replace a dictionary between batches: ids must be re-resolved per batch. */
  @Test
  void next_replacementDictionary_reResolvesIdsPerBatch() {
    ForeignArrow foreign = minimal(INT64);
    Path path = dir.resolve("replaced.arrows");
    List<Object> first = row(0, 0, 0L, 0, 0, 0, 1.0);
    List<Object> second = row(0, 1, 1L, 0, 0, 0, 2.0);
    List<Runnable> before = new ArrayList<>();
    before.add(null);
    before.add(
        () -> {
          foreign.replaceDictionary(0, "fc1", "fc0");
          foreign.replaceDictionary(1, "backward", "forward");
        });
    foreign.write(path, false, V1, List.of(List.of(first), List.of(second)), before);
    foreign.close();
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all().withBatchRows(1))) {
      List<String> rows = TraceRows.text(reader);
      assertThat(rows).hasSize(2);
      assertThat(rows.get(0)).contains("layer_name=[fc0]", "phase=[forward]", "mean=1.0");
      assertThat(rows.get(1)).contains("layer_name=[fc1]", "phase=[backward]", "mean=2.0");
    }
  }

  @Test
  void open_missingColumns_namesTheFirst() {
    ForeignArrow foreign =
        new ForeignArrow().column("epoch", INT32).column("step", INT64).column("mean", FLOAT64);
    Path path = dir.resolve("missing.arrows");
    foreign.write(path, false, V1, List.of(), null);
    foreign.close();
    assertThatThrownBy(() -> TraceReaders.open(path, ReadOptions.all()))
        .isInstanceOf(TraceFormatException.class)
        .hasMessage(
            path
                + ": column 'batch' is missing (required by trace format v1, expected int32 (or"
                + " another integer type))")
        .extracting(e -> ((TraceFormatException) e).code())
        .isEqualTo(ErrorCode.MISSING_COLUMN);
  }

  @Test
  void open_stepAsString_throwsWrongType() {
    ForeignArrow foreign = minimal(UTF8);
    Path path = dir.resolve("wrongtype.arrow");
    foreign.write(path, true, V1, List.of(List.of(row(0, 0, "zero", 0, 0, 0, 1.0))), null);
    foreign.close();
    try (RootAllocator allocator = new RootAllocator()) {
      assertThatThrownBy(
              () ->
                  ArrowTraceReader.open(path, TraceFormat.ARROW_FILE, ReadOptions.all(), allocator))
          .isInstanceOf(TraceFormatException.class)
          .hasMessage(
              path + ": column 'step' is Arrow type utf8, expected int64 (or another integer type)")
          .extracting(e -> ((TraceFormatException) e).code())
          .isEqualTo(ErrorCode.WRONG_TYPE);
      assertThat(allocator.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void open_meanAsInteger_throwsWrongType() {
    ForeignArrow foreign =
        new ForeignArrow()
            .column("epoch", INT32)
            .column("batch", INT32)
            .column("step", INT64)
            .column("layer_index", INT32)
            .column("layer_name", UTF8)
            .column("phase", UTF8)
            .column("mean", INT64);
    Path path = dir.resolve("intmean.arrows");
    foreign.write(path, false, V1, List.of(), null);
    foreign.close();
    assertThatThrownBy(() -> TraceReaders.open(path, ReadOptions.all()))
        .hasMessage(path + ": column 'mean' is Arrow type int64, expected float64 (or float32)");
  }

  @Test
  void open_duplicateColumn_throwsCorrupt() {
    ForeignArrow foreign = minimal(INT64).column("step", INT64);
    Path path = dir.resolve("dup.arrows");
    foreign.write(path, false, V1, List.of(), null);
    foreign.close();
    assertThatThrownBy(() -> TraceReaders.open(path, ReadOptions.all()))
        .hasMessage(path + ": column 'step' appears more than once");
  }

  @Test
  void next_nullInRequiredColumn_namesTheRow() {
    ForeignArrow foreign = minimal(INT64);
    Path path = dir.resolve("nullstep.arrows");
    foreign.write(
        path,
        false,
        V1,
        List.of(
            List.of(row(0, 0, 0L, 0, 0, 0, 1.0)),
            List.of(row(0, 1, 1L, 0, 0, 0, 1.0), row(0, 1, null, 0, 0, 0, 1.0))),
        null);
    foreign.close();
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThat(reader.next()).isTrue();
      assertThatThrownBy(reader::next)
          .isInstanceOf(TraceFormatException.class)
          .hasMessage(path + ": row 2: column 'step' is null (the column is required)");
    }
  }

  @Test
  void next_int64ValueOutsideInt32_namesTheRow() {
    ForeignArrow foreign =
        new ForeignArrow()
            .column("epoch", INT64)
            .column("batch", INT32)
            .column("step", INT64)
            .column("layer_index", INT32)
            .column("layer_name", UTF8)
            .column("phase", UTF8)
            .column("mean", FLOAT64);
    Path path = dir.resolve("big.arrows");
    foreign.write(
        path,
        false,
        V1,
        List.of(
            List.of(
                row(0L, 0, 0L, 0, "a", "forward", 1.0),
                row(5_000_000_000L, 0, 1L, 0, "a", "forward", 1.0))),
        null);
    foreign.close();
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThatThrownBy(reader::next)
          .hasMessage(path + ": row 1: column 'epoch': 5000000000 does not fit in int32");
    }
  }

  @Test
  void open_badLayersMetadata_throwsBadMetadata() {
    ForeignArrow foreign = minimal(INT64);
    Path path = dir.resolve("badmeta.arrows");
    foreign.write(path, false, Map.of("dltrace.layers", "{not json"), List.of(), null);
    foreign.close();
    assertThatThrownBy(() -> TraceReaders.open(path, ReadOptions.all()))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageStartingWith(path + ": dltrace.layers is not valid JSON: ")
        .extracting(e -> ((TraceFormatException) e).code())
        .isEqualTo(ErrorCode.BAD_METADATA);
  }
}
