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
 * (docs/evaluation.md#calibration): the largest learning rate a healthy run used was 0.5 with an
 * adaptive optimizer (Adam, AdamW, RMSprop, Nadam), 0.1 with Adagrad and 50 with SGD; a rate twice
 * that is "high". Adagrad has its own bound because its step shrinks as the squared gradients
 * accumulate (lr / sqrt(sum of g^2)), so its rates run about ten times Adam's (PyTorch's default is
 * 0.01). Adadelta has none: its rate multiplies a step already in the parameters' units, with a
 * default of 1.0.
 */
public final class Optimizers {
  /**
   * Twice the largest learning rate of a healthy dev run with an adaptive optimizer: 0.5, a Keras
   * bidirectional LSTM with attention pooling under Adam with {@code global_clipnorm=1.0}, which
   * reached a validation accuracy of 1.0. It was 0.1 (twice 0.05) until that program; the move
   * changed no outcome of the corpus: the runs it reads as high are far above either bound.
   */
  public static final double HIGH_ADAPTIVE_LR = 1.0;

  /** Twice the largest learning rate of a healthy dev run with Adagrad (0.1). */
  public static final double HIGH_ADAGRAD_LR = 0.2;

  /**
   * Twice the largest weight decay of a healthy dev run (0.1, a PyTorch AdamW sequence classifier,
   * a common setting for transformers; 0.05 until the tenth batch of dev programs, when this was
   * 0.1; PyTorch's AdamW defaults to 0.01, Keras's to 0.004): a decay at or above it pulls the
   * weights to zero faster than the loss can hold them.
   */
  public static final double HIGH_WEIGHT_DECAY = 0.2;

  /**
   * Twice the largest learning rate of a healthy dev run with SGD: 50, a character-level LSTM
   * language model trained as PyTorch's word_language_model example does it (SGD at 20 and more,
   * gradients clipped at 0.25). It was 1.0 (twice 0.5) until that program: a per-token mean loss
   * with clipped gradients takes rates two orders of magnitude above a classifier's, so a bound on
   * SGD's rate alone says little.
   */
  public static final double HIGH_SGD_LR = 100;

  /** The optimizer families that have their own learning-rate bound. */
  public enum RateFamily {
    /** SGD, with or without momentum: {@link #HIGH_SGD_LR}. */
    SGD(HIGH_SGD_LR),
    /** Adam, AdamW, RMSprop, Nadam, Adamax...: {@link #HIGH_ADAPTIVE_LR}. */
    ADAPTIVE(HIGH_ADAPTIVE_LR),
    /** Adagrad: {@link #HIGH_ADAGRAD_LR}. */
    ADAGRAD(HIGH_ADAGRAD_LR),
    /** Adadelta: no bound (its rate is a multiplier, 1.0 by default). */
    ADADELTA(Double.POSITIVE_INFINITY);

    private final double high;

    RateFamily(double high) {
      this.high = high;
    }

    /** The learning rate at or above which a run of this family is "high". */
    public double high() {
      return high;
    }
  }

  private Optimizers() {}

  /**
   * True for optimizers that divide each update by a running gradient magnitude (Adam, AdamW,
   * RMSprop, Adagrad, Adadelta, Adamax, Nadam...): their step is about the learning rate per
   * parameter, whatever the gradient's size, so lr x ||g|| / ||w|| does not measure it.
   */
  public static boolean adaptive(TraceMetadata metadata) {
    String optimizer = first(metadata);
    return optimizer.contains("adam")
        || optimizer.contains("rmsprop")
        || optimizer.contains("adagrad")
        || optimizer.contains("adadelta")
        || optimizer.contains("adafactor")
        || optimizer.contains("lamb")
        || optimizer.contains("lion");
  }

  /**
   * How many learning rates an adaptive optimizer's step per parameter is: 1/(1 - momentum) for
   * RMSprop with momentum (PyTorch's and Keras' {@code RMSprop(momentum=...)} keep a velocity of
   * the normalized gradients, so a steady direction moves each parameter by lr / (1 - momentum) per
   * step), else 1. Adam's first moment is an average, not a sum, and needs no factor.
   */
  public static double adaptiveStepScale(TraceMetadata metadata) {
    if (!first(metadata).contains("rmsprop")) {
      return 1;
    }
    double momentum = metadata.momentum().orElse(0);
    return momentum > 0 && momentum < 1 ? 1 / (1 - momentum) : 1;
  }

  /** The family whose learning-rate bound applies to the run's optimizer. */
  public static RateFamily rateFamily(TraceMetadata metadata) {
    String optimizer = first(metadata);
    if (optimizer.contains("adadelta")) {
      return RateFamily.ADADELTA;
    }
    if (optimizer.contains("adagrad")) {
      return RateFamily.ADAGRAD;
    }
    return adaptive(metadata) ? RateFamily.ADAPTIVE : RateFamily.SGD;
  }

  /**
   * The run's optimizer in lower case, or the first of several: a recorder given two optimizers
   * names them joined by {@code +} ({@code SparseAdam+Adam}) and records the first one's learning
   * rate, so the first decides how that rate is judged.
   */
  private static String first(TraceMetadata metadata) {
    String optimizer = metadata.optimizer().orElse("").toLowerCase(ROOT);
    int plus = optimizer.indexOf('+');
    return plus < 0 ? optimizer : optimizer.substring(0, plus);
  }

  /**
   * The rate the run trains at: {@code rate} (the one a finding quotes, or {@code
   * dltrace.learning_rate}), or the peak of the run's {@code learning_rate} rows when that is
   * higher or {@code rate} is empty. The recorders write the first step's rate into the metadata,
   * which a warm-up keeps far below the peak.
   */
  public static OptionalDouble atPeak(OptionalDouble rate, LossHistory history) {
    double peak = history.peakLearningRate();
    return peak > 0 && (rate.isEmpty() || peak > rate.getAsDouble())
        ? OptionalDouble.of(peak)
        : rate;
  }

  /** True when the learning rate is at least twice what any healthy dev run used (see above). */
  public static boolean highLearningRate(TraceMetadata metadata, OptionalDouble rate) {
    if (rate.isEmpty() || metadata.optimizer().isEmpty()) {
      return false;
    }
    return rate.getAsDouble() >= rateFamily(metadata).high();
  }
}
