package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Analyses;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import java.util.List;
import org.junit.jupiter.api.Test;

class DyingReluDetectorTest {
  private static final String ID = "dying-relu";

  private static MemoryTrace.Builder relu(double lateZero, String activation) {
    return MemoryTrace.scripted(200)
        .layer("fc1", "relu")
        .layer("fc2", activation)
        .layer("fc3", "linear")
        .healthyLoss()
        .everyLayer(
            Phase.ACTIVATION,
            (step, layer) -> {
              double zero = layer == 1 && step >= 60 ? lateZero : layer == 2 ? 0 : 0.5;
              return Stats.of(0.3, 0.4).withZero(zero);
            })
        .everyLayer(
            Phase.BACKWARD,
            (step, layer) -> Stats.of(0, 0.01).withZero(layer == 1 && step >= 60 ? lateZero : 0.5));
  }

  @Test
  void reluLayer_mostlyZeroForAWindow_fires() {
    List<Finding> findings = findings(relu(0.99, "relu"), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.DEAD_OR_ZERO);
    assertThat(f.layerName()).isEqualTo("fc2");
    assertThat(f.firstStep()).isEqualTo(60);
    assertThat(f.evidence().get("initial_zero_fraction")).isEqualTo(0.5);
    assertThat((double) f.evidence().get("backward_zero_fraction"))
        .isCloseTo(0.99, org.assertj.core.data.Offset.offset(1e-9));
  }

  @Test
  void reluLayer_deadFromStep64_recordedEvery16Steps_firesAfter200Steps() {
    // every=16: the activation rows of steps 0, 16, 32...; fc2 dead from step 64 to 400
    MemoryTrace sampled =
        MemoryTrace.scripted(400)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .layer("fc3", "linear")
            .healthyLoss()
            .everyLayer(
                Phase.ACTIVATION,
                (step, layer) -> Stats.of(0.3, 0.4).withZero(layer == 1 && step >= 64 ? 1 : 0.5))
            .build()
            .sampledEvery(16);

    List<Finding> findings = analyze(sampled, Analyses.only(ID)).findings();

    // 21 rows of it: fewer than the window's 50, over 320 steps (50 rows every 4 steps span 196)
    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).layerName()).isEqualTo("fc2");
    assertThat(findings.get(0).firstStep()).isEqualTo(64);
  }

  @Test
  void reluLayer_deadFor150StepsOnly_recordedEvery16Steps_isNotReported() {
    MemoryTrace sampled =
        MemoryTrace.scripted(400)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .layer("fc3", "linear")
            .healthyLoss()
            .everyLayer(
                Phase.ACTIVATION,
                (step, layer) ->
                    Stats.of(0.3, 0.4).withZero(layer == 1 && step >= 64 && step < 224 ? 1 : 0.5))
            .build()
            .sampledEvery(16);

    assertThat(analyze(sampled, Analyses.only(ID)).findings()).isEmpty();
  }

  @Test
  void healthyDeepReluSparsity_noFinding() {
    // 0.88 zeros: the worst healthy sample layer; DeepDiagnosis' 0.7 would fire here. 0.94: a
    // healthy corpus CNN whose skip connection carries the signal past a mostly silent layer.
    assertThat(findings(relu(0.88, "relu"), ID)).isEmpty();
    assertThat(findings(relu(0.94, "relu"), ID)).isEmpty();
  }

  @Test
  void nonReluLayer_withZeros_isNotJudged() {
    assertThat(findings(relu(0.99, "tanh"), ID)).isEmpty();
  }

  @Test
  void shortBurst_shorterThanWindow_noFinding() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .layer("fc1", "relu")
            .everyLayer(
                Phase.ACTIVATION,
                (step, layer) -> Stats.of(0.3, 0.4).withZero(step >= 60 && step < 90 ? 0.99 : 0.5));

    assertThat(findings(trace, ID)).isEmpty();
  }
}
