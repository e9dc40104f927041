package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import org.junit.jupiter.api.Test;

class SaturationDetectorTest {
  private static final String ID = "saturation";

  @Test
  void sigmoidOutputPinnedAtOne_whileLossFlat_fires() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120).layer("fc1", "relu").layer("out", "sigmoid").flatLoss().stream(
            Phase.FORWARD, 1, step -> Stats.of(14, 3))
            .stream(Phase.ACTIVATION, 1, step -> Stats.of(0.9999, 1e-5));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.SATURATION);
    assertThat(f.layerName()).isEqualTo("out");
    assertThat(f.evidence().get("rule")).isEqualTo("pinned_output");
    assertThat(f.message()).contains("sigmoid").contains("pinned near 1");
  }

  @Test
  void sigmoidPinned_stepsWithoutTheLayersRows_breakTheRun() {
    // The layer has no rows at steps 45 and 90, which are recorded (fc1 has rows there): the
    // longest pinned run is 45 steps, under the window.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120).layer("fc1", "relu").layer("out", "sigmoid").flatLoss().stream(
            Phase.FORWARD, 0, step -> Stats.of(1, 1))
            .stream(Phase.FORWARD, 1, step -> step == 45 || step == 90 ? null : Stats.of(14, 3))
            .stream(
                Phase.ACTIVATION,
                1,
                step -> step == 45 || step == 90 ? null : Stats.of(0.9999, 1e-5));

    assertThat(findings(trace, ID)).isEmpty();
  }

  /**
   * A four-class classifier whose two tanh hidden layers take inputs far beyond +-5 from the first
   * step (weights initialized too large), and whose cross-entropy falls from 10 towards {@code
   * end}: log 4 = 1.39 is a uniform guess's.
   */
  private static MemoryTrace.Builder initializedTooLarge(double end) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .meta(TraceMetadata.FRAMEWORK, "pytorch")
            .meta(TraceMetadata.LOSS, "CrossEntropyLoss")
            .meta(TraceMetadata.NUM_CLASSES, "4")
            .layer("fc1", "tanh")
            .layer("fc2", "tanh")
            .layer("out", "linear")
            .model(Phase.LOSS, step -> Stats.scalar(end + (10 - end) * Math.exp(-step / 20.0)));
    for (int layer = 0; layer < 2; layer++) {
      trace.stream(Phase.FORWARD, layer, step -> Stats.of(0, 15)).stream(
          Phase.ACTIVATION, layer, step -> Stats.of(0, 0.975));
    }
    return trace;
  }

  @Test
  void lossFallingFromAConfidentlyWrongStart_backToAboutAUniformGuess_hasNotLearned() {
    // from 10 to 2: a drop of 60%, all of it undoing the start; still above log 4
    assertThat(findings(initializedTooLarge(2.0), ID))
        .extracting(Finding::layerName)
        .containsExactly("fc1", "fc2");
  }

  @Test
  void lossFallingWellBelowAUniformGuess_hasLearned() {
    assertThat(findings(initializedTooLarge(0.3), ID)).isEmpty();
  }

  @Test
  void everyTanhHiddenLayerSaturatedFromTheStart_isTheInitializationAtModelScope() {
    RootCause root =
        analyze(initializedTooLarge(2.0).build(), AnalysisOptions.defaults()).rootCause();

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("saturation");
    assertThat(root.cause())
        .startsWith(
            "Initialization too large: every sigmoid/tanh hidden layer (fc1, fc2) saturated from"
                + " step 0");
    assertThat(root.suggestedFix()).startsWith("Initialize the weights smaller");
  }

  @Test
  void tanhInputsFarBeyondFive_fires() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120).layer("fc1", "tanh").layer("fc2", "linear").flatLoss().stream(
            Phase.FORWARD, 0, step -> Stats.of(10, 300))
            .stream(Phase.ACTIVATION, 0, step -> Stats.of(0, 0.99));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).extracting(Finding::layerName).containsExactly("fc1");
    assertThat((double) findings.get(0).evidence().get("share_beyond_5")).isGreaterThan(0.9);
  }

  @Test
  void confidentTrainedSigmoid_whileLossConverges_noFinding() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200).layer("fc1", "relu").layer("out", "sigmoid").healthyLoss().stream(
            Phase.FORWARD, 1, step -> Stats.of(1, 12))
            .stream(Phase.ACTIVATION, 1, step -> Stats.of(0.6, 0.45));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void sigmoidInLinearRegime_noFinding() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120).layer("fc1", "sigmoid").flatLoss().stream(
            Phase.FORWARD, 0, step -> Stats.of(0.1, 1.5))
            .stream(Phase.ACTIVATION, 0, step -> Stats.of(0.52, 0.2));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void noLoss_isInconclusiveInfo() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120).layer("out", "sigmoid").stream(
            Phase.ACTIVATION, 0, step -> Stats.of(0.0001, 1e-6));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).severity()).isEqualTo(Severity.INFO);
    assertThat(findings.get(0).evidence().asMap()).containsKey("inconclusive");
  }

  @Test
  void normalCdf_matchesKnownValues() {
    assertThat(SaturationDetector.normalCdf(0))
        .isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-7));
    assertThat(SaturationDetector.normalCdf(1.959964))
        .isCloseTo(0.975, org.assertj.core.data.Offset.offset(1e-6));
    assertThat(SaturationDetector.normalCdf(-3))
        .isCloseTo(0.0013499, org.assertj.core.data.Offset.offset(1e-6));
  }

  @Test
  void sigmoidPinned_recordedEveryOtherStep_skippedStepsDoNotBreakTheRun() {
    // A sampling recorder (every=2): no layer rows at all on odd steps, the loss on every step.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(240).layer("fc1", "relu").layer("out", "sigmoid").flatLoss().stream(
            Phase.FORWARD, 0, step -> step % 2 == 1 ? null : Stats.of(1, 1))
            .stream(Phase.FORWARD, 1, step -> step % 2 == 1 ? null : Stats.of(14, 3))
            .stream(Phase.ACTIVATION, 1, step -> step % 2 == 1 ? null : Stats.of(0.9999, 1e-5));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).extracting(Finding::layerName).containsExactly("out");
  }
}
