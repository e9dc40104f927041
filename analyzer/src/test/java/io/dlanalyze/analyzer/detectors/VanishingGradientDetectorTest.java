package io.dlanalyze.analyzer.detectors;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.detectors.ScriptedTrace.Stats;
import io.dlanalyze.trace.Phase;
import java.util.List;
import org.junit.jupiter.api.Test;

class VanishingGradientDetectorTest {
  private static final String ID = "vanishing-gradient";

  /** Gradient norms shrink 10x per layer from the last layer back. */
  private static ScriptedTrace shrinking(int layers, ScriptedTrace base) {
    for (int l = 0; l < layers; l++) {
      base.layer("fc" + (l + 1), "sigmoid");
    }
    return base.everyLayer(
        Phase.GRADIENT, (step, layer) -> Stats.norm(0.1 * Math.pow(10, -(layers - 1 - layer))));
  }

  @Test
  void ratioAndNorm_belowAutotrainerBounds_whileLossFlat_fires() {
    List<Finding> findings = shrinking(6, ScriptedTrace.steps(120).flatLoss()).findings(ID);

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
    assertThat(shrinking(3, ScriptedTrace.steps(120).flatLoss()).findings(ID)).isEmpty();
  }

  @Test
  void convergedRun_smallGradients_noFinding() {
    assertThat(shrinking(6, ScriptedTrace.steps(200).healthyLoss()).findings(ID)).isEmpty();
  }

  @Test
  void tinyRmsGradient_inOneLayer_firesRmsRule() {
    ScriptedTrace trace =
        ScriptedTrace.steps(120)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(layer == 1 ? 1e-6 : 1e-3));

    List<Finding> findings = trace.findings(ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get("rule")).isEqualTo("rms");
    assertThat(findings.get(0).layerName()).isEqualTo("fc2");
  }

  @Test
  void exactlyZeroGradients_areNotVanishing() {
    ScriptedTrace trace =
        ScriptedTrace.steps(120)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.scalar(0).withNumel(100));

    assertThat(trace.findings(ID)).isEmpty();
  }

  @Test
  void noLoss_isInconclusiveInfo() {
    List<Finding> findings = shrinking(6, ScriptedTrace.steps(120)).findings(ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).severity()).isEqualTo(Severity.INFO);
    assertThat(findings.get(0).evidence().asMap()).containsKey("inconclusive");
  }
}
