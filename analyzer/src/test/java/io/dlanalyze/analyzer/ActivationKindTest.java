package io.dlanalyze.analyzer;

import static org.assertj.core.api.Assertions.assertThat;

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
    assertThat(ActivationKind.of(new Layer(-1, "model", "Softmax", null, true)))
        .isEqualTo(ActivationKind.SOFTMAX);
  }

  @Test
  void layer_kindOfItsOwnDescription() {
    assertThat(new Layer(2, "fc2", null, null, true).activationKind())
        .isEqualTo(ActivationKind.UNKNOWN);
    assertThat(new Layer(2, "fc2", "Linear", "sigmoid", true).activationKind())
        .isEqualTo(ActivationKind.SIGMOID);
    assertThat(new Layer(3, "fc3", "Linear", "relu_6", true).activationKind())
        .isEqualTo(ActivationKind.RELU);
    assertThat(new Layer(4, "fc4", "Linear", "gelu", true).activationKind())
        .isEqualTo(ActivationKind.OTHER);
  }

  @Test
  void parse_caseSeparatorsAndAliases() {
    assertThat(ActivationKind.parse("Leaky_ReLU")).isEqualTo(ActivationKind.OTHER);
    assertThat(ActivationKind.parse("logistic")).isEqualTo(ActivationKind.SIGMOID);
    assertThat(ActivationKind.parse("identity")).isEqualTo(ActivationKind.LINEAR);
    assertThat(ActivationKind.parse(" ")).isEqualTo(ActivationKind.UNKNOWN);
    assertThat(ActivationKind.TANH.low()).isEqualTo(-1);
    assertThat(ActivationKind.SIGMOID.saturates()).isTrue();
    assertThat(ActivationKind.TANH.wireName()).isEqualTo("tanh");
  }
}
