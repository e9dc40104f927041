package io.dlanalyze.analyzer;

import static io.dlanalyze.analyzer.EvidenceKey.choice;
import static io.dlanalyze.analyzer.EvidenceKey.count;
import static io.dlanalyze.analyzer.EvidenceKey.flag;
import static io.dlanalyze.analyzer.EvidenceKey.real;
import static io.dlanalyze.analyzer.EvidenceKey.text;

/**
 * The evidence the built-in detectors write and the root-cause analysis reads, each key once with
 * its type ({@link EvidenceKey}); what each one means for each detector is in {@code
 * docs/detectors.md}. A key that several detectors write ({@code run_steps}, {@code window}) means
 * the same thing for all of them. A string value from a fixed set is an enum below.
 */
public final class EvidenceKeys {
  public static final EvidenceKey<Double> ABNORMAL_HIDDEN = real("abnormal_hidden");
  public static final EvidenceKey<Double> ABNORMAL_HIDDEN_ALONE = real("abnormal_hidden_alone");
  public static final EvidenceKey<String> ABNORMAL_LAYER = text("abnormal_layer");
  public static final EvidenceKey<Double> ABNORMAL_LAYER_RMS = real("abnormal_layer_rms");
  public static final EvidenceKey<String> ACCUMULATING_LAYERS = text("accumulating_layers");
  public static final EvidenceKey<Double> MAX_DRAWDOWN = real("max_drawdown");
  public static final EvidenceKey<Double> LATE_STEP = real("late_step");
  public static final EvidenceKey<Double> HOLD_STEP = real("hold_step");
  public static final EvidenceKey<String> OUTSIDE_OPTIMIZER = text("outside_optimizer");
  public static final EvidenceKey<String> ACTIVATION = text("activation");
  public static final EvidenceKey<Double> ACTIVATION_HIGH = real("activation_high");
  public static final EvidenceKey<Double> ACTIVATION_LOW = real("activation_low");
  public static final EvidenceKey<Long> AFFECTED_LAYERS = count("affected_layers");
  public static final EvidenceKey<Long> AFFECTED_STREAMS = count("affected_streams");
  public static final EvidenceKey<Double> BACKWARD_ZERO_FRACTION = real("backward_zero_fraction");
  public static final EvidenceKey<Double> BAND_HIGH = real("band_high");
  public static final EvidenceKey<Double> BAND_LOW = real("band_low");
  public static final EvidenceKey<Double> BAR = real("bar");
  public static final EvidenceKey<Double> BEST_BLOCK_MEAN = real("best_block_mean");
  public static final EvidenceKey<Long> BEST_EPOCH = count("best_epoch");
  public static final EvidenceKey<Double> BEST_EPOCH_ACCURACY = real("best_epoch_accuracy");
  public static final EvidenceKey<Double> BEST_EPOCH_LOSS = real("best_epoch_loss");
  public static final EvidenceKey<Long> BLOCK_STEPS = count("block_steps");
  public static final EvidenceKey<Long> BLOCKS_WITHOUT_PROGRESS = count("blocks_without_progress");
  public static final EvidenceKey<Double> BOUND = real("bound");
  public static final EvidenceKey<Double> CHANCE = real("chance");
  public static final EvidenceKey<Long> CONSTANT_ONE_STEPS = count("constant_one_steps");
  public static final EvidenceKey<Long> COUNTER = count("counter");
  public static final EvidenceKey<Double> DELTA = real("delta");
  public static final EvidenceKey<Double> DROP_FROM_FIRST_BLOCK = real("drop_from_first_block");
  public static final EvidenceKey<Double> DROP_FROM_START = real("drop_from_start");
  public static final EvidenceKey<Double> FIRST_QUARTER_RETURN = real("first_quarter_return");
  public static final EvidenceKey<Double> LAST_QUARTER_RETURN = real("last_quarter_return");
  public static final EvidenceKey<Double> RETURN_GAIN_T = real("return_gain_t");
  public static final EvidenceKey<Long> EPISODES = count("episodes");
  public static final EvidenceKey<Double> EFFECTIVE_LR = real("effective_lr");
  public static final EvidenceKey<Long> EPOCHS = count("epochs");
  public static final EvidenceKey<Double> EXPLAINED_VARIANCE = real("explained_variance");
  public static final EvidenceKey<Double> FIRST_BLOCK_LOSS = real("first_block_loss");
  public static final EvidenceKey<Double> FIRST_BLOCK_MEAN = real("first_block_mean");
  public static final EvidenceKey<Double> FIRST_EPOCH_ACCURACY = real("first_epoch_accuracy");
  public static final EvidenceKey<Double> FIRST_EPOCH_LOSS = real("first_epoch_loss");
  public static final EvidenceKey<String> FIRST_LAYER = text("first_layer");
  public static final EvidenceKey<Double> FIRST_LAYER_RMS = real("first_layer_rms");
  public static final EvidenceKey<Long> FIRST_NON_FINITE_STEP = count("first_non_finite_step");

