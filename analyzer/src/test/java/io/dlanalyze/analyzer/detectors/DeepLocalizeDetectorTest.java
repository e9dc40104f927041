package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.deeplocalize;
import static io.dlanalyze.analyzer.Analyses.trace;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.synthetic.Fault;
import org.junit.jupiter.api.Test;

class DeepLocalizeDetectorTest {
  /** Overrides one stream value of the hand-made model; returns the value to record. */
  interface Override {
    double apply(long step, int layer, Phase phase, double value);
  }

  /**
   * A mean-only trace of a 3-layer Keras-like MLP (dense_1, dense_2 Dense; flatten_1 first) whose
   * healthy values never repeat and are never 0.
   */
  static MemoryTrace model(int steps, int stepsPerEpoch, Override override) {
    MemoryTrace.Builder b = MemoryTrace.builder().stepsPerEpoch(stepsPerEpoch);
    String[] names = {"flatten_1", "dense_1", "dense_2"};
    String[] types = {"Flatten", "Dense", "Dense"};
    for (long s = 0; s < steps; s++) {
      for (int l = 0; l < 3; l++) {
        b.layer(
            s,
            l,
            names[l],
            types[l],
            Phase.ACTIVATION,
            override.apply(s, l, Phase.ACTIVATION, 0.3 + 0.01 * l + 1e-3 * Math.sin(s + l)));
      }
      b.model(
          s,
          Phase.LOSS,
          override.apply(s, -1, Phase.LOSS, 2.0 - 1e-3 * s + 1e-4 * Math.sin(3 * s)));
      b.model(
          s,
          Phase.ACCURACY,
          override.apply(s, -1, Phase.ACCURACY, 0.1 + 5e-4 * s + 1e-4 * Math.cos(3 * s)));
      for (int l = 2; l >= 0; l--) {
        b.layer(
            s,
            l,
            names[l],
            types[l],
            Phase.BACKWARD,
            override.apply(s, l, Phase.BACKWARD, 1e-3 * (1 + l) + 1e-5 * Math.cos(s * 1.3 + l)));
      }
      for (int l = 1; l < 3; l++) {
        b.layer(
            s,
            l,
            names[l],
            types[l],
            Phase.GRADIENT,
            override.apply(s, l, Phase.GRADIENT, 1e-2 * l + 1e-4 * Math.sin(s * 0.7 + l)));
      }
      for (int l = 1; l < 3; l++) {
        b.layer(
            s,
            l,
            names[l],
            types[l],
            Phase.WEIGHT,
            override.apply(s, l, Phase.WEIGHT, 0.05 * l + 1e-5 * s + 1e-6 * Math.sin(s + 2 * l)));
      }
    }
    return b.build();
  }

  private static Finding only(Report report) {
    assertThat(report.findings()).hasSize(1);
    return report.findings().get(0);
  }

  @Test
  void reports_softmaxOutputOfHealthyClassifier_atBatch4AsDeepLocalizeDoes() {
    Report report = analyze(trace(), deeplocalize());

    Finding finding = only(report);
    assertThat(finding.message()).isEqualTo("Batch 4 layer 5: Error in forward");
    assertThat(finding.symptom()).isEqualTo(Symptom.UNCHANGED_VALUES);
    assertThat(finding.layerName()).isEqualTo("fc5");
    assertThat(finding.phase()).isEqualTo(Phase.ACTIVATION);
    assertThat(finding.firstStep()).isEqualTo(4);
    assertThat(finding.evidence().get("printed"))
        .isEqualTo("Batch 4 layer 5: Error in forward, terminating training");
    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    assertThat(report.rootCause().suggestedFix()).isNull();
  }

  @Test
  void defaultMode_softmaxOutputOfHealthyClassifier_staysHealthy() {
    Report report = analyze(trace(), AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.HEALTHY);
    assertThat(report.findings()).noneMatch(f -> f.severity().atLeast(Severity.WARNING));
  }

  @Test
  void doesNotFire_onHealthyModelWithoutConstantStreams() {
    assertThat(analyze(model(200, 50, (s, l, p, v) -> v), deeplocalize()).findings()).isEmpty();
  }

  @Test
  void reports_nanInForward_withInEpochBatchIndex() {
    MemoryTrace trace =
        model(100, 30, (s, l, p, v) -> s == 37 && l == 2 && p == Phase.ACTIVATION ? Double.NaN : v);

    Finding finding = only(analyze(trace, deeplocalize()));

    assertThat(finding.message()).isEqualTo("Batch 7 layer 2: Error in forward");
    assertThat(finding.symptom()).isEqualTo(Symptom.NUMERICAL_ERROR);
    assertThat(finding.firstStep()).isEqualTo(37);
    assertThat(finding.epoch()).isEqualTo(1);
    assertThat(finding.batch()).isEqualTo(7);
    assertThat(finding.evidence().get("counter")).isEqualTo(38L);
  }

  @Test
  void reports_weightsBeforeOutputGradient_inCheckOrder() {
    MemoryTrace trace =
        model(
            100,
            1000,
            (s, l, p, v) ->
                s == 12 && (l == 0 && p == Phase.BACKWARD || l == 2 && p == Phase.WEIGHT)
                    ? Double.POSITIVE_INFINITY
                    : v);

    assertThat(only(analyze(trace, deeplocalize())).message())
        .isEqualTo("Batch 12 layer 2: Error in Weights");
  }

