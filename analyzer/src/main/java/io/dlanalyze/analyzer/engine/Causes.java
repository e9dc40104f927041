package io.dlanalyze.analyzer.engine;

import static io.dlanalyze.analyzer.EvidenceKeys.ACTIVATION;
import static io.dlanalyze.analyzer.EvidenceKeys.AFFECTED_STREAMS;
import static io.dlanalyze.analyzer.EvidenceKeys.BAND_HIGH;
import static io.dlanalyze.analyzer.EvidenceKeys.BAND_LOW;
import static io.dlanalyze.analyzer.EvidenceKeys.BAR;
import static io.dlanalyze.analyzer.EvidenceKeys.BEST_BLOCK_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.BEST_EPOCH;
import static io.dlanalyze.analyzer.EvidenceKeys.BEST_EPOCH_ACCURACY;
import static io.dlanalyze.analyzer.EvidenceKeys.BEST_EPOCH_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.BLOCKS_WITHOUT_PROGRESS;
import static io.dlanalyze.analyzer.EvidenceKeys.BLOCK_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.CHANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.CONVERGENCE_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.DELTA;
import static io.dlanalyze.analyzer.EvidenceKeys.DIRECTION;
import static io.dlanalyze.analyzer.EvidenceKeys.DROP_FROM_FIRST_BLOCK;
import static io.dlanalyze.analyzer.EvidenceKeys.EFFECTIVE_LR;
import static io.dlanalyze.analyzer.EvidenceKeys.EPOCHS;
import static io.dlanalyze.analyzer.EvidenceKeys.EXPLAINED_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_BLOCK_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_EPOCH_ACCURACY;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_EPOCH_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.INF_COUNT;
import static io.dlanalyze.analyzer.EvidenceKeys.INITIAL_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.INITIAL_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.KIND;
import static io.dlanalyze.analyzer.EvidenceKeys.LARGEST_EPOCH_GAIN;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_BLOCK_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_EPOCH_ACCURACY;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_EPOCH_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.LAYERS_OUT_OF_BAND;
import static io.dlanalyze.analyzer.EvidenceKeys.LEARNING_RATE;
import static io.dlanalyze.analyzer.EvidenceKeys.LONGEST_RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.METRIC;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_FIRST_L2;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_RATIO;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_RMS;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.NAN_COUNT;
import static io.dlanalyze.analyzer.EvidenceKeys.NORM_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_STD;
import static io.dlanalyze.analyzer.EvidenceKeys.RATIO_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.RELATIVE_TOLERANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.RMS_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.SATURATION_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.SCALE_MIN;
import static io.dlanalyze.analyzer.EvidenceKeys.SCALE_MIN_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.SHARE_BEYOND_5;
import static io.dlanalyze.analyzer.EvidenceKeys.SKIPPED_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.STATISTIC;
import static io.dlanalyze.analyzer.EvidenceKeys.SWINGS;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.TREND;
import static io.dlanalyze.analyzer.EvidenceKeys.VANISHING_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.WINDOW;
import static io.dlanalyze.analyzer.EvidenceKeys.ZERO_FRACTION_THRESHOLD;
import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.ActivationKind;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.EvidenceKey;
import io.dlanalyze.analyzer.EvidenceKeys.ConvergenceRule;
import io.dlanalyze.analyzer.EvidenceKeys.Direction;
import io.dlanalyze.analyzer.EvidenceKeys.Metric;
import io.dlanalyze.analyzer.EvidenceKeys.SaturationRule;
import io.dlanalyze.analyzer.EvidenceKeys.Statistic;
import io.dlanalyze.analyzer.EvidenceKeys.Trend;
import io.dlanalyze.analyzer.EvidenceKeys.VanishingRule;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.analyzer.text.Phrases;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What the root-cause analysis says about one finding of a built-in detector, built from the
 * finding's data (its layer, phase, steps and evidence, read through {@link
 * io.dlanalyze.analyzer.EvidenceKeys}) and the thresholds: a clause that follows a lead-in such as
 * "Vanishing gradients: ". The words follow the detector's message, but nothing is taken from it.
 */
final class Causes {
  private final AnalysisOptions options;

  Causes(AnalysisOptions options) {
    this.options = options;
  }

