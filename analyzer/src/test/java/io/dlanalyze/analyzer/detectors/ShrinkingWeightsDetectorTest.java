package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import org.junit.jupiter.api.Test;

class ShrinkingWeightsDetectorTest {
  private static final String ID = "shrinking-weights";

  /** Three layers whose weight norms decay geometrically by {@code perStep} (1 = held). */
  private static MemoryTrace.Builder run(double... perStep) {
    MemoryTrace.Builder trace = MemoryTrace.scripted(200);
    for (int i = 0; i < perStep.length; i++) {
      trace.layer("fc" + (i + 1), "relu");
    }
    return trace
        .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(5 * Math.pow(perStep[layer], step)))
        .healthyLoss();
  }

  @Test
  void weightsThatDecayInEveryLayer_wereShrunkTowardZero() {
    // 0.98 per step: 1.8% of the first norm after 199 steps.
    List<Finding> found = findings(run(0.98, 0.98, 0.98), ID);

    assertThat(found).hasSize(1);
    Finding f = found.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.NOT_LEARNING);
    assertThat(f.isModelLevel()).isTrue();
    assertThat((double) f.evidence().get("ratio")).isCloseTo(Math.pow(0.98, 199), offset(1e-6));
    assertThat(f.evidence().get("affected_layers")).isEqualTo(3L);
    // 0.98^t < 0.28 from t = 64 on
    assertThat(f.firstStep()).isEqualTo(64);
  }

  @Test
  void weightsThatHoldOrGrow_areNotReported() {
    assertThat(findings(run(1.0, 1.001, 0.9995), ID)).isEmpty();
  }

  @Test
  void oneShrinkingLayerOfThree_isNotTheMedian() {
    assertThat(findings(run(0.98, 1.0, 1.0), ID)).isEmpty();
  }

  @Test
  void withoutAnL2Norm_theNormComesFromTheMeanAndStd() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .everyLayer(
                Phase.WEIGHT,
                (step, layer) -> {
                  double std = 0.5 * Math.pow(0.98, step);
                  return new Stats(0, std, -3 * std, 3 * std, null, 0.0, 100L);
                })
            .healthyLoss();

    assertThat(findings(trace, ID)).hasSize(1);
  }

  @Test
  void normalizationLayersAndZeroStarts_areSkipped() {
    // The gain of a normalization layer may shrink, and a zero-initialized layer has no ratio.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .layer("bn1", "BatchNorm1d", null)
            .layer("fc1", "Linear", "relu")
            .layer("bias_only", "Linear", "linear")
            .everyLayer(
                Phase.WEIGHT,
                (step, layer) ->
                    switch (layer) {
                      case 0 -> Stats.norm(5 * Math.pow(0.98, step));
                      case 1 -> Stats.norm(5);
                      default -> Stats.norm(step == 0 ? 0 : 0.01 * step);
                    })
            .healthyLoss();

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void aDeclaredPenalty_isNamedInTheModelLevelCause() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .meta(TraceMetadata.FRAMEWORK, "keras")
            .regularizedLayer("dense1", "relu", "{\"l2\":1.0}")
            .regularizedLayer("dense2", "linear", "{\"l2\":1.0}")
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(5 * Math.pow(0.97, step)))
            .healthyLoss();

    RootCause root = analyze(trace.build(), AnalysisOptions.defaults()).rootCause();

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("not_learning");
    assertThat(root.cause())
        .startsWith(
            "Regularization dominates: the weight penalty {\"l2\":1.0} on 2 layers (dense1,"
                + " dense2) outweighs the loss");
    assertThat(root.suggestedFix()).startsWith("Lower the weight penalty");
  }

  @Test
  void anUndeclaredPenalty_isStillTheCause() {
    RootCause root = analyze(run(0.97, 0.97).build(), AnalysisOptions.defaults()).rootCause();

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.cause())
        .startsWith(
            "Regularization dominates: a weight penalty (an L2 term added to the loss, or weight"
                + " decay) outweighs the loss");
  }
}
