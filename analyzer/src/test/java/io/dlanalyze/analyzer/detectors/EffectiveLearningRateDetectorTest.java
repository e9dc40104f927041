package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import org.junit.jupiter.api.Test;

class EffectiveLearningRateDetectorTest {
  private static final String ID = "effective-learning-rate";

  /** lr x ||g|| / ||w|| = lr x 10 / 10 = lr. */
  private static MemoryTrace.Builder run(double lr, boolean flat) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .model(Phase.LEARNING_RATE, step -> Stats.scalar(lr))
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(10))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10));
    return flat ? trace.flatLoss() : trace.healthyLoss();
  }

  @Test
  void tooHigh_whileLossFlat_warnsWithOscillation() {
    List<Finding> findings = findings(run(0.5, true), ID);

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
    List<Finding> findings = findings(run(1e-7, true), ID);

    assertThat(findings).extracting(Finding::symptom).containsOnly(Symptom.SLOW_CONVERGENCE);
    assertThat(findings).extracting(Finding::severity).containsOnly(Severity.WARNING);
  }

  @Test
  void tooLow_underAnAdaptiveOptimizer_isInfoOnly() {
    // Adam's step is about lr per parameter whatever ||g||: lr x ||g|| / ||w|| does not measure it.
    List<Finding> findings = findings(run(1e-7, true).meta(TraceMetadata.OPTIMIZER, "Adam"), ID);

    assertThat(findings).isNotEmpty();
    assertThat(findings).extracting(Finding::severity).containsOnly(Severity.INFO);
  }

  @Test
  void tooLow_underSgd_stillWarns() {
    assertThat(findings(run(1e-7, true).meta(TraceMetadata.OPTIMIZER, "SGD"), ID))
        .extracting(Finding::severity)
        .containsOnly(Severity.WARNING);
  }

  @Test
  void tooHigh_underAnAdaptiveOptimizer_stillWarns() {
    assertThat(findings(run(0.5, true).meta(TraceMetadata.OPTIMIZER, "Adam"), ID))
        .extracting(Finding::severity)
        .containsOnly(Severity.WARNING);
  }

  @Test
  void outOfBand_whileLossFalls_isInfoOnly() {
    assertThat(findings(run(0.5, false), ID))
        .extracting(Finding::severity)
        .containsOnly(Severity.INFO);
  }

  @Test
  void inBand_noFinding() {
    assertThat(findings(run(1e-3, true), ID)).isEmpty();
  }

  @Test
  void learningRateFromMetadata_whenNoPhase() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .layer("fc1", "relu")
            .meta(TraceMetadata.LEARNING_RATE, "0.9")
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(10))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10));

    assertThat(findings(trace, ID))
        .extracting(f -> f.evidence().get("learning_rate"))
        .containsExactly(0.9);
  }

  @Test
  void frozenLayer_isSkipped() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .frozenLayer("backbone", "relu")
            .layer("head", "linear")
            .model(Phase.LEARNING_RATE, step -> Stats.scalar(0.5))
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(10))
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(10));

    assertThat(findings(trace, ID)).extracting(Finding::layerName).containsExactly("head");
  }
}
