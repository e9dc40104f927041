package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.analyzeFrozen;
import static io.dlanalyze.analyzer.Analyses.only;
import static io.dlanalyze.analyzer.Analyses.trace;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.synthetic.Fault;
import java.util.List;
import org.junit.jupiter.api.Test;

class DeadOrZeroDetectorTest {
  private static final String ID = "dead-or-zero";

  @Test
  void reports_deadLayer_oneFindingAtItsActivationWithGradientsAsConsequences() {
    List<Finding> findings = analyze(trace(Fault.deadLayer(2, 300)), only(ID)).findings();

    assertThat(findings).hasSize(1);
    Finding finding = findings.get(0);
    assertThat(finding.symptom()).isEqualTo(Symptom.DEAD_OR_ZERO);
    assertThat(finding.severity()).isEqualTo(Severity.ERROR);
    assertThat(finding.layerName()).isEqualTo("fc2");
    assertThat(finding.phase()).isEqualTo(Phase.ACTIVATION);
    assertThat(finding.firstStep()).isEqualTo(300);
    assertThat(finding.lastStep()).isEqualTo(999);
    assertThat(finding.occurrences()).isEqualTo(700);
    assertThat(finding.consequences())
        .extracting(Consequence::phase)
        .containsExactly(Phase.GRADIENT, Phase.BACKWARD);
    assertThat(finding.message()).contains("fc2", "300", "700");
  }

  @Test
  void doesNotFire_onHealthyReluLayersWithHalfZeros() {
    assertThat(analyze(trace(), only(ID)).findings()).isEmpty();
  }

  @Test
  void doesNotFire_whenZerosLastShorterThanTheWindow() {
    assertThat(analyze(trace(Fault.deadLayer(2, 960)), only(ID)).findings()).isEmpty();
  }

  @Test
  void reports_shortRun_whenTheWindowIsLowered() {
    AnalysisOptions options =
        AnalysisOptions.builder().enableOnly(List.of(ID)).set(Thresholds.WINDOW, 20).build();

    assertThat(analyze(trace(Fault.deadLayer(2, 960)), options).findings())
        .singleElement()
        .extracting(Finding::firstStep)
        .isEqualTo(960L);
  }

  @Test
  void doesNotReportGradient_ofLayerMarkedFrozen() {
    Finding finding = analyzeFrozen(trace(Fault.deadLayer(2, 300)), 2, only(ID)).findings().get(0);

    assertThat(finding.consequences())
        .extracting(Consequence::phase)
        .containsExactly(Phase.BACKWARD);
  }

  @Test
  void reports_meanOnlyTrace_fromExactZeroMeans() {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 120; s++) {
      b.layer(s, 0, "relu1", "ReLU", Phase.ACTIVATION, s >= 40 ? 0.0 : 0.5 + 1e-3 * s);
      b.model(s, Phase.LOSS, 2.0 - 1e-3 * s);
    }

    assertThat(analyze(b.build(), only(ID)).findings())
        .singleElement()
        .extracting(Finding::firstStep)
        .isEqualTo(40L);
  }

  /**
   * A decoder cell called at every step of a sequence: the recorded output gradient is its last
   * call's, zero when the last step has one choice left; its weights' gradient, the sum over every
   * call, is not.
   */
  private static MemoryTrace cellCalledEveryStep(boolean weightGradientZero) {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 120; s++) {
      b.layer(s, 0, "decoder", "LSTMCell", Phase.FORWARD, 0.1 + 1e-3 * s);
      b.layer(s, 0, "decoder", "LSTMCell", Phase.BACKWARD, 0.0);
      b.layer(s, 0, "decoder", "LSTMCell", Phase.GRADIENT, weightGradientZero ? 0.0 : 1e-3);
      b.model(s, Phase.LOSS, 2.0 - 1e-2 * s);
    }
    return b.build();
  }

  @Test
  void doesNotReportAZeroOutputGradient_whenTheSameStepsWeightGradientIsNot() {
    assertThat(analyze(cellCalledEveryStep(false), only(ID)).findings()).isEmpty();
  }

  @Test
  void reportsAZeroOutputGradient_whenTheWeightGradientIsZeroToo() {
    Finding finding = analyze(cellCalledEveryStep(true), only(ID)).findings().get(0);

    assertThat(finding.layerName()).isEqualTo("decoder");
    assertThat(List.of(finding.phase(), finding.consequences().get(0).phase()))
        .containsExactlyInAnyOrder(Phase.BACKWARD, Phase.GRADIENT);
  }

  @Test
  void reportsAZeroOutputGradient_whenTheStepHasNoWeightGradient() {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 120; s++) {
      b.layer(s, 0, "decoder", "LSTMCell", Phase.FORWARD, 0.1 + 1e-3 * s);
      b.layer(s, 0, "decoder", "LSTMCell", Phase.BACKWARD, 0.0);
      b.model(s, Phase.LOSS, 2.0 - 1e-2 * s);
    }

    assertThat(analyze(b.build(), only(ID)).findings())
        .singleElement()
        .extracting(Finding::phase)
        .isEqualTo(Phase.BACKWARD);
  }
}
