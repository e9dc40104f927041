package io.dlanalyze.trace;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The metadata extensions the analyzer reads: {@code dltrace.loss_from_logits}, {@code
 * dltrace.output_layer}, {@code dltrace.weight_decay}, {@code dltrace.momentum}, and the layer
 * fields {@code training}, {@code in_optimizer}, {@code fan_in}, {@code fan_out} and {@code
 * regularizer}.
 */
class TraceMetadataExtensionsTest {
  private static TraceMetadata layers(String json) {
    return TraceMetadata.of(Map.of(TraceMetadata.LAYERS, json));
  }

  @Test
  void lossFromLogits_readsTrueAndFalse_anyCaseAndSpacing() {
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.LOSS_FROM_LOGITS, "true")).lossFromLogits())
        .contains(true);
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.LOSS_FROM_LOGITS, " False ")).lossFromLogits())
        .contains(false);
  }

  @Test
  void outputLayer_readsAnIndex_absentOrNotANumberIsUnknown() {
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.OUTPUT_LAYER, "3")).outputLayer()).hasValue(3);
    assertThat(TraceMetadata.empty().outputLayer()).isEmpty();
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.OUTPUT_LAYER, "last")).outputLayer())
        .isEmpty();
  }

  @Test
  void outputLayerNone_saysNoLayersOutputIsWhatTheLossTakes() {
    TraceMetadata none = TraceMetadata.of(Map.of(TraceMetadata.OUTPUT_LAYER, " None "));

    assertThat(none.noOutputLayer()).isTrue();
    assertThat(none.outputLayer()).isEmpty();
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.OUTPUT_LAYER, "3")).noOutputLayer()).isFalse();
    assertThat(TraceMetadata.empty().noOutputLayer()).isFalse();
  }

  @Test
  void lossFromLogits_absentOrNotABoolean_isUnknown() {
    assertThat(TraceMetadata.empty().lossFromLogits()).isEmpty();
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.LOSS_FROM_LOGITS, "1")).lossFromLogits())
        .isEmpty();
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.LOSS_FROM_LOGITS, "yes")).lossFromLogits())
        .isEmpty();
  }

  @Test
  void lossWeighted_trueAnyCase_elseFalse() {
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.LOSS_WEIGHTED, "true")).lossWeighted())
        .isTrue();
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.LOSS_WEIGHTED, " TRUE ")).lossWeighted())
        .isTrue();
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.LOSS_WEIGHTED, "false")).lossWeighted())
        .isFalse();
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.LOSS_WEIGHTED, "1")).lossWeighted()).isFalse();
    assertThat(TraceMetadata.empty().lossWeighted()).isFalse();
  }

  @Test
  void objective_minimizeWhenAbsentOrBlank_elseTheTrimmedLowerCaseValue() {
    assertThat(TraceMetadata.empty().objective()).isEqualTo("minimize");
    assertThat(TraceMetadata.empty().lossMeasuresProgress()).isTrue();
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.OBJECTIVE, " ")).lossMeasuresProgress())
        .isTrue();
    TraceMetadata gan = TraceMetadata.of(Map.of(TraceMetadata.OBJECTIVE, " Adversarial "));
    assertThat(gan.objective()).isEqualTo("adversarial");
    assertThat(gan.lossMeasuresProgress()).isFalse();
    assertThat(
            TraceMetadata.of(Map.of(TraceMetadata.OBJECTIVE, "policy_gradient"))
                .lossMeasuresProgress())
        .isFalse();
    assertThat(TraceMetadata.of(Map.of(TraceMetadata.OBJECTIVE, "minimize")).lossMeasuresProgress())
        .isTrue();
  }

  @Test
  void weightDecayAndMomentum_parseNumbers_elseEmpty() {
    TraceMetadata metadata =
        TraceMetadata.of(
            Map.of(TraceMetadata.WEIGHT_DECAY, "5e-4", TraceMetadata.MOMENTUM, " 0.9 "));
    assertThat(metadata.weightDecay().getAsDouble()).isEqualTo(5e-4);
    assertThat(metadata.momentum().getAsDouble()).isEqualTo(0.9);

    TraceMetadata bad =
        TraceMetadata.of(Map.of(TraceMetadata.WEIGHT_DECAY, "none", TraceMetadata.MOMENTUM, ""));
    assertThat(bad.weightDecay()).isEmpty();
    assertThat(bad.momentum()).isEmpty();
    assertThat(TraceMetadata.empty().weightDecay()).isEmpty();
    assertThat(TraceMetadata.empty().momentum()).isEmpty();
  }

  @Test
  void layerFields_areParsed() {
    LayerInfo layer =
        layers(
                "[{\"index\":0,\"name\":\"bn\",\"type\":\"BatchNorm1d\",\"activation\":\"relu\","
                    + "\"params\":64,\"trainable\":true,\"training\":false,\"in_optimizer\":false,"
                    + "\"fan_in\":32,\"fan_out\":16,\"regularizer\":{\"l2\":0.01}}]")
            .layers()
            .get(0);

    assertThat(layer.training()).isFalse();
    assertThat(layer.inOptimizer()).isFalse();
    assertThat(layer.fanIn()).isEqualTo(32);
    assertThat(layer.fanOut()).isEqualTo(16);
    assertThat(layer.regularizer()).isEqualTo("{\"l2\":0.01}");
    assertThat(layer.frozen()).isTrue();
  }

  @Test
  void absentLayerFields_defaultToUnknown() {
    LayerInfo layer = layers("[{\"name\":\"fc1\",\"type\":\"Linear\"}]").layers().get(0);

    assertThat(layer.training()).isNull();
    assertThat(layer.inOptimizer()).isTrue();
    assertThat(layer.fanIn()).isEqualTo(-1);
    assertThat(layer.fanOut()).isEqualTo(-1);
    assertThat(layer.regularizer()).isNull();
    assertThat(layer.trainable()).isTrue();
    assertThat(layer.frozen()).isFalse();
    assertThat(layer).isEqualTo(new LayerInfo(0, "fc1", "Linear", null, -1, true));
  }

  @Test
  void malformedLayerFields_defaultToUnknown_ratherThanFailTheTrace() {
    LayerInfo layer =
        layers(
                "[{\"name\":\"fc1\",\"training\":\"no\",\"fan_in\":\"many\",\"fan_out\":[3],"
                    + "\"regularizer\":{}}]")
            .layers()
            .get(0);

    assertThat(layer.training()).isNull();
    assertThat(layer.fanIn()).isEqualTo(-1);
    assertThat(layer.fanOut()).isEqualTo(-1);
    assertThat(layer.regularizer()).isNull();

    assertThat(layers("[{\"name\":\"fc1\",\"regularizer\":null}]").layers().get(0).regularizer())
        .isNull();
  }

  @Test
  void regularizerLongerThanANameMayBe_isDropped() {
    String longName = "x".repeat(Limits.MAX_NAME_CHARS + 1);
    LayerInfo layer =
        layers("[{\"name\":\"fc1\",\"regularizer\":\"" + longName + "\"}]").layers().get(0);

    assertThat(layer.regularizer()).isNull();
  }

  @Test
  void frozen_isNotTrainableOrOutOfTheOptimizer() {
    assertThat(new LayerInfo(0, "a", "Linear", null, 10, false).frozen()).isTrue();
    assertThat(new LayerInfo(0, "a", "Linear", null, 10, true, null, false, -1, -1, null).frozen())
        .isTrue();
    assertThat(new LayerInfo(0, "a", "Linear", null, 10, true, true, true, 4, 2, null).frozen())
        .isFalse();
  }

  @Test
  void constantLayer_isParsed_andIsNeverFrozen() {
    LayerInfo layer =
        layers(
                "[{\"name\":\"norm\",\"type\":\"Normalization\",\"trainable\":false,"
                    + "\"constant\":true}]")
            .layers()
            .get(0);

    assertThat(layer.constant()).isTrue();
    assertThat(layer.trainable()).isFalse();
    assertThat(layer.frozen()).isFalse();
    assertThat(layers("[{\"name\":\"fc\",\"trainable\":false}]").layers().get(0).frozen()).isTrue();
  }

  @Test
  void layersJson_roundTripsTheExtensionFields() {
    List<LayerInfo> layers =
        List.of(
            new LayerInfo(0, "fc1", "Linear", "relu", 330, true, true, true, 10, 30, null),
            new LayerInfo(1, "bn1", "BatchNorm1d", null, 60, true, false, false, -1, -1, null),
            new LayerInfo(
                2, "out", "Dense", "softmax", 93, false, null, true, 30, 3, "{\"l2\":0.01}"),
            new LayerInfo(3, "named", "Dense", null, 4, true, null, true, -1, -1, "\"l1\""),
            new LayerInfo(
                4, "norm", "Normalization", null, 17, false, null, true, -1, -1, null, true));

    String json = TraceMetadata.layersJson(layers);
    TraceMetadata metadata = TraceMetadata.of(Map.of(TraceMetadata.LAYERS, json));

    assertThat(metadata.layers()).containsExactlyElementsOf(layers);
    assertThat(TraceMetadata.layersJson(metadata.layers())).isEqualTo(json);
  }

  @Test
  void layersJson_leavesOutUnknownExtensionFields() {
    String json =
        TraceMetadata.layersJson(List.of(new LayerInfo(0, "fc1", "Linear", "relu", 10, true)));

    assertThat(json)
        .doesNotContain("training")
        .doesNotContain("in_optimizer")
        .doesNotContain("fan_in")
        .doesNotContain("fan_out")
        .doesNotContain("regularizer")
        .doesNotContain("constant");
  }

  private static java.util.Optional<String> loss(String written) {
    return TraceMetadata.of(Map.of(TraceMetadata.LOSS, written)).loss();
  }

  @Test
  void loss_whatPythonPrintsForTheLoss_isReducedToItsName() {
    // a recorder of format v1 may write str(loss) or a qualified name instead of the bare name
    assertThat(loss("<function sparse_categorical_crossentropy at 0x7f3a2c1d9ee0>"))
        .contains("sparse_categorical_crossentropy");
    assertThat(loss("<keras.src.losses.losses.SparseCategoricalCrossentropy object at 0x7f3a>"))
        .contains("SparseCategoricalCrossentropy");
    assertThat(loss("<class 'torch.nn.modules.loss.CrossEntropyLoss'>"))
        .contains("CrossEntropyLoss");
    assertThat(loss("torch.nn.BCEWithLogitsLoss")).contains("BCEWithLogitsLoss");
    assertThat(loss("CrossEntropyLoss()")).contains("CrossEntropyLoss");
    assertThat(loss(" CrossEntropyLoss(label_smoothing=0.1) ")).contains("CrossEntropyLoss");
    assertThat(loss("<function MyModel.loss_fn at 0x7f>")).contains("loss_fn");
  }

  @Test
  void loss_aBareNameOrSeveralJoined_isKeptAsWritten() {
    assertThat(loss("sparse_categorical_crossentropy")).contains("sparse_categorical_crossentropy");
    assertThat(loss("CrossEntropyLoss+MSELoss")).contains("CrossEntropyLoss+MSELoss");
    assertThat(loss("NT-Xent")).contains("NT-Xent");
    assertThat(loss("  ")).isEmpty();
    assertThat(TraceMetadata.empty().loss()).isEmpty();
  }
}
