package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import java.util.List;
import org.junit.jupiter.api.Test;

class InputRangeDetectorTest {
  private static final String ID = "input-range";

  private static MemoryTrace.Builder pixels(double firstLayerStd, String outputActivation) {
    return MemoryTrace.scripted(120)
        .layer("fc1", "relu")
        .layer("out", outputActivation)
        .model(Phase.INPUT, step -> new Stats(78, 96.0, 0.0, 255.0, 1e4, 0.3, 784L))
        .stream(Phase.FORWARD, 0, step -> Stats.of(0, firstLayerStd));
  }

  /**
   * Raw columns up to 20,000 into a regression whose first layer outputs an RMS of 2,600 at steps 0
   * and 1 and NaN from step 2 on, with the loss: no window of 50 abnormal steps can form.
   */
  private static MemoryTrace.Builder overflowsAtStep2() {
    Stats nan = new Stats(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0.0, 64L);
    return MemoryTrace.scripted(120)
        .layer("dense", "relu")
        .layer("rate", "linear")
        .model(Phase.INPUT, step -> new Stats(1400, 4000.0, -10.0, 20_000.0, 1e6, 0.0, 640L))
        .stream(Phase.FORWARD, 0, step -> step < 2 ? Stats.of(-380, 2600) : nan)
        .model(Phase.LOSS, step -> step < 2 ? Stats.scalar(5) : Stats.scalar(Double.NaN));
  }

  /** Inputs of the given statistics into a first layer of the given type, then a linear output. */
  private static MemoryTrace.Builder inputsInto(String firstType, Stats inputs) {
    return MemoryTrace.scripted(120)
        .layer("first", firstType, "linear")
        .layer("out", "Linear", "linear")
        .model(Phase.INPUT, step -> inputs)
        .stream(Phase.FORWARD, 0, step -> Stats.of(0, 1));
  }

  @Test
  void tokenIdsIntoAnEmbedding_areIndicesNotValues_noFinding() {
    Stats ids = new Stats(31, 22.0, 0.0, 79.0, 400.0, 0.1, 640L);
    MemoryTrace.Builder tokens = inputsInto("Embedding", ids);
    MemoryTrace.Builder values = inputsInto("Linear", ids);
    MemoryTrace.Builder amountsBesideAnEmbedding =
        inputsInto("Embedding", new Stats(390, 700.0, 0.0, 2940.57, 6e5, 0.1, 256L));

    assertThat(findings(tokens, ID)).isEmpty();
    assertThat(findings(amountsBesideAnEmbedding, ID)).hasSize(1);
    assertThat(findings(values, ID)).extracting(Finding::severity).containsExactly(Severity.INFO);
  }

  @Test
  void firstLayerThatOverflowsBeforeAWindow_isAbnormal_andTheStepItTurnedIsNamed() {
    List<Finding> findings = findings(overflowsAtStep2(), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.evidence().get("first_non_finite_step")).isEqualTo(2L);
    assertThat((double) f.evidence().get("first_layer_rms")).isGreaterThan(2600);
    assertThat(f.message()).contains("from step 0 and turned NaN/Inf at step 2");
  }

  @Test
  void overflowInTheFirstSteps_onUnscaledInputs_isTheDataScale_atModelScope() {
    RootCause root = analyze(overflowsAtStep2().build(), AnalysisOptions.defaults()).rootCause();

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("numerical_error");
    assertThat(root.cause())
        .startsWith(
            "The inputs are not normalized: they range over [-10, 20000] (mean 1400, std 4000)")
        .contains("the values turned NaN/Inf at step 2");
  }

  @Test
  void aNormalFirstLayerBeforeTheNaN_isNotAnOverflowOfTheInputs() {
    Stats nan = new Stats(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0.0, 64L);
    List<Finding> findings =
        findings(
            overflowsAtStep2().stream(
                Phase.FORWARD,
                0,
                step -> step == 0 ? Stats.of(0, 1) : step < 2 ? Stats.of(-380, 2600) : nan),
            ID);

    assertThat(findings).extracting(Finding::severity).containsOnly(Severity.INFO);
  }

  @Test
  void rawPixels_withLargeFirstLayerOutputs_warns() {
    List<Finding> findings = findings(pixels(20, "sigmoid"), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.symptom()).isEqualTo(Symptom.SATURATION);
    assertThat(f.evidence().get("input_max")).isEqualTo(255.0);
    assertThat(f.evidence().get("abnormal_hidden_alone")).isNull();
    assertThat(f.message()).contains("[0, 255]").doesNotContain("no normalization layer");
  }

