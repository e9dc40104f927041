package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import java.util.List;
import org.junit.jupiter.api.Test;

class GradientAccumulationDetectorTest {
  private static final String ID = "gradient-accumulation";

  /**
   * A running sum of noisy per-step gradients: each step adds a gradient of norm about 0.5 that
   * mostly points the same way, so the sum's norm climbs with the step count and only dips a
   * little.
   */
  private static double accumulated(long step, int layer) {
    double sum = 0;
    for (long s = 0; s <= step; s++) {
      sum += 0.5 * (1 + 0.3 * Math.sin(1.7 * s + layer));
    }
    return sum;
  }

  /**
   * Steps of the running-sum traces: over the second half of 400 steps a sum moves by about 1/t a
   * step, 0.3%, under {@code accumulation-step}.
   */
  private static final int SUM_STEPS = 400;

  private static MemoryTrace.Builder missingZeroGrad() {
    return MemoryTrace.scripted(SUM_STEPS)
        .layer("fc1", "relu")
        .layer("fc2", "linear")
        .flatLoss()
        .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(accumulated(step, layer)));
  }

  @Test
  void runningSumOfGradients_firesAtModelLevelWithGrowthAndDrawdown() {
    List<Finding> findings = findings(missingZeroGrad(), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.EXPLODING_GRADIENT);
    assertThat(f.severity()).isEqualTo(Severity.ERROR);
    assertThat(f.layerIndex()).isEqualTo(-1);
    assertThat(f.firstStep()).isZero();
    assertThat(f.lastStep()).isEqualTo(SUM_STEPS - 1);
    assertThat((double) f.evidence().get("growth")).isGreaterThan(50);
    assertThat((double) f.evidence().get("max_drawdown")).isLessThanOrEqualTo(0.1);
    assertThat(f.evidence().get("accumulating_layers")).isEqualTo("fc1, fc2");
    assertThat(f.evidence().get("outside_optimizer")).isEqualTo("");
  }

  @Test
  void runningSum_rootCauseIsTheTrainingLoopAtModelScope() {
    RootCause root = analyze(missingZeroGrad().build(), AnalysisOptions.defaults()).rootCause();

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo(Symptom.EXPLODING_GRADIENT.wireName());
    assertThat(root.cause()).startsWith("Gradients are never reset between steps");
    assertThat(root.suggestedFix()).contains("zero_grad()");
  }

  /**
   * A smooth climb from a zero start, as word2vec's output table (initialized to 0) and the input
   * table fed through it learn at a low rate: the table's weights are 0 at the first step and the
   * other layer's gradient is exactly 0 there. Each norm grows steadily, without a reset missing.
   */
  private static double fromZero(long step) {
    return 0.003 * (1 + step * 0.2 + 0.01 * Math.sin(step));
  }

  @Test
  void gradientsGrowingFromAZeroInitializedStart_areLearningNotAccumulation() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .layer("in_embed", "Embedding", "linear")
            .layer("out_embed", "Embedding", "linear")
            .flatLoss()
            .stream(Phase.GRADIENT, 0, step -> Stats.norm(step == 0 ? 0 : fromZero(step)))
            .stream(Phase.WEIGHT, 0, step -> Stats.norm(40))
            .stream(Phase.GRADIENT, 1, step -> Stats.norm(fromZero(step)))
            .stream(Phase.WEIGHT, 1, step -> Stats.norm(step * 1e-3));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void aZeroInitializedHead_leavesTheOtherLayersRunningSumToFind() {
    MemoryTrace.Builder trace =
        missingZeroGrad().layer("head", "Linear", "linear").stream(
            Phase.GRADIENT, 2, step -> Stats.norm(fromZero(step)))
            .stream(Phase.WEIGHT, 2, step -> Stats.norm(step * 1e-3));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get("accumulating_layers")).isEqualTo("fc1, fc2");
  }

  /** The running sum, with one mini-batch on the way whose gradient pulled the sum back 15%. */
  private static MemoryTrace.Builder missingZeroGradWithOneBadBatch() {
    return MemoryTrace.scripted(SUM_STEPS)
        .layer("fc1", "relu")
        .layer("fc2", "linear")
        .flatLoss()
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) -> Stats.norm(accumulated(step, layer) * (step == 100 ? 0.85 : 1)));
  }

  @Test
  void runningSumThatFellBackOnce_stillAccumulates_byItsSmallLateSteps() {
    List<Finding> findings = findings(missingZeroGradWithOneBadBatch(), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat((double) f.evidence().get("max_drawdown")).isGreaterThan(0.1);
    // a sum of 200 gradients moves by about one of them a step: 0.5% of it, then less
    assertThat((double) f.evidence().get("late_step")).isLessThan(0.0065);
    assertThat(f.message()).contains("moved by a median of");
  }

  @Test
  void runningSumThatFellBackOnce_isQuietWhenNeitherTestHolds() {
    AnalysisOptions strict = AnalysisOptions.builder().set("accumulation-step", 0.001).build();

    assertThat(analyze(missingZeroGradWithOneBadBatch().build(), strict).findings())
        .extracting(Finding::detector)
        .doesNotContain(ID);
  }

  /**
   * A running sum under an optimizer that normalizes its steps (Adam): the norm climbs 20x over 40
   * steps by about 1/t a step, too fast in its second half (3-5% a step) to count as a smooth
   * climb, then holds, drifting 0.05% a step, as a sum does once its history outweighs each new
   * gradient. With {@code swing} the held norm instead swings by that share from step to step, as a
   * healthy mini-batch gradient's does.
   */
  private static MemoryTrace.Builder climbThenHold(double swing) {
    return MemoryTrace.scripted(150)
        .layer("conv", "relu")
        .layer("fc", "linear")
        .flatLoss()
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) -> {
              double t = step + 1;
              double norm = t <= 40 ? t : 40 * (1 - 0.0005 * (t - 40));
              return Stats.norm(t <= 40 ? norm : norm * (1 + swing * Math.sin(2.3 * step + layer)));
            });
  }

  @Test
  void climbTooFastForTheLateStepThenHolding_accumulates_byItsHold() {
    List<Finding> findings = findings(climbThenHold(0), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat((double) f.evidence().get("late_step")).isGreaterThan(0.0065);
    assertThat((double) f.evidence().get("hold_step")).isLessThan(0.001);
    assertThat(f.lastStep()).isEqualTo(39);
    assertThat(f.message())
        .contains("and then held still")
        .contains("moved by a median of 0.05186% a step");
  }

  @Test
  void climbThenSwingingLikeAMiniBatchGradient_staysQuiet() {
    // the healthy dev runs that grew 10x moved by 4.2% a step or more over their second half
    assertThat(findings(climbThenHold(0.2), ID)).isEmpty();
  }

  @Test
  void growingButNoisyGradients_likeAHealthyCnnWakingUp_stayQuiet() {
    // Grows 30x over 150 steps, but each mini-batch's gradient swings by half around the trend:
    // falls of 50% below the running peak, as in the healthy runs.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .layer("conv", "relu")
            .layer("fc", "linear")
            .flatLoss()
            .everyLayer(
                Phase.GRADIENT,
                (step, layer) ->
                    Stats.norm((1 + step / 5.0) * (1 + 0.5 * Math.sin(2.3 * step + layer))));

    assertThat(findings(trace, ID)).isEmpty();
  }

  /**
   * A running sum recorded every fourth step (a recorder's {@code every=4}): one gradient of norm 1
   * a step, added up for 48 steps, then holding as the sum's history outweighs each new gradient.
   * The recorded steps 0, 4 and 8 hold 1, 5 and 9 gradients.
   */
  private static MemoryTrace.Builder missingZeroGradRecordedEveryFourthStep() {
    return MemoryTrace.scripted(240)
        .layer("fc1", "relu")
        .layer("fc2", "linear")
        .flatLoss()
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) -> {
              if (step % 4 != 0) {
                return null;
              }
              double sum = step <= 48 ? step + 1 : 49 * (1 - 0.0005 * (1 + Math.sin(step)));
              return Stats.norm(sum / Math.sqrt(2));
            });
  }

  @Test
  void runningSumRecordedEveryFourthStep_isMeasuredFromTheFirstStepsGradient() {
    // From the median of the first three recorded steps (5 gradients) the climb is 9.8x, under
    // accumulation-growth; from the first step's gradient, the only one within the first three
    // steps of training, it is 49x.
    List<Finding> findings = findings(missingZeroGradRecordedEveryFourthStep(), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat((double) f.evidence().get("reference_l2")).isCloseTo(1.0, within(1e-9));
    assertThat((double) f.evidence().get("growth")).isCloseTo(49.0, within(1e-9));
    assertThat(f.evidence().get("accumulating_layers")).isEqualTo("fc1, fc2");
  }

  @Test
  void steadyClimbOfLessThanTenfold_staysQuiet() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(1 + step / 20.0));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void normMultiplyingEveryStep_isExplodingNotAccumulating() {
    // 1.2x per step without a dip: the climb does not slow down, as an update blowing up does.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(100)
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(0.5 * Math.pow(1.2, step)));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void climbOverTooFewSteps_isNoTrend() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .flatLoss()
            .everyLayer(
                Phase.GRADIENT,
                (step, layer) -> Stats.norm(step < 10 ? Math.pow(2, step) : 512 * (1 + step % 2)));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void layerOutsideTheOptimizer_isNamed_andNotCalledAMissingZeroGrad() {
    // The new head was added after the optimizer was built: its gradients are never reset by
    // optimizer.zero_grad(), the other layers' are.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(SUM_STEPS)
            .layer("body", "relu")
            .layerOutsideOptimizer("head", "linear")
            .flatLoss()
            .everyLayer(
                Phase.GRADIENT,
                (step, layer) -> Stats.norm(layer == 1 ? 10 * accumulated(step, layer) : 0.5));

    List<Finding> findings = findings(trace, ID);
    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get("outside_optimizer")).isEqualTo("head");
    assertThat(findings.get(0).message()).contains("the optimizer does not hold head");

    RootCause root = analyze(trace.build(), AnalysisOptions.defaults()).rootCause();
    assertThat(root.cause()).doesNotStartWith("Gradients are never reset");
  }

  /** Gradients of a healthy size that never climb: nothing in the norms shows a running sum. */
  private static MemoryTrace.Builder flatGradients() {
    return MemoryTrace.scripted(SUM_STEPS)
        .layer("fc1", "relu")
        .layer("fc2", "linear")
        .flatLoss()
        .everyLayer(
            Phase.GRADIENT, (step, layer) -> Stats.norm(0.5 * (1 + 0.3 * Math.sin(1.7 * step))));
  }

  @Test
  void carriedOverUpdatesSeenByTheRecorder_fireWithoutAClimb() {
    MemoryTrace.Builder trace =
        flatGradients().meta("dltrace.updates", "399").meta("dltrace.carried_updates", "399");

    List<Finding> findings = findings(trace, ID);
    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.severity()).isEqualTo(Severity.ERROR);
    assertThat(f.layerIndex()).isEqualTo(-1);
    assertThat(f.firstStep()).isEqualTo(1);
    assertThat(f.occurrences()).isEqualTo(399);
    assertThat(f.evidence().get("carried_updates")).isEqualTo(399L);
    assertThat(f.evidence().get("updates")).isEqualTo(399L);
    assertThat(f.message()).startsWith("The recorder saw 399 of 399 updates apply gradients");
    RootCause root = analyze(trace.build(), AnalysisOptions.defaults()).rootCause();
    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.cause()).startsWith("Gradients are never reset between steps: the recorder");
    assertThat(root.suggestedFix()).contains("zero_grad()");
  }

  @Test
  void carriedOverUpdates_needAQuarterOfThoseJudgedAndThreeAtLeast() {
    assertThat(
            findings(
                flatGradients()
                    .meta("dltrace.updates", "400")
                    .meta("dltrace.carried_updates", "99"),
                ID))
        .isEmpty();
    // a GAN's critic that never resets, beside a generator that does: half of all updates
    assertThat(
            findings(
                flatGradients()
                    .meta("dltrace.updates", "400")
                    .meta("dltrace.carried_updates", "100"),
                ID))
        .hasSize(1);
    assertThat(
            findings(
                flatGradients().meta("dltrace.updates", "4").meta("dltrace.carried_updates", "2"),
                ID))
        .isEmpty();
    // a loop that resets its gradients, or a count that does not parse, leaves the norms to judge
    assertThat(
            findings(
                flatGradients().meta("dltrace.updates", "399").meta("dltrace.carried_updates", "0"),
                ID))
        .isEmpty();
    assertThat(
            findings(
                flatGradients()
                    .meta("dltrace.updates", "many")
                    .meta("dltrace.carried_updates", "399"),
                ID))
        .isEmpty();
  }

  @Test
  void loopThatResets_leavesARunningSumInTheNormsToTheNormRule() {
    // counts written by a recorder that saw no carry-over do not silence the norms' evidence
    List<Finding> findings =
        findings(
            missingZeroGrad().meta("dltrace.updates", "399").meta("dltrace.carried_updates", "0"),
            ID);
    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get("growth")).isNotNull();
    assertThat(findings.get(0).evidence().get("carried_updates")).isNull();
  }

  @Test
  void thresholds_areSettable() {
    AnalysisOptions strict = AnalysisOptions.builder().set("accumulation-growth", 1e4).build();

    assertThat(analyze(missingZeroGrad().build(), strict).findings())
        .extracting(Finding::detector)
        .doesNotContain(ID);
  }
}
