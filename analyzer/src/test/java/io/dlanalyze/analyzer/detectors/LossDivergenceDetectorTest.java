package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Analyses;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import java.util.function.LongFunction;
import java.util.function.LongToDoubleFunction;
import org.junit.jupiter.api.Test;

class LossDivergenceDetectorTest {
  private static final String ID = "loss-divergence";
  private static final double LOG3 = Math.log(3);

  /** A three-class cross-entropy run (PyTorch) whose loss per step is {@code loss}. */
  private static MemoryTrace.Builder classifier(LongFunction<Stats> loss) {
    return MemoryTrace.scripted(200)
        .meta(TraceMetadata.FRAMEWORK, "pytorch")
        .meta(TraceMetadata.LOSS, "CrossEntropyLoss")
        .meta(TraceMetadata.NUM_CLASSES, "3")
        .meta(TraceMetadata.OPTIMIZER, "RMSprop")
        .meta(TraceMetadata.LEARNING_RATE, "0.01")
        .layer("fc1", "relu")
        .layer("out", "Linear", "linear", 3)
        .model(Phase.LOSS, loss);
  }

  /** Starts at log(3), jumps to about 10x that after 10 steps and stays up, with batch noise. */
  private static Stats diverging(long step) {
    double level = step < 10 ? LOG3 : 10 * LOG3;
    return Stats.scalar(level * (step % 2 == 0 ? 1.2 : 0.8));
  }

  @Test
  void lossThatClimbsTenTimesAboveItsStart_fires() {
    List<Finding> findings = findings(classifier(LossDivergenceDetectorTest::diverging), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.OSCILLATION);
    assertThat(f.isModelLevel()).isTrue();
    assertThat(f.firstStep()).isEqualTo(10);
    // the first batch loss (1.2 log 3) is the start; blocks average the noise out to 10 log 3
    assertThat((double) f.evidence().get("ratio")).isCloseTo(10 / 1.2, within());
    assertThat((double) f.evidence().get("reference_loss")).isCloseTo(1.2 * LOG3, within());
    assertThat((long) f.evidence().get("blocks_above")).isEqualTo(19);
    assertThat(f.occurrences()).as("steps in the blocks above the bar").isEqualTo(190);
    assertThat(f.message()).contains("is not back below 50.0% of the start: training diverged");
  }

  @Test
  void divergence_thatDoesNotComeBack_isAWarning_andTheUpdatesAreTheCause() {
    // At 0.01, a learning rate healthy runs use: the cause is the updates' size, with every usual
    // reason.
    Report report =
        analyze(classifier(LossDivergenceDetectorTest::diverging).build(), Analyses.only(ID));

    assertThat(report.findings())
        .singleElement()
        .satisfies(f -> assertThat(f.severity()).isEqualTo(Severity.WARNING));
    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    assertThat(report.rootCause().scope()).isEqualTo("model");
    assertThat(report.rootCause().symptom()).isEqualTo("oscillation");
    assertThat(report.rootCause().cause()).startsWith("Updates too large: the loss (averaged");
    assertThat(report.rootCause().suggestedFix())
        .isEqualTo(
            "Lower the learning rate from 0.01 to about 0.001; check that the gradients are reset"
                + " every step (optimizer.zero_grad()) and clip them (e.g. at a norm of 1.0)");
  }

