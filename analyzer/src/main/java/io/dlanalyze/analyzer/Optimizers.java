package io.dlanalyze.analyzer;

import static java.util.Locale.ROOT;

import io.dlanalyze.trace.TraceMetadata;
import java.util.OptionalDouble;

/**
 * What the optimizer named in {@code dltrace.optimizer} implies for the rules: whether it scales
 * each update by a running gradient statistic, and which learning rates are far above what healthy
 * runs use.
 *
 * <p>The learning-rate bounds come from the healthy runs of the corpus's dev split
 * (docs/evaluation.md#calibration): the largest learning rate a healthy run used was 0.05 with an
 * adaptive optimizer (Adam, AdamW, RMSprop, Adagrad) and 0.5 with SGD; a rate twice that is "high".
 */
public final class Optimizers {
  /** Twice the largest learning rate of a healthy dev run with an adaptive optimizer (0.05). */
  public static final double HIGH_ADAPTIVE_LR = 0.1;

  /** Twice the largest learning rate of a healthy dev run with SGD (0.5). */
  public static final double HIGH_SGD_LR = 1.0;

  private Optimizers() {}

  /**
   * True for optimizers that divide each update by a running gradient magnitude (Adam, AdamW,
   * RMSprop, Adagrad, Adadelta, Adamax, Nadam...): their step is about the learning rate per
   * parameter, whatever the gradient's size, so lr x ||g|| / ||w|| does not measure it.
   */
  public static boolean adaptive(TraceMetadata metadata) {
    String optimizer = metadata.optimizer().orElse("").toLowerCase(ROOT);
    return optimizer.contains("adam")
        || optimizer.contains("rmsprop")
        || optimizer.contains("adagrad")
        || optimizer.contains("adadelta")
        || optimizer.contains("adafactor")
        || optimizer.contains("lamb")
        || optimizer.contains("lion");
  }

  /** True when the learning rate is at least twice what any healthy dev run used (see above). */
  public static boolean highLearningRate(TraceMetadata metadata, OptionalDouble rate) {
    if (rate.isEmpty() || metadata.optimizer().isEmpty()) {
      return false;
    }
    double bar = adaptive(metadata) ? HIGH_ADAPTIVE_LR : HIGH_SGD_LR;
    return rate.getAsDouble() >= bar;
  }
}
