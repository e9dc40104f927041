package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.findings;
import static io.dlanalyze.analyzer.EvidenceKeys.AFFINE_LAYERS;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_ACTIVATION;
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

class MissingActivationDetectorTest {
  private static final String ID = "missing-activation";

  private static MemoryTrace.Builder classifier() {
    return MemoryTrace.scripted(60)
        .meta(TraceMetadata.FRAMEWORK, "pytorch")
        .meta(TraceMetadata.LOSS, "CrossEntropyLoss")
        .healthyLoss();
  }

  @Test
  void allLinearClassifier_fires() {
    List<Finding> findings =
        findings(
            classifier().layer("fc1", "linear").layer("fc2", "linear").layer("out", "linear"), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.MISSING_ACTIVATION);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat(f.isModelLevel()).isTrue();
    assertThat(f.evidence().get(AFFINE_LAYERS)).isEqualTo(3L);
    assertThat(f.evidence().get(OUTPUT_ACTIVATION)).isEqualTo("linear");
    assertThat(f.message()).contains("fc1, fc2, out").startsWith("The 3 layers");
  }

  /** A fully connected layer of these widths, with its kernel and bias as parameters. */
  private static MemoryTrace.Builder dense(
      MemoryTrace.Builder trace, String name, long fanIn, long fanOut) {
    return trace.layer(name, "Linear", "linear", fanIn, fanOut, fanIn * fanOut + fanOut);
  }

  @Test
  void linearLayersSideBySide_likeDLinearsTrendAndSeasonalMaps_noFinding() {
    // each maps the 96-step look-back to the 24-step horizon; their outputs are added
    MemoryTrace.Builder trace = dense(classifier(), "Linear_Seasonal", 96, 24);
    assertThat(findings(dense(trace, "Linear_Trend", 96, 24), ID)).isEmpty();
  }

  @Test
  void linearLayersWhoseWidthsChain_fire() {
    MemoryTrace.Builder trace = dense(dense(classifier(), "fc1", 96, 24), "fc2", 24, 24);
    List<Finding> findings = findings(dense(trace, "out", 24, 3), ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get(AFFINE_LAYERS)).isEqualTo(3L);
  }

  @Test
  void twoTowersSideBySideThenAStack_fire() {
    // two linear towers concatenated into a linear joint stack: the joint layers chain
    MemoryTrace.Builder trace = dense(dense(classifier(), "building", 6, 32), "weather", 5, 32);
    trace = dense(dense(trace, "joint1", 64, 64), "joint2", 64, 32);
    assertThat(findings(dense(trace, "energy", 32, 1), ID)).hasSize(1);
  }

  @Test
  void widthsThatDoNotAccountForTheParameters_areNotJudged() {
    // weight normalization: the first tensor is the gain, of fan_in 1
    MemoryTrace.Builder trace =
        classifier()
            .layer("fc1", "Linear", "linear", 1, 32, 32 + 32 * 8 + 32)
            .layer("fc2", "Linear", "linear", 1, 32, 32 + 32 * 32 + 32);
    assertThat(findings(trace, ID)).hasSize(1);
  }

  @Test
  void kerasMultiHeadAttention_recordedAsItsProjections_isANonLinearity() {
    // The softmax over query-key scores has no row of its own: only the EinsumDense projections.
    List<Finding> findings =
        findings(
            MemoryTrace.scripted(60)
                .meta(TraceMetadata.TASK, "classification")
                .layer("proj", "Dense", "linear")
                .layer("mha/query", "EinsumDense", "linear")
                .layer("mha/key", "EinsumDense", "linear")
                .layer("mha/value", "EinsumDense", "linear")
                .layer("mha/attention_output", "EinsumDense", "linear")
                .layer("norm", "LayerNormalization", "linear")
                .layer("head", "Dense", "softmax")
                .healthyLoss(),
            ID);

    assertThat(findings).isEmpty();
  }

  @Test
  void handWrittenAttention_withQueryAndKeyProjections_isANonLinearity() {
    assertThat(
            findings(
                classifier()
                    .layer("embed", "linear")
                    .layer("block.q_proj", "linear")
                    .layer("block.k_proj", "linear")
                    .layer("block.v_proj", "linear")
                    .layer("out", "linear"),
                ID))
        .isEmpty();
    assertThat(
            findings(
                classifier().layer("embed", "linear").layer("qkv", "linear").layer("out", "linear"),
                ID))
        .isEmpty();
  }

  @Test
  void aLayerNamedQueryAlone_isNoAttention() {
    // a query projection without a key is not an attention block: the stack stays linear
    assertThat(
            findings(
                classifier().layer("query", "linear").layer("fc", "linear").layer("out", "linear"),
                ID))
        .hasSize(1);
  }

