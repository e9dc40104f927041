package io.dlanalyze.analyzer.detectors;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Layer;
import org.junit.jupiter.api.Test;

class ActivationKindTest {
  @Test
  void of_activationOrActivationType_kindFromEither() {
    assertThat(ActivationKind.of(new Layer(0, "fc0", "Linear", "ReLU", true)))
        .isEqualTo(ActivationKind.RELU);
    assertThat(ActivationKind.of(new Layer(1, "act", "Sigmoid", null, true)))
        .isEqualTo(ActivationKind.SIGMOID);
    assertThat(ActivationKind.of(new Layer(2, "fc2", "Linear", null, true)))
        .isEqualTo(ActivationKind.UNKNOWN);
  }

  @Test
  void perLayer_sameLayerAskedAgain_sameKind() {
    ActivationKind.PerLayer kinds = new ActivationKind.PerLayer();
    Layer relu = new Layer(3, "fc3", "Linear", "relu", true);
    Layer tanh = new Layer(7, "fc7", "Linear", "tanh", true);

    assertThat(kinds.of(relu)).isEqualTo(ActivationKind.RELU);
    assertThat(kinds.of(tanh)).isEqualTo(ActivationKind.TANH);
    assertThat(kinds.of(relu)).isEqualTo(ActivationKind.RELU);
  }

  @Test
  void perLayer_layerDescribedAnew_kindOfTheNewDescription() {
    ActivationKind.PerLayer kinds = new ActivationKind.PerLayer();
    assertThat(kinds.of(new Layer(2, "fc2", null, null, true))).isEqualTo(ActivationKind.UNKNOWN);

    assertThat(kinds.of(new Layer(2, "fc2", "Linear", "sigmoid", true)))
        .isEqualTo(ActivationKind.SIGMOID);
  }

  @Test
  void perLayer_modelLevel_parsedEveryTime() {
    ActivationKind.PerLayer kinds = new ActivationKind.PerLayer();
    assertThat(kinds.of(new Layer(-1, "model", null, null, true)))
        .isEqualTo(ActivationKind.UNKNOWN);
    assertThat(kinds.of(new Layer(-1, "model", "Softmax", null, true)))
        .isEqualTo(ActivationKind.SOFTMAX);
  }
}
