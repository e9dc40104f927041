package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.only;
import static io.dlanalyze.analyzer.Analyses.trace;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.EvidenceKeys;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Row;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.synthetic.Fault;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.LongPredicate;
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

  /**
   * Two layers trained 20 steps; from step {@code at} the loss is NaN and so are the gradients and
   * the weights written after that step's update; the forward rows of step {@code at} are finite
   * unless {@code forwardNaN}; with {@code forwardRows} false the trace has no forward rows.
   */
  private static MemoryTrace nanAfterForward(long at, boolean forwardRows, boolean forwardNaN) {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 20; s++) {
      boolean bad = s >= at;
      b.model(s, Phase.LOSS, bad ? Double.NaN : 1.0 - 0.01 * s);
      for (int l = 0; l < 2; l++) {
        String name = "fc" + l;
        if (forwardRows) {
          boolean nanForward = s > at || (s == at && forwardNaN);
          b.layer(s, l, name, "Linear", Phase.FORWARD, nanForward ? Double.NaN : 0.1 * (l + 1));
        }
        b.layer(s, l, name, "Linear", Phase.GRADIENT, bad ? Double.NaN : 1e-3);
        b.layer(s, l, name, "Linear", Phase.WEIGHT, bad ? Double.NaN : 0.02 + 1e-4 * s);
      }
    }
    return b.build();
  }

  @Test
  void nanBornInTheLoss_afterAFiniteForwardPass_isTheLossNotTheWeightsWrittenAfterTheUpdate() {
    Finding finding = analyze(nanAfterForward(5, true, false), only(ID)).findings().get(0);

    assertThat(finding.phase()).isEqualTo(Phase.LOSS);
    assertThat(finding.isModelLevel()).isTrue();
    assertThat(finding.firstStep()).isEqualTo(5);
    assertThat(finding.consequences())
        .extracting(Consequence::layerName, Consequence::phase)
        .contains(
            org.assertj.core.groups.Tuple.tuple("fc1", Phase.WEIGHT),
            org.assertj.core.groups.Tuple.tuple("fc0", Phase.GRADIENT));
  }

  @Test
  void nanWeights_withoutAFiniteForwardPassThatStep_keepDeepLocalizesOrder() {
    // no forward rows: nothing shows the weights were finite when the loss was computed
    Finding noForward = analyze(nanAfterForward(5, false, false), only(ID)).findings().get(0);
    // the forward pass itself NaN: it comes first, as before
    Finding nanForward = analyze(nanAfterForward(5, true, true), only(ID)).findings().get(0);

    assertThat(noForward.phase()).isEqualTo(Phase.WEIGHT);
    assertThat(noForward.layerName()).isEqualTo("fc1");
    assertThat(nanForward.phase()).isEqualTo(Phase.FORWARD);
    assertThat(nanForward.layerName()).isEqualTo("fc0");
  }

  @Test
  void nanForwardOnWeightsAnUnrecordedUpdateTurnedNaN_isRootedAtTheUpdate_atModelScope() {
    // recorded every 4 steps: every layer's weights finite at step 4, NaN at step 8, and the first
    // layer's forward pass of step 8 NaN: it ran on weights an update of steps 5 to 7 made NaN
    MemoryTrace sampled = nanAfterForward(8, true, true).sampledEvery(4);

    Finding finding = analyze(sampled, only(ID)).findings().get(0);
    RootCause root = analyze(sampled, AnalysisOptions.defaults()).rootCause();

    assertThat(finding.isModelLevel()).isTrue();
    assertThat(finding.phase()).isEqualTo(Phase.LOSS);
    assertThat(finding.firstStep()).isEqualTo(8);
    assertThat(finding.evidence().get(EvidenceKeys.LAST_FINITE_STEP)).isEqualTo(4L);
    assertThat(finding.consequences().get(0))
        .extracting(Consequence::layerName, Consequence::phase)
        .containsExactly("fc0", Phase.FORWARD);
    assertThat(finding.message())
        .startsWith(
            "The weights of all 2 trainable layers recorded at step 8 were NaN, finite at step"
                + " 4: an update in between, which the trace did not record,");
    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("numerical_error");
  }

  @Test
  void nanInTheForwardPassOfTheFirstStep_isBornBeforeAnyUpdate_atModelScope() {
    MemoryTrace trace = nanAfterForward(0, true, true);
    Finding finding = analyze(trace, only(ID)).findings().get(0);
    RootCause root = analyze(trace, AnalysisOptions.defaults()).rootCause();

    assertThat(finding.layerName()).isEqualTo("fc0");
    assertThat(finding.phase()).isEqualTo(Phase.FORWARD);
    assertThat(finding.evidence().get(EvidenceKeys.BEFORE_FIRST_UPDATE)).isTrue();
    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("numerical_error");
    assertThat(root.cause())
        .startsWith("Numerical error (NaN/Inf) in the forward code before any update")
        .contains("output of fc0 was NaN at step 0", "initial weights");
    assertThat(root.suggestedFix()).contains("fc0", "log(x + 1e-6)", "softplus");
  }

  @Test
  void nanInTheForwardPassAfterUpdates_staysAtTheLayer() {
    MemoryTrace trace = nanAfterForward(5, true, true);
    Finding finding = analyze(trace, only(ID)).findings().get(0);
    RootCause root = analyze(trace, AnalysisOptions.defaults()).rootCause();

    assertThat(finding.evidence().get(EvidenceKeys.BEFORE_FIRST_UPDATE)).isNull();
    assertThat(root.scope()).isEqualTo(RootCause.LAYER);
    assertThat(root.layerName()).isEqualTo("fc0");
  }

  @Test
  void nanAtTheFirstStepOfATraceThatStartsLate_isNotBeforeTheFirstUpdate() {
    // a resumed run recorded from step 100: its weights were trained before the trace starts
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 100; s < 120; s++) {
      b.model(s, Phase.LOSS, Double.NaN);
      b.layer(s, 0, "fc0", "Linear", Phase.FORWARD, Double.NaN);
      b.layer(s, 0, "fc0", "Linear", Phase.WEIGHT, 0.02);
    }
    Finding finding = analyze(b.build(), only(ID)).findings().get(0);

    assertThat(finding.firstStep()).isEqualTo(100);
    assertThat(finding.phase()).isEqualTo(Phase.FORWARD);
    assertThat(finding.evidence().get(EvidenceKeys.BEFORE_FIRST_UPDATE)).isNull();
  }

  @Test
  void nanBornInTheLossAtTheFirstStep_isNotALayerOutput() {
    Finding finding = analyze(nanAfterForward(0, true, false), only(ID)).findings().get(0);

    assertThat(finding.phase()).isEqualTo(Phase.LOSS);
    assertThat(finding.evidence().get(EvidenceKeys.BEFORE_FIRST_UPDATE)).isNull();
  }

  @Test
  void doesNotFire_onHealthyTrace() {
    assertThat(analyze(trace(), only(ID)).findings()).isEmpty();
  }

  @Test
  void doesNotFire_onDeadLayer() {
    assertThat(analyze(trace(Fault.deadLayer(2, 300)), only(ID)).findings()).isEmpty();
  }

  /**
   * A healthy synthetic run (6 layers, 1000 steps) whose weight and output gradients are Inf at the
   * steps {@code overflow}, as when a loss scaler's scale overflows float16; the loss stays finite.
   * {@code weights}: what happens to the weight rows at those steps: "kept" (the update was
   * skipped), "nan" (the update wrote the NaN into the weights, from that step on) or "missing"
   * (not recorded).
   */
  private static MemoryTrace overflowing(LongPredicate overflow, String weights) {
    MemoryTrace healthy = MemoryTrace.of(trace());
    List<Row> rows = new ArrayList<>();
    long firstOverflow = -1;
    for (Row row : healthy.rows()) {
      boolean at = overflow.test(row.step());
      if (at && firstOverflow < 0) {
        firstOverflow = row.step();
      }
      switch (row.phase()) {
        case "gradient", "backward" -> rows.add(at ? row.withMean(Double.POSITIVE_INFINITY) : row);
        case "weight" -> {
          if (weights.equals("nan") && firstOverflow >= 0) {
            rows.add(row.withMean(Double.NaN));
          } else if (!(weights.equals("missing") && at)) {
            rows.add(row);
          }
        }
        default -> rows.add(row);
      }
    }
    return MemoryTrace.of(healthy.metadata(), rows);
  }

  @Test
  void skippedUpdatesAtTheStart_healthyWithAnInfoFinding() {
    Report report = analyze(overflowing(step -> step < 8, "kept"), AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.HEALTHY);
    List<Finding> numerical =
        report.findings().stream().filter(f -> f.detector().equals(ID)).toList();
    assertThat(numerical).hasSize(1);
    Finding finding = numerical.get(0);
    assertThat(finding.severity()).isEqualTo(Severity.INFO);
    assertThat(finding.symptom()).isEqualTo(Symptom.NUMERICAL_ERROR);
    assertThat(finding.firstStep()).isEqualTo(0);
    assertThat(finding.lastStep()).isEqualTo(7);
    assertThat(finding.occurrences()).isEqualTo(8);
    assertThat(finding.evidence().get("rule")).isEqualTo("transient");
    assertThat(finding.evidence().get("skipped_steps")).isEqualTo(8L);
    assertThat(finding.evidence().get("longest_skipped_run")).isEqualTo(8L);
    assertThat(finding.evidence().get("gradient_steps")).isEqualTo(1_000L);
    assertThat(finding.message())
        .contains(
            "8 updates were skipped",
            "first at step 0 and the last at step 7",
            "dynamic loss scaler");
    assertThat(report.findings())
        .allMatch(f -> !f.severity().atLeast(Severity.WARNING), "nothing above info");
  }

  @Test
  void oneSkippedUpdatePerGrowthInterval_staysInfo() {
    Finding finding =
        analyze(overflowing(step -> step < 5 || step % 200 == 0, "kept"), only(ID))
            .findings()
            .get(0);

    assertThat(finding.severity()).isEqualTo(Severity.INFO);
    assertThat(finding.evidence().get("skipped_steps")).isEqualTo(9L);
    assertThat(finding.lastStep()).isEqualTo(800);
  }

  @Test
  void nanGradientThatReachesTheWeights_staysACriticalNumericalError() {
    Report report = analyze(overflowing(step -> step >= 300, "nan"), AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    Finding finding =
        report.findings().stream().filter(f -> f.detector().equals(ID)).findFirst().orElseThrow();
    assertThat(finding.severity()).isEqualTo(Severity.CRITICAL);
    assertThat(finding.firstStep()).isEqualTo(300);
    assertThat(finding.evidence().asMap()).doesNotContainKey("skipped_steps");
  }

  @Test
  void skippedStepWithoutAWeightRow_isStillANumericalError() {
    List<Finding> findings = analyze(overflowing(step -> step < 3, "missing"), only(ID)).findings();

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).severity()).isEqualTo(Severity.CRITICAL);
    assertThat(findings.get(0).firstStep()).isEqualTo(0);
  }

  @Test
  void skippingForAWindowInARow_isAWarning() {
    Report report =
        analyze(overflowing(step -> step >= 400 && step < 460, "kept"), AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    Finding finding =
        report.findings().stream().filter(f -> f.detector().equals(ID)).findFirst().orElseThrow();
    assertThat(finding.severity()).isEqualTo(Severity.WARNING);
    assertThat(finding.evidence().get("rule")).isEqualTo("in_a_row");
    assertThat(finding.evidence().get("longest_skipped_run")).isEqualTo(60L);
    assertThat(finding.message()).contains("60 steps in a row", "thrown away");
    assertThat(Objects.requireNonNull(report.rootCause()).cause())
        .contains("60 updates were skipped");
  }

  @Test
  void skippingMostSteps_isAWarning() {
    Finding finding =
        analyze(overflowing(step -> step % 3 != 0, "kept"), only(ID)).findings().get(0);

    assertThat(finding.severity()).isEqualTo(Severity.WARNING);
    assertThat(finding.evidence().get("rule")).isEqualTo("mostly");
    assertThat(finding.evidence().get("longest_skipped_run")).isEqualTo(2L);
    assertThat(finding.message()).contains("thrown away");
  }

  /**
   * A Gaussian head: mu and a scale head (its activation given), the loss NaN from step {@code
   * nanAt}; the scale head's outputs reach {@code low} (a min at or below 0) from step {@code
   * lowFrom}, and are positive before.
   */
  private static MemoryTrace.Builder gaussianHead(
      String scaleName, String scaleActivation, long lowFrom, double low, long nanAt) {
    MemoryTrace.Stats nan =
        new MemoryTrace.Stats(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0.0, 1L);
    return MemoryTrace.scripted(40)
        .layer("hidden", "relu")
        .layer("mu_head", "linear")
        .layer(scaleName, scaleActivation)
        .stream(Phase.FORWARD, 0, step -> MemoryTrace.Stats.of(0.5, 0.3))
        .stream(
            Phase.FORWARD, 1, step -> new MemoryTrace.Stats(0.1, 1.0, -2.5, 2.5, 10.0, 0.0, 64L))
        .stream(
            Phase.FORWARD,
            2,
            step ->
                step >= lowFrom
                    ? new MemoryTrace.Stats(0.2, 0.4, low, 1.2, 4.0, 0.0, 64L)
                    : new MemoryTrace.Stats(0.5, 0.1, 0.2, 0.9, 4.0, 0.0, 64L))
        .model(
            Phase.LOSS, step -> step >= nanAt ? nan : MemoryTrace.Stats.scalar(2.0 - 0.01 * step));
  }

  @Test
  void lossNaN_afterALinearScaleHeadReachedZero_isRootedAtTheHead() {
    Report report = analyze(gaussianHead("sigma_head", "linear", 3, -0.4, 5).build(), only(ID));

    assertThat(report.findings()).hasSize(1);
    Finding f = report.findings().get(0);
    assertThat(f.layerName()).isEqualTo("sigma_head");
    assertThat(f.phase()).isEqualTo(Phase.FORWARD);
    assertThat(f.firstStep()).isEqualTo(5);
    assertThat(f.evidence().get(EvidenceKeys.SCALE_MIN)).isEqualTo(-0.4);
    assertThat(f.evidence().get(EvidenceKeys.SCALE_MIN_STEP)).isEqualTo(3L);
    assertThat(f.consequences().get(0).phase()).isEqualTo(Phase.LOSS);
    assertThat(f.message())
        .startsWith(
            "The loss first turned NaN at step 5 (mean NaN), after the outputs of sigma_head")
        .contains("reached -0.4 at step 3");
    RootCause root = report.rootCause();
    assertThat(root.scope()).isEqualTo(RootCause.LAYER);
    assertThat(root.layerName()).isEqualTo("sigma_head");
    assertThat(root.cause()).contains("the loss first turned NaN at step 5");
    assertThat(root.suggestedFix())
        .startsWith("Keep sigma_head's outputs above 0: end it in a softplus");
  }

  @Test
  void lossNaN_withAScaleHeadThatStayedPositiveUntilAfterIt_staysAtTheLoss() {
    Finding f =
        analyze(gaussianHead("sigma_head", "linear", 8, -0.4, 5).build(), only(ID))
            .findings()
            .get(0);

    assertThat(f.layerIndex()).isEqualTo(-1);
    assertThat(f.phase()).isEqualTo(Phase.LOSS);
    assertThat(f.evidence().get(EvidenceKeys.SCALE_MIN)).isNull();
  }

  @Test
  void lossNaN_aLogScaleOrAnActivatedScale_isNotAScaleHead() {
    for (String[] head :
        new String[][] {{"z_log_var", "linear"}, {"logSigma", "linear"}, {"sigma", "softplus"}}) {
      Finding f =
          analyze(gaussianHead(head[0], head[1], 3, -0.4, 5).build(), only(ID)).findings().get(0);
      assertThat(f.phase()).as(head[0]).isEqualTo(Phase.LOSS);
    }
  }

  @Test
  void scaleHeads_areNamedAsScales_withALinearOutput() {
    for (String name : new String[] {"mdn_sigmas", "dec_std.0", "zStd", "scale", "noise_var"}) {
      assertThat(NumericalErrorDetector.scaleHead(layer(name, "linear"))).as(name).isTrue();
    }
    for (String name : new String[] {"mu_head", "log_std", "z_log_var", "standard", "sigmoid"}) {
      assertThat(NumericalErrorDetector.scaleHead(layer(name, "linear"))).as(name).isFalse();
    }
    assertThat(NumericalErrorDetector.scaleHead(layer("std", "softplus"))).isFalse();
  }

  private static io.dlanalyze.analyzer.Layer layer(String name, String activation) {
    return new io.dlanalyze.analyzer.Layer(0, name, "Linear", activation, true);
  }
}