  @Test
  void kerasLinearDenseStack_withSoftmaxOutputAndHelperLayers_fires() {
    List<Finding> findings =
        findings(
            MemoryTrace.scripted(60)
                .meta(TraceMetadata.TASK, "classification")
                .layer("flatten", "Flatten", null)
                .layer("dense", "Dense", "linear")
                .layer("dropout", "Dropout", null)
                .layer("dense_1", "Dense", "softmax")
                .healthyLoss(),
            ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get(AFFINE_LAYERS)).isEqualTo(2L);
    assertThat(findings.get(0).evidence().get(OUTPUT_ACTIVATION)).isEqualTo("softmax");
  }

  /**
   * Keras's Forward-Forward example: each FFDense wraps a linear Dense and applies ReLU in its own
   * call(); recorded by a callback, the trace has the inner Dense layers' weights only.
   */
  private static MemoryTrace.Builder linearDenseInsideCustomLayers() {
    return MemoryTrace.scripted(60)
        .meta(TraceMetadata.FRAMEWORK, "keras")
        .layer("ff_dense/ff_dense_dense", "Dense", "linear")
        .layer("ff_dense_1/ff_dense_1_dense", "Dense", "linear")
        .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.of(0, 0.05))
        .healthyLoss();
  }

  @Test
  void linearLayersInsideOtherLayers_forwardPassNotWatched_noFinding() {
    assertThat(findings(linearDenseInsideCustomLayers(), ID)).isEmpty();
  }

  @Test
  void linearLayersInsideOtherLayers_forwardPassWatched_fires() {
    // The forward rows show what the layers around them apply: here nothing.
    MemoryTrace.Builder trace =
        linearDenseInsideCustomLayers()
            .everyLayer(Phase.FORWARD, (step, layer) -> Stats.of(0.1, 1.0))
            .everyLayer(Phase.ACTIVATION, (step, layer) -> Stats.of(0.1, 1.0));

    assertThat(findings(trace, ID)).hasSize(1);
  }

  @Test
  void hiddenReLU_noFinding() {
    assertThat(
            findings(
                classifier().layer("fc1", "relu").layer("fc2", "linear").layer("out", "linear"),
                ID))
        .isEmpty();
  }

  @Test
  void regressionWithStackedLinearLayers_fires() {
    // A model meant to be linear needs one layer: a stack in a regression lost its activation too.
    assertThat(
            findings(
                MemoryTrace.scripted(60)
                    .meta(TraceMetadata.LOSS, "mse")
                    .meta(TraceMetadata.TASK, "regression")
                    .layer("fc1", "linear")
                    .layer("out", "linear")
                    .healthyLoss(),
                ID))
        .hasSize(1);
  }

  @Test
  void linearRegressionOfOneLayer_noFinding() {
    assertThat(
            findings(
                MemoryTrace.scripted(60)
                    .meta(TraceMetadata.LOSS, "mse")
                    .meta(TraceMetadata.TASK, "regression")
                    .layer("out", "linear")
                    .healthyLoss(),
                ID))
        .isEmpty();
  }

  @Test
  void batchNormCarryingReLU_betweenLinearLayers_noFinding() {
    assertThat(
            findings(
                classifier()
                    .layer("fc1", "Linear", "linear")
                    .layer("bn1", "BatchNorm1d", "relu")
                    .layer("out", "Linear", "linear"),
                ID))
        .isEmpty();
  }

  @Test
  void batchNormWithoutActivation_betweenLinearLayers_fires() {
    assertThat(
            findings(
                classifier()
                    .layer("fc1", "Linear", "linear")
                    .layer("bn1", "BatchNorm1d", null)
                    .layer("out", "Linear", "linear"),
                ID))
        .extracting(f -> f.evidence().get(AFFINE_LAYERS))
        .containsExactly(2L);
  }

  @Test
  void unknownActivations_noFinding() {
    assertThat(findings(classifier().layer("fc1", null).layer("out", "linear"), ID)).isEmpty();
    assertThat(findings(classifier().layer("fc1", "linear").layer("out", null), ID)).isEmpty();
  }

  @Test
  void activationLayerBetweenLinearLayers_noFinding() {
    assertThat(
            findings(
                classifier()
                    .layer("fc1", "Linear", "linear")
                    .layer("act", "ReLU", null)
                    .layer("out", "Linear", "linear"),
                ID))
        .isEmpty();
  }

  @Test
  void singleLayer_noFinding() {
    assertThat(findings(classifier().layer("out", "linear"), ID)).isEmpty();
  }
}
