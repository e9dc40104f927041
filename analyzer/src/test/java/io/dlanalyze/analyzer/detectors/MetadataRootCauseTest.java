package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import org.junit.jupiter.api.Test;

/**
 * Root causes (engine.RootCauseAnalysis) that rest on the metadata and are model-level: a loss that
 * does not fit the model, an optimizer that updates nothing, a constant initialization,
 * unnormalized inputs named by what they did.
 */
class MetadataRootCauseTest {
  private static RootCause rootCause(MemoryTrace.Builder trace) {
    return analyze(trace.build(), AnalysisOptions.defaults()).rootCause();
  }

  @Test
  void crossEntropyLossOnSoftmax_isAModelLevelLossMismatch() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .meta(TraceMetadata.FRAMEWORK, "pytorch")
            .meta(TraceMetadata.LOSS, "CrossEntropyLoss")
            .layer("fc1", "relu")
            .layer("out", "Linear", "softmax", 10)
            .flatLoss();

    RootCause root = rootCause(trace);

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("loss_mismatch");
    assertThat(root.cause())
        .startsWith(
            "Loss does not fit the model: the loss CrossEntropyLoss applies softmax itself");
    assertThat(root.suggestedFix()).startsWith("Remove the softmax/sigmoid from the output layer");
  }

  @Test
  void bceOnLabelsOneAndTwo_isAModelLevelLossMismatch_withTheLabelFix() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .meta(TraceMetadata.FRAMEWORK, "pytorch")
            .meta(TraceMetadata.LOSS, "BCELoss")
            .layer("fc1", "relu")
            .layer("out", "Linear", "sigmoid", 1)
            .model(Phase.TARGET, step -> Stats.of(1.5, 0.5).withRange(1, 2))
            .model(Phase.LOSS, step -> Stats.scalar(0.5 - 0.02 * step));

    RootCause root = rootCause(trace);

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("loss_mismatch");
    assertThat(root.cause())
        .startsWith("Loss does not fit the model: the targets range over [1, 2]");
    assertThat(root.suggestedFix()).startsWith("Map the labels into {0, 1}");
  }

  /** Three layers with weight rows; {@code changing} says which layers' weights move. */
  private static MemoryTrace.Builder weights(boolean[] changing) {
    return MemoryTrace.scripted(150)
        .meta(TraceMetadata.OPTIMIZER, "SGD")
        .meta(TraceMetadata.LEARNING_RATE, "0")
        .layer("fc1", "relu")
        .layer("fc2", "relu")
        .layer("out", "linear")
        .flatLoss()
        .everyLayer(
            Phase.WEIGHT,
            (step, layer) -> Stats.of(0.01 + (changing[layer] ? 1e-3 * Math.sin(step) : 0), 0.1))
        .everyLayer(
            Phase.GRADIENT, (step, layer) -> Stats.norm(0.5 * (1 + 0.1 * Math.sin(step + layer))));
  }

  @Test
  void everyLayersWeightsUnchangedFromTheStart_isAModelLevelCause() {
    RootCause root = rootCause(weights(new boolean[] {false, false, false}));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.cause())
        .startsWith(
            "No layer's weights ever change: the weights of all 3 layers with parameters stayed"
                + " the same from step 0 (learning rate 0)");
    assertThat(root.suggestedFix()).contains("non-zero learning rate");
  }

  @Test
  void aLayerWhoseOutputsStoppedToo_countsAmongTheLayersThatNeverChange() {
    // fc1's forward rows are unchanged as well: its finding is on forward, its weights a
    // consequence; all three layers still never change
    MemoryTrace.Builder trace =
        weights(new boolean[] {false, false, false}).stream(
            Phase.FORWARD, 0, step -> Stats.of(0.3, 0.2))
            .stream(Phase.FORWARD, 1, step -> Stats.of(0.3, 0.2 + 0.01 * Math.sin(step)))
            .stream(Phase.FORWARD, 2, step -> Stats.of(0.3, 0.2 + 0.01 * Math.sin(step)));

    RootCause root = rootCause(trace);

    assertThat(root.cause())
        .startsWith(
            "No layer's weights ever change: the weights of all 3 layers with parameters stayed"
                + " the same from step 0 (learning rate 0)");
    assertThat(root.suggestedFix()).contains("never stepped");
  }

  /** Three layers whose parameters require gradients, none held by the optimizer (or one). */
  private static MemoryTrace.Builder staleOptimizer(boolean lastHeld) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .meta(TraceMetadata.OPTIMIZER, "Adam")
            .meta(TraceMetadata.LEARNING_RATE, "0.001")
            .layerOutsideOptimizer("fc1", "relu")
            .layerOutsideOptimizer("fc2", "relu");
    (lastHeld ? trace.layer("out", "linear") : trace.layerOutsideOptimizer("out", "linear"))
        .flatLoss()
        .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.of(0.01, 0.1))
        .everyLayer(
            Phase.GRADIENT, (step, layer) -> Stats.norm(0.5 * (1 + 0.1 * Math.sin(step + layer))));
    return trace;
  }

  @Test
  void optimizerHoldingNoneOfTheModelsParameters_isAModelLevelCause() {
    RootCause root = rootCause(staleOptimizer(false));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("unchanged_values");
    assertThat(root.cause())
        .startsWith(
            "The optimizer holds none of the model's parameters: the 3 layers with weights all"
                + " require gradients");
    assertThat(root.suggestedFix()).startsWith("Build the optimizer from the parameters");
  }

  @Test
  void optimizerHoldingOneLayer_isNotCalledEmpty() {
    RootCause root = rootCause(staleOptimizer(true));

    assertThat(root).isNotNull();
    assertThat(root.cause()).doesNotStartWith("The optimizer holds none");
  }

  @Test
  void oneLayerUnchanged_isNotTheOptimizer() {
    RootCause root = rootCause(weights(new boolean[] {false, true, true}));

    assertThat(root).isNotNull();
    assertThat(root.cause()).doesNotStartWith("No layer's weights ever change");
  }

  /** Three layers whose weights have std {@code std} from the first step; both ReLU layers dead. */
  private static MemoryTrace.Builder deadUnits(double std) {
    return MemoryTrace.scripted(150)
        .layer("fc1", "relu")
        .layer("fc2", "relu")
        .layer("out", "linear")
        .flatLoss()
        .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.of(1e-3 * step, std))
        .everyLayer(
            Phase.ACTIVATION,
            (step, layer) -> layer < 2 ? Stats.of(0, 0).withZero(1.0) : Stats.of(0.1, 0.01))
        .everyLayer(
            Phase.BACKWARD,
            (step, layer) -> layer < 2 ? Stats.of(0, 0).withZero(1.0) : Stats.of(0, 0.01));
  }

  @Test
  void constantInitializationOfEveryLayer_withDeadUnits_isAModelLevelInitializationCause() {
    RootCause root = rootCause(deadUnits(0));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("dead_or_zero");
    assertThat(root.cause())
        .startsWith(
            "Initialization: the weights of all 3 layers with parameters started with variance 0");
    assertThat(root.suggestedFix()).startsWith("Initialize the weights randomly");
  }

  @Test
  void randomInitialization_withDeadUnits_isNotBlamedOnAConstantInitialization() {
    RootCause root = rootCause(deadUnits(0.1));

    assertThat(root).isNotNull();
    assertThat(root.cause()).doesNotStartWith("Initialization: the weights of all");
  }

  /**
   * Two embedding tables and a bias layer; the first {@code zeroLayers} start (and stay) at zero,
   * and their outputs are all zero.
   */
  private static MemoryTrace.Builder zeroTables(int zeroLayers) {
    return MemoryTrace.scripted(150)
        .layer("item_embedding", "Embedding", "linear")
        .layer("user_embedding", "Embedding", "linear")
        .layer("bias", "Embedding", "sigmoid")
        .flatLoss()
        .everyLayer(
            Phase.WEIGHT,
            (step, layer) ->
                layer < zeroLayers ? Stats.of(0, 0).withZero(1.0) : Stats.of(1e-3 * step, 0.03))
        .everyLayer(
            Phase.ACTIVATION,
            (step, layer) ->
                layer < zeroLayers ? Stats.of(0, 0).withZero(1.0) : Stats.of(0.5, 0.01))
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) ->
                layer < zeroLayers ? Stats.of(0, 0).withZero(1.0) : Stats.of(1e-4, 1e-3));
  }

  @Test
  void twoLayersInitializedToZero_withDeadOutputs_isAModelLevelInitializationCause() {
    RootCause root = rootCause(zeroTables(2));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("dead_or_zero");
    assertThat(root.cause())
        .startsWith(
            "Initialization: the weights of 2 layers (item_embedding, user_embedding) started"
                + " with variance 0");
    assertThat(root.suggestedFix())
        .startsWith("Initialize the weights of item_embedding, user_embedding randomly");
  }

  @Test
  void twoLayersInitializedToZero_inATraceOfWeightsOnly_isAModelLevelInitializationCause() {
    // Recorded in callback mode: weights and loss only, so no unit can be seen dead; the output
    // layer's weights do not move.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .meta(TraceMetadata.RECORD_PHASES, "loss,weight")
            .layer("hidden1", "relu")
            .layer("hidden2", "relu")
            .layer("head", "sigmoid")
            .flatLoss()
            .everyLayer(
                Phase.WEIGHT,
                (step, layer) -> layer < 2 ? Stats.of(0, 0).withZero(1.0) : Stats.of(0.02, 0.3));

    RootCause root = rootCause(trace);

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.cause())
        .startsWith(
            "Initialization: the weights of 2 layers (hidden1, hidden2) started with variance 0");
  }

  @Test
  void oneLayerInitializedToZero_keepsThePerLayerRules() {
    RootCause root = rootCause(zeroTables(1));

    assertThat(root.cause()).doesNotStartWith("Initialization:");
    assertThat(root.layerName()).isEqualTo("item_embedding");
  }

  /** Raw pixels that blow up the first layer; fc1's units die from step 60 when {@code dying}. */
  private static MemoryTrace.Builder rawPixels(String outputActivation, boolean dying) {
    return MemoryTrace.scripted(120)
        .layer("fc1", "relu")
        .layer("fc2", "relu")
        .layer("out", outputActivation)
        .flatLoss()
        .model(Phase.INPUT, step -> new Stats(78, 96.0, 0.0, 255.0, 1e4, 0.3, 784L))
        .stream(Phase.FORWARD, 0, step -> Stats.of(0, 270))
        .everyLayer(
            Phase.ACTIVATION,
            (step, layer) ->
                Stats.of(0.3, 0.4).withZero(dying && layer == 0 && step >= 60 ? 0.99 : 0.4));
  }

  @Test
  void unnormalizedInputs_thatKilledUnits_nameSaturation() {
    // The dead units are what the inputs' scale did; the class is the cause's, one for all of them.
    Report report = analyze(rawPixels("linear", true).build(), AnalysisOptions.defaults());
    RootCause root = report.rootCause();

    assertThat(report.findings()).anyMatch(f -> f.detector().equals("dying-relu"));
    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.cause()).startsWith("The inputs are not normalized: they range over [0, 255]");
    assertThat(root.symptom()).isEqualTo("saturation");
    assertThat(report.findings().get(root.findingRank() - 1).detector()).isEqualTo("input-range");
  }

  @Test
  void unnormalizedInputs_intoASigmoidOutput_withoutDeadUnits_nameSaturation() {
    RootCause root = rootCause(rawPixels("sigmoid", false));

    assertThat(root.cause()).startsWith("The inputs are not normalized");
    assertThat(root.symptom()).isEqualTo("saturation");
  }

  @Test
  void unnormalizedInputs_intoAReluOnlyModel_withoutDeadUnits_nameSaturation() {
    // No saturating layer: still the inputs' class, not the exploding gradients that follow.
    RootCause root = rootCause(rawPixels("linear", false));

    assertThat(root.cause()).startsWith("The inputs are not normalized");
    assertThat(root.symptom()).isEqualTo("saturation");
  }

  /** A 10-class cross-entropy whose first loss (60) is 26x that of a uniform guess, then flat. */
  private static MemoryTrace.Builder confidentlyWrongStart() {
    return MemoryTrace.scripted(120)
        .meta(TraceMetadata.FRAMEWORK, "keras")
        .meta(TraceMetadata.LOSS, "SparseCategoricalCrossentropy")
        .meta(TraceMetadata.NUM_CLASSES, "10")
        .model(Phase.LOSS, step -> Stats.scalar(step == 0 ? 60 : 2.3));
  }

  @Test
  void highFirstLoss_withAnOptimizerWeightDecay_isNotARegularizationCause() {
    // weight_decay changes the update (PyTorch, Keras AdamW), not the loss value.
    RootCause root =
        rootCause(
            confidentlyWrongStart()
                .meta(TraceMetadata.WEIGHT_DECAY, "0.05")
                .layer("fc1", "relu")
                .layer("out", "Linear", "softmax", 10));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.cause()).startsWith("Initialization too large: ");
  }

  @Test
  void highFirstLoss_withALayerPenaltyInTheLoss_isRegularizationDominating() {
    RootCause root =
        rootCause(
            confidentlyWrongStart()
                .regularizedLayer("neck", "relu", "{\"activity_l1\":1.0}")
                .layer("out", "Linear", "softmax", 10));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("not_learning");
    assertThat(root.cause()).startsWith("Regularization dominates: ");
  }

  @Test
  void highFirstLoss_onUnscaledInputs_isADataScalingCause_withTheHarmThatFollowedAsSymptom() {
    // Sensor columns in their own units (up to 28,810): the first loss is 26x a uniform guess's,
    // the output turns Inf at step 6. The inputs, not the initialization, explain both.
    RootCause root =
        rootCause(
            confidentlyWrongStart()
                .layer("fc1", "relu")
                .layer("out", "Linear", "softmax", 10)
                .model(
                    Phase.INPUT, step -> new Stats(711.0, 2823.0, -8276.0, 28810.0, 1e5, 0.0, 640L))
                .stream(
                    Phase.FORWARD,
                    1,
                    step ->
                        step < 6
                            ? Stats.of(40 + step, 300)
                            : Stats.of(Double.POSITIVE_INFINITY, Double.NaN)));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("numerical_error");
    assertThat(root.cause())
        .startsWith("The inputs are not normalized: they range over [-8276, 28810]")
        .contains("the first loss was 60");
    assertThat(root.suggestedFix()).startsWith("Standardize the inputs to mean 0, std 1");
  }

  /**
   * A regression under MSE on energies in their own units (mean -445, std 130): the loss starts at
   * 2e5 and, with {@code nanFrom} >= 0, turns NaN from that step.
   */
  private static MemoryTrace.Builder unscaledEnergies(long nanFrom) {
    return MemoryTrace.scripted(120)
        .meta(TraceMetadata.FRAMEWORK, "pytorch")
        .meta(TraceMetadata.TASK, "regression")
        .meta(TraceMetadata.LOSS, "MSELoss")
        .meta(TraceMetadata.BATCH_SIZE, "32")
        .layer("fc1", "relu")
        .layer("out", "linear")
        .model(Phase.TARGET, step -> Stats.of(-445, 130).withRange(-700, -200).withNumel(32))
        .model(
            Phase.LOSS,
            step ->
                nanFrom >= 0 && step >= nanFrom
                    ? Stats.of(Double.NaN, 0)
                    : Stats.of(2e5 * Math.exp(-step / 10.0) + 60, 0));
  }

  @Test
  void unscaledRegressionTargets_areTheCause_saturation_orTheNanTheyLedTo() {
    RootCause root = rootCause(unscaledEnergies(-1));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("saturation");
    assertThat(root.cause())
        .startsWith("The regression targets are not scaled (mean -445, std 130");
    assertThat(root.suggestedFix()).startsWith("Standardize the targets");

    RootCause nan = rootCause(unscaledEnergies(30));

    assertThat(nan.symptom()).isEqualTo("numerical_error");
    assertThat(nan.cause()).startsWith("The regression targets are not scaled");
  }

  @Test
  void highFirstLoss_onStandardizedInputs_staysAnInitializationCause() {
    RootCause root =
        rootCause(
            confidentlyWrongStart()
                .layer("fc1", "relu")
                .layer("out", "Linear", "softmax", 10)
                .model(Phase.INPUT, step -> new Stats(0.01, 1.0, -4.2, 4.5, 30.0, 0.0, 640L)));

    assertThat(root.cause()).startsWith("Initialization too large: ");
  }

  @Test
  void deadUnits_underAWeightDecayFarAboveAnyHealthyRun_areAModelLevelRegularizationCause() {
    // Keras AdamW with weight_decay=50 (meant 5e-5): every weight is pulled to zero.
    RootCause root =
        rootCause(
            deadUnits(0.1)
                .meta(TraceMetadata.WEIGHT_DECAY, "50")
                .meta(TraceMetadata.OPTIMIZER, "AdamW"));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("not_learning");
    assertThat(root.cause())
        .startsWith("Weight decay too strong: weight_decay = 50, 500x the largest");
    assertThat(root.suggestedFix()).startsWith("Lower weight_decay to 0.01 or below");
  }

  @Test
  void deadUnits_underAHealthyWeightDecay_areNotBlamedOnIt() {
    RootCause root = rootCause(deadUnits(0.1).meta(TraceMetadata.WEIGHT_DECAY, "0.05"));

    assertThat(root.cause()).doesNotStartWith("Weight decay too strong");
  }
}
