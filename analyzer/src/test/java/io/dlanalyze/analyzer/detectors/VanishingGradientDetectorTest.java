package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import java.util.List;
import org.junit.jupiter.api.Test;

class VanishingGradientDetectorTest {
  private static final String ID = "vanishing-gradient";

  /** Gradient norms shrink 10x per layer from the last layer back. */
  private static MemoryTrace.Builder shrinking(int layers, MemoryTrace.Builder base) {
    for (int l = 0; l < layers; l++) {
      base.layer("fc" + (l + 1), "sigmoid");
    }
    return base.everyLayer(
        Phase.GRADIENT, (step, layer) -> Stats.norm(0.1 * Math.pow(10, -(layers - 1 - layer))));
  }

  @Test
  void ratioAndNorm_belowAutotrainerBounds_whileLossFlat_fires() {
    List<Finding> findings = findings(shrinking(6, MemoryTrace.scripted(120).flatLoss()), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.VANISHING_GRADIENT);
    assertThat(f.layerName()).isEqualTo("fc1");
    assertThat(f.evidence().get("rule")).isEqualTo("ratio");
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.firstStep()).isZero();
  }

  @Test
  void shallowSpread_noFinding() {
    // 3 layers: the first layer's gradient is 1e-2 of the last: within AUTOTRAINER's 1e-3.
    assertThat(findings(shrinking(3, MemoryTrace.scripted(120).flatLoss()), ID)).isEmpty();
  }

  @Test
  void convergedRun_smallGradients_noFinding() {
    assertThat(findings(shrinking(6, MemoryTrace.scripted(200).healthyLoss()), ID)).isEmpty();
  }

  @Test
  void tinyRmsGradient_inOneLayer_firesRmsRule() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(layer == 1 ? 1e-6 : 1e-3));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get("rule")).isEqualTo("rms");
    assertThat(findings.get(0).layerName()).isEqualTo("fc2");
  }

  @Test
  void exactlyZeroGradients_areNotVanishing() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.scalar(0).withNumel(100));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void noLoss_isInconclusiveInfo() {
    List<Finding> findings = findings(shrinking(6, MemoryTrace.scripted(120)), ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).severity()).isEqualTo(Severity.INFO);
    assertThat(findings.get(0).evidence().asMap()).containsKey("inconclusive");
  }

  @Test
  void recordedEveryOtherStep_stepsWithoutGradientRowsDoNotBreakTheRun() {
    // A sampling recorder (every=2) writes gradients on even steps only; the loss on every step.
    MemoryTrace.Builder trace = MemoryTrace.scripted(240).flatLoss();
    for (int l = 0; l < 6; l++) {
      trace.layer("fc" + (l + 1), "sigmoid");
    }
    trace.everyLayer(
        Phase.GRADIENT,
        (step, layer) -> step % 2 == 1 ? null : Stats.norm(0.1 * Math.pow(10, -(5 - layer))));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).layerName()).isEqualTo("fc1");
    assertThat(findings.get(0).evidence().get("rule")).isEqualTo("ratio");
  }
}
