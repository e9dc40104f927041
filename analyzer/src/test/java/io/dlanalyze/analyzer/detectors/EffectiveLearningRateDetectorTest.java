package io.dlanalyze.analyzer.detectors;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.detectors.ScriptedTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import org.junit.jupiter.api.Test;

class EffectiveLearningRateDetectorTest {
  private static final String ID = "effective-learning-rate";

  /** lr x ||g|| / ||w|| = lr x 10 / 10 = lr. */
  private static ScriptedTrace run(double lr, boolean flat) {
    ScriptedTrace trace =
        ScriptedTrace.steps(150)
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .model(Phase.LEARNING_RATE, step -> Stats.scalar(lr))
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(10))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10));
    return flat ? trace.flatLoss() : trace.healthyLoss();
  }

  @Test
  void tooHigh_whileLossFlat_warnsWithOscillation() {
    List<Finding> findings = run(0.5, true).findings(ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.consequences()).hasSize(1);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.symptom()).isEqualTo(Symptom.OSCILLATION);
    assertThat((double) f.evidence().get("effective_lr"))
        .isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-9));
    assertThat((double) f.evidence().get("suggested_learning_rate")).isLessThan(0.5);
  }

  @Test
  void tooLow_whileLossFlat_warnsWithSlowConvergence() {
    List<Finding> findings = run(1e-7, true).findings(ID);

    assertThat(findings).extracting(Finding::symptom).containsOnly(Symptom.SLOW_CONVERGENCE);
    assertThat(findings).extracting(Finding::severity).containsOnly(Severity.WARNING);
  }

  @Test
  void tooLow_underAnAdaptiveOptimizer_isInfoOnly() {
    // Adam's step is about lr per parameter whatever ||g||: lr x ||g|| / ||w|| does not measure it.
    List<Finding> findings = run(1e-7, true).meta(TraceMetadata.OPTIMIZER, "Adam").findings(ID);

    assertThat(findings).isNotEmpty();
    assertThat(findings).extracting(Finding::severity).containsOnly(Severity.INFO);
  }

  @Test
  void tooLow_underSgd_stillWarns() {
    assertThat(run(1e-7, true).meta(TraceMetadata.OPTIMIZER, "SGD").findings(ID))
        .extracting(Finding::severity)
        .containsOnly(Severity.WARNING);
  }

  @Test
  void tooHigh_underAnAdaptiveOptimizer_stillWarns() {
    assertThat(run(0.5, true).meta(TraceMetadata.OPTIMIZER, "Adam").findings(ID))
        .extracting(Finding::severity)
        .containsOnly(Severity.WARNING);
  }

  @Test
  void outOfBand_whileLossFalls_isInfoOnly() {
    assertThat(run(0.5, false).findings(ID))
        .extracting(Finding::severity)
        .containsOnly(Severity.INFO);
  }

  @Test
  void inBand_noFinding() {
    assertThat(run(1e-3, true).findings(ID)).isEmpty();
  }

  @Test
  void learningRateFromMetadata_whenNoPhase() {
    ScriptedTrace trace =
        ScriptedTrace.steps(150)
            .layer("fc1", "relu")
            .meta(TraceMetadata.LEARNING_RATE, "0.9")
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(10))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10));

    assertThat(trace.findings(ID))
        .extracting(f -> f.evidence().get("learning_rate"))
        .containsExactly(0.9);
  }

  @Test
  void frozenLayer_isSkipped() {
    ScriptedTrace trace =
        ScriptedTrace.steps(150)
            .frozenLayer("backbone", "relu")
            .layer("head", "linear")
            .model(Phase.LEARNING_RATE, step -> Stats.scalar(0.5))
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(10))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10));

    assertThat(trace.findings(ID)).extracting(Finding::layerName).containsExactly("head");
  }
}
