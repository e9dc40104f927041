package io.dlanalyze.analyzer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.dlanalyze.trace.TraceMetadata;
import java.util.Map;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

class OptimizersTest {
  private static TraceMetadata optimizer(String name) {
    return TraceMetadata.of(Map.of(TraceMetadata.OPTIMIZER, name));
  }

  @Test
  void adaptive_optimizersThatScaleByAGradientStatistic() {
    for (String name :
        new String[] {
          "Adam", "AdamW", "Adamax", "NAdam", "RMSprop", "Adagrad", "Adadelta", "Lion"
        }) {
      assertThat(Optimizers.adaptive(optimizer(name))).as(name).isTrue();
    }
  }

  @Test
  void adaptiveStepScale_rmspropWithMomentumMovesByLrOverOneMinusMomentum() {
    TraceMetadata rmsprop =
        TraceMetadata.of(Map.of(TraceMetadata.OPTIMIZER, "RMSprop", TraceMetadata.MOMENTUM, "0.9"));
    TraceMetadata adam =
        TraceMetadata.of(Map.of(TraceMetadata.OPTIMIZER, "Adam", TraceMetadata.MOMENTUM, "0.9"));

    assertThat(Optimizers.adaptiveStepScale(rmsprop)).isCloseTo(10.0, within(1e-9));
    assertThat(Optimizers.adaptiveStepScale(optimizer("RMSprop"))).isEqualTo(1.0);
    // Adam's first moment is an average of the gradients, not a velocity.
    assertThat(Optimizers.adaptiveStepScale(adam)).isEqualTo(1.0);
  }

  @Test
  void notAdaptive_sgdMomentumOrUnknown() {
    assertThat(Optimizers.adaptive(optimizer("SGD"))).isFalse();
    assertThat(Optimizers.adaptive(optimizer("sgd_momentum"))).isFalse();
    assertThat(Optimizers.adaptive(TraceMetadata.empty())).isFalse();
  }

  @Test
  void severalOptimizers_areJudgedByTheFirst_whoseLearningRateTheRecorderKeeps() {
    assertThat(Optimizers.adaptive(optimizer("SparseAdam+Adam"))).isTrue();
    assertThat(Optimizers.adaptive(optimizer("SGD+Adam"))).isFalse();
    assertThat(Optimizers.rateFamily(optimizer("Adagrad+SGD")))
        .isEqualTo(Optimizers.RateFamily.ADAGRAD);
    assertThat(Optimizers.highLearningRate(optimizer("SGD+Adam"), OptionalDouble.of(1.0)))
        .isFalse();
  }

  @Test
  void highLearningRate_isTwiceTheLargestHealthyRate_perOptimizerFamily() {
    // A healthy Keras BiLSTM trains under Adam at 0.5 (global_clipnorm=1.0).
    assertThat(Optimizers.highLearningRate(optimizer("Adam"), OptionalDouble.of(1.0))).isTrue();
    assertThat(Optimizers.highLearningRate(optimizer("Adam"), OptionalDouble.of(0.5))).isFalse();
    // A healthy language model takes SGD to 50 with clipped gradients.
    assertThat(Optimizers.highLearningRate(optimizer("SGD"), OptionalDouble.of(100))).isTrue();
    assertThat(Optimizers.highLearningRate(optimizer("SGD"), OptionalDouble.of(50))).isFalse();
    assertThat(Optimizers.highLearningRate(optimizer("SGD"), OptionalDouble.of(1.0))).isFalse();
    assertThat(Optimizers.highLearningRate(optimizer("SGD"), OptionalDouble.of(0.1))).isFalse();
  }

  @Test
  void highLearningRate_adagradHasItsOwnBound_adadeltaNone() {
    // Adagrad's step shrinks as squared gradients accumulate: 0.1 is a healthy Adagrad rate.
    assertThat(Optimizers.highLearningRate(optimizer("Adagrad"), OptionalDouble.of(0.1))).isFalse();
    assertThat(Optimizers.highLearningRate(optimizer("Adagrad"), OptionalDouble.of(0.2))).isTrue();
    // Adadelta's rate multiplies a step in the parameters' units; 1.0 is its default.
    assertThat(Optimizers.highLearningRate(optimizer("Adadelta"), OptionalDouble.of(1.0)))
        .isFalse();
    assertThat(Optimizers.rateFamily(optimizer("NAdam"))).isEqualTo(Optimizers.RateFamily.ADAPTIVE);
    assertThat(Optimizers.rateFamily(optimizer("sgd_momentum")))
        .isEqualTo(Optimizers.RateFamily.SGD);
  }

  @Test
  void highLearningRate_withoutOptimizerOrRate_isNeverClaimed() {
    assertThat(Optimizers.highLearningRate(TraceMetadata.empty(), OptionalDouble.of(10))).isFalse();
    assertThat(Optimizers.highLearningRate(optimizer("SGD"), OptionalDouble.empty())).isFalse();
  }
}
