package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.EvidenceKeys;
import io.dlanalyze.analyzer.EvidenceKeys.TargetRule;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import org.junit.jupiter.api.Test;

class TargetRangeDetectorTest {
  private static final String ID = "target-range";

  private static MemoryTrace.Builder regression(String outputActivation, double lo, double hi) {
    return MemoryTrace.scripted(60)
        .layer("fc1", "relu")
        .layer("out", outputActivation)
        .meta(TraceMetadata.LOSS, "mse")
        .meta(TraceMetadata.BATCH_SIZE, "20")
        .stream(Phase.ACTIVATION, 1, step -> Stats.of(0.5, 0.1).withNumel(20))
        .model(
            Phase.TARGET,
            step -> Stats.of((lo + hi) / 2, (hi - lo) / 4).withRange(lo, hi).withNumel(20));
  }

  @Test
  void sigmoidOutput_targetsInTheHundreds_isSaturationAtTheOutputLayer() {
    List<Finding> findings = findings(regression("sigmoid", 25, 346), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.SATURATION);
    assertThat(f.layerName()).isEqualTo("out");
    assertThat(f.severity()).isEqualTo(Severity.ERROR);
    assertThat(f.message()).contains("[25, 346]").contains("sigmoid");
  }

  /** Targets [0, 9], one per example of 20, beside a sigmoid output of this many elements. */
  private static MemoryTrace.Builder labelsBeside(long outputElements) {
    return MemoryTrace.scripted(60)
        .layer("fc1", "relu")
        .layer("out", "sigmoid")
        .meta(TraceMetadata.LOSS, "margin_loss")
        .meta(TraceMetadata.BATCH_SIZE, "20")
        .stream(Phase.ACTIVATION, 1, step -> Stats.of(0.5, 0.1).withNumel(outputElements))
        .model(Phase.TARGET, step -> Stats.of(4.5, 2.9).withRange(0, 9).withNumel(20));
  }

  @Test
  void sigmoidOutput_targetsWithAsManyElements_isCompared_classIndicesBesideMoreOutputs_areNot() {
    // a capsule network: class indices [0, 9], one per example, beside the 64 sigmoid pixels of the
    // reconstruction its decoder outputs last; the range rule compares element by element
    assertThat(findings(labelsBeside(20), ID))
        .extracting(Finding::symptom)
        .containsExactly(Symptom.SATURATION);
    assertThat(findings(labelsBeside(20 * 64), ID)).isEmpty();
  }

  @Test
  void reluOutput_negativeTargets_isDeadOrZero() {
    assertThat(findings(regression("relu", -1, 0.84), ID))
        .extracting(Finding::symptom)
        .containsExactly(Symptom.DEAD_OR_ZERO);
  }

  @Test
  void tanhOutput_targetsInsideRange_noFinding() {
    assertThat(findings(regression("tanh", -1, 0.84), ID)).isEmpty();
  }

  @Test
  void linearOutput_anyTargets_noRangeFinding() {
    // a linear output reaches any target: only the scale rule below speaks of targets this large
    assertThat(findings(regression("linear", -500, 1e4), ID))
        .extracting(f -> f.evidence().get(EvidenceKeys.TARGET_RULE))
        .containsExactly(TargetRule.UNSCALED_REGRESSION_TARGETS);
    assertThat(findings(regression("linear", -50, 100), ID)).isEmpty();
  }

