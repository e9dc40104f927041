package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.function.LongFunction;
import org.junit.jupiter.api.Test;

/**
 * Root causes (engine.RootCauseAnalysis) that decide between one layer and the model from when and
 * where the layers failed: ReLU units that died during training, and several layers that never
 * change.
 */
class LayerOrModelRootCauseTest {
  private static RootCause rootCause(MemoryTrace.Builder trace) {
    return analyze(trace.build(), AnalysisOptions.defaults()).rootCause();
  }

  /** {@link #dying(int, double, int, LongFunction)} under a loss that swings between 1 and 2. */
  private static MemoryTrace.Builder dying(int dying, double startZero, int from) {
    return dying(dying, startZero, from, step -> Stats.scalar(1.0 + (step / 20) % 2));
  }

  /**
   * Three ReLU layers and a ReLU output, under {@code loss}; layer {@code dying} is {@code
   * startZero} zeros at first and all zeros from step {@code from}.
   */
  private static MemoryTrace.Builder dying(
      int dying, double startZero, int from, LongFunction<Stats> loss) {
    return MemoryTrace.scripted(200)
        .meta(TraceMetadata.LEARNING_RATE, "0.01")
        .meta(TraceMetadata.OPTIMIZER, "SGD")
        .layer("fc1", "relu")
        .layer("fc2", "relu")
        .layer("fc3", "relu")
        .layer("out", "Linear", "relu", 1)
        .model(Phase.LOSS, loss)
        .everyLayer(
            Phase.ACTIVATION,
            (step, layer) ->
                Stats.of(0.3, 0.4)
                    .withZero(layer == dying ? (step >= from ? 1.0 : startZero) : 0.5))
        .everyLayer(
            Phase.BACKWARD,
            (step, layer) ->
                Stats.of(0, 0.01)
                    .withZero(layer == dying ? (step >= from ? 1.0 : startZero) : 0.5));
  }

  @Test
  void hiddenReluUnits_aliveAtTheStart_diedDuringTraining_isAModelLevelCause() {
    RootCause root = rootCause(dying(1, 0.5, 60));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    // What the run shows as a whole: its loss swings.
    assertThat(root.symptom()).isEqualTo("oscillation");
    assertThat(root.cause())
        .startsWith(
            "Units killed by training: the ReLU units of fc2 were alive at the first step (50.0%"
                + " zero) and died from step 60");
    assertThat(root.suggestedFix())
        .startsWith("Lower the learning rate from 0.01 to about 0.001")
        .contains("LeakyReLU in fc2 would hide the symptom");
  }

  @Test
  void unitsKilledByTraining_inARunWhoseLossStalled_showAsNotLearning() {
    // The loss stays flat instead of swinging: the run as a whole stopped learning; the dead
    // units are the mechanism, named in the cause.
    RootCause root = rootCause(dying(1, 0.5, 60, step -> Stats.scalar(1.0)));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("not_learning");
    assertThat(root.cause()).startsWith("Units killed by training: the ReLU units of fc2");
  }

  @Test
  void hiddenReluUnits_thatDiedInARunThatIsOtherwiseFine_stayTheLayersFault() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .layer("out", "linear")
            .healthyLoss()
            .everyLayer(
                Phase.ACTIVATION,
                (step, layer) -> Stats.of(0.3, 0.4).withZero(layer == 1 && step >= 60 ? 1.0 : 0.5))
            .everyLayer(
                Phase.BACKWARD,
                (step, layer) -> Stats.of(0, 0.01).withZero(layer == 1 && step >= 60 ? 1.0 : 0.5));

    RootCause root = rootCause(trace);

