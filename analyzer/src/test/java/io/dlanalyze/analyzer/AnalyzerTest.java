package io.dlanalyze.analyzer;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.trace;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.synthetic.Fault;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AnalyzerTest {
  @Test
  void analyze_healthyTrace_verdictHealthy() {
    Report report = analyze(trace());

    assertThat(report.verdict()).isEqualTo(Verdict.HEALTHY);
    assertThat(report.rootCause()).isNull();
    assertThat(report.findings()).filteredOn(f -> f.severity().atLeast(Severity.WARNING)).isEmpty();
    assertThat(report.fails(AnalysisOptions.defaults())).isFalse();
    assertThat(report.trace().steps()).isEqualTo(1_000);
    assertThat(report.trace().rows()).isEqualTo(1_000L * trace().rowsPerStep());
    assertThat(report.trace().epochs()).isEqualTo(10);
    assertThat(report.trace().layers())
        .extracting(Layer::name)
        .containsExactly("fc0", "fc1", "fc2", "fc3", "fc4", "fc5");
  }

  @Test
  void analyze_nanTrace_rootCauseNamesLayerPhaseAndStep() {
    Report report = analyze(trace(Fault.nan(3, 420)));

    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    Finding top = report.topFinding().orElseThrow();
    assertThat(top.layerName()).isEqualTo("fc3");
    assertThat(top.phase()).isEqualTo(Phase.FORWARD);
    assertThat(top.firstStep()).isEqualTo(420);
    assertThat(report.rootCause().scope()).isEqualTo("layer");
    assertThat(report.rootCause().layerIndex()).isEqualTo(3);
    assertThat(report.rootCause().suggestedFix()).isNotBlank();
    assertThat(report.fails(AnalysisOptions.defaults())).isTrue();
    assertThat(report.fails(AnalysisOptions.builder().neverFail().build())).isFalse();
  }

  @Test
  void analyze_emptyTrace_inconclusive() {
    Report report = analyze(io.dlanalyze.trace.synthetic.SyntheticTrace.builder().steps(0).build());

    assertThat(report.verdict()).isEqualTo(Verdict.INCONCLUSIVE);
    assertThat(report.verdictReason()).contains("no rows");
  }

  @Test
  void analyze_tooFewSteps_inconclusive() {
    Report report =
        analyze(io.dlanalyze.trace.synthetic.SyntheticTrace.builder().steps(10).build());

    assertThat(report.verdict()).isEqualTo(Verdict.INCONCLUSIVE);
    assertThat(report.verdictReason()).contains("Only 10 steps");
  }

  @Test
  void analyze_firstFault_stopsReadingAfterTheFaultStep() {
    AnalysisOptions options = AnalysisOptions.builder().firstFault(true).build();

    Report report = analyze(trace(Fault.nan(3, 420)), options);

    assertThat(report.trace().stoppedAtStep()).isEqualTo(420);
    assertThat(report.trace().steps()).isEqualTo(421);
    assertThat(report.topFinding().orElseThrow().firstStep()).isEqualTo(420);
  }

  @Test
  void analyze_firstFaultInTheLastStep_readsEverythingAndSaysNothingAboutStopping() {
    AnalysisOptions options = AnalysisOptions.builder().firstFault(true).build();

    Report report = analyze(trace(Fault.nan(3, 999)), options);

    assertThat(report.trace().stoppedAtStep()).isEqualTo(-1);
    assertThat(report.trace().warnings()).isEmpty();
    assertThat(report.topFinding().orElseThrow().firstStep()).isEqualTo(999);
  }

  @Test
  void detectorsFor_unknownDetector_throwsWithKnownIds() {
    AnalysisOptions options = AnalysisOptions.builder().disable("no-such-detector").build();

    assertThatThrownBy(() -> new Analyzer().detectorsFor(options))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown detector: no-such-detector")
        .hasMessageContaining("numerical-error");
  }

  @Test
  void projection_alwaysHasKeyColumns() {
    assertThat(new Analyzer().projection(AnalysisOptions.defaults()))
        .contains(
            Column.STEP, Column.EPOCH, Column.BATCH, Column.LAYER_INDEX, Column.PHASE, Column.MEAN);
  }

  @Test
  void analyze_missingPath_throwsTraceFormatException(@TempDir Path dir) {
    assertThatThrownBy(
            () ->
                new Analyzer().analyze(dir.resolve("missing.parquet"), AnalysisOptions.defaults()))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("missing.parquet");
  }

  @Test
  void constructor_duplicateIds_throws() {
    DetectorInfo info = BuiltInDetectors.all().get(0);

    assertThatThrownBy(() -> new Analyzer(List.of(info, info)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("registered twice");
  }
}
