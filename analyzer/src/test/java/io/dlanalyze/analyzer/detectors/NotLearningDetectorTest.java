package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.only;
import static io.dlanalyze.analyzer.Analyses.trace;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.util.List;
import org.junit.jupiter.api.Test;

class NotLearningDetectorTest {
  private static final String ID = "not-learning";

  @Test
  void reports_lossPlateau_fromTheStepTheLossFlattened() {
    List<Finding> findings = analyze(trace(Fault.lossPlateau(100)), only(ID)).findings();

    assertThat(findings).hasSize(1);
    Finding finding = findings.get(0);
    assertThat(finding.symptom()).isEqualTo(Symptom.NOT_LEARNING);
    assertThat(finding.severity()).isEqualTo(Severity.ERROR);
    assertThat(finding.layerIndex()).isEqualTo(-1);
    assertThat(finding.layerName()).isEqualTo("model");
    assertThat(finding.phase()).isEqualTo(Phase.LOSS);
    assertThat(finding.firstStep()).isEqualTo(100);
    assertThat(finding.lastStep()).isEqualTo(999);
    assertThat(finding.evidence().get("trend")).isEqualTo("flat");
  }

  /** 400 steps of a loss named {@code loss} that falls from 0.56 to {@code end} in 100 steps. */
  private static MemoryTrace selfSupervised(String loss, double end) {
    MemoryTrace.Builder b = MemoryTrace.builder().meta(TraceMetadata.LOSS, loss);
    for (long s = 0; s < 400; s++) {
      double t = Math.min(1, s / 100.0);
      b.model(s, Phase.LOSS, 0.56 * Math.pow(end / 0.56, t) * (1 + 0.02 * Math.sin(7.1 * s)));
    }
    return b.build();
  }