    assertThat(root.scope()).isEqualTo(RootCause.LAYER);
    assertThat(root.layerName()).isEqualTo("fc2");
  }

  @Test
  void hiddenReluUnits_deadFromTheFirstStep_stayTheLayersFault() {
    // A layer that starts dead (a large negative bias) was built wrong: its own construction.
    RootCause root = rootCause(dying(1, 1.0, 0));

    assertThat(root.scope()).isEqualTo(RootCause.LAYER);
    assertThat(root.layerName()).isEqualTo("fc2");
    assertThat(root.cause()).startsWith("The ReLU units of fc2 died");
  }

  @Test
  void aReluOutputLayer_thatDiesDuringTraining_staysTheLayersFault() {
    // A ReLU on the output cuts the targets below 0 whatever trains it.
    RootCause root = rootCause(dying(3, 0.5, 60));

    assertThat(root.scope()).isEqualTo(RootCause.LAYER);
    assertThat(root.layerName()).isEqualTo("out");
  }

  /** Three layers with weights; {@code changing} says which move; {@code frozen} declares fc1. */
  private static MemoryTrace.Builder weights(boolean frozenFirst, boolean... changing) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .meta(TraceMetadata.OPTIMIZER, "AdamW")
            .meta(TraceMetadata.LEARNING_RATE, "3e-4");
    (frozenFirst ? trace.frozenLayer("conv1", "relu") : trace.layer("conv1", "relu"))
        .layer("conv2", "relu")
        .layer("head", "linear")
        .flatLoss()
        .everyLayer(
            Phase.WEIGHT,
            (step, layer) -> Stats.of(0.01 + (changing[layer] ? 1e-3 * Math.sin(step) : 0), 0.1))
        .everyLayer(
            Phase.GRADIENT, (step, layer) -> Stats.norm(0.5 * (1 + 0.1 * Math.sin(step + layer))));
    return trace;
  }

  @Test
  void twoLayersNeverUpdated_whileTheOthersTrain_isAModelLevelCause() {
    RootCause root = rootCause(weights(false, false, false, true));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("unchanged_values");
    assertThat(root.cause())
        .startsWith(
            "2 layers are never updated: the weights of conv1, conv2 stayed the same from step 0"
                + " while the other layers trained");
    assertThat(root.suggestedFix()).startsWith("Check how the parameters reach the optimizer");
  }

  @Test
  void oneLayerNeverUpdated_keepsItsOwnFinding() {
    RootCause root = rootCause(weights(false, false, true, true));

    assertThat(root.scope()).isEqualTo(RootCause.LAYER);
    assertThat(root.layerName()).isEqualTo("conv1");
  }

  @Test
  void aLayerFrozenInTheMetadata_isNotCountedAmongTheLayersLeftOut() {
    RootCause root = rootCause(weights(true, false, false, true));

    assertThat(root.cause()).doesNotContain("layers are never updated");
  }

  /**
   * Three layers with weights that train until step {@code stops[layer]} and stay the same after it
   * (a stop of -1 never comes), up to step {@code resumes} (none when -1), under a loss that falls
   * and then stalls.
   */
  private static MemoryTrace.Builder stopping(long resumes, long... stops) {
    return MemoryTrace.scripted(200)
        .meta(TraceMetadata.OPTIMIZER, "SGD")
        .meta(TraceMetadata.LEARNING_RATE, "0.1")
        .layer("fc1", "relu")
        .layer("fc2", "relu")
        .layer("head", "linear")
        .model(Phase.LOSS, step -> Stats.scalar(1.0 + 1.0 / (1 + Math.min(step, 40))))
        .everyLayer(
            Phase.WEIGHT,
            (step, layer) -> {
              boolean frozen =
                  stops[layer] >= 0 && step >= stops[layer] && (resumes < 0 || step < resumes);
              return Stats.of(0.01 + (frozen ? 0 : 1e-3 * Math.sin(step + layer)), 0.1);
            })
        .everyLayer(
            Phase.GRADIENT, (step, layer) -> Stats.norm(0.5 * (1 + 0.1 * Math.sin(step + layer))));
  }

  @Test
  void everyLayerStoppingAtOnce_afterTraining_isAModelLevelCause() {
    RootCause root = rootCause(stopping(-1, 40, 42, 44));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("unchanged_values");
    assertThat(root.cause())
        .startsWith(
            "Every layer stopped training at once: the weights of all 3 layers with parameters"
                + " stopped changing between steps 40 and 44 and never changed again (configured"
                + " learning rate 0.1)");
    assertThat(root.suggestedFix()).startsWith("Check the learning-rate schedule");
  }

  @Test
  void oneLayerStopping_whileTheOthersTrain_staysTheLayersFault() {
    RootCause root = rootCause(stopping(-1, -1, 42, -1));

    assertThat(root.scope()).isEqualTo(RootCause.LAYER);
    assertThat(root.layerName()).isEqualTo("fc2");
  }

  @Test
  void layersStoppingFarApart_areNotOneCause() {
    RootCause root = rootCause(stopping(-1, 30, 90, 150));

    assertThat(root.cause()).doesNotStartWith("Every layer stopped training at once");
    assertThat(root.scope()).isEqualTo(RootCause.LAYER);
  }

  @Test
  void layersThatTrainAgain_areNotStoppedForGood() {
    RootCause root = rootCause(stopping(120, 40, 40, 40));

    assertThat(root.cause()).doesNotStartWith("Every layer stopped training at once");
  }

  /**
   * Two layers whose weights and gradients turn NaN at step 30, the loss NaN from step {@code
   * lossTurns}; with {@code forward}, finite outputs of both layers at every step.
   */
  private static MemoryTrace.Builder nanAfterTheLoss(long lossTurns, boolean forward) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(60)
            .meta(TraceMetadata.OPTIMIZER, "SGD")
            .meta(TraceMetadata.LEARNING_RATE, "0.01")
            .layer("fc1", "relu")
            .layer("head", "linear")
            .model(
                Phase.LOSS, step -> Stats.scalar(step >= lossTurns ? Double.NaN : 1.0 / (1 + step)))
            .everyLayer(
                Phase.WEIGHT,
                (step, layer) ->
                    step >= 30 ? Stats.of(Double.NaN, Double.NaN) : Stats.of(0.01 * step, 0.1))
            .everyLayer(
                Phase.GRADIENT,
                (step, layer) ->
                    Stats.norm(step >= 30 ? Double.NaN : 0.5 * (1 + 0.1 * Math.sin(step))));
    return forward
        ? trace.everyLayer(Phase.FORWARD, (step, layer) -> Stats.of(0.2, 1 + 0.01 * step))
        : trace;
  }

  @Test
  void weightsThatTurnNaN_atTheStepTheLossTurned_withoutForwardRows_areAModelLevelCause() {
    RootCause root = rootCause(nanAfterTheLoss(30, false));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("numerical_error");
    assertThat(root.cause())
        .isEqualTo(
            "Numerical error (NaN/Inf) in the forward pass or the loss: the loss was NaN/Inf at"
                + " step 30, before the weights of head turned at that step (they are recorded"
                + " after the loss; the trace records no layer outputs to show where it started)");
    assertThat(root.suggestedFix()).contains("record the forward pass");
  }

  @Test
  void weightsThatTurnNaN_beforeTheLoss_stayTheLayersFault() {
    RootCause root = rootCause(nanAfterTheLoss(31, false));

    assertThat(root.scope()).isEqualTo(RootCause.LAYER);
    assertThat(root.symptom()).isEqualTo("numerical_error");
  }

  @Test
  void weightsThatTurnNaN_withAFiniteForwardPassRecorded_areRootedAtTheLoss() {
    // the forward rows show the outputs finite at step 30: the NaN was born in the loss, and the
    // weights written after that step's update follow from it
    RootCause root = rootCause(nanAfterTheLoss(30, true));

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.cause())
        .contains("the loss first turned NaN at step 30")
        .doesNotContain("in the forward pass or the loss");
  }
}