  /**
   * The clause for a finding, or {@code null} for findings it has no words for (detectors that are
   * not built in, and exploding-gradient's ratio rule): the analysis then quotes the message.
   */
  @Nullable String of(Finding f) {
    return switch (f.detector()) {
      case DetectorIds.NUMERICAL_ERROR -> numericalError(f);
      case DetectorIds.DEAD_OR_ZERO -> layerStreams(f, "were all zero", deadOrZeroRun(f), "were");
      case DetectorIds.UNCHANGED_VALUES -> unchangedValues(f);
      case DetectorIds.VANISHING_GRADIENT -> vanishingGradient(f);
      case DetectorIds.NOT_CONVERGING -> notConverging(f);
      case DetectorIds.NOT_LEARNING -> notLearning(f);
      case DetectorIds.SLOW_CONVERGENCE -> slowConvergence(f);
      case DetectorIds.EFFECTIVE_LEARNING_RATE -> effectiveLearningRate(f);
      case DetectorIds.OSCILLATING_LOSS -> oscillatingLoss(f);
      case DetectorIds.WEIGHT_VARIANCE -> weightVariance(f);
      default -> null;
    };
  }

  private static @Nullable String numericalError(Finding f) {
    if (f.evidence().get(SKIPPED_STEPS) != null) {
      return null; // skipped updates: the message says it
    }
    Statistic statistic =
        requireNonNull(
            f.evidence().get(STATISTIC), "a numerical-error finding names its statistic");
    String value =
        switch (statistic) {
          case MEAN -> Numbers.format(real(f, MEAN));
          case NAN_COUNT -> Long.toString(number(f, NAN_COUNT));
          case INF_COUNT -> Long.toString(number(f, INF_COUNT));
          case MAX, MIN -> "non-finite";
        };
    long others = number(f, AFFECTED_STREAMS) - 1;
    String spread =
        others == 0
            ? "it stayed there"
            : format(
                ROOT, "it spread to %s", Phrases.count(others, "other stream", "other streams"));
    Double scaleMin = f.evidence().get(SCALE_MIN);
    if (scaleMin != null) {
      return format(
          ROOT,
          "the loss first turned %s at step %d (%s %s) after the outputs of %s, a linear head the"
              + " loss reads as a scale, reached %s at step %d; %s, and %s had non-finite values"
              + " up to step %d",
          text(f, KIND),
          f.firstStep(),
          statistic.wireName(),
          value,
          f.resolvedLayerName(),
          Numbers.format(scaleMin),
          number(f, SCALE_MIN_STEP),
          spread,
          Phrases.count(f.occurrences(), "step", "steps"),
          f.lastStep());
    }
    return format(
        ROOT,
        "%s first turned %s at step %d (%s %s); %s, and %s had non-finite values up to step %d",
        Phrases.where(f.resolvedLayerName(), f.layerIndex(), f.phase()),
        text(f, KIND),
        f.firstStep(),
        statistic.wireName(),
        value,
        spread,
        Phrases.count(f.occurrences(), "step", "steps"),
        f.lastStep());
  }

  private static String deadOrZeroRun(Finding f) {
    return format(
        ROOT,
        " (zero_fraction >= %s) for %d steps in a row from step %d, %d steps in all up to step %d",
        Numbers.format(real(f, ZERO_FRACTION_THRESHOLD)),
        number(f, LONGEST_RUN_STEPS),
        f.firstStep(),
        f.occurrences(),
        f.lastStep());
  }

  private static String unchangedValues(Finding f) {
    return layerStreams(
        f,
        "stopped changing",
        format(
            ROOT,
            " at step %d: %d observations in a row within a relative %s of each other, up to step"
                + " %d",
            f.firstStep(),
            number(f, LONGEST_RUN_STEPS),
            Numbers.format(real(f, RELATIVE_TOLERANCE)),
            f.lastStep()),
        "did");
  }

  /**
   * "fc1 forward values were all zero ...; so were its gradient values": a layer's stream, then the
   * layer's other streams with the same symptom (its consequences).
   */
  private static String layerStreams(Finding f, String what, String run, String verb) {
    List<String> others = new ArrayList<>();
    for (Consequence c : f.consequences()) {
      others.add(c.phase().wireName());
    }
    String also =
        others.isEmpty() ? "" : "; so " + verb + " its " + String.join(", ", others) + " values";
    return f.layerName() + " " + f.phase().wireName() + " values " + what + run + also;
  }

  private static String vanishingGradient(Finding f) {
    if (f.evidence().get(VANISHING_RULE) == VanishingRule.RATIO) {
      return format(
          ROOT,
          "the gradient norm of %s stayed below %s times the last layer's and below %s for %d steps"
              + " from step %d (down to %s, ratio %s)",
          f.layerName(),
          Numbers.format(real(f, RATIO_THRESHOLD)),
          Numbers.format(real(f, NORM_THRESHOLD)),
          number(f, RUN_STEPS),
          f.firstStep(),
          Numbers.format(real(f, MIN_FIRST_L2)),
          Numbers.format(real(f, MIN_RATIO)));
    }
    return format(
        ROOT,
        "the root-mean-square gradient of %s stayed below %s for %d steps from step %d (down to"
            + " %s)",
        f.layerName(),
        Numbers.format(real(f, RMS_THRESHOLD)),
        number(f, RUN_STEPS),
        f.firstStep(),
        Numbers.format(real(f, MIN_RMS)));
  }