  @Test
  void linearRegressionUnderMse_targetsAtAScaleOfHundreds_isAnUnscaledTargetsWarning() {
    // molecular energies in their own units: mean -445, std 77.5 in every batch
    List<Finding> findings = findings(regression("linear", -600, -290), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.SATURATION);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.isModelLevel()).isTrue();
    assertThat(f.phase()).isEqualTo(Phase.TARGET);
    assertThat(f.firstStep()).isZero();
    assertThat(f.evidence().get(EvidenceKeys.TARGET_SCALE)).isEqualTo(445.0);
    assertThat(f.message()).contains("not scaled").contains("-445");
  }

  @Test
  void aLossTheProgramNamedAfterASquaredError_isJudgedAsOne_aLogError_isNot() {
    // a Neural Additive Model's MSE plus its penalties, on house values in dollars
    for (String loss : List.of("penalized_mse", "masked-MSE", "weighted mae", "huber_plus_l2")) {
      assertThat(findings(regression("linear", -600, -290).meta(TraceMetadata.LOSS, loss), ID))
          .as(loss)
          .extracting(f -> f.evidence().get(EvidenceKeys.TARGET_RULE))
          .containsExactly(TargetRule.UNSCALED_REGRESSION_TARGETS);
    }
    for (String loss : List.of("log_mse", "msle", "nll", "elbo")) {
      assertThat(findings(regression("linear", -600, -290).meta(TraceMetadata.LOSS, loss), ID))
          .as(loss)
          .isEmpty();
    }
  }

  @Test
  void targetsBelowTheScaleBound_orUnderALossThatIsNoSquaredOrAbsoluteError_areNotJudged() {
    // scale 200 < target-scale (250): EDSR's pixels in 0..255 under an absolute error train well
    assertThat(findings(regression("linear", 0, 400), ID)).isEmpty();
    // a likelihood or log error of the program's own can take targets in any unit
    assertThat(
            findings(
                regression("linear", -600, -290)
                    .meta(TraceMetadata.LOSS, "mean_squared_logarithmic_error"),
                ID))
        .isEmpty();
  }

  @Test
  void softmaxOverOneUnit_isDeadOrZero() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(60)
            .layer("fc1", "relu")
            .layer("out", "softmax")
            .meta(TraceMetadata.BATCH_SIZE, "32")
            .stream(Phase.ACTIVATION, 1, step -> new Stats(1, 0.0, 1.0, 1.0, 5.66, 0.0, 32L))
            .model(Phase.TARGET, step -> Stats.of(0.5, 0.5).withRange(0, 1));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get("rule")).isEqualTo("single_unit_softmax");
    assertThat(findings.get(0).symptom()).isEqualTo(Symptom.DEAD_OR_ZERO);
  }

  @Test
  void softmaxOverTenUnits_noFinding() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(60)
            .layer("fc1", "relu")
            .layer("out", "softmax")
            .meta(TraceMetadata.BATCH_SIZE, "32")
            .meta(TraceMetadata.LOSS, "cross_entropy")
            .stream(Phase.ACTIVATION, 1, step -> new Stats(0.1, 0.25, 0.0, 1.0, 5.0, 0.0, 320L))
            .model(Phase.TARGET, step -> Stats.of(4.5, 2.8).withRange(0, 9));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void softmaxOverFourDeclaredUnits_withAnAccumulatedBatchSize_noFinding() {
    // Gradient accumulation: dltrace.batch_size says 64 (4 micro-batches of 16), the recorded
    // forward pass is one micro-batch: 64 values / 64 would read as one unit; fan_out says 4.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(60)
            .layer("fc1", "relu")
            .layer("out", "Linear", "softmax", 4)
            .meta(TraceMetadata.BATCH_SIZE, "64")
            .meta(TraceMetadata.LOSS, "cross_entropy")
            .stream(Phase.ACTIVATION, 1, step -> new Stats(0.25, 0.2, 0.0, 1.0, 2.5, 0.0, 64L))
            .model(Phase.TARGET, step -> Stats.of(1.5, 1.1).withRange(0, 3));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void softmaxOverOneDeclaredUnit_isDeadOrZero_whateverTheBatchSize() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(60)
            .layer("fc1", "relu")
            .layer("out", "Linear", "softmax", 1)
            .meta(TraceMetadata.BATCH_SIZE, "8")
            .stream(Phase.ACTIVATION, 1, step -> new Stats(1, 0.0, 1.0, 1.0, 5.66, 0.0, 32L))
            .model(Phase.TARGET, step -> Stats.of(0.5, 0.5).withRange(0, 1));

    assertThat(findings(trace, ID))
        .extracting(f -> f.evidence().get("rule"))
        .containsExactly("single_unit_softmax");
  }

  @Test
  void reluOutputUnderCrossEntropy_warns() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(60)
            .layer("fc1", "relu")
            .layer("out", "relu")
            .meta(TraceMetadata.LOSS, "categorical_crossentropy")
            .model(Phase.TARGET, step -> Stats.of(0.1, 0.3).withRange(0, 1));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings)
        .extracting(f -> f.evidence().get("rule"))
        .containsExactly("relu_output_cross_entropy");
    assertThat(findings.get(0).severity()).isEqualTo(Severity.WARNING);
  }

  @Test
  void reluOutputUnderCrossEntropy_whenTheLossComparesOutputs_isNotJudged() {
    // a matching network: the embedding ends in a ReLU, and the cross-entropy is of the attention
    // over a support set's similarities to it (dltrace.output_layer none), not of its output
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(60)
            .layer("encoder.0", "relu")
            .layer("encoder.5", "relu")
            .meta(TraceMetadata.LOSS, "nll_loss")
            .model(Phase.TARGET, step -> Stats.of(0.1, 0.3).withRange(0, 1));

    assertThat(findings(trace, ID))
        .extracting(f -> f.evidence().get("rule"))
        .containsExactly("relu_output_cross_entropy");
    assertThat(findings(trace.meta(TraceMetadata.OUTPUT_LAYER, "none"), ID)).isEmpty();
  }

  @Test
  void constantTargets_areNotLearning() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(60)
            .layer("fc1", "relu")
            .layer("out", "linear")
            .model(Phase.TARGET, step -> new Stats(0, 0.0, 0.0, 0.0, 0.0, 1.0, 32L));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).symptom()).isEqualTo(Symptom.NOT_LEARNING);
    assertThat(findings.get(0).isModelLevel()).isTrue();
  }

  /**
   * An 11-way softmax whose target is always index 0, under a loss that falls from log 11 = 2.4 to
   * {@code end} over 300 steps.
   */
  private static MemoryTrace.Builder indexZeroFallingTo(double end) {
    return MemoryTrace.scripted(300)
        .layer("emb", "linear")
        .meta(TraceMetadata.FRAMEWORK, "pytorch")
        .meta(TraceMetadata.LOSS, "CrossEntropyLoss")
        .meta(TraceMetadata.NUM_CLASSES, "11")
        .model(Phase.LOSS, step -> Stats.scalar(end + (2.4 - end) * Math.exp(-step / 30.0)))
        .model(Phase.TARGET, step -> new Stats(0, 0.0, 0.0, 0.0, 0.0, 1.0, 50L));
  }

  @Test
  void constantTargets_aConstantAnswerFits_lossNearZero_areNotLearning() {
    assertThat(findings(indexZeroFallingTo(0.001), ID))
        .extracting(Finding::symptom)
        .containsExactly(Symptom.NOT_LEARNING);
  }

  @Test
  void constantTargets_aLossThatDoesNotFall_areNotLearning() {
    assertThat(findings(indexZeroFallingTo(2.3), ID))
        .extracting(Finding::symptom)
        .containsExactly(Symptom.NOT_LEARNING);
  }

  @Test
  void constantTargets_thePositivesIndexAmongCandidates_lossFarFromZero_areNotJudged() {
    // a negative-sampling softmax (Poincaré embeddings, word2vec, MoCo): the positive always sits
    // at index 0, and a healthy run's loss ends near 0.15 of its start, not at 0
    assertThat(findings(indexZeroFallingTo(0.35), ID)).isEmpty();
  }

  /** Constant ones as targets under a loss named {@code loss}, of a task named {@code task}. */
  private static MemoryTrace.Builder onesUnder(String loss, String task) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(60)
            .layer("fc1", "relu")
            .layer("out", "softmax")
            .meta(TraceMetadata.FRAMEWORK, "keras")
            .meta(TraceMetadata.LOSS, loss)
            .model(Phase.TARGET, step -> new Stats(1, 0.0, 1.0, 1.0, 1.0, 0.0, 32L));
    return task == null ? trace : trace.meta(TraceMetadata.TASK, task);
  }

  @Test
  void constantDummyTargets_underALossOfTheProgramsOwn_withoutATask_areNotJudged() {
    // keras.io's semantic image clustering passes ones to fit(); its losses read the outputs only
    assertThat(findings(onesUnder("clusters_consistency_loss", null), ID)).isEmpty();
  }

  @Test
  void constantTargets_underAKnownLoss_orOfADeclaredTask_areStillNotLearning() {
    assertThat(findings(onesUnder("categorical_crossentropy", null), ID))
        .extracting(Finding::symptom)
        .containsExactly(Symptom.NOT_LEARNING);
    assertThat(findings(onesUnder("clusters_consistency_loss", "classification"), ID))
        .extracting(Finding::symptom)
        .containsExactly(Symptom.NOT_LEARNING);
  }
}
