package io.dlanalyze.trace.parquet;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.TraceRows;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Version 1 traces written by DuckDB, not by dl-analyze (test resources fixtures/duckdb/, described
 * in its README.md): a 10-layer MLP, 2,000 steps, 100 batches per epoch, 52 rows per step.
 */
class ParquetFixturesTest {
  static final int LAYERS = 10;
  static final int STEPS = 2_000;
  static final int ROWS_PER_STEP = 52;
  static final int ROWS = STEPS * ROWS_PER_STEP;

  static Path fixture(String name) {
    try {
      return Path.of(ParquetFixturesTest.class.getResource("/fixtures/duckdb/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static final Path V1_ZSTD_CLEAN = fixture("duckdb-v1-zstd-clean.parquet");
  static final Path V2_SNAPPY_CLEAN = fixture("duckdb-v2-snappy-clean.parquet");
  static final Path V1_ZSTD_NAN = fixture("duckdb-v1-zstd-nan.parquet");

  static TraceRows read(Path path, ReadOptions options) {
    try (TraceReader reader = TraceReaders.open(path, options)) {
      return TraceRows.readAll(reader);
    }
  }

  @Test
  void open_v1ZstdClean_readsFooterColumnsAndMetadata() {
    try (TraceReader reader = TraceReaders.open(V1_ZSTD_CLEAN, ReadOptions.all())) {
      assertThat(reader).isInstanceOf(ParquetTraceReader.class);
      assertThat(reader.format()).isEqualTo(TraceFormat.PARQUET);
      assertThat(reader.totalRows()).isEqualTo(ROWS);
      assertThat(reader.columnsInFile()).isEqualTo(EnumSet.allOf(Column.class));
      assertThat(reader.metadata().version()).contains("1");
      assertThat(reader.metadata().asMap()).containsKey("dltrace.synthetic.faults");
      assertThat(reader.metadata().layers()).hasSize(LAYERS);
      assertThat(reader.metadata().layers().get(3).name()).isEqualTo("fc3");
      assertThat(reader.metadata().asMap().keySet()).first().isEqualTo("dltrace.version");
      assertThat(reader.truncated()).isFalse();
    }
  }

  @Test
  void read_v1ZstdClean_rowsFollowTheFixtureLayout() {
    TraceRows rows = read(V1_ZSTD_CLEAN, ReadOptions.all());
    assertThat(rows.size()).isEqualTo(ROWS);
    checkLayout(rows);
    double[] mean = rows.doubles(Column.MEAN);
    long[] nanCount = rows.get(Column.NAN_COUNT).bits();
    for (int row = 0; row < ROWS; row++) {
      assertThat(Double.isFinite(mean[row])).as("mean of row %d", row).isTrue();
      assertThat(nanCount[row]).as("nan_count of row %d", row).isZero();
    }
  }

  @Test
  void read_v1ZstdNan_nanExactlyWhereTheReadmeSays() {
    TraceRows rows = read(V1_ZSTD_NAN, ReadOptions.all());
    checkLayout(rows);
    long[] step = rows.get(Column.STEP).bits();
    long[] layer = rows.get(Column.LAYER_INDEX).bits();
    String[] phase = rows.get(Column.PHASE).strings();
    double[] mean = rows.doubles(Column.MEAN);
    long[] nanCount = rows.get(Column.NAN_COUNT).bits();
    long[] numel = rows.get(Column.NUMEL).bits();
    int nanRows = 0;
    for (int row = 0; row < ROWS; row++) {
      boolean expected = expectedNan(step[row], (int) layer[row], phase[row]);
      assertThat(Double.isNaN(mean[row]))
          .as("mean of row %d (step %d, layer %d, %s)", row, step[row], layer[row], phase[row])
          .isEqualTo(expected);
      assertThat(nanCount[row]).as("nan_count of row %d", row).isEqualTo(expected ? numel[row] : 0);
      nanRows += expected ? 1 : 0;
    }
    // step 1234: 6 layers x 2 + loss + 30 backward rows; steps 1235..1999: 50 layer rows + loss.
    assertThat(nanRows).isEqualTo(43 + 765 * 51);
  }

  /** fixtures/duckdb/README.md: NaN from step 1234 in layer 4's forward pass. */
  private static boolean expectedNan(long step, int layer, String phase) {
    if (step < 1234 || phase.equals("accuracy")) {
      return false;
    }
    if (step > 1234) {
      return true;
    }
    return switch (phase) {
      case "forward", "activation" -> layer >= 4;
      default -> true;
    };
  }

  @Test
  void read_v2SnappyAndV1Zstd_identicalColumns() {
    TraceRows v1 = read(V1_ZSTD_CLEAN, ReadOptions.all());
    TraceRows v2 = read(V2_SNAPPY_CLEAN, ReadOptions.all());
    assertThat(v2.size()).isEqualTo(ROWS);
    for (Column column : Column.values()) {
      assertThat(v2.get(column)).as(column.wireName()).isEqualTo(v1.get(column));
    }
  }

  @Test
  void open_v2Snappy_oneBatchPerRowGroupAndNoMetadata() {
    try (TraceReader reader = TraceReaders.open(V2_SNAPPY_CLEAN, ReadOptions.all())) {
      assertThat(reader.metadata().asMap()).isEmpty();
      assertThat(reader.totalRows()).isEqualTo(ROWS);
      List<Integer> sizes = new ArrayList<>();
      while (reader.next()) {
        sizes.add(reader.batch().size());
      }
      // DuckDB cut its ~20,000-row groups at 20,480 rows; each batch is one row group here.
      assertThat(sizes).containsExactly(20_480, 20_480, 20_480, 20_480, 20_480, 1_600);
      assertThat(reader.rowsRead()).isEqualTo(ROWS);
      assertThat(reader.warnings()).isEmpty();
    }
  }

  @Test
  void read_batchRows1And7AndLarge_sameRows() {
    for (Path fixture : new Path[] {V2_SNAPPY_CLEAN, V1_ZSTD_NAN}) {
      TraceRows whole = read(fixture, ReadOptions.all().withBatchRows(1 << 20));
      assertThat(read(fixture, ReadOptions.all().withBatchRows(7)).columns())
          .isEqualTo(whole.columns());
      assertThat(read(fixture, ReadOptions.all().withBatchRows(1)).columns())
          .isEqualTo(whole.columns());
    }
  }

  @Test
  void read_batchRows7_batchesNeverExceedBatchRows() {
    try (TraceReader reader =
        TraceReaders.open(V2_SNAPPY_CLEAN, ReadOptions.all().withBatchRows(7))) {
      long rows = 0;
      while (reader.next()) {
        assertThat(reader.batch().size()).isBetween(1, 7);
        rows += reader.batch().size();
      }
      assertThat(rows).isEqualTo(ROWS);
    }
  }

  @Test
  void read_projection_loadsOnlyTheProjectedColumnsWithTheSameValues() {
    EnumSet<Column> four = EnumSet.of(Column.STEP, Column.LAYER_INDEX, Column.PHASE, Column.MEAN);
    TraceRows all = read(V1_ZSTD_NAN, ReadOptions.all());
    try (TraceReader reader = TraceReaders.open(V1_ZSTD_NAN, ReadOptions.columns(four))) {
      assertThat(reader.batch().columns()).isEqualTo(four);
      assertThat(reader.columnsInFile()).isEqualTo(EnumSet.allOf(Column.class));
      TraceRows projected = TraceRows.readAll(reader);
      assertThat(projected.columns().keySet()).isEqualTo(four);
      for (Column column : four) {
        assertThat(projected.get(column)).as(column.wireName()).isEqualTo(all.get(column));
      }
    }
  }

  /**
   * Every step has 52 rows: forward and activation of fc0..fc9, loss, accuracy, and backward,
   * gradient and weight of each layer; epoch and batch follow from the step.
   */
  static void checkLayout(TraceRows rows) {
    long[] epoch = rows.get(Column.EPOCH).bits();
    long[] batch = rows.get(Column.BATCH).bits();
    long[] step = rows.get(Column.STEP).bits();
    long[] layer = rows.get(Column.LAYER_INDEX).bits();
    String[] name = rows.get(Column.LAYER_NAME).strings();
    String[] type = rows.get(Column.LAYER_TYPE).strings();
    boolean[] typeNull = rows.get(Column.LAYER_TYPE).nulls();
    String[] phase = rows.get(Column.PHASE).strings();
    for (int s = 0; s < STEPS; s++) {
      int[] seen = new int[Phase.COUNT * (LAYERS + 1)];
      for (int r = s * ROWS_PER_STEP; r < (s + 1) * ROWS_PER_STEP; r++) {
        assertThat(step[r]).as("step of row %d", r).isEqualTo(s);
        assertThat(epoch[r]).as("epoch of row %d", r).isEqualTo(s / 100);
        assertThat(batch[r]).as("batch of row %d", r).isEqualTo(s % 100);
        Phase p = Phase.fromWireName(phase[r]).orElseThrow();
        if (p.isModelLevel()) {
          assertThat(layer[r]).isEqualTo(-1);
          assertThat(name[r]).isEqualTo("model");
          assertThat(typeNull[r]).isTrue();
        } else {
          assertThat(name[r]).isEqualTo("fc" + layer[r]);
          assertThat(type[r]).isEqualTo("Linear");
          assertThat(typeNull[r]).isFalse();
        }
        seen[p.code() * (LAYERS + 1) + (int) layer[r] + 1]++;
      }
      for (Phase p :
          new Phase[] {
            Phase.FORWARD, Phase.ACTIVATION, Phase.BACKWARD, Phase.GRADIENT, Phase.WEIGHT
          }) {
        for (int l = 0; l < LAYERS; l++) {
          assertThat(seen[p.code() * (LAYERS + 1) + l + 1])
              .as("step %d %s fc%d", s, p, l)
              .isEqualTo(1);
        }
      }
      assertThat(seen[Phase.LOSS.code() * (LAYERS + 1)]).isEqualTo(1);
      assertThat(seen[Phase.ACCURACY.code() * (LAYERS + 1)]).isEqualTo(1);
    }
  }
}
