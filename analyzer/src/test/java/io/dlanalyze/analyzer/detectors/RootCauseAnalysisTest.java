package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import org.junit.jupiter.api.Test;

/** The root cause chosen from all findings (engine.RootCauseAnalysis), on scripted traces. */
class RootCauseAnalysisTest {
  @Test
  void gradientGrowthBeforeInf_blamesTheLearningRateWithNumbers() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .layer("fc3", "linear")
            .meta(TraceMetadata.LEARNING_RATE, "0.1")
            .meta(TraceMetadata.OPTIMIZER, "SGD")
            .model(
                Phase.LOSS,
                step -> Stats.scalar(step < 40 ? 1.0 : step < 60 ? 1.0 + step : Double.NaN))
            .everyLayer(
                Phase.GRADIENT,
                (step, layer) -> {
                  double l2 = layer == 1 && step >= 20 ? 0.5 * Math.pow(3, step - 19) : 0.5;
                  return Stats.norm(step >= 60 ? Double.POSITIVE_INFINITY : l2);
                });

    Report report = analyze(trace.build(), AnalysisOptions.defaults());

    RootCause root = report.rootCause();
    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("exploding_gradient");
    assertThat(root.cause())
        .startsWith("Learning rate too high: the gradient norm of fc2 grew 10^")
        .contains("before the first NaN/Inf at step 60");
    assertThat(root.suggestedFix())
        .isEqualTo("Lower the learning rate from 0.1 to about 0.001, or clip gradients at 1.0");
    assertThat(root.alternatives())
        .extracting(RootCause.Alternative::cause)
        .anyMatch(c -> c.startsWith("Weights initialized too large"));
    assertThat(report.findings().get(root.findingRank() - 1).detector())
        .isEqualTo("exploding-gradient");
  }

  @Test
  void lossNaNFromTheFirstStep_gradientsGrowingLater_isTheNumericalErrorNotTheGrowth() {
    // A scale taken without softplus: the loss is NaN from step 0 (some examples' terms), the
    // gradients of the finite terms stay finite and grow by orders of magnitude at step 60.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .meta(TraceMetadata.LEARNING_RATE, "0.001")
            .meta(TraceMetadata.OPTIMIZER, "Adam")
            .model(Phase.LOSS, step -> Stats.scalar(Double.NaN))
            .everyLayer(
                Phase.GRADIENT,
                (step, layer) -> Stats.norm(step < 60 ? 0.5 : 0.5 * Math.pow(10, 7 + step % 2)));

    Report report = analyze(trace.build(), AnalysisOptions.defaults());

    RootCause root = report.rootCause();
    assertThat(root.symptom()).isEqualTo("numerical_error");
    assertThat(report.findings().get(root.findingRank() - 1).detector())
        .isEqualTo("numerical-error");
    assertThat(report.findings()).anyMatch(f -> f.detector().equals("exploding-gradient"));
    assertThat(root.alternatives())
        .extracting(RootCause.Alternative::cause)
        .noneMatch(c -> c.contains("grew"));
  }

  @Test
  void gradientGrowthWhileTheLossFallsWithoutBound_blamesTheLoss() {
    RootCause root =
        analyze(
                ExplodingGradientDetectorTest.fallingBelowZero(1e5)
                    .meta(TraceMetadata.LEARNING_RATE, "0.001")
                    .build(),
                AnalysisOptions.defaults())
            .rootCause();

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    // the run minimizes a loss that measures nothing: it does not learn its task
    assertThat(root.symptom()).isEqualTo("not_learning");
    assertThat(root.cause()).startsWith("The loss has no lower bound: it fell to -");
    assertThat(root.suggestedFix()).contains("hinge").contains("sign");
  }

  @Test
  void outputActivationVsTargets_winsOverItsConsequences() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .stepsPerEpoch(15)
            .layer("dense1", "relu")
            .layer("dense2", "sigmoid")
            .meta(TraceMetadata.LOSS, "mse")
            .meta(TraceMetadata.BATCH_SIZE, "20")
            .model(Phase.TARGET, step -> Stats.of(150, 70).withRange(25, 346).withNumel(20))
            .model(Phase.LOSS, step -> Stats.scalar(28000 + 100 * Math.sin(step)))
            .stream(Phase.FORWARD, 1, step -> Stats.of(14, 3))
            .stream(Phase.ACTIVATION, 1, step -> Stats.of(0.99999, 1e-5).withNumel(20));

    RootCause root = analyze(trace.build(), AnalysisOptions.defaults()).rootCause();

    assertThat(root.layerName()).isEqualTo("dense2");
    assertThat(root.symptom()).isEqualTo("saturation");
    assertThat(root.cause())
        .isEqualTo(
            "The output layer dense2 ends in sigmoid, whose range is [0, 1], but the targets span"
                + " [25, 346]");
    assertThat(root.suggestedFix())
        .isEqualTo("Use a linear output on dense2, or scale the targets into [0, 1]");
    assertThat(root.alternatives()).isNotEmpty();
  }

  /** A sigmoid output under MSE on raw pixels in [0, 16] whose inputs span {@code inputMax}. */
  private static MemoryTrace.Builder rawTargets(double inputMax) {
    return MemoryTrace.scripted(150)
        .stepsPerEpoch(15)
        .layer("enc", "relu")
        .layer("dec", "sigmoid")
        .meta(TraceMetadata.LOSS, "mse")
        .meta(TraceMetadata.BATCH_SIZE, "20")
        .model(
            Phase.INPUT,
            step -> new Stats(inputMax / 3, inputMax / 3, 0.0, inputMax, 1e3, 0.3, 1280L))
        .model(Phase.TARGET, step -> new Stats(5.3, 5.9, 0.0, 16.0, 1e3, 0.3, 1280L))
        .model(Phase.LOSS, step -> Stats.scalar(40 + 0.5 * Math.sin(step)))
        .stream(Phase.FORWARD, 0, step -> Stats.of(0.8, 1.2))
        .stream(Phase.FORWARD, 1, step -> Stats.of(14, 3))
        .stream(Phase.ACTIVATION, 1, step -> Stats.of(0.99999, 1e-5).withNumel(1280));
  }

  @Test
  void targetsThatSpanTheInputs_outOfTheOutputsRange_areUnscaledData() {
    // An autoencoder on raw pixels: what it reads is what it must produce.
    RootCause root = analyze(rawTargets(16).build(), AnalysisOptions.defaults()).rootCause();

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.cause())
        .startsWith(
            "The data are not scaled: the inputs range over [0, 16] and the targets over"
                + " [0, 16]");
    assertThat(root.suggestedFix())
        .isEqualTo("Scale the inputs and the targets into [0, 1] (divide by 16)");
  }

  @Test
  void targetsOnAnotherScaleThanTheInputs_blameTheOutputLayer() {
    // The inputs reach 2500 (unscaled too, but other data): the output layer's range is the fault.
    RootCause root = analyze(rawTargets(2500).build(), AnalysisOptions.defaults()).rootCause();

    assertThat(root.scope()).isEqualTo(RootCause.LAYER);
    assertThat(root.layerName()).isEqualTo("dec");
  }

  @Test
  void linearRegressionAtTargetVariance_suggestsAHiddenLayer() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .stepsPerEpoch(15)
            .layer("out", "linear")
            .meta(TraceMetadata.LOSS, "mse")
            .model(Phase.TARGET, step -> Stats.of(1.0, 0.4))
            .model(Phase.LOSS, step -> Stats.scalar(0.166 + 0.01 * Math.sin(step)));

    RootCause root = analyze(trace.build(), AnalysisOptions.defaults()).rootCause();

    assertThat(root.cause()).startsWith("The model is too simple for the data");
    assertThat(root.suggestedFix()).startsWith("Add a hidden layer");
  }

  @Test
  void onlyWeakEvidence_verdictIsInconclusiveWithTheReason() {
    // Vanishing gradients, but no loss to tell them from a converged model.
    MemoryTrace.Builder trace = MemoryTrace.scripted(120);
    for (int l = 0; l < 6; l++) {
      trace.layer("fc" + (l + 1), "sigmoid");
    }
    trace
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) ->
                Stats.norm(0.1 * Math.pow(10, -(5 - layer)) * (1 + 0.1 * Math.sin(step + layer))))
        .everyLayer(
            Phase.FORWARD,
            (step, layer) ->
                Stats.of(0.1 * Math.sin(step * 0.7 + layer), 1 + 0.05 * Math.cos(step)));

    Report report = analyze(trace.build(), AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.INCONCLUSIVE);
    assertThat(report.verdictReason())
        .contains("vanishing-gradient on fc1")
        .contains("converged model");
    assertThat(report.rootCause()).isNull();
  }
}