  /**
   * numerical-error: the last step whose weights were recorded finite, before an unrecorded update.
   */
  public static final EvidenceKey<Long> LAST_FINITE_STEP = count("last_finite_step");

  public static final EvidenceKey<Double> GROWTH = real("growth");

  /** numerical-error's skipped updates: the steps that have weight-gradient rows. */
  public static final EvidenceKey<Long> GRADIENT_STEPS = count("gradient_steps");

  public static final EvidenceKey<Long> GROWTH_STEPS = count("growth_steps");
  public static final EvidenceKey<Double> GROWTH_THRESHOLD = real("growth_threshold");

  /**
   * Set by a detector whose rule matched but could not be confirmed (too few loss values...): the
   * reason. Such a finding is info, and the verdict says why the run was not judged.
   */
  public static final EvidenceKey<String> INCONCLUSIVE = text("inconclusive");

  public static final EvidenceKey<Long> INF_COUNT = count("inf_count");
  public static final EvidenceKey<Double> INITIAL_VARIANCE = real("initial_variance");
  public static final EvidenceKey<Double> INITIAL_ZERO_FRACTION = real("initial_zero_fraction");
  public static final EvidenceKey<Double> INPUT_MAX = real("input_max");
  public static final EvidenceKey<Double> INPUT_MEAN = real("input_mean");
  public static final EvidenceKey<Double> INPUT_MIN = real("input_min");
  public static final EvidenceKey<Double> INPUT_STD = real("input_std");
  public static final EvidenceKey<String> KIND = text("kind");
  public static final EvidenceKey<Double> LARGEST_EPOCH_GAIN = real("largest_epoch_gain");
  public static final EvidenceKey<Double> LARGEST_RISE = real("largest_rise");
  public static final EvidenceKey<Double> LAST_BLOCK_MEAN = real("last_block_mean");
  public static final EvidenceKey<Double> LAST_EPOCH_ACCURACY = real("last_epoch_accuracy");
  public static final EvidenceKey<Double> LAST_EPOCH_LOSS = real("last_epoch_loss");
  public static final EvidenceKey<String> LAST_LAYER = text("last_layer");
  public static final EvidenceKey<Long> LAYERS_EXPLODING = count("layers_exploding");
  public static final EvidenceKey<Long> LAYERS_OUT_OF_BAND = count("layers_out_of_band");

  /**
   * The learning rate a finding measured; the root-cause analysis quotes it before the metadata's.
   */
  public static final EvidenceKey<Double> LEARNING_RATE = real("learning_rate");

  public static final EvidenceKey<Long> LONGEST_RUN_STEPS = count("longest_run_steps");
  public static final EvidenceKey<Long> LONGEST_SKIPPED_RUN = count("longest_skipped_run");
  public static final EvidenceKey<String> LOSS = text("loss");
  public static final EvidenceKey<Boolean> LOSS_STALLED = flag("loss_stalled");

  /** gradient-accumulation: updates the recorder saw carried over, of how many it judged. */
  public static final EvidenceKey<Long> CARRIED_UPDATES = count("carried_updates");

  public static final EvidenceKey<Long> UPDATES = count("updates");

  /**
   * numerical-error: the root is a layer's output at the trace's first step (step 0 or 1), computed
   * from the initial weights before any update.
   */
  public static final EvidenceKey<Boolean> BEFORE_FIRST_UPDATE = flag("before_first_update");

