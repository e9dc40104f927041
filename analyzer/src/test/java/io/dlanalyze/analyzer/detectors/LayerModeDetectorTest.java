package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;

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

/**
 * layer-mode's rule for a batch normalization layer whose mode the metadata does not give: its
 * output RMS against the RMS of its parameters.
 */
class LayerModeDetectorTest {
  private static final String ID = "layer-mode";

  /**
   * A conv layer, then a batch normalization layer (declared trainable, mode unknown) whose output
   * has this mean and std while its scale stays at {@code scale}; the loss does not fall.
   */
  private static MemoryTrace.Builder batchNorm(
      String type, boolean frozen, double outMean, double outStd, double scale) {
    MemoryTrace.Builder trace = MemoryTrace.scripted(120).layer("conv", "Conv2d", "relu");
    if (frozen) {
      trace.frozenLayer("bn", type, "linear");
    } else {
      trace.layer("bn", type, "linear");
    }
    return trace.layer("out", "Linear", "softmax").flatLoss().stream(
        Phase.FORWARD, 1, step -> Stats.of(outMean, outStd))
        .stream(Phase.WEIGHT, 1, step -> Stats.of(scale, 0));
  }

  @Test
  void batchNormOfUnknownMode_passingRawInputsThrough_warnsAtTheLayer() {
    // Raw pixels (mean 4.8, std 6) scaled by 8: RMS 62, 7.7x its scale's 8.
    List<Finding> findings = findings(batchNorm("BatchNormalization", false, 38.4, 48, 8), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.layerName()).isEqualTo("bn");
    assertThat(f.phase()).isEqualTo(Phase.FORWARD);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.symptom()).isEqualTo(Symptom.SATURATION);
    assertThat((double) f.evidence().get("output_rms")).isCloseTo(61.47, within(0.01));
    assertThat((double) f.evidence().get("parameter_rms")).isEqualTo(8.0);
    assertThat(f.message())
        .startsWith("The batch normalization layer bn did not normalize: its output reached an RMS")
        .contains("It ran in inference mode");
  }

  @Test
  void batchNormOfUnknownMode_isTheRootCause_atTheLayer() {
    RootCause root =
        analyze(batchNorm("BatchNorm2d", false, 38.4, 48, 8).build(), AnalysisOptions.defaults())
            .rootCause();

    assertThat(root.scope()).isEqualTo(RootCause.LAYER);
    assertThat(root.layerName()).isEqualTo("bn");
    assertThat(root.cause()).startsWith("Normalization disabled: the batch normalization layer bn");
    assertThat(root.suggestedFix()).startsWith("Let bn normalize with batch statistics");
  }

  @Test
  void batchNormThatNormalizes_staysQuiet() {
    // Training mode: unit variance per channel times the scale (1.3), plus a small shift.
    assertThat(findings(batchNorm("BatchNorm2d", false, 0.2, 1.3, 1.3), ID)).isEmpty();
  }

  @Test
  void batchNormThatNormalizedAtFirst_andDriftedUnderHugeUpdates_staysQuiet() {
    // Training mode under a learning rate far too high: the output starts at the scale and its
    // unrecorded shift then carries it to 6x the recorded scale. Only the first pass is judged.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .layer("conv", "Conv2d", "relu")
            .layer("bn", "BatchNorm2d", "linear")
            .layer("out", "Linear", "softmax")
            .flatLoss()
            .stream(Phase.FORWARD, 1, step -> Stats.of(Math.min(6, step / 4.0), 1))
            .stream(Phase.WEIGHT, 1, step -> Stats.of(1, 0));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void justBelowFourTimesItsScale_staysQuiet() {
    assertThat(findings(batchNorm("BatchNorm1d", false, 0, 3.9, 1), ID)).isEmpty();
  }

  @Test
  void frozenBatchNorm_isADeliberateChoice_notJudgedByItsOutput() {
    List<Finding> findings = findings(batchNorm("BatchNormalization", true, 38.4, 48, 8), ID);

    // Only the frozen-layer list, at info.
    assertThat(findings).extracting(Finding::severity).containsExactly(Severity.INFO);
    assertThat(findings.get(0).message()).contains("frozen").contains("bn");
  }

  @Test
  void layerOfConstants_isNotListedAsFrozen() {
    // an adapted Normalization layer: its mean and variance are the data's, nothing of it trains
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(60)
            .constantLayer("norm", "Normalization")
            .layer("fc", "relu")
            .flatLoss();

    assertThat(findings(trace, ID)).isEmpty();
    assertThat(
            findings(
                MemoryTrace.scripted(60)
                    .frozenLayer("norm", "linear")
                    .layer("fc", "relu")
                    .flatLoss(),
                ID))
        .extracting(Finding::severity)
        .containsExactly(Severity.INFO);
  }

  @Test
  void layerWithoutParameters_markedNotTrainable_isNotFrozen() {
    // a Keras TimeDistributed(Flatten) listed with trainable false: nothing of it could train
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(60)
            .layer("conv", "Conv2D", "relu")
            .parameterlessLayer("flat", "TimeDistributed")
            .layer("out", "softmax")
            .flatLoss();

    assertThat(findings(trace, ID)).isEmpty();
  }

  /**
   * Two layers the metadata marks frozen (written once, at the first step) and a trainable head;
   * the weights of the first stay constant, those of the second start changing at {@code
   * unfrozenFrom} (a fine-tuning phase; never when negative).
   */
  private static MemoryTrace.Builder twoPhase(int unfrozenFrom) {
    return MemoryTrace.scripted(120)
        .frozenLayer("base/conv1", "Conv2D", "relu")
        .frozenLayer("base/conv2", "Conv2D", "relu")
        .layer("head", "Dense", "softmax")
        .flatLoss()
        .stream(Phase.WEIGHT, 0, step -> Stats.of(0.01, 0.2))
        .stream(
            Phase.WEIGHT,
            1,
            step ->
                Stats.of(
                    unfrozenFrom >= 0 && step >= unfrozenFrom ? 0.01 + 1e-6 * step : 0.01, 0.2))
        .stream(Phase.WEIGHT, 2, step -> Stats.of(0.01 + 1e-4 * step, 0.2));
  }

  @Test
  void layerMarkedFrozen_butUpdatedLater_isNotListedAsFrozen_andSaysWhenItWasUnfrozen() {
    List<Finding> findings = findings(twoPhase(60), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.layerName()).isEqualTo("base/conv1");
    assertThat(f.evidence().get("affected_layers")).isEqualTo(1L);
    assertThat(f.message())
        .isEqualTo(
            "1 layer is frozen (the optimizer never updates it): base/conv1; marked frozen too"
                + " but updated during the run (unfrozen): base/conv2 from step 60.");
  }

  @Test
  void layersMarkedFrozen_andNeverUpdated_areListed_andBlamedInARunThatDoesNotLearn() {
    List<Finding> findings = findings(twoPhase(-1), ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).message())
        .isEqualTo(
            "2 layers are frozen (the optimizer never updates them): base/conv1, base/conv2.");
  }

  @Test
  void everyLayerMarkedFrozen_updatedLater_noFrozenFinding_andNoFrozenRootCause() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .frozenLayer("base/conv", "Conv2D", "relu")
            .layer("head", "Dense", "softmax")
            .flatLoss()
            .stream(Phase.WEIGHT, 0, step -> Stats.of(step < 50 ? 0.01 : 0.01 + 1e-6 * step, 0.2))
            .stream(Phase.WEIGHT, 1, step -> Stats.of(0.01 + 1e-4 * step, 0.2));

    assertThat(findings(trace, ID)).isEmpty();
    RootCause root = analyze(trace.build(), AnalysisOptions.defaults()).rootCause();
    assertThat(root == null ? "" : root.cause()).doesNotContain("frozen layer");
  }

  /**
   * An LSTM encoder, a decoder the metadata marks frozen whose weights (std 0.1, {@code numel} of
   * them) span {@code rangeOverStd} standard deviations and never change, and a trainable head, in
   * a run whose loss falls.
   */
  private static MemoryTrace.Builder frozenDecoder(double rangeOverStd, long numel) {
    double half = rangeOverStd * 0.1 / 2;
    return MemoryTrace.scripted(150)
        .layer("encoder", "LSTM", "tanh")
        .frozenLayer("decoder", "LSTM", "tanh")
        .layer("head", "Linear", "linear")
        .healthyLoss()
        .stream(Phase.WEIGHT, 0, step -> Stats.of(0.001 * step, 0.1).withNumel(numel))
        .stream(Phase.WEIGHT, 1, step -> Stats.of(0, 0.1).withRange(-half, half).withNumel(numel))
        .stream(Phase.WEIGHT, 2, step -> Stats.of(0.001 * step, 0.1).withNumel(64));
  }

  @Test
  void frozenLayerStillAtAUniformRandomDraw_isAMistake_evenInARunThatLearns() {
    // PyTorch's LSTM draws uniformly in [-1/sqrt(h), 1/sqrt(h)]: range 2 sqrt(3) std
    List<Finding> findings = findings(frozenDecoder(2 * Math.sqrt(3), 5120), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.symptom()).isEqualTo(Symptom.UNCHANGED_VALUES);
    assertThat(f.layerName()).isEqualTo("decoder");
    assertThat((double) f.evidence().get("range_over_std")).isCloseTo(3.464, within(0.001));
    assertThat(f.evidence().get("weight_count")).isEqualTo(5120L);
    assertThat(f.message())
        .startsWith(
            "decoder is frozen (the optimizer never updates it) with weights that are still a"
                + " random initialization: their range is 3.464 standard deviations over 5120"
                + " weights");
    RootCause root =
        analyze(frozenDecoder(2 * Math.sqrt(3), 5120).build(), AnalysisOptions.defaults())
            .rootCause();
    assertThat(root).isNotNull();
    assertThat(root.layerName()).isEqualTo("decoder");
  }

  @Test
  void frozenLayerWithTrainedTails_isADeliberateFreeze_infoOnly() {
    // pre-trained weights: range 4.1 std and more on the dev corpus' frozen layers
    assertThat(findings(frozenDecoder(4.1, 5120), ID))
        .extracting(Finding::severity)
        .containsExactly(Severity.INFO);
  }

  @Test
  void smallFrozenLayer_cannotBeToldFromAUniformDraw_infoOnly() {
    // 144 weights: a uniform draw's range / std spreads by 3.7%, as much as brief pre-training
    assertThat(findings(frozenDecoder(2 * Math.sqrt(3), 144), ID))
        .extracting(Finding::severity)
        .containsExactly(Severity.INFO);
  }

  @Test
  void layerNorm_hasNoInferenceMode_andIsNotJudged() {
    assertThat(findings(batchNorm("LayerNorm", false, 38.4, 48, 1), ID)).isEmpty();
  }

  private static org.assertj.core.data.Offset<Double> within(double tolerance) {
    return org.assertj.core.data.Offset.offset(tolerance);
  }
}
