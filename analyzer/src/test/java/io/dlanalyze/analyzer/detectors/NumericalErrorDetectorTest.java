package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.only;
import static io.dlanalyze.analyzer.Analyses.trace;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.synthetic.Fault;
import org.junit.jupiter.api.Test;

class NumericalErrorDetectorTest {
  private static final String ID = "numerical-error";

  @Test
  void reports_nanBornInLayer3_oneRootFindingAtItsForwardPass() {
    Report report = analyze(trace(Fault.nan(3, 420)), only(ID));

    assertThat(report.findings()).hasSize(1);
    Finding finding = report.findings().get(0);
    assertThat(finding.detector()).isEqualTo(ID);
    assertThat(finding.symptom()).isEqualTo(Symptom.NUMERICAL_ERROR);
    assertThat(finding.severity()).isEqualTo(Severity.CRITICAL);
    assertThat(finding.layerIndex()).isEqualTo(3);
    assertThat(finding.layerName()).isEqualTo("fc3");
    assertThat(finding.phase()).isEqualTo(Phase.FORWARD);
    assertThat(finding.firstStep()).isEqualTo(420);
    assertThat(finding.epoch()).isEqualTo(4);
    assertThat(finding.batch()).isEqualTo(20);
    assertThat(finding.lastStep()).isEqualTo(999);
    assertThat(finding.occurrences()).isEqualTo(580);
    assertThat(finding.evidence().get("kind")).isEqualTo("NaN");
    assertThat(finding.message()).contains("fc3", "NaN", "420");
  }

  @Test
  void reports_nanSpread_listsConsequencesInCausalOrder() {
    Finding finding = analyze(trace(Fault.nan(3, 420)), only(ID)).findings().get(0);

    assertThat(finding.consequences())
        .extracting(Consequence::layerName, Consequence::phase, Consequence::firstStep)
        .startsWith(
            org.assertj.core.groups.Tuple.tuple("fc3", Phase.ACTIVATION, 420L),
            org.assertj.core.groups.Tuple.tuple("fc4", Phase.FORWARD, 420L));
    assertThat(finding.consequences())
        .extracting(Consequence::layerName, Consequence::phase, Consequence::firstStep)
        .contains(
            org.assertj.core.groups.Tuple.tuple("model", Phase.LOSS, 420L),
            org.assertj.core.groups.Tuple.tuple("fc0", Phase.BACKWARD, 420L),
            org.assertj.core.groups.Tuple.tuple("fc0", Phase.FORWARD, 421L));
    assertThat(finding.consequences()).noneMatch(c -> c.phase() == Phase.ACCURACY);
  }

  @Test
  void reports_infBornInLayer2_kindInf() {
    Finding finding = analyze(trace(Fault.inf(2, 100)), only(ID)).findings().get(0);

    assertThat(finding.layerIndex()).isEqualTo(2);
    assertThat(finding.phase()).isEqualTo(Phase.FORWARD);
    assertThat(finding.firstStep()).isEqualTo(100);
    assertThat(finding.evidence().get("kind")).isEqualTo("Inf");
  }

  @Test
  void doesNotFire_onHealthyTrace() {
    assertThat(analyze(trace(), only(ID)).findings()).isEmpty();
  }

  @Test
  void doesNotFire_onDeadLayer() {
    assertThat(analyze(trace(Fault.deadLayer(2, 300)), only(ID)).findings()).isEmpty();
  }
}
