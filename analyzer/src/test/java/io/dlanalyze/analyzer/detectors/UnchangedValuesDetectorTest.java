package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.analyzeFrozen;
import static io.dlanalyze.analyzer.Analyses.only;
import static io.dlanalyze.analyzer.Analyses.trace;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.EvidenceKeys;
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
import org.assertj.core.groups.Tuple;
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

  /**
   * Weights that move until {@code stopAt} and then stay put; the loss falls from 2.0 to 0.2 by
   * step 200 when {@code converges}, else stays at 2.0; the learning rate is 0.1 until step 300 and
   * {@code lateRate} from then on.
   */
  private static MemoryTrace stoppedWeights(boolean converges, double lateRate) {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 600; s++) {
      double loss = converges ? Math.max(0.2, 2.0 - 0.009 * s) : 2.0 + 0.01 * Math.sin(s);
      b.model(s, Phase.LOSS, loss);
      b.model(s, Phase.LEARNING_RATE, s < 300 ? 0.1 : lateRate);
      b.layer(s, 0, "fc", "Linear", Phase.WEIGHT, s < 320 ? 0.01 + 1e-4 * s : 0.01 + 1e-4 * 320);
    }
    return b.build();
  }

  /**
   * Two layers whose weights stay put for 300 steps while the loss falls: {@code fc} has backward
   * and gradient rows (its output reaches the loss; frozen by mistake), {@code head_b} has none
   * when {@code headReached} is false (its output is not on the loss's path, as N-BEATS' last
   * backcast head).
   */
  private static MemoryTrace twoStillLayers(boolean headReached) {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 300; s++) {
      b.model(s, Phase.LOSS, Math.max(0.2, 2.0 - 0.009 * s));
      b.layer(s, 0, "fc", "Linear", Phase.FORWARD, 0.3 + 1e-3 * s);
      b.layer(s, 0, "fc", "Linear", Phase.BACKWARD, 1e-3 * (1 + s % 7));
      b.layer(s, 0, "fc", "Linear", Phase.GRADIENT, 1e-3 * (1 + s % 5));
      b.layer(s, 0, "fc", "Linear", Phase.WEIGHT, 0.05);
      b.layer(s, 1, "head_b", "Linear", Phase.FORWARD, 0.1 + 1e-3 * s);
      b.layer(s, 1, "head_b", "Linear", Phase.WEIGHT, -0.02);
      if (headReached) {
        b.layer(s, 1, "head_b", "Linear", Phase.BACKWARD, 1e-3 * (1 + s % 3));
      }
    }
    return b.build();
  }

  @Test
  void weightsNoGradientEverReached_areInfo_whileAFrozenLayerOnTheLossPathStaysAnError() {
    List<Finding> findings = analyze(twoStillLayers(false), only(ID)).findings();

    assertThat(findings)
        .extracting(Finding::layerName, Finding::severity)
        .containsExactlyInAnyOrder(
            Tuple.tuple("fc", Severity.ERROR), Tuple.tuple("head_b", Severity.INFO));
    Finding head =
        findings.stream().filter(f -> f.layerName().equals("head_b")).findFirst().orElseThrow();
    assertThat(head.evidence().get(EvidenceKeys.NO_GRADIENT_REACHED)).isTrue();
    assertThat(head.message()).contains("no gradient ever reached head_b");
  }

  @Test
  void weightsWithoutAGradientRow_whereOnlyGradientRowsAreRecorded_areInfo() {
    // The Keras recorder in callback mode writes no backward rows, and gradient rows only for the
    // kernels an optimizer applies: a teacher whose predictions the step uses outside its tape has
    // none, while the student's layers have them
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 300; s++) {
      b.model(s, Phase.LOSS, Math.max(0.2, 2.0 - 0.009 * s));
      b.layer(s, 0, "teacher/conv", "Conv2D", Phase.FORWARD, 0.1 + 1e-3 * (s % 11));
      b.layer(s, 0, "teacher/conv", "Conv2D", Phase.WEIGHT, -0.02);
      b.layer(s, 1, "student", "Dense", Phase.FORWARD, 0.3 + 1e-3 * s);
      b.layer(s, 1, "student", "Dense", Phase.GRADIENT, 1e-3 * (1 + s % 5));
      b.layer(s, 1, "student", "Dense", Phase.WEIGHT, 0.05 + 1e-4 * s);
    }

    List<Finding> findings = analyze(b.build(), only(ID)).findings();

    assertThat(findings)
        .extracting(Finding::layerName, Finding::severity)
        .containsExactly(Tuple.tuple("teacher/conv", Severity.INFO));
    assertThat(findings.get(0).evidence().get(EvidenceKeys.NO_GRADIENT_REACHED)).isTrue();
  }

  @Test
  void weightsWithoutAGradientRow_inATraceWithNoGradientRowsAtAll_stayAnError() {
    // without backward or gradient rows of any layer, a missing row says nothing
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 300; s++) {
      b.model(s, Phase.LOSS, Math.max(0.2, 2.0 - 0.009 * s));
      b.layer(s, 0, "fc", "Linear", Phase.FORWARD, 0.3 + 1e-3 * s);
      b.layer(s, 0, "fc", "Linear", Phase.WEIGHT, 0.05);
      b.layer(s, 1, "out", "Linear", Phase.WEIGHT, 0.01 + 1e-4 * s);
    }

    assertThat(analyze(b.build(), only(ID)).findings())
        .extracting(Finding::layerName, Finding::severity)
        .containsExactly(Tuple.tuple("fc", Severity.ERROR));
  }

  @Test
  void constantWeightsWhoseMeanIsOneOverAnInteger_areStillCompared() {
    // 1/K is a softmax output's mean, constant by construction; a weight tensor's mean of 0.05
    // (1/20) that never moves is frozen all the same
    MemoryTrace.Builder trace = MemoryTrace.builder();
    for (long s = 0; s < 300; s++) {
      trace.model(s, Phase.LOSS, Math.max(0.2, 2.0 - 0.009 * s));
      trace.layer(s, 0, "fc", "Linear", Phase.FORWARD, 0.3 + 1e-3 * s);
      trace.layer(s, 0, "fc", "Linear", Phase.WEIGHT, 0.05);
    }

    assertThat(analyze(trace.build(), only(ID)).findings())
        .extracting(Finding::layerName, Finding::phase)
        .containsExactly(Tuple.tuple("fc", Phase.WEIGHT));
  }

  @Test
  void weightsWhoseOutputGetsAGradient_stayAnError() {
    assertThat(analyze(twoStillLayers(true), only(ID)).findings())
        .extracting(Finding::severity)
        .containsOnly(Severity.ERROR);
  }

  @Test
  void scheduleThatRanOut_afterConvergence_isInfo_withTheRateAtTheOnset() {
    List<Finding> findings = analyze(stoppedWeights(true, 1e-6), only(ID)).findings();

    assertThat(findings).hasSize(1);
    Finding finding = findings.get(0);
    assertThat(finding.severity()).isEqualTo(Severity.INFO);
    assertThat(finding.firstStep()).isEqualTo(320);
    assertThat(finding.evidence().get(EvidenceKeys.LEARNING_RATE)).isEqualTo(1e-6);
    assertThat(finding.evidence().get(EvidenceKeys.PEAK_LEARNING_RATE)).isEqualTo(0.1);
    assertThat(finding.message()).contains("the schedule ran out");
  }

  @Test
  void stoppedWeights_underTheFullRate_orInARunThatNeverLearned_stayAnError() {
    Finding fullRate = analyze(stoppedWeights(true, 0.1), only(ID)).findings().get(0);
    Finding notLearned = analyze(stoppedWeights(false, 1e-6), only(ID)).findings().get(0);
    // 1/50 of the peak is not a schedule that took the rate away
    Finding halfway = analyze(stoppedWeights(true, 2e-3), only(ID)).findings().get(0);

    assertThat(List.of(fullRate, notLearned, halfway))
        .allSatisfy(
            f -> {
              assertThat(f.severity()).isEqualTo(Severity.ERROR);
              assertThat(f.evidence().get(EvidenceKeys.LEARNING_RATE)).isNull();
            });
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
