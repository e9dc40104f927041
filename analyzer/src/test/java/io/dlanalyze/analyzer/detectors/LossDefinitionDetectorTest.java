package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.findings;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS_FLOOR;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS_FROM_LOGITS;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS_MIN;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.NUM_CLASSES;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_ACTIVATION;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_WIDTH;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MAX;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MIN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.dlanalyze.analyzer.EvidenceKeys.LossRule;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import org.junit.jupiter.api.Test;

class LossDefinitionDetectorTest {
  private static final String ID = "loss-definition";

  /** A falling, positive loss; the output layer with its activation and width. */
  private static MemoryTrace.Builder run(
      String framework, String loss, String outputActivation, long width) {
    return run(60, framework, loss, outputActivation, width);
  }

  /** The same over {@code steps} steps (300 make the blocks that tell a run learned). */
  private static MemoryTrace.Builder run(
      int steps, String framework, String loss, String outputActivation, long width) {
    return MemoryTrace.scripted(steps)
        .meta(TraceMetadata.FRAMEWORK, framework)
        .meta(TraceMetadata.LOSS, loss)
        .layer("fc1", "relu")
        .layer("out", "Linear", outputActivation, width)
        .healthyLoss();
  }

  /** A loss falling linearly from 0.5 through 0 (at step 10) to -2.45, with no layers named. */
  private static MemoryTrace.Builder negativeLoss(String loss) {
    return MemoryTrace.scripted(60)
        .meta(TraceMetadata.FRAMEWORK, "pytorch")
        .meta(TraceMetadata.LOSS, loss)
        .model(Phase.LOSS, step -> Stats.scalar(0.5 - 0.05 * step));
  }

  private static LossRule rule(Finding f) {
    return f.evidence().get(LOSS_RULE);
  }

  @Test
  void knownLossBelowZero_isBelowFloor_fromTheFirstNegativeStep() {
    List<Finding> findings = findings(negativeLoss("NLLLoss"), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(rule(f)).isEqualTo(LossRule.BELOW_FLOOR);
    assertThat(f.symptom()).isEqualTo(Symptom.LOSS_MISMATCH);
    assertThat(f.severity()).isEqualTo(Severity.ERROR);
    assertThat(f.isModelLevel()).isTrue();
    assertThat(f.firstStep()).isEqualTo(11);
    assertThat(f.evidence().get(LOSS)).isEqualTo("NLLLoss");
    assertThat(f.evidence().get(LOSS_FLOOR)).isEqualTo(0.0);
    assertThat(f.evidence().get(LOSS_MIN)).isCloseTo(-2.45, within(1e-9));
    assertThat(f.message()).contains("NLLLoss").contains("from step 11");
  }

  @Test
  void unknownLossBelowZero_noFinding() {
    // A custom loss (or one with a regularizer of its own) may be negative.
    assertThat(findings(negativeLoss("my_contrastive_loss"), ID)).isEmpty();
    assertThat(
            findings(
                MemoryTrace.scripted(60).model(Phase.LOSS, step -> Stats.scalar(0.5 - 0.05 * step)),
                ID))
        .isEmpty();
  }

  @Test
  void knownLossBelowZero_withTermsAddedBesideIt_noFinding() {
    // An EWC penalty of a Fisher that is not squared, an entropy bonus: terms added beside the
    // cross-entropy may be negative, so their sum has no floor of 0.
    assertThat(
            findings(negativeLoss("CrossEntropyLoss").meta(TraceMetadata.LOSS_ADDED, "true"), ID))
        .isEmpty();
    assertThat(
            findings(negativeLoss("CrossEntropyLoss").meta(TraceMetadata.LOSS_ADDED, "false"), ID))
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.BELOW_FLOOR);
  }

