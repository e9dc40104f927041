package io.dlanalyze.analyzer.engine;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorInfo;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AnalysisEngineTest {
  private static MemoryTrace.Row row(long step, int layer, String name, String phase, double mean) {
    return new MemoryTrace.Row(
        0,
        (int) step,
        step,
        layer,
        name,
        layer < 0 ? null : "Linear",
        phase,
        mean,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null);
  }

  @Test
  void stepsOutOfOrder_throwWithTheRow() {
    MemoryTrace trace =
        MemoryTrace.of(
            TraceMetadata.empty(),
            List.of(
                row(0, 0, "fc", "forward", 1),
                row(2, 0, "fc", "forward", 1),
                row(1, 0, "fc", "forward", 1)));

    assertThatThrownBy(() -> analyze(trace, AnalysisOptions.defaults()))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("row 2")
        .hasMessageContaining("step 1 comes after step 2");
  }

  @Test
  void negativeLayerIndexBelowMinusOne_throws() {
    MemoryTrace trace =
        MemoryTrace.of(TraceMetadata.empty(), List.of(row(0, -2, "x", "forward", 1)));

    assertThatThrownBy(() -> analyze(trace, AnalysisOptions.defaults()))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("layer_index");
  }

  @Test
  void duplicatesUnknownPhasesAndMislabelledModelRows_areWarnings() {
    MemoryTrace trace =
        MemoryTrace.of(
            TraceMetadata.empty(),
            List.of(
                row(0, 0, "fc", "forward", 1), row(0, 0, "fc", "forward", 2),
                row(0, -1, "model", "custom_metric", 3), row(0, 4, "model", "loss", 2.0)));

    Report report = analyze(trace, AnalysisOptions.defaults());

    assertThat(report.trace().warnings()).anyMatch(w -> w.startsWith("1 rows repeat"));
    assertThat(report.trace().warnings())
        .anyMatch(w -> w.contains("custom_metric") && w.contains("skipped"));
    assertThat(report.trace().warnings()).anyMatch(w -> w.contains("read as model-level"));
    assertThat(report.trace().phases()).containsExactly("forward", "loss", "custom_metric");
    assertThat(report.trace().layers()).hasSize(1);
  }

  @Test
  void layers_mergeRowsAndMetadata() {
    TraceMetadata metadata =
        TraceMetadata.of(
            Map.of(
                TraceMetadata.LAYERS,
                "[{\"index\":0,\"name\":\"fc\",\"type\":\"Linear\",\"activation\":\"relu\",\"trainable\":false},"
                    + "{\"index\":1,\"name\":\"out\",\"type\":\"Linear\",\"activation\":\"softmax\"}]"));
    MemoryTrace trace = MemoryTrace.of(metadata, List.of(row(0, 0, "fc", "forward", 1)));

    Report report = analyze(trace, AnalysisOptions.defaults());

    assertThat(report.trace().layers()).hasSize(2);
    assertThat(report.trace().layers().get(0).trainable()).isFalse();
    assertThat(report.trace().layers().get(1).isSoftmax()).isTrue();
    assertThat(report.trace().layers().get(1).name()).isEqualTo("out");
  }

  @Test
  void stepIndex_mapsStepsToEpochAndBatch_acrossGaps() {
    StepIndex index = new StepIndex();
    index.add(0, 0, 0);
    index.add(10, 0, 10);
    index.add(20, 1, 0);
    index.add(25, 1, 5);

    assertThat(index.epochOf(10)).isEqualTo(0);
    assertThat(index.batchOf(25)).isEqualTo(5);
    assertThat(index.epochOf(22)).isEqualTo(1);
    assertThat(index.epochOf(99)).isEqualTo(-1);
    assertThat(index.epochs()).isEqualTo(2);
    assertThat(index.steps()).isEqualTo(4);
    assertThat(index.firstStep()).isZero();
    assertThat(index.lastStep()).isEqualTo(25);
  }

  @Test
  void modelLevelRows_areReadAtLayerMinusOne() {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 60; s++) {
      b.model(s, Phase.LOSS, s == 30 ? Double.NaN : 1.0 / (s + 1));
    }

    Report report = analyze(b.build(), AnalysisOptions.defaults());

    assertThat(report.topFinding().orElseThrow().layerIndex()).isEqualTo(-1);
    assertThat(report.topFinding().orElseThrow().phase()).isEqualTo(Phase.LOSS);
    assertThat(report.rootCause().scope()).isEqualTo("model");
  }

  @Test
  void lossHistory_holdsTheObservedStepBeforeAnyDetectorSeesIt() {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 20; s++) {
      b.model(s, Phase.LOSS, s == 7 ? Double.NaN : 10.0 - s);
    }
    List<String> seen = new ArrayList<>();
    Detector probe =
        new Detector() {
          @Override
          public Set<Column> columns() {
            return EnumSet.of(Column.MEAN);
          }

          @Override
          public void observe(StepView step) {
            LossHistory history = step.context().lossHistory();
            double last = history.size() == 0 ? Double.NaN : history.loss(history.size() - 1);
            seen.add(step.step() + ":" + history.size() + ":" + last);
          }

          @Override
          public List<Finding> finish(AnalysisContext context) {
            return List.of();
          }
        };
    DetectorInfo info =
        new DetectorInfo(
            "probe",
            Symptom.NOT_LEARNING,
            Severity.INFO,
            "Records what the loss history holds",
            "test",
            Set.of(AnalysisMode.DEFAULT),
            () -> probe);

    try (TraceReader reader = b.build().open(4096)) {
      new Analyzer(List.of(info)).analyze(reader, AnalysisOptions.defaults());
    }

    assertThat(seen).hasSize(20);
    assertThat(seen.get(0)).isEqualTo("0:1:10.0");
    assertThat(seen.get(7)).as("a NaN loss is not kept").isEqualTo("7:7:4.0");
    assertThat(seen.get(19)).isEqualTo("19:19:-9.0");
  }

  @Test
  void scatter_marksEachRowsColumnsPresent_aColumnWithNullsRowByRow() {
    MemoryTrace.Row withStd =
        new MemoryTrace.Row(
            0, 0, 0, 0, "fc", "Linear", "forward", 1, 0.5, null, null, null, null, null, null,
            null);
    MemoryTrace.Row withoutStd = row(0, 0, "fc", "weight", 2);
    MemoryTrace.Row nextStep = row(1, 0, "fc", "forward", 3);
    MemoryTrace trace =
        MemoryTrace.of(TraceMetadata.empty(), List.of(withStd, withoutStd, nextStep));
    List<String> seen = new ArrayList<>();
    Detector probe =
        new Detector() {
          @Override
          public Set<Column> columns() {
            return EnumSet.of(Column.MEAN, Column.STD);
          }

          @Override
          public void observe(StepView step) {
            for (Phase phase : List.of(Phase.FORWARD, Phase.WEIGHT)) {
              seen.add(
                  step.step()
                      + " "
                      + phase.wireName()
                      + " mean="
                      + step.present(0, phase, Column.MEAN)
                      + " std="
                      + step.present(0, phase, Column.STD));
            }
          }

          @Override
          public List<Finding> finish(AnalysisContext context) {
            return List.of();
          }
        };
    DetectorInfo info =
        new DetectorInfo(
            "probe",
            Symptom.NOT_LEARNING,
            Severity.INFO,
            "Records which statistics each row has",
            "test",
            Set.of(AnalysisMode.DEFAULT),
            () -> probe);

    try (TraceReader reader = trace.open(4096)) {
      new Analyzer(List.of(info)).analyze(reader, AnalysisOptions.defaults());
    }

    assertThat(seen)
        .containsExactly(
            "0 forward mean=true std=true",
            "0 weight mean=true std=false",
            "1 forward mean=true std=false",
            "1 weight mean=false std=false");
  }
}
