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

class WeightVarianceDetectorTest {
  private static final String ID = "weight-variance";

  private static MemoryTrace.Builder weights(double lateStd) {
    return MemoryTrace.scripted(150)
        .layer("fc1", "relu")
        .layer("fc2", "linear")
        .everyLayer(
            Phase.WEIGHT, (step, layer) -> Stats.of(0, layer == 0 && step >= 50 ? lateStd : 0.1));
  }

  @Test
  void divergingWeights_varianceAboveOneHundred_warns() {
    List<Finding> findings = findings(weights(12), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.layerName()).isEqualTo("fc1");
    assertThat(f.symptom()).isEqualTo(Symptom.EXPLODING_GRADIENT);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.firstStep()).isEqualTo(50);
    assertThat((double) f.evidence().get("max_variance"))
        .isCloseTo(144, org.assertj.core.data.Offset.offset(1e-9));
  }

  @Test
  void varianceAboveTheBandFromTheFirstStep_didNotDiverge_noFinding() {
    // An S4D kernel's parameters (a state matrix whose imaginary parts run pi x n) hold a variance
    // of 656 from the first step, and keep it.
    MemoryTrace.Builder kernel =
        MemoryTrace.scripted(150)
            .layer("kernel", "linear")
            .layer("decoder", "linear")
            .everyLayer(
                Phase.WEIGHT, (step, layer) -> Stats.of(12, layer == 0 ? 25.6 + step * 1e-3 : 0.1));
    assertThat(findings(kernel, ID)).isEmpty();

    // The same layer starting inside the band and growing out of it diverged.
    MemoryTrace.Builder grown =
        MemoryTrace.scripted(150)
            .layer("kernel", "linear")
            .layer("decoder", "linear")
            .everyLayer(
                Phase.WEIGHT,
                (step, layer) -> Stats.of(12, layer == 0 ? (step == 0 ? 5 : 25.6) : 0.1));
    assertThat(findings(grown, ID)).hasSize(1);
  }

  @Test
  void varianceAboveDeepDiagnosisTen_belowTheDefault_noFinding() {
    // 36: above DeepDiagnosis' 10 and the largest healthy dev run's 15.2 (a two-unit XOR net),
    // below the default 100.
    assertThat(findings(weights(6), ID)).isEmpty();
  }

  @Test
  void tinyWeights_varianceBelowBand_isInfo() {
    assertThat(findings(weights(1e-3), ID))
        .extracting(Finding::severity)
        .containsExactly(Severity.INFO);
  }

  @Test
  void normalInitialization_noFinding() {
    assertThat(findings(weights(0.05), ID)).isEmpty();
  }

  @Test
  void normalizationLayer_isSkipped() {
    // A BatchNorm scale starts at exactly 1 with variance 0.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .layer("bn1", "BatchNorm1d", null)
            .layer("fc1", "Linear", "relu")
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.of(1, 0));

    assertThat(findings(trace, ID)).extracting(Finding::layerName).containsExactly("fc1");
  }

  /**
   * A BiLSTM-CRF as the PyTorch tutorial writes it: the recorder lists the transition scores the
   * model holds itself as a last layer of the model's own class, with the entries into the start
   * tag and out of the stop tag set to -10000 (variance about 1.7e7; here from the second step,
   * since a variance above the band from the first step is not judged anyway).
   */
  private static MemoryTrace.Builder crfTagger(String model) {
    return MemoryTrace.scripted(150)
        .meta(TraceMetadata.MODEL, model)
        .layer("lstm", "LSTM", null)
        .layer("hidden2tag", "Linear", "linear")
        .layer("bilstm_crf", "BiLSTM_CRF", null)
        .everyLayer(
            Phase.WEIGHT, (step, layer) -> Stats.of(0, layer == 2 && step > 0 ? 4072 : 0.1));
  }

  @Test
  void theModelsOwnParameters_areNoLayersKernel_notJudged() {
    assertThat(findings(crfTagger("BiLSTM_CRF"), ID)).isEmpty();
  }

  @Test
  void theSameParametersUnderAnotherModelName_areJudged() {
    assertThat(findings(crfTagger("Tagger"), ID))
        .extracting(Finding::layerName)
        .containsExactly("bilstm_crf");
  }

  @Test
  void aModelThatIsOneLayer_isJudged() {
    // A bare nn.Linear trained as the model: its one layer has the model's class and is a kernel.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(150)
            .meta(TraceMetadata.MODEL, "Linear")
            .layer("linear", "Linear", "linear")
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.of(0, step > 0 ? 12 : 0.1));

    assertThat(findings(trace, ID)).extracting(Finding::layerName).containsExactly("linear");
  }
}