  @Test
  void reports_invalidLoss_andInvalidAccuracy() {
    MemoryTrace loss = model(50, 1000, (s, l, p, v) -> s == 9 && p == Phase.LOSS ? Double.NaN : v);
    MemoryTrace accuracy =
        model(50, 1000, (s, l, p, v) -> s == 9 && p == Phase.ACCURACY ? Double.NaN : v);

    assertThat(only(analyze(loss, deeplocalize())).message()).isEqualTo("Batch 9: Invalid loss");
    assertThat(only(analyze(accuracy, deeplocalize())).message())
        .isEqualTo("Batch 9: Invalid accuracy");
    assertThat(only(analyze(accuracy, deeplocalize())).layerIndex()).isEqualTo(-1);
  }

  @Test
  void reports_zeroMeanAtFirstBatch_becauseOneIsHalfOfOne() {
    MemoryTrace trace =
        model(50, 1000, (s, l, p, v) -> s == 0 && l == 1 && p == Phase.BACKWARD ? 0.0 : v);

    Finding finding = only(analyze(trace, deeplocalize()));

    assertThat(finding.message()).isEqualTo("Batch 0 layer 1: Error in Output Gradient");
    assertThat(finding.symptom()).isEqualTo(Symptom.DEAD_OR_ZERO);
  }

  @Test
  void doesNotFire_onOneZeroMeanLate_cumulativeRuleNeedsHalfOfAllBatches() {
    MemoryTrace trace =
        model(50, 1000, (s, l, p, v) -> s == 10 && l == 1 && p == Phase.BACKWARD ? 0.0 : v);

    assertThat(analyze(trace, deeplocalize()).findings()).isEmpty();
  }

  @Test
  void reports_mdl_whenFiveLossesInABlockAreEqual() {
    MemoryTrace trace =
        model(50, 1000, (s, l, p, v) -> p == Phase.LOSS && s >= 10 && s < 15 ? 1.5 : v);

    assertThat(only(analyze(trace, deeplocalize())).message()).isEqualTo("Batch 14: MDL");
  }

  @Test
  void doesNotFire_onFiveEqualLossesAcrossTwoBlocks_blocksDoNotOverlap() {
    MemoryTrace trace =
        model(50, 1000, (s, l, p, v) -> p == Phase.LOSS && s >= 12 && s < 17 ? 1.5 : v);

    assertThat(analyze(trace, deeplocalize()).findings()).isEmpty();
  }

  @Test
  void reports_unchangedDeltaWeightsOfDenseLayer_capitalDAsDeepLocalizePrints() {
    MemoryTrace trace =
        model(
            50, 1000, (s, l, p, v) -> p == Phase.GRADIENT && l == 1 && s >= 5 && s < 10 ? 0.25 : v);

    assertThat(only(analyze(trace, deeplocalize())).message())
        .isEqualTo("Batch 9 layer 1: Error in Delta Weights");
  }

  @Test
  void doesNotFire_onUnchangedFlattenOutput() {
    MemoryTrace trace = model(50, 1000, (s, l, p, v) -> p == Phase.ACTIVATION && l == 0 ? 0.5 : v);

    assertThat(analyze(trace, deeplocalize()).findings()).isEmpty();
  }

  @Test
  void windowThreshold_changesTheBlock() {
    MemoryTrace trace =
        model(50, 1000, (s, l, p, v) -> p == Phase.LOSS && s >= 10 && s < 15 ? 1.5 : v);
    AnalysisOptions options =
        AnalysisOptions.builder()
            .mode(AnalysisMode.DEEPLOCALIZE)
            .set(Thresholds.DL_WINDOW, 10)
            .build();

    assertThat(analyze(trace, options).findings()).isEmpty();
  }

  @Test
  void meanEqualsMax_followsNumpyArithmetic() {
    assertThat(NumpyMean.meanEqualsMax(new double[] {0.1, 0.1, 0.1, 0.1, 0.1}, 5)).isTrue();
    double x = 0.3;
    assertThat(NumpyMean.meanEqualsMax(new double[] {x, x, x, x, Math.nextUp(x)}, 5)).isFalse();
    assertThat(NumpyMean.meanEqualsMax(new double[0], 0)).isFalse();
    double[] ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    assertThat(NumpyMean.pairwiseSum(ten, 0, 10)).isEqualTo(55.0);
  }

  @Test
  void stopsAtFirstHit_laterFaultsIgnored() {
    MemoryTrace trace =
        model(
            100,
            1000,
            (s, l, p, v) ->
                s == 3 && p == Phase.LOSS || s == 50 && l == 1 && p == Phase.ACTIVATION
                    ? Double.NaN
                    : v);

    assertThat(only(analyze(trace, deeplocalize())).firstStep()).isEqualTo(3);
  }

  @Test
  void nanFault_isMaskedBySoftmaxHitAtBatch4_asInDeepLocalize() {
    Finding finding = only(analyze(trace(Fault.nan(3, 420)), deeplocalize()));

    assertThat(finding.message()).isEqualTo("Batch 4 layer 5: Error in forward");
  }
}