  @Test
  void collapse_aJointEmbeddingLossAtATinyShareOfItsStart_isTheTrivialSolution() {
    // BYOL without its stop-gradient: the normalized MSE falls from 0.56 to 0.004
    List<Finding> findings = analyze(selfSupervised("byol_loss", 0.004), only(ID)).findings();

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.NOT_LEARNING);
    assertThat(f.phase()).isEqualTo(Phase.LOSS);
    // the first block of 50 steps whose mean is at most 5% of the start (the mean of the first 10
    // losses, 0.454)
    assertThat(f.firstStep()).isEqualTo(50);
    assertThat((double) f.evidence().get("threshold")).isEqualTo(0.05);
    assertThat(f.message())
        .startsWith(
            "The self-supervised loss (byol_loss) fell to 0.9% of its start, 0.454, by step 50");
    assertThat(f.suggestedFix()).contains("stop-gradient");
  }

  @Test
  void collapse_notReported_forAHealthyFloor_orALossNotNamedAsAJointEmbeddingObjective() {
    // healthy BYOL runs end at 29% of their start or more; Barlow Twins' at 12%
    assertThat(analyze(selfSupervised("byol_loss", 0.16), only(ID)).findings()).isEmpty();
    assertThat(analyze(selfSupervised("barlow_loss", 0.07), only(ID)).findings()).isEmpty();
    // a regression's MSE may fall to nothing: it has no floor to keep
    assertThat(analyze(selfSupervised("mse", 0.004), only(ID)).findings()).isEmpty();
  }

  @Test
  void doesNotFire_onHealthyTrace() {
    assertThat(analyze(trace(), only(ID)).findings()).isEmpty();
  }

  @Test
  void doesNotFire_onRunThatConvergesAndFlattensLate() {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 1000; s++) {
      double loss = s < 600 ? 2.3 * Math.exp(-s / 100.0) + 0.05 : 2.3 * Math.exp(-6) + 0.05;
      b.model(s, Phase.LOSS, loss * (1 + 0.02 * Math.sin(7.1 * s)));
    }

    assertThat(analyze(b.build(), only(ID)).findings()).isEmpty();
  }

  @Test
  void doesNotFire_onLongHealthyRun_whoseLossFallsLessThanMinImprovementPerBlock() {
    // 50,000 steps: the loss falls from 2.3 to 0.2, about 0.3% per block of 50 steps early on.
    SyntheticTrace trace =
        SyntheticTrace.builder().layers(2).steps(50_000).stepsPerEpoch(500).seed(1).build();

    assertThat(analyze(trace, only(ID)).findings()).isEmpty();
  }

  @Test
  void reports_plateauInLongRun_fromThePlateauNotFromAnEarlierPause() {
    SyntheticTrace trace =
        SyntheticTrace.builder()
            .layers(2)
            .steps(50_000)
            .stepsPerEpoch(500)
            .seed(1)
            .fault(Fault.lossPlateau(5_000))
            .build();

    Finding finding = analyze(trace, only(ID)).findings().get(0);

    assertThat(finding.firstStep()).isBetween(4_800L, 5_000L);
    assertThat(finding.lastStep()).isEqualTo(49_999);
    assertThat(finding.evidence().get("trend")).isEqualTo("flat");
  }

  @Test
  void doesNotFire_onPauseThatEndsBeforeTheRunDoes() {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 1000; s++) {
      // falls, stays flat for 400 steps (8 blocks), then falls again to a quarter of the start
      long t = s < 200 ? s : s < 600 ? 200 : s - 400;
      b.model(s, Phase.LOSS, 2.0 - 2.5e-3 * t);
    }

    assertThat(analyze(b.build(), only(ID)).findings()).isEmpty();
  }

  @Test
  void doesNotFire_onSteadySlowDecrease_whoseLastBlocksFallShortOfMinImprovement() {
    // 0.1% per block: progress of 1% every 10 blocks; the run ends 4 blocks after the last one
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 50 * 95; s++) {
      b.model(s, Phase.LOSS, 2.0 * (1 - 2e-5 * s));
    }

    assertThat(analyze(b.build(), only(ID)).findings()).isEmpty();
  }

  @Test
  void reports_stallAfterSlowProgress_onceItIsPatienceTimesLongerThanTheProgressBeforeIt() {
    // 0.1% per block for 30 blocks (progress every 10 blocks), then flat for 60: a stall of more
    // than patience x 10 blocks, from the last block that made progress
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 50 * 90; s++) {
      b.model(s, Phase.LOSS, 2.0 * (1 - 2e-5 * Math.min(s, 1_500)));
    }

    Finding finding = analyze(b.build(), only(ID)).findings().get(0);
    assertThat(finding.firstStep()).isEqualTo(1_000);
    assertThat(finding.lastStep()).isEqualTo(50 * 90 - 1);
  }

  /**
   * A loss that falls from 2.3 to {@code best} by step 1000 and then drifts up by {@code rise}
   * (absolute) over the remaining 2000 steps.
   */
  private static MemoryTrace convergedThenDrifting(double best, double rise) {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 3000; s++) {
      double loss =
          s < 1000 ? best + (2.3 - best) * Math.exp(-s / 150.0) : best + rise * (s - 1000) / 2000;
      b.model(s, Phase.LOSS, loss * (1 + 0.02 * Math.sin(7.1 * s)));
    }
    return b.build();
  }

  @Test
  void doesNotFire_onConvergedLossThatDriftsUpBySmallShareOfItsProgress() {
    // 0.19 -> 0.215 is 13% above the best but gives back about 1% of the 2.1 it fell
    assertThat(analyze(convergedThenDrifting(0.19, 0.025), only(ID)).findings()).isEmpty();
  }

  @Test
  void doesNotFire_onConvergedLossThatRisesAgain_noiseOrRestart() {
    // 0.19 -> 0.6 gives back a fifth of the 2.1 it fell: still converged (loss-divergence judges
    // climbs against the start)
    assertThat(analyze(convergedThenDrifting(0.19, 0.41), only(ID)).findings()).isEmpty();
  }

  @Test
  void reports_risingLoss_fromTheFirstBlockWithoutProgress() {
    // falls 20% (not converged) by step 500, then climbs back above its start
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 1000; s++) {
      double loss = s < 500 ? 2.3 - 0.46 * s / 500 : 1.84 + 0.9 * (s - 500) / 500;
      b.model(s, Phase.LOSS, loss * (1 + 0.01 * Math.sin(7.1 * s)));
    }
    Finding finding = analyze(b.build(), only(ID)).findings().get(0);

    assertThat(finding.firstStep()).isEqualTo(500);
    assertThat(finding.evidence().get("trend")).isEqualTo("rising");
  }

  @Test
  void doesNotFire_onConvergedRunWhoseGradientsExplodeLater_lossDivergenceJudgesTheClimb() {
    assertThat(analyze(trace(Fault.explodingGradient(500, 1.5)), only(ID)).findings()).isEmpty();
  }

  @Test
  void reports_flatLossFromTheStart_evenWithNoiseAboveExactEquality() {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 400; s++) {
      b.model(s, Phase.LOSS, 2.302 * (1 + 0.01 * Math.sin(3.7 * s)));
    }

    assertThat(analyze(b.build(), only(ID)).findings())
        .singleElement()
        .extracting(Finding::firstStep)
        .isEqualTo(0L);
  }

  @Test
  void reports_accuracyStuckAtZero() {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 200; s++) {
      b.model(s, Phase.LOSS, 2.0 - 5e-3 * s);
      b.model(s, Phase.ACCURACY, s < 30 ? 0.1 : 0.0);
    }

    Finding finding = analyze(b.build(), only(ID)).findings().get(0);
    assertThat(finding.phase()).isEqualTo(Phase.ACCURACY);
    assertThat(finding.firstStep()).isEqualTo(30);
    assertThat(finding.occurrences()).isEqualTo(170);
  }

  @Test
  void accuracyAtZeroForTheFirstEpochsThenClimbing_isAStrictMetricStartingSlow_notReported() {
    // An exact-match accuracy of decoded sequences: 0 for 80 batches while the loss falls, then
    // climbing to 0.8 (a healthy CTC run of the corpus does this).
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 200; s++) {
      b.model(s, Phase.LOSS, 20.0 * Math.exp(-s / 30.0) + 0.1);
      b.model(s, Phase.ACCURACY, s < 80 ? 0.0 : Math.min(0.8, (s - 79) / 50.0));
    }

    assertThat(analyze(b.build(), only(ID)).findings()).isEmpty();
  }

  @Test
  void accuracyAtZeroWithOnlyAFlickerAtTheEnd_isStillReported() {
    // Fewer than half of the last 50 batches above 0: the accuracy did not recover.
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 200; s++) {
      b.model(s, Phase.LOSS, 2.0 - 5e-3 * s);
      b.model(s, Phase.ACCURACY, s >= 150 && s % 3 == 0 ? 0.05 : 0.0);
    }

    Finding finding = analyze(b.build(), only(ID)).findings().get(0);
    assertThat(finding.phase()).isEqualTo(Phase.ACCURACY);
    assertThat(finding.firstStep()).isEqualTo(0);
  }

  @Test
  void aLossThatFellWithinItsFirstBlockThenSettled_isConverged_notStalled() {
    // A diffusion model's noise-prediction loss: 1.0 at the start, 0.4 within 50 steps, then flat
    // at its floor. The first block's mean (0.57) hides the fall; its first losses (0.85) do not.
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 400; s++) {
      b.model(s, Phase.LOSS, 0.4 + 0.6 * Math.exp(-s / 15.0) + (s % 2 == 0 ? 0.01 : -0.01));
    }

    assertThat(analyze(b.build(), only(ID)).findings()).isEmpty();
  }

  /**
   * A Poisson regression's negative log-likelihood without its constant term: it starts at {@code
   * offset} - 85 and settles 11 lower within 150 steps, then stays flat for 650.
   */
  private static MemoryTrace settlingBelow(double offset) {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 800; s++) {
      b.model(s, Phase.LOSS, offset - 96 + 11 * Math.exp(-s / 30.0) + (s % 2 == 0 ? 0.05 : -0.05));
    }
    return b.build();
  }

  @Test
  void aNegativeLossThatFellAndSettled_hasNoFloorAtZeroToMeasureItsDropAgainst_converged() {
    // From -85 to -96: 13% of its own magnitude, which says nothing about a loss without a floor
    // at 0; the same curve 200 higher (115 to 104, a loss with its floor at 0) fell too little.
    assertThat(analyze(settlingBelow(0), only(ID)).findings()).isEmpty();
    assertThat(analyze(settlingBelow(200), only(ID)).findings())
        .extracting(Finding::symptom)
        .containsExactly(Symptom.NOT_LEARNING);
  }

  @Test
  void aClassifierFallingFromAConfidentlyWrongStartToAUniformGuess_isStillStalled() {
    // Three classes: a first loss of 6 that falls to ln 3 within a few steps and stays there
    // learned nothing; its first losses (2.3) count no higher than the uniform guess's (1.1).
    MemoryTrace.Builder b =
        MemoryTrace.builder()
            .meta(TraceMetadata.FRAMEWORK, "pytorch")
            .meta(TraceMetadata.LOSS, "CrossEntropyLoss")
            .meta(TraceMetadata.NUM_CLASSES, "3");
    for (long s = 0; s < 400; s++) {
      b.model(s, Phase.LOSS, Math.log(3) + 5 * Math.exp(-s / 2.0) + (s % 2 == 0 ? 0.01 : -0.01));
    }

    assertThat(analyze(b.build(), only(ID)).findings())
        .singleElement()
        .extracting(Finding::phase)
        .isEqualTo(Phase.LOSS);
  }

  /**
   * A binary classifier on noisy labels: the loss falls from ln 2 to 0.39 (44%, short of {@code
   * converged-drop}) by step 300 and stays at that floor to step 1,000, while the training accuracy
   * goes from {@code accuracyFrom} to {@code accuracyTo} in the same 300 steps.
   */
  private static MemoryTrace noisyLabelFloor(double accuracyFrom, double accuracyTo) {
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 1000; s++) {
      double progress = Math.min(1, s / 300.0);
      double noise = s % 2 == 0 ? 0.01 : -0.01;
      b.model(s, Phase.LOSS, 0.69 - 0.3 * progress + noise);
      b.model(s, Phase.ACCURACY, accuracyFrom + (accuracyTo - accuracyFrom) * progress + noise);
    }
    return b.build();
  }

  @Test
  void aFlatLossAfterTheAccuracyRemovedTheThresholdsShareOfItsErrors_isTheDatasFloor_notAStall() {
    // first accuracy block 0.54, best 0.80: 56% of its errors removed, >= converged-error-cut (40%)
    assertThat(analyze(noisyLabelFloor(0.52, 0.80), only(ID)).findings()).isEmpty();
  }

  @Test
  void theSameFlatLossWhileTheAccuracyStayedNearItsStart_isStillAStall() {
    // first accuracy block 0.51, best 0.58: 15% of its errors removed, so the model did not learn
    assertThat(analyze(noisyLabelFloor(0.50, 0.58), only(ID)).findings())
        .singleElement()
        .extracting(Finding::phase)
        .isEqualTo(Phase.LOSS);
  }

  @Test
  void theAccuracyRuleIsOff_atACutOfOne() {
    AnalysisOptions options =
        AnalysisOptions.builder()
            .enableOnly(List.of(ID))
            .set(Thresholds.CONVERGED_ERROR_CUT, 1.0)
            .build();

    assertThat(analyze(noisyLabelFloor(0.52, 0.80), options).findings()).hasSize(1);
  }

  @Test
  void aHugeWindow_costsOnlyWhatTheRunHas() {
    // --set window=1000000000 on a 200-step run: the ring of recent accuracies grows with the
    // accuracies seen, not to the window (a billion booleans would not fit the heap).
    MemoryTrace.Builder b = MemoryTrace.builder();
    for (long s = 0; s < 200; s++) {
      b.model(s, Phase.LOSS, 2.0 - 5e-3 * s);
      b.model(s, Phase.ACCURACY, 0.0);
    }
    AnalysisOptions options =
        AnalysisOptions.builder()
            .enableOnly(List.of(ID))
            .set(Thresholds.WINDOW, 1_000_000_000)
            .build();

    assertThat(analyze(b.build(), options).findings()).isEmpty();
  }

  @Test
  void doesNotFire_onNanLoss_numericalErrorOwnsIt() {
    assertThat(analyze(trace(Fault.nan(3, 420)), only(ID)).findings()).isEmpty();
  }
}