  @Test
  void knownLoss_roundingBelowZero_orPositive_noFinding() {
    MemoryTrace.Builder rounding =
        MemoryTrace.scripted(60)
            .meta(TraceMetadata.FRAMEWORK, "pytorch")
            .meta(TraceMetadata.LOSS, "CrossEntropyLoss")
            .model(Phase.LOSS, step -> Stats.scalar(step < 30 ? 1.0 - step / 30.0 : -5e-5));

    assertThat(findings(rounding, ID)).isEmpty();
    assertThat(findings(run("pytorch", "CrossEntropyLoss", "linear", 10), ID)).isEmpty();
  }

  @Test
  void binaryCrossEntropy_targetsOutsideZeroOne_fires_andTheNegativeLossIsNotReportedTwice() {
    MemoryTrace.Builder trace =
        negativeLoss("BCELoss").model(Phase.TARGET, step -> Stats.of(1.5, 0.5).withRange(1, 2));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(rule(f)).isEqualTo(LossRule.TARGETS_OUTSIDE_LOSS_RANGE);
    assertThat(f.severity()).isEqualTo(Severity.ERROR);
    assertThat(f.isModelLevel()).isTrue();
    assertThat(f.firstStep()).isEqualTo(0);
    assertThat(f.evidence().get(TARGET_MIN)).isEqualTo(1.0);
    assertThat(f.evidence().get(TARGET_MAX)).isEqualTo(2.0);
    assertThat(f.message()).contains("[1, 2]").contains("BCELoss");
  }