  @Test
  void divergence_atALearningRateFarAboveAnyHealthyRuns_isAWarning_andTheLearningRateIsTheCause() {
    // RMSprop at 2: at least twice the largest learning rate of a healthy adaptive run (0.5).
    Report report =
        analyze(
            classifier(LossDivergenceDetectorTest::diverging)
                .meta(TraceMetadata.LEARNING_RATE, "2")
                .build(),
            AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    assertThat(report.findings())
        .filteredOn(f -> f.detector().equals(ID))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.severity()).isEqualTo(Severity.WARNING);
              assertThat(f.message())
                  .endsWith(
                      "The learning rate, 2, is at least twice the largest of a healthy run with"
                          + " this optimizer.");
            });
    assertThat(report.rootCause().scope()).isEqualTo("model");
    assertThat(report.rootCause().symptom()).isEqualTo("oscillation");
    assertThat(report.rootCause().cause()).startsWith("Learning rate too high: the loss (averaged");
  }

  @Test
  void divergence_atAHighLearningRate_thatTheRunRecoversFrom_staysInfo() {
    // Starts at 2 log 3, spikes to 16 log 3 for steps 10-29, then ends at 0.2 log 3.
    List<Finding> findings =
        findings(
            classifier(
                    step -> Stats.scalar(step < 10 ? 2 * LOG3 : step < 30 ? 16 * LOG3 : 0.2 * LOG3))
                .meta(TraceMetadata.LEARNING_RATE, "0.5"),
            ID);

    assertThat(findings)
        .singleElement()
        .satisfies(f -> assertThat(f.severity()).isEqualTo(Severity.INFO));
  }

  @Test
  void aWarmUpToARateFarAboveAnyHealthyRuns_makesTheLearningRateTheCause_atItsPeak() {
    // dltrace.learning_rate holds the first step's 0.01; the rows climb to 2 by step 40.
    Report report =
        analyze(
            classifier(LossDivergenceDetectorTest::diverging)
                .model(Phase.LEARNING_RATE, step -> Stats.scalar(Math.min(2, 0.01 + 0.05 * step)))
                .build(),
            AnalysisOptions.defaults());

    assertThat(report.rootCause().cause()).startsWith("Learning rate too high: the loss");
    assertThat(report.rootCause().suggestedFix())
        .isEqualTo("Lower the learning rate from 2 to about 0.2");
  }

  @Test
  void lossThatClimbsIntoNaN_withinOneBlock_isAClimbIntoNonFiniteValues() {
    // log 3 for 12 steps, then 10x and 1e6x it, then NaN from step 14: one block of finite
    // losses, too few for the block rule, but the climb before the NaN is plain.
    LongFunction<Stats> loss =
        step ->
            Stats.scalar(
                step < 12 ? LOG3 : step == 12 ? 10 * LOG3 : step == 13 ? 1e6 * LOG3 : Double.NaN);

    Report report = analyze(classifier(loss).build(), Analyses.only(ID));

    Finding f = report.findings().get(0);
    assertThat(report.findings()).hasSize(1);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.symptom()).isEqualTo(Symptom.EXPLODING_GRADIENT);
    assertThat(f.evidence().get("first_non_finite_step")).isEqualTo(14L);
    assertThat(f.evidence().get("peak_step")).isEqualTo(13L);
    assertThat((double) f.evidence().get("ratio")).isCloseTo(1e6, within());
    assertThat(f.message())
        .endsWith("and turned NaN/Inf at step 14: training diverged before the values overflowed.");
    assertThat(report.rootCause().scope()).isEqualTo("model");
    assertThat(report.rootCause().symptom()).isEqualTo("exploding_gradient");
    assertThat(report.rootCause().cause()).startsWith("Updates too large: the loss climbed from");
  }

  @Test
  void lossThatTurnsNaNWithoutClimbing_isLeftToNumericalError() {
    LongFunction<Stats> loss = step -> Stats.scalar(step < 14 ? LOG3 : Double.NaN);

    assertThat(findings(classifier(loss), ID)).isEmpty();
  }

  @Test
  void spikeThatTheRunRecoversFrom_saysSo() {
    // Up to 8x the start for one block, then down to a tenth of it: the run came back.
    LongFunction<Stats> spike =
        step -> Stats.scalar(step < 10 ? LOG3 : step < 20 ? 8 * LOG3 : 0.1 * LOG3);

    List<Finding> findings = findings(classifier(spike), ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).message()).contains("training recovered from unstable steps");
    assertThat(findings.get(0).severity()).isEqualTo(Severity.INFO);
  }

  @Test
  void fallingNoisyLoss_noFinding() {
    assertThat(
            findings(
                classifier(
                    step ->
                        Stats.scalar(
                            (0.05 + LOG3 * Math.exp(-step / 40.0)) * (step % 2 == 0 ? 1.4 : 0.6))),
                ID))
        .isEmpty();
  }

  @Test
  void riseJustBelowTheBar_noFinding() {
    assertThat(findings(classifier(step -> Stats.scalar(step < 10 ? LOG3 : 6.5 * LOG3)), ID))
        .isEmpty();
  }

  @Test
  void fineTunedModel_isJudgedAgainstAUniformGuess() {
    // Starts at 0.05 (pre-trained), bumps to 0.5 (10x its first loss) then settles: still far
    // below log(3), the loss of a guess, so the steps did not diverge.
    LongFunction<Stats> bump = step -> Stats.scalar(step == 0 ? 0.05 : step < 60 ? 0.5 : 0.1);
    assertThat(findings(classifier(bump), ID)).isEmpty();

    // Without the loss function's name only the first loss is known: the same bump is 10x it.
    MemoryTrace.Builder unnamed =
        MemoryTrace.scripted(200).layer("fc1", "relu").model(Phase.LOSS, bump);
    assertThat(findings(unnamed, ID)).hasSize(1);
  }

  @Test
  void oneLossPerEpoch_hasNoStartingLoss_noFinding() {
    // a TensorBoard log of model.fit's epoch means, converted
    assertThat(
            findings(
                classifier(LossDivergenceDetectorTest::diverging)
                    .stepsPerEpoch(1)
                    .meta(TraceMetadata.SOURCE, "tensorboard")
                    .meta(TraceMetadata.SOURCE_GRANULARITY, "epoch"),
                ID))
        .isEmpty();
    // a trace of another writer, with one loss per epoch
    assertThat(
            findings(
                classifier(LossDivergenceDetectorTest::diverging)
                    .stepsPerEpoch(1)
                    .meta(TraceMetadata.FRAMEWORK, "jax"),
                ID))
        .isEmpty();
  }

  @Test
  void recordedFullBatchRun_oneStepAnEpoch_isJudgedStepByStep() {
    // a graph network trained on its whole graph: the recorder writes one loss per step
    assertThat(findings(classifier(LossDivergenceDetectorTest::diverging).stepsPerEpoch(1), ID))
        .hasSize(1);
    assertThat(
            findings(
                classifier(LossDivergenceDetectorTest::diverging)
                    .stepsPerEpoch(1)
                    .meta(TraceMetadata.SOURCE, "tensorboard")
                    .meta(TraceMetadata.SOURCE_GRANULARITY, "step"),
                ID))
        .hasSize(1);
  }

  @Test
  void theBarIsTheDivergenceRatio() {
    AnalysisOptions lower =
        AnalysisOptions.builder().enableOnly(List.of(ID)).set("divergence-ratio", 2).build();
    assertThat(
            analyze(classifier(step -> Stats.scalar(step < 10 ? LOG3 : 2.4 * LOG3)).build(), lower)
                .findings())
        .hasSize(1);
  }

  private static org.assertj.core.data.Offset<Double> within() {
    return org.assertj.core.data.Offset.offset(1e-9);
  }

  // ---- the held-out loss ------------------------------------------------------------------------

  /** A training loss falling from log 3 to a tenth of it, with a val_loss row every 20 steps. */
  private static MemoryTrace.Builder evaluated(LongToDoubleFunction validation) {
    return classifier(step -> Stats.scalar(LOG3 * (1 - 0.9 * step / 200.0)))
        .model(
            Phase.VAL_LOSS,
            step -> step % 20 == 19 ? Stats.scalar(validation.applyAsDouble(step)) : null);
  }

  @Test
  void validationLoss_thatEndsFarAboveItsFirstEvaluation_isAWarningOnTheHeldOutLoss() {
    // 0.8 log 3 at first, then 10x that for the last three of ten evaluations
    Report report =
        analyze(evaluated(step -> step < 140 ? 0.8 * LOG3 : 8 * LOG3).build(), Analyses.only(ID));

    Finding f = report.findings().get(0);
    assertThat(report.findings()).hasSize(1);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.phase()).isEqualTo(Phase.VAL_LOSS);
    assertThat(f.firstStep()).isEqualTo(159);
    assertThat(f.lastStep()).isEqualTo(199);
    // the reference is a uniform guess's log 3, above the first evaluation's 0.8 log 3
    assertThat((double) f.evidence().get("reference_loss")).isCloseTo(LOG3, within());
    assertThat((double) f.evidence().get("ratio")).isCloseTo(8, within());
    assertThat((long) f.evidence().get("evaluations")).isEqualTo(10);
    assertThat((long) f.evidence().get("evaluations_above")).isEqualTo(3);
    assertThat(f.message())
        .contains("(the loss of a uniform guess)")
        .contains("; the last 3 of 10 evaluations were 6.7x or more above it")
        .endsWith("training diverged on the held-out data.");
    assertThat(report.rootCause().cause()).startsWith("The validation loss ended at");
    assertThat(report.rootCause().symptom()).isEqualTo("oscillation");
  }

  @Test
  void validationLoss_thatJumpsAtTheLastEvaluation_saysSoInTheSingular() {
    assertThat(findings(evaluated(step -> step < 180 ? LOG3 : 9 * LOG3), ID))
        .singleElement()
        .satisfies(
            f ->
                assertThat(f.message())
                    .contains("; the last of 10 evaluations was 6.7x or more above it"));
  }

  @Test
  void validationLoss_thatClimbedAndCameBack_isNotReported() {
    assertThat(findings(evaluated(step -> step > 60 && step < 140 ? 9 * LOG3 : 0.8 * LOG3), ID))
        .isEmpty();
  }

  @Test
  void validationLoss_belowTheBarOfAUniformGuess_isNotReported() {
    // a fine-tuned model: 0.05 at first, 0.9 at the end: 18x its first evaluation, under 6.7 log 3
    assertThat(findings(evaluated(step -> step < 140 ? 0.05 : 0.9), ID)).isEmpty();
  }

  @Test
  void validationLoss_withTwoEvaluations_isNotJudged() {
    MemoryTrace.Builder trace =
        classifier(step -> Stats.scalar(LOG3))
            .model(
                Phase.VAL_LOSS,
                step ->
                    step == 99 ? Stats.scalar(LOG3) : step == 199 ? Stats.scalar(20 * LOG3) : null);
    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void trainingLossThatDiverged_keepsItsOwnFinding_notTheHeldOutOne() {
    MemoryTrace.Builder trace =
        classifier(LossDivergenceDetectorTest::diverging)
            .model(
                Phase.VAL_LOSS,
                step -> step % 20 == 19 ? Stats.scalar(step < 100 ? LOG3 : 9 * LOG3) : null);
    assertThat(findings(trace, ID))
        .singleElement()
        .satisfies(f -> assertThat(f.phase()).isEqualTo(Phase.LOSS));
  }

  @Test
  void heldOutDivergence_comesAfterARunThatNeverLearned() {
    // The training loss falls (a sign-flipped loss going negative would too) while the accuracy
    // stays at chance: the run's own curves name the cause, the held-out climb is an alternative.
    MemoryTrace.Builder trace =
        evaluated(step -> step < 100 ? LOG3 : 9 * LOG3)
            .model(Phase.ACCURACY, step -> Stats.scalar(step % 2 == 0 ? 0.30 : 0.36));
    Report report = analyze(trace.build(), AnalysisOptions.defaults());

    assertThat(report.findings()).anyMatch(f -> f.phase() == Phase.VAL_LOSS);
    assertThat(report.rootCause().cause()).doesNotStartWith("The validation loss");
    assertThat(report.rootCause().alternatives())
        .anyMatch(a -> a.cause().startsWith("The validation loss ended at"));
  }
}
