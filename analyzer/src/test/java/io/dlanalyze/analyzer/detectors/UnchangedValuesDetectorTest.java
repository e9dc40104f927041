package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.analyzeFrozen;
import static io.dlanalyze.analyzer.Analyses.only;
import static io.dlanalyze.analyzer.Analyses.trace;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.synthetic.Fault;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class UnchangedValuesDetectorTest {
  private static final String ID = "unchanged-values";

  @Test
  void reports_frozenWeights_fromTheStepTheyFroze() {
    List<Finding> findings = analyze(trace(Fault.frozenWeights(1, 400)), only(ID)).findings();

    assertThat(findings).hasSize(1);
    Finding finding = findings.get(0);
    assertThat(finding.symptom()).isEqualTo(Symptom.UNCHANGED_VALUES);
    assertThat(finding.severity()).isEqualTo(Severity.ERROR);
    assertThat(finding.layerName()).isEqualTo("fc1");
    assertThat(finding.phase()).isEqualTo(Phase.WEIGHT);
    assertThat(finding.firstStep()).isEqualTo(400);
    assertThat(finding.lastStep()).isEqualTo(999);
  }

  @Test
  void doesNotFire_onHealthyTrace() {
    assertThat(analyze(trace(), only(ID)).findings()).isEmpty();
  }

  @Test
  void doesNotFire_onSoftmaxMeanWhenOnlyTheMeanIsRecorded() {
    Analyzer analyzer = new Analyzer();
    EnumSet<Column> meanOnly =
        EnumSet.of(
            Column.EPOCH,
            Column.BATCH,
            Column.STEP,
            Column.LAYER_INDEX,
            Column.LAYER_NAME,
            Column.LAYER_TYPE,
            Column.PHASE,
            Column.MEAN);
    try (TraceReader reader = trace().open(ReadOptions.columns(meanOnly))) {
      Report report = analyzer.analyze(reader, only(ID));

      assertThat(report.findings()).isEmpty();
    }
  }

  @Test
  void doesNotFire_onConstantOneOverKMean_withoutMetadata() {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 200; s++) {
      b.layer(s, 0, "act", "Activation", Phase.ACTIVATION, 0.25);
      b.model(s, Phase.LOSS, 2.0 - 1e-3 * s);
    }

    assertThat(analyze(b.build(), only(ID)).findings()).isEmpty();
  }

  @Test
  void reports_constantOutputMean_thatIsNotOneOverK() {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 200; s++) {
      b.layer(s, 0, "act", "Activation", Phase.ACTIVATION, s >= 100 ? 0.37 : 0.3 + 1e-3 * s);
    }

    Finding finding = analyze(b.build(), only(ID)).findings().get(0);
    assertThat(finding.firstStep()).isEqualTo(100);
    assertThat(finding.severity()).isEqualTo(Severity.WARNING);
  }

  @Test
  void doesNotFire_onWeightsOfLayerMarkedFrozen() {
    assertThat(analyzeFrozen(trace(Fault.frozenWeights(1, 400)), 1, only(ID)).findings()).isEmpty();
  }

  @Test
  void doesNotFire_onGpuJitterBelowTolerance_butExactEqualityWould() {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 200; s++) {
      double jitter = (s % 2 == 0 ? 1 : -1) * 1e-9;
      b.add(
          new MemoryTrace.Row(
              0,
              (int) s,
              s,
              0,
              "fc",
              "Linear",
              "weight",
              1e-4 + jitter * 0.05,
              0.05 * (1 + jitter),
              null,
              null,
              20 * (1 + jitter),
              null,
              null,
              null,
              null));
    }

    Finding finding = analyze(b.build(), only(ID)).findings().get(0);
    assertThat(finding.firstStep()).isEqualTo(0);
  }
}