  public static final EvidenceKey<Double> SCALE_MIN = real("scale_min");
  public static final EvidenceKey<Long> SCALE_MIN_STEP = count("scale_min_step");

  /** unchanged-values: no backward or gradient row of the layer in a trace that records them. */
  public static final EvidenceKey<Boolean> NO_GRADIENT_REACHED = flag("no_gradient_reached");

  public static final EvidenceKey<Double> LOSS_FLOOR = real("loss_floor");
  public static final EvidenceKey<Double> LOSS_MIN = real("loss_min");
  public static final EvidenceKey<Long> AFFINE_LAYERS = count("affine_layers");
  public static final EvidenceKey<Long> NUM_CLASSES = count("num_classes");
  public static final EvidenceKey<Double> OUTPUT_RMS = real("output_rms");
  public static final EvidenceKey<Double> RANGE_OVER_STD = real("range_over_std");
  public static final EvidenceKey<Long> WEIGHT_COUNT = count("weight_count");
  public static final EvidenceKey<Double> PARAMETER_RMS = real("parameter_rms");
  public static final EvidenceKey<Double> PEAK_LEARNING_RATE = real("peak_learning_rate");
  public static final EvidenceKey<Long> PEAK_LEARNING_RATE_STEP = count("peak_learning_rate_step");
  public static final EvidenceKey<Double> COLLAPSED_SHARE = real("collapsed_share");
  public static final EvidenceKey<Double> INITIAL_LOSS = real("initial_loss");

  /** exploding-gradient: the lowest loss of a run whose loss fell below 0 without bound. */
  public static final EvidenceKey<Double> LOWEST_LOSS = real("lowest_loss");

  public static final EvidenceKey<Double> UNIFORM_LOSS = real("uniform_loss");
  public static final EvidenceKey<Double> RATIO = real("ratio");
  public static final EvidenceKey<Double> DISPERSION = real("dispersion");
  public static final EvidenceKey<Long> ACCURACY_PAIRS = count("accuracy_pairs");
  public static final EvidenceKey<Long> SINGLE_CLASS_BATCHES = count("single_class_batches");
  public static final EvidenceKey<Long> TARGET_BATCHES = count("target_batches");
  public static final EvidenceKey<Long> SINGLE_CLASS_CLASSES = count("single_class_classes");
  public static final EvidenceKey<Long> BATCH_SIZE = count("batch_size");
  public static final EvidenceKey<Double> REFERENCE_LOSS = real("reference_loss");
  public static final EvidenceKey<Long> BLOCKS_ABOVE = count("blocks_above");
  public static final EvidenceKey<Double> LAST_BLOCK_LOSS = real("last_block_loss");
  public static final EvidenceKey<Double> FIRST_VAL_LOSS = real("first_val_loss");
  public static final EvidenceKey<Double> LAST_VAL_LOSS = real("last_val_loss");
  public static final EvidenceKey<Long> EVALUATIONS = count("evaluations");
  public static final EvidenceKey<Long> EVALUATIONS_ABOVE = count("evaluations_above");
  public static final EvidenceKey<Boolean> LOSS_FROM_LOGITS = flag("loss_from_logits");
  public static final EvidenceKey<Double> MAX_BLOCK_LOSS = real("max_block_loss");
  public static final EvidenceKey<Double> MAX_RATIO = real("max_ratio");
  public static final EvidenceKey<Long> MEASURED_LAYERS = count("measured_layers");
  public static final EvidenceKey<Double> MAX_VARIANCE = real("max_variance");
  public static final EvidenceKey<Double> MAX_ZERO_FRACTION = real("max_zero_fraction");
  public static final EvidenceKey<Double> MEAN = real("mean");
  public static final EvidenceKey<Double> MEAN_ZERO_FRACTION = real("mean_zero_fraction");
  public static final EvidenceKey<Double> MIN_BLOCK_LOSS = real("min_block_loss");
  public static final EvidenceKey<Double> MIN_FIRST_L2 = real("min_first_l2");
  public static final EvidenceKey<Double> MIN_RATIO = real("min_ratio");
  public static final EvidenceKey<Double> MIN_RMS = real("min_rms");
  public static final EvidenceKey<Double> MIN_VARIANCE = real("min_variance");
  public static final EvidenceKey<Long> NAN_COUNT = count("nan_count");
  public static final EvidenceKey<Double> NORM_THRESHOLD = real("norm_threshold");
  public static final EvidenceKey<String> OUTPUT_ACTIVATION = text("output_activation");
  public static final EvidenceKey<Double> OUTPUT_MEAN = real("output_mean");
  public static final EvidenceKey<Double> OUTPUT_STD = real("output_std");
  public static final EvidenceKey<Long> OUTPUT_WIDTH = count("output_width");
  public static final EvidenceKey<Double> PEAK_L2 = real("peak_l2");
  public static final EvidenceKey<Long> PEAK_STEP = count("peak_step");