  /** How a saturated layer sits in its tails: "its output stayed pinned near 1 (...)". */
  static String saturation(Finding f) {
    if (f.evidence().get(SATURATION_RULE) == SaturationRule.PINNED_OUTPUT) {
      ActivationKind kind = ActivationKind.parse(text(f, ACTIVATION));
      double mean = real(f, OUTPUT_MEAN);
      return format(
          ROOT,
          "its output stayed pinned near %s (mean %s, std %s), while the loss did not fall",
          Numbers.format(mean > (kind.low() + kind.high()) / 2 ? kind.high() : kind.low()),
          Numbers.format(mean),
          Numbers.format(real(f, OUTPUT_STD)));
    }
    return format(
        ROOT,
        "about %s of its inputs lay beyond +-5, while the loss did not fall",
        Numbers.percent(real(f, SHARE_BEYOND_5)));
  }

  private static @Nullable String notConverging(Finding f) {
    if (f.evidence().get(CONVERGENCE_RULE) == ConvergenceRule.LOSS_ABOVE_MEAN_PREDICTOR) {
      return format(
          ROOT,
          "over %d epochs the best loss was %s (epoch %d), above the %s that predicting the mean"
              + " of the targets (variance %s) scores at most: the model does worse than a"
              + " constant",
          number(f, EPOCHS),
          Numbers.format(real(f, BEST_EPOCH_LOSS)),
          number(f, BEST_EPOCH),
          Numbers.format(real(f, BAR)),
          Numbers.format(real(f, TARGET_VARIANCE)));
    }
    if (f.evidence().get(CONVERGENCE_RULE) == ConvergenceRule.LOSS_AT_TARGET_VARIANCE) {
      return format(
          ROOT,
          "over %d epochs the best mean squared error was %s (epoch %d) against a target variance"
              + " of %s: the model explains %s of the variance, no better than predicting the mean",
          number(f, EPOCHS),
          Numbers.format(real(f, BEST_EPOCH_LOSS)),
          number(f, BEST_EPOCH),
          Numbers.format(real(f, TARGET_VARIANCE)),
          Numbers.percent(Math.max(0, real(f, EXPLAINED_VARIANCE))));
    }
    if (f.evidence().get(CONVERGENCE_RULE) == ConvergenceRule.ACCURACY_FELL_AS_LOSS_FELL) {
      return null; // its message gives the two epochs' loss and accuracy
    }
    return format(
        ROOT,
        "over %d epochs the %s accuracy never exceeded %s (best %s in epoch %d), against a chance"
            + " level of %s",
        number(f, EPOCHS),
        f.phase() == Phase.VAL_ACCURACY ? "validation" : "mean",
        Numbers.format(real(f, BAR)),
        Numbers.format(real(f, BEST_EPOCH_ACCURACY)),
        number(f, BEST_EPOCH),
        Numbers.format(real(f, CHANCE)));
  }

  private String notLearning(Finding f) {
    if (f.phase() != Phase.LOSS) {
      return format(
          ROOT,
          "%s was exactly 0 for %d batches in a row from step %d (%d batches in all up to step %d)",
          Phrases.where(f.resolvedLayerName(), f.layerIndex(), f.phase()),
          number(f, WINDOW),
          f.firstStep(),
          f.occurrences(),
          f.lastStep());
    }
    if (f.evidence().get(THRESHOLD) != null) {
      // the collapse rule of a joint-embedding objective
      return format(
          ROOT,
          "the self-supervised loss fell from %s at its start to %s by step %d: the embeddings"
              + " collapsed to a trivial solution",
          Numbers.format(real(f, INITIAL_LOSS)),
          Numbers.format(real(f, LAST_BLOCK_MEAN)),
          f.firstStep());
    }
    double best = real(f, BEST_BLOCK_MEAN);
    double last = real(f, LAST_BLOCK_MEAN);
    String trend =
        f.evidence().get(TREND) == Trend.RISING
            ? format(
                ROOT,
                "rose to %s, %s above the best, %s",
                Numbers.format(last),
                Numbers.percent((last - best) / Math.abs(best)),
                Numbers.format(best))
            : format(
                ROOT,
                "stayed within %s of the best, %s (last block %s)",
                Numbers.percent(options.get(Thresholds.MIN_IMPROVEMENT)),
                Numbers.format(best),
                Numbers.format(last));
    return format(
        ROOT,
        "the loss stopped decreasing at step %d: for %d blocks of %d steps its block mean %s, only"
            + " %s below the first block's %s",
        f.firstStep(),
        number(f, BLOCKS_WITHOUT_PROGRESS),
        number(f, WINDOW),
        trend,
        Numbers.percent(real(f, DROP_FROM_FIRST_BLOCK)),
        Numbers.format(real(f, FIRST_BLOCK_MEAN)));
  }

