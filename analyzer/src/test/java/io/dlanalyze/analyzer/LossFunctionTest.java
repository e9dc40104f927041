package io.dlanalyze.analyzer;

import static io.dlanalyze.analyzer.LossFunction.ABSOLUTE_ERROR;
import static io.dlanalyze.analyzer.LossFunction.BINARY_ON_LOGITS;
import static io.dlanalyze.analyzer.LossFunction.BINARY_ON_PROBABILITIES;
import static io.dlanalyze.analyzer.LossFunction.CROSS_ENTROPY_ON_LOGITS;
import static io.dlanalyze.analyzer.LossFunction.CROSS_ENTROPY_ON_PROBABILITIES;
import static io.dlanalyze.analyzer.LossFunction.NLL_ON_LOG_PROBABILITIES;
import static io.dlanalyze.analyzer.LossFunction.SQUARED_ERROR;
import static io.dlanalyze.analyzer.LossFunction.UNKNOWN;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.TraceMetadata;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LossFunctionTest {
  private static LossFunction of(String framework, String loss, String fromLogits) {
    Map<String, String> values = new LinkedHashMap<>();
    if (framework != null) {
      values.put(TraceMetadata.FRAMEWORK, framework);
    }
    if (loss != null) {
      values.put(TraceMetadata.LOSS, loss);
    }
    if (fromLogits != null) {
      values.put(TraceMetadata.LOSS_FROM_LOGITS, fromLogits);
    }
    return LossFunction.of(TraceMetadata.of(values));
  }

  private static LossFunction torch(String loss) {
    return of("pytorch", loss, null);
  }

  private static LossFunction keras(String loss) {
    return of("keras", loss, null);
  }

  @Test
  void pytorchClassAndFunctionNames() {
    assertThat(torch("CrossEntropyLoss")).isEqualTo(CROSS_ENTROPY_ON_LOGITS);
    assertThat(torch("cross_entropy")).isEqualTo(CROSS_ENTROPY_ON_LOGITS);
    assertThat(torch("NLLLoss")).isEqualTo(NLL_ON_LOG_PROBABILITIES);
    assertThat(torch("nll_loss")).isEqualTo(NLL_ON_LOG_PROBABILITIES);
    assertThat(torch("BCELoss")).isEqualTo(BINARY_ON_PROBABILITIES);
    assertThat(torch("binary_cross_entropy")).isEqualTo(BINARY_ON_PROBABILITIES);
    assertThat(torch("BCEWithLogitsLoss")).isEqualTo(BINARY_ON_LOGITS);
    assertThat(torch("binary_cross_entropy_with_logits")).isEqualTo(BINARY_ON_LOGITS);
    assertThat(torch("MSELoss")).isEqualTo(SQUARED_ERROR);
    assertThat(torch("mse_loss")).isEqualTo(SQUARED_ERROR);
    assertThat(torch("L1Loss")).isEqualTo(ABSOLUTE_ERROR);
    assertThat(torch("SmoothL1Loss")).isEqualTo(ABSOLUTE_ERROR);
    assertThat(torch("HuberLoss")).isEqualTo(ABSOLUTE_ERROR);
    assertThat(torch("KLDivLoss")).isEqualTo(UNKNOWN);
  }

  @Test
  void bareNll_isAClassifiersLossOnlyWithClasses() {
    // A normalizing flow's or a Gaussian head's negative log-likelihood goes below 0 as it fits.
    assertThat(torch("nll")).isEqualTo(UNKNOWN);
    assertThat(
            LossFunction.of(
                TraceMetadata.of(
                    Map.of(
                        TraceMetadata.FRAMEWORK, "pytorch",
                        TraceMetadata.LOSS, "nll",
                        TraceMetadata.NUM_CLASSES, "10"))))
        .isEqualTo(NLL_ON_LOG_PROBABILITIES);
  }

  @Test
  void kerasNames_defaultToProbabilities() {
    assertThat(keras("categorical_crossentropy")).isEqualTo(CROSS_ENTROPY_ON_PROBABILITIES);
    assertThat(keras("sparse_categorical_crossentropy")).isEqualTo(CROSS_ENTROPY_ON_PROBABILITIES);
    assertThat(keras("SparseCategoricalCrossentropy")).isEqualTo(CROSS_ENTROPY_ON_PROBABILITIES);
    assertThat(keras("binary_crossentropy")).isEqualTo(BINARY_ON_PROBABILITIES);
    assertThat(keras("BinaryFocalCrossentropy")).isEqualTo(BINARY_ON_PROBABILITIES);
    assertThat(keras("mean_squared_error")).isEqualTo(SQUARED_ERROR);
    assertThat(keras("mse")).isEqualTo(SQUARED_ERROR);
    assertThat(keras("mae")).isEqualTo(ABSOLUTE_ERROR);
    assertThat(keras("huber")).isEqualTo(ABSOLUTE_ERROR);
    assertThat(of("tensorflow", "categorical_crossentropy", null))
        .isEqualTo(CROSS_ENTROPY_ON_PROBABILITIES);
  }

  @Test
  void kerasFromLogits_makesTheCrossEntropiesTakeLogits() {
    assertThat(of("keras", "sparse_categorical_crossentropy", "true"))
        .isEqualTo(CROSS_ENTROPY_ON_LOGITS);
    assertThat(of("keras", "binary_crossentropy", "true")).isEqualTo(BINARY_ON_LOGITS);
    assertThat(of("keras", "binary_crossentropy", "false")).isEqualTo(BINARY_ON_PROBABILITIES);
    // A Keras "crossentropy" without from_logits takes probabilities; PyTorch's takes logits.
    assertThat(keras("crossentropy")).isEqualTo(CROSS_ENTROPY_ON_PROBABILITIES);
    assertThat(of("keras", "crossentropy", "true")).isEqualTo(CROSS_ENTROPY_ON_LOGITS);
    // from_logits does not change what a loss that is not a cross-entropy expects.
    assertThat(of("keras", "mse", "true")).isEqualTo(SQUARED_ERROR);
  }

  @Test
  void kerasCategoricalNameInAnotherFramework_isUnknown_unlessFromLogitsSaysWhatItTakes() {
    assertThat(torch("categorical_crossentropy")).isEqualTo(UNKNOWN);
    assertThat(torch("sparse_categorical_crossentropy")).isEqualTo(UNKNOWN);
    assertThat(of(null, "categorical_crossentropy", null)).isEqualTo(UNKNOWN);
    assertThat(of("pytorch", "categorical_crossentropy", "true"))
        .isEqualTo(CROSS_ENTROPY_ON_LOGITS);
    assertThat(of("pytorch", "categorical_crossentropy", "false"))
        .isEqualTo(CROSS_ENTROPY_ON_PROBABILITIES);
  }

  @Test
  void genericCrossEntropyName_inAFrameworkThatIsNeitherPytorchNorKeras_needsFromLogits() {
    // The synthetic traces: a softmax output under "cross_entropy" on its probabilities.
    assertThat(of("synthetic", "cross_entropy", null)).isEqualTo(UNKNOWN);
    assertThat(of(null, "cross_entropy", null)).isEqualTo(UNKNOWN);
    assertThat(of("synthetic", "cross_entropy", "false")).isEqualTo(CROSS_ENTROPY_ON_PROBABILITIES);
    assertThat(of("synthetic", "cross_entropy", "true")).isEqualTo(CROSS_ENTROPY_ON_LOGITS);
    assertThat(of("lightning", "cross_entropy", null)).isEqualTo(CROSS_ENTROPY_ON_LOGITS);
  }

  @Test
  void noLossNamed_isUnknown() {
    assertThat(of("pytorch", null, null)).isEqualTo(UNKNOWN);
    assertThat(of("pytorch", " ", null)).isEqualTo(UNKNOWN);
    assertThat(LossFunction.of(TraceMetadata.empty())).isEqualTo(UNKNOWN);
    assertThat(torch("my_custom_loss")).isEqualTo(UNKNOWN);
  }

  @Test
  void properties_ofEachKind() {
    assertThat(BINARY_ON_PROBABILITIES.binary()).isTrue();
    assertThat(BINARY_ON_LOGITS.binary()).isTrue();
    assertThat(CROSS_ENTROPY_ON_LOGITS.binary()).isFalse();

    assertThat(CROSS_ENTROPY_ON_LOGITS.takesLogits()).isTrue();
    assertThat(BINARY_ON_LOGITS.takesLogits()).isTrue();
    assertThat(CROSS_ENTROPY_ON_PROBABILITIES.takesLogits()).isFalse();
    assertThat(NLL_ON_LOG_PROBABILITIES.takesLogits()).isFalse();

    for (LossFunction kind : LossFunction.values()) {
      boolean ce =
          kind == CROSS_ENTROPY_ON_LOGITS
              || kind == CROSS_ENTROPY_ON_PROBABILITIES
              || kind == NLL_ON_LOG_PROBABILITIES
              || kind == BINARY_ON_PROBABILITIES
              || kind == BINARY_ON_LOGITS;
      assertThat(kind.crossEntropy()).as(kind.name()).isEqualTo(ce);
      assertThat(kind.regression())
          .as(kind.name())
          .isEqualTo(kind == SQUARED_ERROR || kind == ABSOLUTE_ERROR);
    }
    assertThat(UNKNOWN.crossEntropy() || UNKNOWN.regression() || UNKNOWN.takesLogits()).isFalse();
  }
}