  /** DeepLocalize's own line, as its callback prints it. */
  public static final EvidenceKey<String> PRINTED = text("printed");

  public static final EvidenceKey<Double> RATIO_THRESHOLD = real("ratio_threshold");
  public static final EvidenceKey<Double> REFERENCE_L2 = real("reference_l2");
  public static final EvidenceKey<Double> RELATIVE_TOLERANCE = real("relative_tolerance");
  public static final EvidenceKey<Double> RMS_THRESHOLD = real("rms_threshold");
  public static final EvidenceKey<Long> RUN_STEPS = count("run_steps");
  public static final EvidenceKey<Double> SHARE_BEYOND_5 = real("share_beyond_5");
  public static final EvidenceKey<Long> STEPS_WITH_NON_FINITE = count("steps_with_non_finite");
  public static final EvidenceKey<Double> SUGGESTED_LEARNING_RATE = real("suggested_learning_rate");
  public static final EvidenceKey<Long> SWINGS = count("swings");
  public static final EvidenceKey<Double> TARGET_MAX = real("target_max");
  public static final EvidenceKey<Double> TARGET_MEAN = real("target_mean");
  public static final EvidenceKey<Double> TARGET_MIN = real("target_min");
  public static final EvidenceKey<Double> TARGET_SCALE = real("target_scale");
  public static final EvidenceKey<Long> TARGET_STEPS = count("target_steps");
  public static final EvidenceKey<Double> TARGET_STD = real("target_std");
  public static final EvidenceKey<Double> TARGET_VALUE = real("target_value");
  public static final EvidenceKey<Double> TARGET_VARIANCE = real("target_variance");
  public static final EvidenceKey<Double> THRESHOLD = real("threshold");
  public static final EvidenceKey<Long> UNCHANGED_STEPS = count("unchanged_steps");
  public static final EvidenceKey<Double> VALUE = real("value");
  public static final EvidenceKey<Long> WINDOW = count("window");
  public static final EvidenceKey<Long> ZERO_ACCURACY_STEPS = count("zero_accuracy_steps");
  public static final EvidenceKey<Long> ZERO_BATCHES = count("zero_batches");
  public static final EvidenceKey<Double> ZERO_FRACTION_THRESHOLD = real("zero_fraction_threshold");
  public static final EvidenceKey<Double> ZERO_RATIO = real("zero_ratio");
  public static final EvidenceKey<Long> ZERO_STEPS = count("zero_steps");

  /**
   * numerical-error: steps whose update was skipped (non-finite gradients, finite loss and
   * weights).
   */
  public static final EvidenceKey<Long> SKIPPED_STEPS = count("skipped_steps");