  private static String slowConvergence(Finding f) {
    boolean accuracy = f.evidence().get(METRIC) == Metric.ACCURACY;
    String what = accuracy ? "accuracy" : "loss";
    double delta = real(f, DELTA);
    double gain = real(f, LARGEST_EPOCH_GAIN);
    return format(
        ROOT,
        "over %d epochs no epoch improved the mean %s by %s or more: the largest gain was %s (epoch"
            + " %d); the %s went from %s to %s",
        number(f, EPOCHS),
        what,
        accuracy ? Numbers.format(delta) : Numbers.percent(delta),
        accuracy ? Numbers.format(gain) : Numbers.percent(gain),
        number(f, BEST_EPOCH),
        what,
        Numbers.format(real(f, accuracy ? FIRST_EPOCH_ACCURACY : FIRST_EPOCH_LOSS)),
        Numbers.format(real(f, accuracy ? LAST_EPOCH_ACCURACY : LAST_EPOCH_LOSS)));
  }

  /**
   * The band rule's clause; null for the other rules (collapse, adaptive step, blow-up), whose
   * evidence has no band run: their message says it.
   */
  private static @Nullable String effectiveLearningRate(Finding f) {
    if (f.evidence().get(RUN_STEPS) == null || f.evidence().get(LEARNING_RATE) == null) {
      return null;
    }
    boolean high = f.evidence().get(DIRECTION) == Direction.HIGH;
    long more = number(f, LAYERS_OUT_OF_BAND) - 1;
    return format(
        ROOT,
        "the effective learning rate of %s (lr %s x ||grad|| / ||weight||) stayed %s %s for %d"
            + " steps from step %d (typically %s)%s%s",
        f.layerName(),
        Numbers.format(real(f, LEARNING_RATE)),
        high ? "above" : "below",
        Numbers.format(real(f, high ? BAND_HIGH : BAND_LOW)),
        number(f, RUN_STEPS),
        f.firstStep(),
        Numbers.format(real(f, EFFECTIVE_LR)),
        more > 0 ? format(ROOT, "; so did %d more layers", more) : "",
        f.severity().atLeast(Severity.WARNING) ? ", and the loss did not improve" : "");
  }

  private String oscillatingLoss(Finding f) {
    return format(
        ROOT,
        "the loss (averaged over blocks of %d steps, each without its highest step) rose %d times"
            + " by %s or more of its starting value %s between step %d and step %d, swinging"
            + " between %s and %s",
        number(f, BLOCK_STEPS),
        number(f, SWINGS),
        Numbers.percent(options.get(Thresholds.OSCILLATION_AMPLITUDE)),
        Numbers.format(real(f, FIRST_BLOCK_LOSS)),
        f.firstStep(),
        f.lastStep(),
        Numbers.format(real(f, MIN_BLOCK_LOSS)),
        Numbers.format(real(f, MAX_BLOCK_LOSS)));
  }

  private static String weightVariance(Finding f) {
    boolean high = f.evidence().get(DIRECTION) == Direction.HIGH;
    return format(
        ROOT,
        "the weight variance of %s stayed %s %s for %d steps from step %d (%s at its extreme, %s"
            + " at the first step)",
        f.layerName(),
        high ? "above" : "below",
        Numbers.format(real(f, high ? BAND_HIGH : BAND_LOW)),
        number(f, RUN_STEPS),
        f.firstStep(),
        Numbers.format(real(f, high ? MAX_VARIANCE : MIN_VARIANCE)),
        Numbers.format(real(f, INITIAL_VARIANCE)));
  }

  /** A real value of the finding's evidence, or NaN when absent. */
  static double real(Finding f, EvidenceKey<Double> key) {
    Double value = f.evidence().get(key);
    return value == null ? Double.NaN : value;
  }

  /** A count of the finding's evidence, or -1 when absent. */
  static long number(Finding f, EvidenceKey<Long> key) {
    Long value = f.evidence().get(key);
    return value == null ? -1 : value;
  }

  /** A text of the finding's evidence, or "" when absent. */
  static String text(Finding f, EvidenceKey<String> key) {
    String value = f.evidence().get(key);
    return value == null ? "" : value;
  }
}