  @Test
  void binaryCrossEntropy_targetsOutsideZeroOne_withTermsAddedBesideIt_noFinding() {
    // pix2pix: BCE-with-logits to real/fake labels plus 100 x L1 to the target images in [-1, 1];
    // the recorded targets are the images, the L1 term's
    MemoryTrace.Builder gan =
        run("pytorch", "BCEWithLogitsLoss", "tanh", 3)
            .meta(TraceMetadata.LOSS_ADDED, "true")
            .model(Phase.TARGET, step -> Stats.of(0.1, 0.6).withRange(-1, 0.9));

    assertThat(findings(gan, ID)).isEmpty();
    assertThat(findings(gan.meta(TraceMetadata.LOSS_ADDED, "false"), ID))
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.TARGETS_OUTSIDE_LOSS_RANGE);
  }

  @Test
  void binaryCrossEntropy_targetsInZeroOne_orCategoricalLossOnClassIndices_noFinding() {
    MemoryTrace.Builder bce =
        run("pytorch", "BCELoss", "sigmoid", 1)
            .model(Phase.TARGET, step -> Stats.of(0.5, 0.5).withRange(0, 1));
    MemoryTrace.Builder ce =
        run("pytorch", "CrossEntropyLoss", "linear", 10)
            .model(Phase.TARGET, step -> Stats.of(4.5, 2.8).withRange(0, 9));

    assertThat(findings(bce, ID)).isEmpty();
    assertThat(findings(ce, ID)).isEmpty();
  }

  @Test
  void pytorchCrossEntropyLoss_onSoftmaxOutput_isLogitsLossOnProbabilities() {
    List<Finding> findings = findings(run("pytorch", "CrossEntropyLoss", "softmax", 10), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(rule(f)).isEqualTo(LossRule.LOGITS_LOSS_ON_PROBABILITIES);
    assertThat(f.symptom()).isEqualTo(Symptom.LOSS_MISMATCH);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.isModelLevel()).isTrue();
    assertThat(f.evidence().get(OUTPUT_ACTIVATION)).isEqualTo("softmax");
    assertThat(f.evidence().get(OUTPUT_WIDTH)).isEqualTo(10L);
    assertThat(f.evidence().get(LOSS_FROM_LOGITS)).isNull();
    assertThat(f.message()).contains("CrossEntropyLoss").contains("output layer out");
  }

  @Test
  void bceWithLogits_onSigmoidOutput_isLogitsLossOnProbabilities() {
    assertThat(findings(run("pytorch", "BCEWithLogitsLoss", "sigmoid", 1), ID))
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.LOGITS_LOSS_ON_PROBABILITIES);
  }

  /**
   * An adversarial autoencoder's layers: the decoder's output (sigmoid, 8 pixels) at index 1, the
   * discriminator's (linear, 1 score) listed last; the recorded BCELoss is the reconstruction's.
   */
  private static MemoryTrace.Builder twoNetworks() {
    return MemoryTrace.scripted(60)
        .meta(TraceMetadata.FRAMEWORK, "pytorch")
        .meta(TraceMetadata.LOSS, "BCELoss")
        .layer("decoder.0", "relu")
        .layer("decoder.2", "Linear", "sigmoid", 8)
        .layer("discriminator.2", "Linear", "linear", 1)
        .healthyLoss();
  }

  @Test
  void theOutputLayerTheTraceNames_isJudged_notTheLastLayer() {
    List<Finding> lastLayer = findings(twoNetworks(), ID);
    assertThat(lastLayer)
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.PROBABILITY_LOSS_ON_LOGITS);
    assertThat(lastLayer.get(0).message()).contains("discriminator.2");

    assertThat(findings(twoNetworks().meta(TraceMetadata.OUTPUT_LAYER, "1"), ID)).isEmpty();
    // an index no layer has is ignored: the last layer again
    assertThat(findings(twoNetworks().meta(TraceMetadata.OUTPUT_LAYER, "7"), ID)).hasSize(1);
  }

  @Test
  void logitsLosses_onLinearOutput_noFinding() {
    assertThat(findings(run("pytorch", "CrossEntropyLoss", "linear", 10), ID)).isEmpty();
    assertThat(findings(run("pytorch", "BCEWithLogitsLoss", "linear", 1), ID)).isEmpty();
  }

  @Test
  void
      kerasSparseCrossEntropy_onLinearOutput_fromLogitsUnknown_runDidNotLearn_isProbabilityLossOnLogits() {
    // a recorder of format v1 does not write dltrace.loss_from_logits: the run's outcome decides
    List<Finding> findings =
        findings(run("keras", "sparse_categorical_crossentropy", "linear", 10).flatLoss(), ID);

    assertThat(findings)
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.PROBABILITY_LOSS_ON_LOGITS);
    assertThat(findings.get(0).evidence().get(OUTPUT_ACTIVATION)).isEqualTo("linear");
    assertThat(findings.get(0).evidence().get(LOSS_FROM_LOGITS)).isNull();
    assertThat(findings.get(0).message())
        .contains("expects probabilities")
        .contains("does not say whether from_logits was set");
  }

  /** A Keras classifier of 10 classes, linear output, whose loss starts at startRatio x log 10. */
  private static MemoryTrace.Builder kerasFlatFrom(double startRatio) {
    double start = startRatio * Math.log(10);
    return MemoryTrace.scripted(300)
        .meta(TraceMetadata.FRAMEWORK, "keras")
        .meta(TraceMetadata.LOSS, "sparse_categorical_crossentropy")
        .meta(TraceMetadata.NUM_CLASSES, "10")
        .layer("fc1", "relu")
        .layer("out", "Linear", "linear", 10)
        .model(
            Phase.LOSS,
            step -> Stats.scalar(step == 0 ? start : 2.2 + 0.01 * Math.sin(step * 1.3)));
  }

  @Test
  void kerasCrossEntropy_fromLogitsUnknown_runDidNotLearn_firstLossAtAUniformGuess_noFinding() {
    // A softmax over an untrained model's small scores costs log K: the scores went through one
    // (from_logits=True), whatever else kept the run from learning.
    assertThat(findings(kerasFlatFrom(1.03), ID)).isEmpty();
  }

  @Test
  void kerasCrossEntropy_fromLogitsUnknown_runDidNotLearn_firstLossFarFromAUniformGuess_fires() {
    // Raw scores clipped and renormalized as probabilities start several times log K.
    assertThat(findings(kerasFlatFrom(4.0), ID))
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.PROBABILITY_LOSS_ON_LOGITS);
  }

  @Test
  void kerasCrossEntropyWithAddedTerms_startingAtAUniformGuess_noFinding() {
    // a labelled cross-entropy plus a pseudo-label term that starts at 0 (FixMatch, AdaMatch):
    // the sum starts where the cross-entropy does, at log K, through a softmax
    assertThat(findings(kerasFlatFrom(1.03).meta(TraceMetadata.LOSS_ADDED, "true"), ID)).isEmpty();
    assertThat(findings(kerasFlatFrom(4.0).meta(TraceMetadata.LOSS_ADDED, "true"), ID))
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.PROBABILITY_LOSS_ON_LOGITS);
  }

  @Test
  void kerasCrossEntropyWithAddedTerms_accuracyWellAboveChance_noFinding() {
    // a sum that starts far from log K and does not fall (its added term warms up), while the
    // training accuracy reaches 0.6 of 10 classes: the scores were read as logits
    MemoryTrace.Builder learnedAccuracy =
        kerasFlatFrom(4.0)
            .stepsPerEpoch(30)
            .meta(TraceMetadata.LOSS_ADDED, "true")
            .model(Phase.ACCURACY, step -> Stats.scalar(Math.min(0.6, 0.1 + 0.002 * step)));
    MemoryTrace.Builder atChance =
        kerasFlatFrom(4.0)
            .stepsPerEpoch(30)
            .meta(TraceMetadata.LOSS_ADDED, "true")
            .model(Phase.ACCURACY, step -> Stats.scalar(0.1 + 0.01 * Math.sin(step)));

    assertThat(findings(learnedAccuracy, ID)).isEmpty();
    assertThat(findings(atChance, ID))
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.PROBABILITY_LOSS_ON_LOGITS);
  }

  @Test
  void kerasSparseCrossEntropy_onLinearOutput_fromLogitsUnknown_runLearned_noFinding() {
    // with from_logits=True, which the trace does not rule out, this is the usual healthy pairing
    MemoryTrace.Builder learned =
        run(300, "keras", "sparse_categorical_crossentropy", "linear", 10);

    assertThat(findings(learned, ID)).isEmpty();
  }

  @Test
  void kerasSparseCrossEntropy_fromLogitsFalse_onLinearOutput_runLearned_stillFires() {
    List<Finding> findings =
        findings(
            run("keras", "sparse_categorical_crossentropy", "linear", 10)
                .meta(TraceMetadata.LOSS_FROM_LOGITS, "false"),
            ID);

    assertThat(findings)
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.PROBABILITY_LOSS_ON_LOGITS);
  }

  @Test
  void kerasSparseCrossEntropy_fromLogitsFalse_onLinearOutput_quotesTheFlag() {
    List<Finding> findings =
        findings(
            run("keras", "sparse_categorical_crossentropy", "linear", 10)
                .meta(TraceMetadata.LOSS_FROM_LOGITS, "false"),
            ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get(LOSS_FROM_LOGITS)).isFalse();
  }

  @Test
  void kerasSparseCrossEntropy_fromLogits_orOnSoftmax_noFinding() {
    assertThat(
            findings(
                run("keras", "sparse_categorical_crossentropy", "linear", 10)
                    .meta(TraceMetadata.LOSS_FROM_LOGITS, "true"),
                ID))
        .isEmpty();
    assertThat(findings(run("keras", "sparse_categorical_crossentropy", "softmax", 10), ID))
        .isEmpty();
  }

  @Test
  void kerasNameInAPytorchRun_onLinearOutput_noFinding() {
    // What the function expects is unknown: the port may have kept the Keras name only.
    assertThat(findings(run("pytorch", "categorical_crossentropy", "linear", 10), ID)).isEmpty();
  }

  @Test
  void nllOnSoftmaxOutput_isProbabilityLossOnLogits_butNotOnLogSoftmax() {
    assertThat(findings(run("pytorch", "NLLLoss", "softmax", 10), ID))
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.PROBABILITY_LOSS_ON_LOGITS);
    assertThat(findings(run("pytorch", "NLLLoss", "log_softmax", 10), ID)).isEmpty();
  }

  @Test
  void mseOnSoftmax_isRegressionLossOnSoftmax() {
    List<Finding> findings = findings(run("keras", "mse", "softmax", 3), ID);

    assertThat(findings)
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.REGRESSION_LOSS_ON_SOFTMAX);
    assertThat(findings.get(0).severity()).isEqualTo(Severity.WARNING);
  }

  @Test
  void mseOnLinearOrSigmoidOutput_noFinding() {
    assertThat(findings(run("pytorch", "MSELoss", "linear", 1), ID)).isEmpty();
    assertThat(findings(run("keras", "mean_squared_error", "sigmoid", 1), ID)).isEmpty();
  }

  @Test
  void bceOnOneUnit_withThreeClasses_isBinaryLossMulticlass() {
    List<Finding> findings =
        findings(
            run("keras", "binary_crossentropy", "sigmoid", 1).meta(TraceMetadata.NUM_CLASSES, "3"),
            ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(rule(f)).isEqualTo(LossRule.BINARY_LOSS_MULTICLASS);
    assertThat(f.evidence().get(NUM_CLASSES)).isEqualTo(3L);
    assertThat(f.evidence().get(OUTPUT_WIDTH)).isEqualTo(1L);
    assertThat(f.message()).contains("3 classes");
  }

  @Test
  void bceOnOneUnit_withTwoClasses_orUnknownWidth_noFinding() {
    assertThat(
            findings(
                run("keras", "binary_crossentropy", "sigmoid", 1)
                    .meta(TraceMetadata.NUM_CLASSES, "2"),
                ID))
        .isEmpty();
    assertThat(
            findings(
                run("keras", "binary_crossentropy", "sigmoid", -1)
                    .meta(TraceMetadata.NUM_CLASSES, "3"),
                ID))
        .isEmpty();
  }

  @Test
  void bceOnSoftmaxOfManyUnits_isBinaryLossMulticlass_butNotOverTwoUnits() {
    assertThat(findings(run("keras", "binary_crossentropy", "softmax", 10), ID))
        .extracting(LossDefinitionDetectorTest::rule)
        .containsExactly(LossRule.BINARY_LOSS_MULTICLASS);
    assertThat(findings(run("keras", "binary_crossentropy", "softmax", 2), ID)).isEmpty();
  }

  @Test
  void unknownLoss_onAnyOutput_noFinding() {
    assertThat(findings(run("pytorch", "KLDivLoss", "softmax", 10), ID)).isEmpty();
    assertThat(
            findings(
                MemoryTrace.scripted(60)
                    .layer("fc1", "relu")
                    .layer("out", "Linear", "softmax", 10)
                    .healthyLoss(),
                ID))
        .isEmpty();
  }

  @Test
  void theModelsOwnParameters_listedLast_areNotTheOutputLayer() {
    // A PyTorch ViT: the root module's class token and position embedding are recorded as a layer
    // of type ViT after the head.
    MemoryTrace.Builder vit =
        run("pytorch", "CrossEntropyLoss", "softmax", 10)
            .meta(TraceMetadata.MODEL, "ViT")
            .layer("vit", "ViT", "linear", 576);

    List<Finding> findings = findings(vit, ID);

    assertThat(findings)
        .singleElement()
        .satisfies(f -> assertThat(f.message()).contains("(output layer out)"));
    // a trailing layer of another type is the output
    assertThat(
            findings(
                run("pytorch", "CrossEntropyLoss", "softmax", 10)
                    .meta(TraceMetadata.MODEL, "ViT")
                    .layer("proj", "Linear", "linear", 10),
                ID))
        .isEmpty();
  }

  @Test
  void unknownOutputActivation_noOutputRule() {
    // The output layer's activation is not recorded: it may end in softmax or not.
    assertThat(findings(run("pytorch", "CrossEntropyLoss", null, 10), ID)).isEmpty();
    assertThat(findings(run("keras", "sparse_categorical_crossentropy", null, 10), ID)).isEmpty();
    assertThat(findings(run("keras", "mse", null, 10), ID)).isEmpty();
  }
}
