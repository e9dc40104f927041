package io.dlanalyze.trace.validate;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TraceValidatorTest {
  private static final Path FILE = Path.of("run.parquet");

  /** A row: epoch, batch, step, layer_index, layer_name, phase, zero_fraction, nan, inf, numel. */
  private record Row(
      int epoch,
      int batch,
      long step,
      int layer,
      String name,
      String phase,
      Double zero,
      Long nan,
      Long inf,
      Long numel) {
    static Row of(int epoch, int batch, long step, int layer, String name, String phase) {
      return new Row(epoch, batch, step, layer, name, phase, 0.5, 0L, 0L, 10L);
    }

    Row counts(Double zero, Long nan, Long inf, Long numel) {
      return new Row(epoch, batch, step, layer, name, phase, zero, nan, inf, numel);
    }
  }

  private static TraceBatch batch(TraceDictionary dictionary, List<Row> rows) {
    TraceBatch batch = TraceBatch.allColumns(dictionary, rows.size());
    batch.reset(rows.size());
    for (int i = 0; i < rows.size(); i++) {
      Row row = rows.get(i);
      batch.ints(Column.EPOCH)[i] = row.epoch();
      batch.ints(Column.BATCH)[i] = row.batch();
      batch.longs(Column.STEP)[i] = row.step();
      batch.ints(Column.LAYER_INDEX)[i] = row.layer();
      batch.ints(Column.LAYER_NAME)[i] = dictionary.layerNameId(row.name());
      batch.ints(Column.LAYER_TYPE)[i] = -1;
      batch.setNull(Column.LAYER_TYPE, i);
      batch.ints(Column.PHASE)[i] = dictionary.phaseCode(row.phase());
      batch.doubles(Column.MEAN)[i] = 1;
      setDouble(batch, Column.ZERO_FRACTION, i, row.zero());
      setLong(batch, Column.NAN_COUNT, i, row.nan());
      setLong(batch, Column.INF_COUNT, i, row.inf());
      setLong(batch, Column.NUMEL, i, row.numel());
    }
    return batch;
  }

  private static void setDouble(TraceBatch batch, Column column, int i, Double value) {
    if (value == null) {
      batch.setNull(column, i);
    } else {
      batch.doubles(column)[i] = value;
    }
  }

  private static void setLong(TraceBatch batch, Column column, int i, Long value) {
    if (value == null) {
      batch.setNull(column, i);
      batch.longs(column)[i] = -99;
    } else {
      batch.longs(column)[i] = value;
    }
  }

  /** Validates rows fed in batches of {@code batchRows}; returns the messages with severity. */
  private static List<String> validate(TraceMetadata metadata, int batchRows, Row... rows) {
    TraceValidator validator = new TraceValidator(FILE, metadata);
    TraceDictionary dictionary = new TraceDictionary();
    for (int from = 0; from < rows.length; from += batchRows) {
      List<Row> part = List.of(rows).subList(from, Math.min(rows.length, from + batchRows));
      validator.accept(batch(dictionary, part));
    }
    List<String> messages = new ArrayList<>();
    for (Problem problem : validator.finish()) {
      messages.add(problem.severity() + " " + problem.rule() + " " + problem.message());
    }
    assertThat(validator.rowsChecked()).isEqualTo(rows.length);
    return messages;
  }

  private static List<String> validate(Row... rows) {
    List<String> whole = validate(TraceMetadata.empty(), 1000, rows);
    assertThat(validate(TraceMetadata.empty(), 1, rows)).as("one row per batch").isEqualTo(whole);
    return whole;
  }

  @Test
  void finish_syntheticTraces_noProblems() {
    for (SyntheticTrace trace :
        List.of(
            SyntheticTrace.builder()
                .layers(4)
                .steps(300)
                .stepsPerEpoch(7)
                .optionalPhases(true)
                .build(),
            SyntheticTrace.builder()
                .layers(3)
                .steps(200)
                .fault(Fault.nan(1, 50))
                .fault(Fault.explodingGradient(80, 3))
                .build())) {
      try (TraceReader reader = trace.open(ReadOptions.all().withBatchRows(97))) {
        TraceValidator validator = new TraceValidator(reader.path(), reader.metadata());
        while (reader.next()) {
          validator.accept(reader.batch());
        }
        assertThat(validator.finish()).isEmpty();
        assertThat(validator.hasErrors()).isFalse();
        assertThat(validator.rowsChecked()).isEqualTo(trace.totalRows());
      }
    }
  }

  @Test
  void accept_stepDecreases_errorNamesTheRow() {
    assertThat(
            validate(
                Row.of(0, 12, 12, 0, "fc1", "forward"),
                Row.of(0, 13, 13, 0, "fc1", "forward"),
                Row.of(0, 12, 12, 0, "fc1", "forward"),
                Row.of(0, 12, 12, 0, "fc1", "backward")))
        .containsExactly(
            "ERROR step-order run.parquet: row 2: step 12 after step 13 (steps must not decrease)");
  }

  @Test
  void accept_epochBatchDisagreeWithStep_warnings() {
    assertThat(
            validate(
                Row.of(0, 0, 0, 0, "fc1", "forward"),
                Row.of(0, 1, 0, 0, "fc1", "backward"),
                Row.of(1, 0, 1, 0, "fc1", "forward"),
                Row.of(0, 5, 2, 0, "fc1", "forward")))
        .containsExactly(
            "WARNING epoch-batch-order run.parquet: row 1: step 0 has epoch 0, batch 1 here but"
                + " epoch 0, batch 0 in its first row",
            "WARNING epoch-batch-order run.parquet: row 3: step 2 has epoch 0, batch 5, not after"
                + " epoch 1, batch 0 of step 1");
  }

  @Test
  void accept_negativePositions_errors() {
    assertThat(validate(Row.of(-1, 0, -3, 0, "fc1", "forward")))
        .containsExactly(
            "ERROR negative-position run.parquet: row 0: step -3 is negative",
            "ERROR negative-position run.parquet: row 0: epoch -1, batch 0: neither may be"
                + " negative");
  }

  @Test
  void accept_badCountsAndZeroFraction_errors() {
    Row base = Row.of(0, 0, 0, 0, "fc1", "forward");
    assertThat(
            validate(
                base.counts(0.5, -1L, 0L, 10L),
                base.counts(1.5, 0L, -2L, 10L),
                base.counts(Double.NaN, 6L, 5L, 10L),
                base.counts(-0.1, 0L, 0L, -4L),
                base.counts(null, null, 20L, 10L),
                base.counts(0.0, Long.MAX_VALUE, Long.MAX_VALUE, 10L)))
        .containsExactly(
            "ERROR counts run.parquet: row 0: nan_count -1 is negative",
            "ERROR counts run.parquet: row 1: inf_count -2 is negative",
            "ERROR zero-fraction run.parquet: row 1: zero_fraction 1.5 is outside [0, 1]",
            "ERROR counts run.parquet: row 2: nan_count 6 + inf_count 5 exceeds numel 10",
            "ERROR zero-fraction run.parquet: row 2: zero_fraction NaN is outside [0, 1]",
            "ERROR counts run.parquet: row 3: numel -4 is negative",
            "ERROR zero-fraction run.parquet: row 3: zero_fraction -0.1 is outside [0, 1]",
            "ERROR counts run.parquet: row 5: nan_count 9223372036854775807 + inf_count"
                + " 9223372036854775807 exceeds numel 10");
  }

  @Test
  void accept_layerIndexAndNameDisagree_errorsOncePerPair() {
    assertThat(
            validate(
                Row.of(0, 0, 0, 0, "fc1", "forward"),
                Row.of(0, 0, 0, 1, "fc2", "forward"),
                Row.of(0, 0, 0, 1, "fc3", "activation"),
                Row.of(0, 0, 0, 1, "fc3", "backward"),
                Row.of(0, 0, 0, 2, "fc1", "gradient")))
        .containsExactly(
            "ERROR layer-identity run.parquet: row 2: layer_index 1 is named 'fc3' here but 'fc2'"
                + " at row 1",
            "ERROR layer-identity run.parquet: row 4: layer 'fc1' has layer_index 2 here but 0 at"
                + " row 0");
  }

  @Test
  void accept_modelLevelAndLayerPhasesWithWrongIndex_errors() {
    assertThat(
            validate(
                Row.of(0, 0, 0, 2, "model", "loss"),
                Row.of(0, 0, 0, -1, "fc1", "weight"),
                Row.of(0, 0, 0, -2, "fc9", "forward")))
        .containsExactly(
            "ERROR layer-index run.parquet: row 0: phase 'loss' is model-level but layer_index is 2"
                + " (expected -1)",
            "ERROR layer-index run.parquet: row 1: phase 'weight' is per layer but layer_index is"
                + " -1",
            "ERROR layer-index run.parquet: row 2: phase 'forward' is per layer but layer_index is"
                + " -2",
            "ERROR layer-index run.parquet: row 2: layer_index -2 is invalid (-1 for model-level"
                + " rows, else a 0-based position)");
  }

  @Test
  void finish_unknownPhases_oneWarningEachWithFirstRowAndCount() {
    assertThat(
            validate(
                Row.of(0, 0, 0, -1, "model", "loss"),
                Row.of(0, 0, 0, -1, "model", "grad_norm"),
                Row.of(0, 1, 1, -1, "model", "lr_scale"),
                Row.of(0, 1, 1, -1, "model", "grad_norm")))
        .containsExactly(
            "WARNING unknown-phase run.parquet: row 1: unknown phase 'grad_norm' (2 rows from here"
                + " on): the rows are kept, but no detector reads them",
            "WARNING unknown-phase run.parquet: row 2: unknown phase 'lr_scale' (1 row from here"
                + " on): the rows are kept, but no detector reads them");
  }

  @Test
  void messages_controlCharactersInNames_escapedOnOneLine() {
    assertThat(
            validate(
                Row.of(0, 0, 0, -1, "model", "loss"),
                Row.of(0, 0, 0, -1, "model", "grad\nnorm"),
                Row.of(0, 0, 0, 0, "fc\r1", "forward"),
                Row.of(0, 0, 0, 0, "fc\u001b2", "forward")))
        .containsExactly(
            "ERROR layer-identity run.parquet: row 3: layer_index 0 is named 'fc\\e2' here but"
                + " 'fc\\r1' at row 2",
            "WARNING unknown-phase run.parquet: row 1: unknown phase 'grad\\nnorm' (1 row from"
                + " here on): the rows are kept, but no detector reads them");
  }

  @Test
  void accept_nameDiffersFromDltraceLayers_warning() {
    TraceMetadata metadata =
        TraceMetadata.of(
            Map.of(
                TraceMetadata.LAYERS,
                TraceMetadata.layersJson(
                    List.of(new LayerInfo(0, "dense", "Dense", "relu", 10, true)))));
    assertThat(
            validate(
                metadata,
                10,
                Row.of(0, 0, 0, 0, "fc1", "forward"),
                Row.of(0, 0, 0, 0, "fc1", "weight")))
        .containsExactly(
            "WARNING metadata-layers run.parquet: row 0: layer_index 0 is named 'fc1' here but"
                + " 'dense' in dltrace.layers");
  }

  @Test
  void finish_manyProblems_firstListedRestCounted() {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      int step = i % 2 == 0 ? 5 : 4;
      rows.add(Row.of(0, step, step, 0, "fc1", "forward"));
    }
    List<String> messages = validate(TraceMetadata.empty(), 7, rows.toArray(Row[]::new));
    assertThat(messages).hasSize(TraceValidator.DEFAULT_LIMIT_PER_RULE + 1);
    assertThat(messages.get(0))
        .isEqualTo(
            "ERROR step-order run.parquet: row 1: step 4 after step 5 (steps must not decrease)");
    assertThat(messages.get(messages.size() - 1))
        .isEqualTo(
            "ERROR step-order run.parquet: 10 more rows break rule step-order (only the first 20"
                + " are listed)");
  }

  @Test
  void accept_projectedBatch_checksOnlyWhatIsLoaded() {
    try (TraceReader reader =
        SyntheticTrace.builder()
            .steps(5)
            .build()
            .open(ReadOptions.columns(java.util.EnumSet.of(Column.STEP)))) {
      TraceValidator validator = new TraceValidator(FILE, reader.metadata());
      while (reader.next()) {
        validator.accept(reader.batch());
      }
      assertThat(validator.finish()).isEmpty();
    }
  }
}
