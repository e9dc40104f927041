package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import org.junit.jupiter.api.Test;

/**
 * Traces that record only some layers at each step (a recorder sampling a large model): detectors
 * visit the layers a step has rows for, so the analysis costs what the rows cost, not steps x
 * layers, and a layer's absence at a step is not an observation of it.
 */
class SparseLayersTest {
  private static final int LAYERS = 4_000;

  /**
   * Layer 0 every step, dead (all-zero activations) from step 100; layer l >= 1 only at step l.
   * Visiting every layer at every step would be 16M slot visits per detector.
   */
  private static MemoryTrace.Builder sparse() {
    MemoryTrace.Builder trace = MemoryTrace.scripted(LAYERS).healthyLoss();
    for (int l = 0; l < LAYERS; l++) {
      trace.layer("fc" + l, "relu");
    }
    trace.stream(Phase.FORWARD, 0, step -> Stats.of(0.3, 1));
    trace.stream(
        Phase.ACTIVATION,
        0,
        step -> step < 100 ? Stats.of(0.4, 0.6).withZero(0.5) : Stats.scalar(0));
    for (int l = 1; l < LAYERS; l++) {
      int layer = l;
      trace.stream(Phase.FORWARD, layer, step -> step == layer ? Stats.of(0.3, 1) : null);
      trace.stream(
          Phase.ACTIVATION, layer, step -> step == layer ? Stats.of(0.4, 0.6).withZero(0.5) : null);
    }
    return trace;
  }

  @Test
  void oneLayerAStep_everyDefaultDetector_findsOnlyTheDeadLayer() {
    Report report = analyze(sparse().build(), AnalysisOptions.defaults());

    assertThat(report.trace().layers()).hasSize(LAYERS);
    assertThat(report.findings())
        .filteredOn(f -> f.symptom() == Symptom.DEAD_OR_ZERO)
        .extracting(Finding::layerName)
        .containsOnly("fc0");
    assertThat(report.findings())
        .allSatisfy(f -> assertThat(f.layerIndex()).isLessThanOrEqualTo(0));
  }
}
