package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Analyses;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;

class EffectiveLearningRateDetectorTest {
  private static final String ID = "effective-learning-rate";

  /** lr x ||g|| / ||w|| = lr x 10 / 10 = lr. */
  private static MemoryTrace.Builder run(double lr, boolean flat) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .model(Phase.LEARNING_RATE, step -> Stats.scalar(lr))
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(10))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10));
    return flat ? trace.flatLoss() : trace.healthyLoss();
  }

  @Test
  void tooHigh_whileLossFlat_warnsWithOscillation() {
    List<Finding> findings = findings(run(0.5, true), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.consequences()).hasSize(1);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.symptom()).isEqualTo(Symptom.OSCILLATION);
    assertThat((double) f.evidence().get("effective_lr"))
        .isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-9));
    assertThat((double) f.evidence().get("suggested_learning_rate")).isLessThan(0.5);
  }

  @Test
  void tooHigh_recordedEvery16Steps_warnsOnceTheRateStayedHighFor200Steps() {
    // a recorder left on with every=16: per-layer rows on steps 0, 16, 32...; the loss on each step
    MemoryTrace sampled =
        MemoryTrace.scripted(300)
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .model(Phase.LEARNING_RATE, step -> Stats.scalar(0.5))
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(10))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10))
            .flatLoss()
            .build()
            .sampledEvery(16);

    List<Finding> findings = analyze(sampled, Analyses.only(ID)).findings();

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).severity()).isEqualTo(Severity.WARNING);
    assertThat(findings.get(0).symptom()).isEqualTo(Symptom.OSCILLATION);
    assertThat(findings.get(0).firstStep()).isEqualTo(0);
    assertThat(findings.get(0).lastStep()).isGreaterThanOrEqualTo(13 * 16);
  }

  @Test
  void tooLow_whileLossFlat_warnsWithSlowConvergence() {
    List<Finding> findings = findings(run(1e-7, true), ID);

    assertThat(findings).extracting(Finding::symptom).containsOnly(Symptom.SLOW_CONVERGENCE);
    assertThat(findings).extracting(Finding::severity).containsOnly(Severity.WARNING);
  }

  @Test
  void tooLow_underAdagrad_isInfoOnly() {
    // Adagrad's step shrinks as squared gradients pile up: lr x ||g|| / ||w|| does not measure it.
    List<Finding> findings = findings(run(1e-7, true).meta(TraceMetadata.OPTIMIZER, "Adagrad"), ID);

    assertThat(findings).isNotEmpty();
    assertThat(findings).extracting(Finding::severity).containsOnly(Severity.INFO);
  }

  @Test
  void aSingleParameterLayer_isNotJudged_itsSizeIsOneValueNearZero() {
    // A global bias of one parameter, started at zero, at 0.005 after 150 steps of Adam at 1e-3:
    // lr / rms(weight) is 0.2 and above, a ratio over one value that passes near zero, not a
    // step size. The 10,000-element layer beside it moves by 1e-3 / 0.1 = 0.01, in the band.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .layer("fc", "relu")
            .layer("global_bias", "PredictionLayer", "sigmoid")
            .model(Phase.LEARNING_RATE, step -> Stats.scalar(1e-3))
            .meta(TraceMetadata.OPTIMIZER, "Adam")
            .stream(Phase.GRADIENT, 0, step -> Stats.norm(1e-2).withNumel(10_000))
            .stream(Phase.WEIGHT, 0, step -> Stats.norm(10).withNumel(10_000))
            .stream(Phase.GRADIENT, 1, step -> Stats.norm(0.1).withNumel(1))
            .stream(Phase.WEIGHT, 1, step -> Stats.norm(0.001 + step * 3e-5).withNumel(1))
            .flatLoss();

    assertThat(findings(trace, ID)).noneMatch(f -> f.severity() != Severity.INFO);
    assertThat(findings(trace, ID)).noneMatch(f -> f.layerIndex() == 1);
  }

  /**
   * Weights of 10,000 elements with norm 10 (rms 0.1) and gradients of norm 1e-4: an SGD step is lr
   * x 1e-5 of the weights, an Adam step about lr / 0.1.
   */
  private static MemoryTrace.Builder smallGradients(double lr, String optimizer) {
    return smallGradients(lr, optimizer, 150);
  }

  private static MemoryTrace.Builder smallGradients(double lr, String optimizer, int steps) {
    return MemoryTrace.scripted(steps)
        .layer("fc1", "relu")
        .layer("fc2", "linear")
        .model(Phase.LEARNING_RATE, step -> Stats.scalar(lr))
        .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(1e-4).withNumel(10_000))
        .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10).withNumel(10_000))
        .flatLoss()
        .meta(TraceMetadata.OPTIMIZER, optimizer);
  }

  @Test
  void adam_isJudgedByLrOverTheWeightsRms_notByTheGradient() {
    // Adam at 0.05 moves each weight by about 0.05 while the weights' rms is 0.1: half their size.
    List<Finding> findings =
        findings(smallGradients(0.05, "Adam"), ID).stream()
            .filter(x -> x.phase() == Phase.GRADIENT)
            .toList();

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.OSCILLATION);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat((double) f.evidence().get("effective_lr"))
        .isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(f.message()).contains("lr 0.05 / rms(weight)");
  }

  /**
   * Adam at 0.05 on weights of rms 0.1 (steps half their size, the weights swinging by 5% from step
   * to step, the gradients by 10%) in a run whose loss stays flat; from step 60 fc1's gradient
   * vanishes (rms 1e-8).
   */
  private static MemoryTrace.Builder stepsTooLargeThenVanishing() {
    return MemoryTrace.scripted(150)
        .layer("fc1", "relu")
        .layer("fc2", "linear")
        .model(Phase.LEARNING_RATE, step -> Stats.scalar(0.05))
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) ->
                Stats.norm(
                        (layer == 0 && step >= 60 ? 1e-6 : 1e-4)
                            * (1 + 0.1 * Math.sin(1.3 * step + layer)))
                    .withNumel(10_000))
        .everyLayer(
            Phase.WEIGHT,
            (step, layer) -> Stats.norm(10 * (1 + 0.05 * Math.sin(step + layer))).withNumel(10_000))
        .flatLoss()
        .meta(TraceMetadata.OPTIMIZER, "Adam");
  }

  @Test
  void stepsTooLargeFromTheStart_inARunThatNeverLearns_explainTheLaterVanishing_asNoLearning() {
    Report report = analyze(stepsTooLargeThenVanishing().build(), AnalysisOptions.defaults());

    assertThat(report.findings())
        .extracting(Finding::detector)
        .contains("effective-learning-rate", "vanishing-gradient");
    RootCause root = report.rootCause();
    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo(Symptom.NOT_LEARNING.wireName());
    assertThat(root.cause()).startsWith("Learning rate too high: the effective learning rate");
    assertThat(root.suggestedFix()).contains("learning rate");
  }

  @Test
  void stepsTooLarge_butALayerFrozenAtItsRandomInitialization_leaveTheCauseToTheFrozenLayer() {
    // fc1 is marked frozen and still holds a uniform random draw (range 2 sqrt(3) std): a cause of
    // its own; fc2 takes Adam steps half the size of its weights
    double half = Math.sqrt(3) * 0.1;
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .frozenLayer("fc1", "Linear", "relu")
            .layer("fc2", "linear")
            .model(Phase.LEARNING_RATE, step -> Stats.scalar(0.05))
            .stream(
                Phase.GRADIENT,
                1,
                step -> Stats.norm(1e-4 * (1 + 0.1 * Math.sin(1.3 * step))).withNumel(10_000))
            .stream(
                Phase.WEIGHT, 0, step -> Stats.of(0, 0.1).withRange(-half, half).withNumel(10_000))
            .stream(
                Phase.WEIGHT,
                1,
                step -> Stats.norm(10 * (1 + 0.05 * Math.sin(step))).withNumel(10_000))
            .flatLoss()
            .meta(TraceMetadata.OPTIMIZER, "Adam");
    Report report = analyze(trace.build(), AnalysisOptions.defaults());

    assertThat(report.findings())
        .extracting(Finding::detector)
        .contains("effective-learning-rate", "layer-mode");
    assertThat(report.rootCause().layerName()).isEqualTo("fc1");
    assertThat(report.rootCause().cause()).startsWith("A frozen layer");
  }

  @Test
  void sgd_withTheSameStatistics_takesSteps1e5TimesTheRate() {
    List<Finding> findings = findings(smallGradients(0.05, "SGD"), ID);

    assertThat(findings).extracting(Finding::symptom).containsOnly(Symptom.SLOW_CONVERGENCE);
    assertThat((double) findings.get(0).evidence().get("effective_lr"))
        .isCloseTo(5e-7, org.assertj.core.data.Offset.offset(1e-15));
    assertThat(findings.get(0).message()).contains("x ||grad|| / ||weight||");
  }

  @Test
  void tooLow_underAdam_warnsNowThatTheRateMeasuresItsStep() {
    // lr 1e-7 against weights of rms 0.1: each step moves them by a millionth.
    assertThat(findings(smallGradients(1e-7, "Adam"), ID))
        .extracting(Finding::symptom, Finding::severity)
        .containsOnly(
            org.assertj.core.groups.Tuple.tuple(Symptom.SLOW_CONVERGENCE, Severity.WARNING));
  }

  @Test
  void adamStepsBelowTheAdaptiveBound_whileLossFlat_warnOnceForTheWholeModel() {
    // lr 2e-5 against rms 0.1: 2e-4 of the weights per step, inside DeepDiagnosis' band but below
    // the 5e-4 no healthy run of the corpus goes under.
    List<Finding> findings = findings(smallGradients(2e-5, "Adam"), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.isModelLevel()).isTrue();
    assertThat(f.phase()).isEqualTo(Phase.LEARNING_RATE);
    assertThat(f.symptom()).isEqualTo(Symptom.SLOW_CONVERGENCE);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat((double) f.evidence().get("effective_lr"))
        .isCloseTo(2e-4, org.assertj.core.data.Offset.offset(1e-12));
    assertThat(f.evidence().get("measured_layers")).isEqualTo(2L);
    // the suggested rate brings the step to the band's geometric centre, sqrt(5e-4 x 0.1)
    assertThat((double) f.evidence().get("suggested_learning_rate"))
        .isCloseTo(2e-5 * Math.sqrt(5e-4 * 0.1) / 2e-4, org.assertj.core.data.Offset.offset(1e-12));
    assertThat(f.message())
        .startsWith(
            "The optimizer's steps were too small: lr / rms(weight) was typically 2e-04 (median of"
                + " 2 layers over 150 steps), below 5e-04")
        .endsWith(", and the loss did not improve.");
  }

  /** {@link #smallGradients} over 320 steps, with its per-layer rows on every 16th step only. */
  private static MemoryTrace every16(double lr) {
    return smallGradients(lr, "Adam", 320).build().sampledEvery(16);
  }

  private static List<Finding> modelLevel(MemoryTrace trace) {
    return analyze(trace, Analyses.only(ID)).findings().stream()
        .filter(f -> f.phase() == Phase.LEARNING_RATE)
        .toList();
  }

  @Test
  void adamStepsBelowTheAdaptiveBound_recordedEvery16Steps_warnOnce20RowsSpan304Steps() {
    List<Finding> findings = modelLevel(every16(2e-5));

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).symptom()).isEqualTo(Symptom.SLOW_CONVERGENCE);
    assertThat(findings.get(0).severity()).isEqualTo(Severity.WARNING);
    assertThat(findings.get(0).message()).contains("(median of 2 layers over 20 steps)");
  }

  @Test
  void adamStepsAboveTheBand_recordedEvery16Steps_needTheSampledBound() {
    // healthy runs recorded every 16 or 32 steps reach typical steps of 0.100 and 0.116 on 18 to
    // 32 measured steps: a run judged on fewer than window (50) of them must reach 0.15
    assertThat(modelLevel(every16(0.012))).as("lr 0.012 / rms 0.1: 0.12").isEmpty();
    assertThat(findings(smallGradients(0.012, "Adam"), ID))
        .as("recorded in full, 150 measured steps")
        .anyMatch(f -> f.phase() == Phase.LEARNING_RATE && f.severity() == Severity.WARNING);

    List<Finding> findings = modelLevel(every16(0.05));
    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).severity()).isEqualTo(Severity.WARNING);
    assertThat(findings.get(0).message())
        .startsWith("The optimizer's steps were too large: lr / rms(weight) was typically 0.5");
  }

  @Test
  void adamStepsBelowTheAdaptiveBound_inARunThatLearned_isInfo() {
    MemoryTrace.Builder learning =
        MemoryTrace.scripted(150)
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .model(Phase.LEARNING_RATE, step -> Stats.scalar(2e-5))
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(1e-4).withNumel(10_000))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10).withNumel(10_000))
            .healthyLoss()
            .meta(TraceMetadata.OPTIMIZER, "Adam");

    assertThat(findings(learning, ID)).extracting(Finding::severity).containsExactly(Severity.INFO);
  }

  /** Adam over rms(w) 0.1 at {@code lr} for the first {@code uncut} steps, then at lr / 100. */
  private static MemoryTrace.Builder plateauCut(double lr, int uncut) {
    return MemoryTrace.scripted(300)
        .layer("fc1", "relu")
        .layer("fc2", "linear")
        .model(Phase.LEARNING_RATE, step -> Stats.scalar(step < uncut ? lr : lr / 100))
        .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(1e-4).withNumel(10_000))
        .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10).withNumel(10_000))
        .flatLoss()
        .meta(TraceMetadata.OPTIMIZER, "Adam");
  }

  @Test
  void adamSteps_afterAPlateauScheduleCutTheRate_areNotBlamedOnTheConfiguredRate() {
    // 1e-3 / rms 0.1 = 1e-2 for 100 steps, then 1e-4 for 200: the whole run's geometric mean,
    // 10^((100 x -2 + 200 x -4) / 300) = 4.6e-4, is below 5e-4; the uncut steps are not.
    assertThat(findings(plateauCut(1e-3, 100), ID))
        .noneMatch(
            f -> f.phase() == Phase.LEARNING_RATE && f.evidence().get("effective_lr") != null);
    // The same rate never cut is judged on all its steps: 2e-5 / 0.1 = 2e-4 throughout.
    assertThat(findings(plateauCut(2e-5, 300), ID))
        .filteredOn(f -> f.phase() == Phase.LEARNING_RATE)
        .extracting(f -> (double) f.evidence().get("effective_lr"))
        .singleElement()
        .satisfies(
            rate -> assertThat(rate).isCloseTo(2e-4, org.assertj.core.data.Offset.offset(1e-12)));
  }

  @Test
  void adamSteps_tooSmallBeforeTheCut_stillWarn_measuredOnTheUncutStepsOnly() {
    // 2e-5 / 0.1 = 2e-4 for 100 steps, then 2e-6: the finding quotes the 100 uncut steps.
    Finding f =
        findings(plateauCut(2e-5, 100), ID).stream()
            .filter(x -> x.phase() == Phase.LEARNING_RATE)
            .findFirst()
            .get();
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat((double) f.evidence().get("effective_lr"))
        .isCloseTo(2e-4, org.assertj.core.data.Offset.offset(1e-12));
    assertThat((double) f.evidence().get("learning_rate"))
        .isCloseTo(2e-5, org.assertj.core.data.Offset.offset(1e-15));
    assertThat(f.message()).contains("(median of 2 layers over 100 steps)");
  }

  /** Adam steps of lr / rms(w) = {@code lr} / 0.1 over 150 steps, with the given loss. */
  private static MemoryTrace.Builder adamSteps(
      double lr, String optimizer, DoubleUnaryOperator loss) {
    return MemoryTrace.scripted(150)
        .layer("fc1", "relu")
        .layer("fc2", "linear")
        .model(Phase.LEARNING_RATE, step -> Stats.scalar(lr))
        .model(Phase.LOSS, step -> Stats.scalar(loss.applyAsDouble(step / 150.0)))
        .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(1e-2).withNumel(10_000))
        .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10).withNumel(10_000))
        .meta(TraceMetadata.OPTIMIZER, optimizer);
  }

  /** A loss that falls from 2.3 to about a fifth of its first block: learning, not fitting. */
  private static double unfitted(double t) {
    return 0.4 + 1.9 * Math.exp(-4 * t);
  }

  @Test
  void adamSteps_atOrAboveTheBand_inARunThatDidNotFit_warnForTheWholeModel() {
    // 0.02 / rms 0.1 = 0.2 a step, above 0.1; the loss fell but ended at about a quarter of
    // its first block.
    List<Finding> whole =
        findings(adamSteps(0.02, "Adam", EffectiveLearningRateDetectorTest::unfitted), ID).stream()
            .filter(x -> x.phase() == Phase.LEARNING_RATE)
            .toList();
    assertThat(whole).hasSize(1);
    Finding f = whole.get(0);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.symptom()).isEqualTo(Symptom.OSCILLATION);
    assertThat(f.isModelLevel()).isTrue();
    assertThat((double) f.evidence().get("effective_lr"))
        .isCloseTo(0.2, org.assertj.core.data.Offset.offset(1e-9));
    assertThat((double) f.evidence().get("suggested_learning_rate")).isLessThan(0.02);
    assertThat(f.message())
        .startsWith("The optimizer's steps were too large: lr / rms(weight) was typically 0.2")
        .contains("at or above 0.1")
        .contains("the loss ended at");
  }

  @Test
  void adamSteps_aboveTheBand_inARunThatFitted_giveNoModelFinding() {
    // The same steps, and a loss that ends at well under a tenth of its start.
    assertThat(findings(adamSteps(0.02, "Adam", t -> 0.001 + 2.3 * Math.exp(-12 * t)), ID))
        .noneMatch(f -> f.phase() == Phase.LEARNING_RATE);
  }

  @Test
  void largeStepRule_needsAnAdaptiveOptimizer_andStepsAtTheBandsTop() {
    // SGD with these statistics moves by lr x 1e-3 of the weights: the band rule judges it.
    assertThat(findings(adamSteps(0.02, "SGD", EffectiveLearningRateDetectorTest::unfitted), ID))
        .noneMatch(f -> f.phase() == Phase.LEARNING_RATE);
    // Adam at 0.009: a step of 0.09, under the band's top.
    assertThat(findings(adamSteps(0.009, "Adam", EffectiveLearningRateDetectorTest::unfitted), ID))
        .noneMatch(f -> f.phase() == Phase.LEARNING_RATE);
  }

  @Test
  void adaptiveBound_appliesToAdaptiveOptimizersOnly_andIsConfigurable() {
    // SGD's step with these statistics is lr x 1e-5 of the weights: judged by the band alone.
    assertThat(findings(smallGradients(1e-1, "SGD"), ID))
        .noneMatch(f -> f.phase() == Phase.LEARNING_RATE);
    // Adam at 2e-5 passes a bound of 1e-4.
    AnalysisOptions lower =
        AnalysisOptions.builder()
            .enableOnly(List.of(ID))
            .set(Thresholds.ADAPTIVE_STEP_LOW, 1e-4)
            .build();
    assertThat(analyze(smallGradients(2e-5, "Adam").build(), lower).findings()).isEmpty();
  }

  @Test
  void adamInBand_noFinding() {
    // lr 1e-3 against rms 0.1: a step of 1% of the weights, inside [1e-5, 0.1].
    assertThat(findings(smallGradients(1e-3, "Adam"), ID)).isEmpty();
  }

  @Test
  void tooLow_underSgd_stillWarns() {
    assertThat(findings(run(1e-7, true).meta(TraceMetadata.OPTIMIZER, "SGD"), ID))
        .extracting(Finding::severity)
        .containsOnly(Severity.WARNING);
  }

  @Test
  void tooHigh_underAnAdaptiveOptimizer_stillWarns() {
    assertThat(findings(run(0.5, true).meta(TraceMetadata.OPTIMIZER, "Adam"), ID))
        .extracting(Finding::severity)
        .containsOnly(Severity.WARNING);
  }

  @Test
  void outOfBand_whileLossFalls_isInfoOnly() {
    assertThat(findings(run(0.5, false), ID))
        .extracting(Finding::severity)
        .containsOnly(Severity.INFO);
  }

  @Test
  void inBand_noFinding() {
    assertThat(findings(run(1e-3, true), ID)).isEmpty();
  }

  @Test
  void learningRateFromMetadata_whenNoPhase() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .layer("fc1", "relu")
            .meta(TraceMetadata.LEARNING_RATE, "0.9")
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(10))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10));

    assertThat(findings(trace, ID))
        .extracting(f -> f.evidence().get("learning_rate"))
        .containsExactly(0.9);
  }

  @Test
  void frozenLayer_isSkipped() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .frozenLayer("backbone", "relu")
            .layer("head", "linear")
            .model(Phase.LEARNING_RATE, step -> Stats.scalar(0.5))
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(10))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10));

    assertThat(findings(trace, ID)).extracting(Finding::layerName).containsExactly("head");
  }

  /**
   * Plain SGD at lr 0.05 whose first update (||g|| = 20 against ||w|| = 1: lr x ||g|| / ||w|| = 1)
   * replaces the weights, then NaN everywhere from step 1, as a ReLU RNN without clipping does.
   */
  private static MemoryTrace.Builder blowsUpAfterStep0(String optimizer, double gradient) {
    double nan = Double.NaN;
    return MemoryTrace.scripted(60)
        .meta(TraceMetadata.OPTIMIZER, optimizer)
        .layer("rnn", "relu")
        .layer("head", "linear")
        .model(Phase.LEARNING_RATE, step -> Stats.scalar(0.05))
        .model(Phase.LOSS, step -> Stats.scalar(step == 0 ? 4.0 : nan))
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) -> Stats.norm(step == 0 ? (layer == 0 ? gradient : 1) : nan))
        .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(step == 0 ? 1 : nan));
  }

  @Test
  void updateAsLargeAsTheWeights_beforeTheFirstNaN_isReportedAtThatStep() {
    List<Finding> findings = findings(blowsUpAfterStep0("SGD", 20), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.severity()).isEqualTo(Severity.INFO);
    assertThat(f.symptom()).isEqualTo(Symptom.EXPLODING_GRADIENT);
    assertThat(f.layerName()).isEqualTo("rnn");
    assertThat(f.firstStep()).isZero();
    assertThat(f.evidence().get("first_non_finite_step")).isEqualTo(1L);
    assertThat((double) f.evidence().get("effective_lr"))
        .isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(f.message())
        .startsWith("The update of step 0 was as large as the weights")
        .endsWith("the values turned NaN/Inf at step 1.");
  }

  @Test
  void ordinaryUpdateBeforeTheFirstNaN_isNotABlowUp() {
    // lr x ||g|| / ||w|| = 0.05 x 2 / 1 = 0.1: below update-blowup (0.5); the NaN came from
    // elsewhere.
    assertThat(findings(blowsUpAfterStep0("SGD", 2), ID)).isEmpty();
  }

  @Test
  void blowUp_underAnAdaptiveOptimizer_isNotJudged() {
    // Adam's update is not lr x ||g||: the ratio says nothing about its size.
    assertThat(findings(blowsUpAfterStep0("Adam", 20), ID)).isEmpty();
  }

  @Test
  void blowUp_thresholdIsConfigurable() {
    AnalysisOptions options = AnalysisOptions.builder().set(Thresholds.UPDATE_BLOWUP, 2.0).build();
    Report report = analyze(blowsUpAfterStep0("SGD", 20).build(), options);

    assertThat(report.findings()).extracting(Finding::detector).doesNotContain(ID);
  }

  @Test
  void blowUp_makesTheUpdateSizeTheModelLevelRootCause_notTheLayerWhereNaNSurfaced() {
    RootCause root =
        analyze(blowsUpAfterStep0("SGD", 20).build(), AnalysisOptions.defaults()).rootCause();

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("exploding_gradient");
    assertThat(root.cause())
        .isEqualTo(
            "Updates too large: the update of step 0 was as large as the weights: the effective"
                + " learning rate of rnn (lr 0.05 x ||grad|| / ||weight||) reached 1 (at or above"
                + " 0.5), and the values turned NaN/Inf at step 1");
    assertThat(root.suggestedFix()).contains("clip gradients at 1.0");
  }

  /** Adam at 0.005 (ratio in band), the rate from this schedule, the loss flat or falling. */
  private static MemoryTrace.Builder scheduled(
      java.util.function.LongToDoubleFunction rate, boolean flat) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .meta(TraceMetadata.OPTIMIZER, "Adam")
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .model(Phase.LEARNING_RATE, step -> Stats.scalar(rate.applyAsDouble(step)))
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(1))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10));
    return flat ? trace.flatLoss() : trace.healthyLoss();
  }

  @Test
  void scheduleThatTakesTheRateAwayEarly_inARunThatDoesNotLearn_warnsAtModelLevel() {
    // A step schedule whose boundary (meant in epochs) falls at step 6: 0.005 -> 5e-5.
    List<Finding> findings = findings(scheduled(step -> step < 6 ? 0.005 : 5e-5, true), ID);

    Finding f =
        findings.stream()
            .filter(x -> x.evidence().get("collapsed_share") != null)
            .findFirst()
            .get();
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.symptom()).isEqualTo(Symptom.SLOW_CONVERGENCE);
    assertThat(f.isModelLevel()).isTrue();
    assertThat(f.firstStep()).isEqualTo(6);
    assertThat((double) f.evidence().get("collapsed_share")).isEqualTo(194 / 200.0);
    assertThat(f.evidence().get("peak_learning_rate")).isEqualTo(0.005);
    assertThat(f.message())
        .startsWith("The learning rate fell from its peak of 0.005 (step 0) to 5e-05 by step 6")
        .endsWith("and the loss did not improve.");

    RootCause root =
        analyze(
                scheduled(step -> step < 6 ? 0.005 : 5e-5, true).build(),
                AnalysisOptions.defaults())
            .rootCause();
    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.cause()).startsWith("Learning rate schedule too fast: the learning rate fell");
    assertThat(root.suggestedFix()).startsWith("Check the schedule's units");
  }

  @Test
  void schedulerSteppedPerBatch_decayedToAHundredthByTwoSteps_isACollapseDespiteRounding() {
    // StepLR(step_size=2, gamma=0.1) stepped per batch: 0.05, then 0.05 x 0.1, then 0.05 x 0.1 x
    // 0.1 = 5.000000000000001e-4 in doubles, a hair above 0.05 / 100, for the rest of the run.
    double hundredth = 0.05 * 0.1 * 0.1;
    assertThat(hundredth).isGreaterThan(0.05 / 100);
    List<Finding> findings =
        findings(scheduled(step -> step < 2 ? 0.05 : step < 4 ? 0.05 * 0.1 : hundredth, true), ID);

    assertThat(findings)
        .filteredOn(f -> f.evidence().get("collapsed_share") != null)
        .singleElement()
        .satisfies(f -> assertThat(f.firstStep()).isEqualTo(4))
        .satisfies(
            f -> assertThat((double) f.evidence().get("collapsed_share")).isEqualTo(196 / 200.0));
  }

  @Test
  void cosineThatReachesZeroOnlyAtTheEnd_isHealthy() {
    // Below 1/100 of the peak only in the last 6% of the run, as the healthy dev cosines.
    assertThat(
            findings(scheduled(step -> 0.0025 * (1 + Math.cos(Math.PI * step / 199.0)), true), ID))
        .allMatch(f -> f.evidence().get("collapsed_share") == null);
  }

  @Test
  void scheduleBelowThePeakForJustUnderHalfTheRun_isNotACollapse() {
    assertThat(findings(scheduled(step -> step < 101 ? 0.005 : 1e-6, true), ID))
        .allMatch(f -> f.evidence().get("collapsed_share") == null);
  }

  @Test
  void collapse_inARunThatLearned_isInfoOnly() {
    assertThat(findings(scheduled(step -> step < 6 ? 0.005 : 5e-5, false), ID))
        .filteredOn(f -> f.evidence().get("collapsed_share") != null)
        .extracting(Finding::severity)
        .containsExactly(Severity.INFO);
  }

  @Test
  void rateThatIsNeverPositive_isLeftToTheNothingUpdatesRule() {
    assertThat(findings(scheduled(step -> 0, true), ID))
        .allMatch(f -> f.evidence().get("collapsed_share") == null);
  }
}