  public static final EvidenceKey<TargetRule> TARGET_RULE = choice("rule", TargetRule.class);
  public static final EvidenceKey<LossRule> LOSS_RULE = choice("rule", LossRule.class);
  public static final EvidenceKey<GradientRule> GRADIENT_RULE = choice("rule", GradientRule.class);
  public static final EvidenceKey<VanishingRule> VANISHING_RULE =
      choice("rule", VanishingRule.class);
  public static final EvidenceKey<SaturationRule> SATURATION_RULE =
      choice("rule", SaturationRule.class);
  public static final EvidenceKey<ConvergenceRule> CONVERGENCE_RULE =
      choice("rule", ConvergenceRule.class);
  public static final EvidenceKey<SkipRule> SKIP_RULE = choice("rule", SkipRule.class);
  public static final EvidenceKey<DeepLocalizeRule> DEEPLOCALIZE_RULE =
      choice("rule", DeepLocalizeRule.class);
  public static final EvidenceKey<Direction> DIRECTION = choice("direction", Direction.class);
  public static final EvidenceKey<Trend> TREND = choice("trend", Trend.class);
  public static final EvidenceKey<Metric> METRIC = choice("metric", Metric.class);
  public static final EvidenceKey<Statistic> STATISTIC = choice("statistic", Statistic.class);

  /** target-range's rules. */
  public enum TargetRule implements EvidenceKey.Choice {
    CONSTANT_TARGETS,
    SINGLE_UNIT_SOFTMAX,
    RELU_OUTPUT_CROSS_ENTROPY,
    TARGETS_OUTSIDE_ACTIVATION_RANGE,
    UNSCALED_REGRESSION_TARGETS
  }

  /** loss-definition's rules: what about the loss contradicts its own definition. */
  public enum LossRule implements EvidenceKey.Choice {
    /** The loss went below the smallest value its function can take. */
    BELOW_FLOOR,
    /** A binary cross-entropy saw targets outside [0, 1]. */
    TARGETS_OUTSIDE_LOSS_RANGE,
    /** A loss that applies softmax or sigmoid itself got an output that already did. */
    LOGITS_LOSS_ON_PROBABILITIES,
    /** A loss that expects probabilities got raw scores (a linear output). */
    PROBABILITY_LOSS_ON_LOGITS,
    /** A regression loss on a softmax output. */
    REGRESSION_LOSS_ON_SOFTMAX,
    /** A binary loss on a softmax over several classes, or one output unit for several classes. */
    BINARY_LOSS_MULTICLASS
  }

  /**
   * numerical-error's skipped updates: transient (a loss scaler finding its scale), or persistent
   * ({@code window} skipped steps in a row, or most steps after the first {@code window}).
   */
  public enum SkipRule implements EvidenceKey.Choice {
    TRANSIENT,
    IN_A_ROW,
    MOSTLY
  }

  /** exploding-gradient's rules: a layer's norm grew, or the first layer's dwarfs the last's. */
  public enum GradientRule implements EvidenceKey.Choice {
    GROWTH,
    RATIO
  }

  /** vanishing-gradient's rules: the first-to-last norm ratio, or a layer's RMS gradient. */
  public enum VanishingRule implements EvidenceKey.Choice {
    RATIO,
    RMS
  }

  /** saturation's rules: an output pinned at an end of its range, or inputs beyond +-5. */
  public enum SaturationRule implements EvidenceKey.Choice {
    PINNED_OUTPUT,
    TAIL_SHARE
  }

  /** not-converging's rules. */
  public enum ConvergenceRule implements EvidenceKey.Choice {
    ACCURACY_AT_CHANCE,
    LOSS_AT_TARGET_VARIANCE,
    LOSS_ABOVE_MEAN_PREDICTOR,
    ACCURACY_FELL_AS_LOSS_FELL
  }

  /** DeepLocalize's tests. */
  public enum DeepLocalizeRule implements EvidenceKey.Choice {
    NAN_INF,
    ZERO_FREQUENCY,
    UNCHANGED,
    MDL
  }

  /** Which end of a band a value left by. */
  public enum Direction implements EvidenceKey.Choice {
    HIGH,
    LOW
  }

  /** How a loss that stopped decreasing behaves: it rose again, or stayed flat. */
  public enum Trend implements EvidenceKey.Choice {
    RISING,
    FLAT
  }

  /** The metric a rule judged. */
  public enum Metric implements EvidenceKey.Choice {
    ACCURACY,
    LOSS
  }

  /** The statistic of a row that was not finite. */
  public enum Statistic implements EvidenceKey.Choice {
    MEAN,
    NAN_COUNT,
    INF_COUNT,
    MAX,
    MIN
  }

  private EvidenceKeys() {}
}