  /**
   * Raw pixels whose first layer's outputs change from step to step (so no other detector finds
   * anything) at the given RMS, with the given layers after it.
   */
  private static Report rawPixelsWithoutOtherHarm(double rms, String... after) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .layer("conv1", "Conv2d", "linear")
            .model(Phase.INPUT, step -> new Stats(78, 96.0, 0.0, 255.0, 1e4, 0.3, 784L))
            .stream(Phase.FORWARD, 0, step -> Stats.of(0.01 * step, rms + step % 5))
            .stream(Phase.WEIGHT, 0, step -> Stats.of(0.001 * step, 0.05));
    for (int i = 0; i < after.length; i++) {
      int index = i + 1;
      trace.layer("layer" + index, after[i], after[i].equals("ReLU") ? "relu" : "linear");
      if (!after[i].equals("ReLU")) {
        trace.stream(Phase.WEIGHT, index, step -> Stats.of(0.001 * step, 0.05));
      }
    }
    return analyze(trace.build(), AnalysisOptions.defaults());
  }

  private static Finding inputFinding(Report report) {
    return report.findings().stream()
        .filter(f -> f.detector().equals(ID))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void rawPixels_withLargeFirstLayerOutputs_butNoHarm_isKeptAtInfoAndTheRunIsHealthy() {
    // A risk factor without a harm: an RMS of 20 is abnormal (AUTOTRAINER's 10) but under
    // abnormal-hidden-alone.
    Report report = rawPixelsWithoutOtherHarm(20, "ReLU", "Linear");

    assertThat(report.verdict()).isEqualTo(Verdict.HEALTHY);
    Finding f = inputFinding(report);
    assertThat(f.severity()).isEqualTo(Severity.INFO);
    assertThat(f.message()).contains("[0, 255]").contains("Kept at info");
  }

  @Test
  void firstLayerOutputsAboveTheAloneBound_withNothingToRescaleThem_standAloneAsAnError() {
    Report report = rawPixelsWithoutOtherHarm(270, "ReLU", "Linear", "BatchNorm1d");

    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    Finding f = inputFinding(report);
    assertThat(f.severity()).isEqualTo(Severity.ERROR);
    assertThat(f.evidence().get("abnormal_hidden_alone")).isEqualTo(35.0);
    assertThat(f.message())
        .contains("stayed at or above 35 from step 0 for 50 steps with no normalization layer");
    assertThat(report.rootCause().scope()).isEqualTo(RootCause.MODEL);
  }

  @Test
  void firstLayerOutputsAboveTheAloneBound_rescaledByABatchNormAfterTheActivation_staysInfo() {
    // 0..255 pixels into a convolution and BatchNorm train as well as scaled ones.
    Report report = rawPixelsWithoutOtherHarm(270, "ReLU", "BatchNorm2d", "Linear");

    assertThat(report.verdict()).isEqualTo(Verdict.HEALTHY);
    Finding f = inputFinding(report);
    assertThat(f.severity()).isEqualTo(Severity.INFO);
    assertThat(f.evidence().get("abnormal_hidden_alone")).isNull();
  }

  @Test
  void theAloneBound_isAThreshold() {
    AnalysisOptions higher =
        AnalysisOptions.builder().set(Thresholds.ABNORMAL_HIDDEN_ALONE, 300).build();
    MemoryTrace.Builder trace = pixels(270, "sigmoid");

    assertThat(findings(trace, ID)).extracting(Finding::severity).containsExactly(Severity.ERROR);
    assertThat(analyze(trace.build(), higher).findings())
        .filteredOn(f -> f.detector().equals(ID))
        .extracting(Finding::severity)
        .containsExactly(Severity.WARNING);
  }

  @Test
  void rawPixels_withLargeFirstLayerOutputs_andDeadUnitsDownstream_staysAWarning() {
    MemoryTrace.Builder trace =
        pixels(20, "sigmoid").stream(
            Phase.FORWARD, 1, step -> new Stats(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 640L));

    Report report = analyze(trace.build(), AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    assertThat(report.findings())
        .filteredOn(f -> f.detector().equals(ID))
        .extracting(Finding::severity)
        .containsExactly(Severity.WARNING);
  }

  @Test
  void rawPixels_withNormalFirstLayer_isInfo() {
    // Images in [0, 255] feeding a normalization layer train fine (5.2).
    assertThat(findings(pixels(1.2, "sigmoid"), ID))
        .extracting(Finding::severity)
        .containsExactly(Severity.INFO);
  }

  @Test
  void reluOnlyModel_warningNamesSaturation() {
    // Inputs far outside the network's range are one class, whatever the activations.
    assertThat(findings(pixels(20, "linear"), ID))
        .extracting(Finding::symptom)
        .containsExactly(Symptom.SATURATION);
  }

  @Test
  void standardizedInputs_withTails_noFinding() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .layer("fc1", "relu")
            .model(Phase.INPUT, step -> new Stats(0.01, 1.0, -4.2, 4.5, 30.0, 0.0, 640L));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void inputsInsideUnitRange_noFinding() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .layer("fc1", "relu")
            .model(Phase.INPUT, step -> new Stats(0.3, 0.37, 0.0, 1.0, 10.0, 0.5, 784L));

    assertThat(findings(trace, ID)).isEmpty();
  }

  /**
   * Category ids into an embedding, beside raw amounts that go straight into the dense layer after
   * it (the recorder sees only the ids): the dense layer's outputs start at the given RMS from step
   * 0 on (rising by {@code growth} per step), with the given layers after it and an output layer.
   */
  private static MemoryTrace.Builder idsBesideRawAmounts(
      double rms, double growth, String... between) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .layer("plan_embedding", "Embedding", "linear")
            .layer("dense_1", "Dense", "relu")
            .model(Phase.INPUT, step -> new Stats(5.7, 3.7, 0.0, 11.0, 1400.0, 0.1, 32L))
            .stream(Phase.FORWARD, 0, step -> Stats.of(0, 0.05))
            .stream(Phase.WEIGHT, 0, step -> Stats.of(0.001 * step, 0.05))
            .stream(Phase.FORWARD, 1, step -> Stats.of(0.01 * step, rms + growth * step + step % 5))
            .stream(Phase.WEIGHT, 1, step -> Stats.of(0.001 * step, 0.05));
    int out = 2;
    for (String type : between) {
      int layer = out++;
      trace.layer("layer" + layer, type, "linear");
      trace.stream(Phase.WEIGHT, layer, step -> Stats.of(0.001 * step, 0.05));
    }
    return trace.layer("churn", "Dense", "sigmoid").stream(
        Phase.FORWARD, out, step -> Stats.of(0.5, 0.2))
        .stream(Phase.WEIGHT, out, step -> Stats.of(0.001 * step, 0.05));
  }

  @Test
  void idsIntoAnEmbedding_butALaterLayerFarOffScaleFromItsFirstStep_standsAloneAsAnError() {
    Report report = analyze(idsBesideRawAmounts(600, 0).build(), AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    Finding f = inputFinding(report);
    assertThat(f.severity()).isEqualTo(Severity.ERROR);
    assertThat(f.symptom()).isEqualTo(Symptom.SATURATION);
    assertThat(f.evidence().get("abnormal_layer")).isEqualTo("dense_1");
    assertThat((double) f.evidence().get("abnormal_layer_rms")).isBetween(600.0, 601.0);
    assertThat(f.evidence().get("abnormal_hidden_alone")).isEqualTo(35.0);
    assertThat(f.message())
        .startsWith("The inputs recorded are ids into an embedding (whole numbers in [0, 11])")
        .contains("the outputs of dense_1 held an RMS of")
        .contains("from their first recorded step, before any update");
    assertThat(report.rootCause().scope()).isEqualTo(RootCause.MODEL);
  }

  @Test
  void idsIntoAnEmbedding_withEveryLaterLayerOnScale_noFinding() {
    assertThat(findings(idsBesideRawAmounts(1.5, 0), ID)).isEmpty();
  }

  @Test
  void aLayerThatGrowsOffScale_isNotTheDataScale() {
    // On scale at step 0 (RMS 2), above the bound from step 4 on: training moved it there.
    assertThat(findings(idsBesideRawAmounts(2, 10), ID)).isEmpty();
  }

  @Test
  void aLayerFarOffScale_rescaledByTheNormalizationAfterIt_isNotJudged() {
    assertThat(findings(idsBesideRawAmounts(600, 0, "BatchNormalization"), ID)).isEmpty();
  }

  @Test
  void theOutputLayerFarOffScale_isTheTargetsScale_notTheInputs() {
    // A regression head on targets in the hundreds outputs hundreds; only hidden layers count.
    MemoryTrace.Builder trace =
        inputsInto("Linear", new Stats(40, 60.0, 0.0, 300.0, 1e4, 0.1, 640L)).stream(
            Phase.FORWARD, 1, step -> Stats.of(400, 80));

    assertThat(findings(trace, ID)).extracting(Finding::severity).containsExactly(Severity.INFO);
  }

  @Test
  void rawInputs_withAHiddenLayerFarOffScaleFromTheStart_standAlone_evenWhenTheFirstLayerIsNot() {
    // The first layer (a small-fan-in projection) stays under the bound; the next one does not.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .layer("proj", "Linear", "linear")
            .layer("hidden", "Linear", "relu")
            .layer("out", "Linear", "linear")
            .model(Phase.INPUT, step -> new Stats(250, 570.0, 0.1, 2491.0, 1e6, 0.0, 384L))
            .stream(Phase.FORWARD, 0, step -> Stats.of(0.01 * step, 20 + step % 5))
            .stream(Phase.FORWARD, 1, step -> Stats.of(0.01 * step, 280 + step % 5))
            .stream(Phase.FORWARD, 2, step -> Stats.of(0.5, 0.3));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).extracting(Finding::severity).containsExactly(Severity.ERROR);
    assertThat(findings.get(0).evidence().get("abnormal_layer")).isEqualTo("hidden");
    assertThat(findings.get(0).message()).startsWith("The inputs are not normalized");
  }
}
