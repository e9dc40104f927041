package io.dlanalyze.analyzer;

/**
 * The ids of the built-in detectors ({@link BuiltInDetectors}), for {@link DetectorSpec#id()} and
 * for code that looks for a detector's findings (the root-cause analysis): a typo is a compile
 * error. Stable: they appear in flags, configs, JSON and docs.
 */
public final class DetectorIds {
  public static final String NUMERICAL_ERROR = "numerical-error";
  public static final String DEAD_OR_ZERO = "dead-or-zero";
  public static final String UNCHANGED_VALUES = "unchanged-values";
  public static final String NOT_LEARNING = "not-learning";
  public static final String EXPLODING_GRADIENT = "exploding-gradient";
  public static final String VANISHING_GRADIENT = "vanishing-gradient";
  public static final String DYING_RELU = "dying-relu";
  public static final String SATURATION = "saturation";
  public static final String OSCILLATING_LOSS = "oscillating-loss";
  public static final String SLOW_CONVERGENCE = "slow-convergence";
  public static final String NOT_CONVERGING = "not-converging";
  public static final String EFFECTIVE_LEARNING_RATE = "effective-learning-rate";
  public static final String INPUT_RANGE = "input-range";
  public static final String TARGET_RANGE = "target-range";
  public static final String WEIGHT_VARIANCE = "weight-variance";
  public static final String LOSS_DEFINITION = "loss-definition";
  public static final String MISSING_ACTIVATION = "missing-activation";
  public static final String LAYER_MODE = "layer-mode";
  public static final String INITIAL_LOSS = "initial-loss";
  public static final String GRADIENT_ACCUMULATION = "gradient-accumulation";
  public static final String LOSS_DIVERGENCE = "loss-divergence";
  public static final String BATCH_ORDER = "batch-order";
  public static final String LITTLE_PROGRESS = "little-progress";
  public static final String SHRINKING_WEIGHTS = "shrinking-weights";
  public static final String RETURN_PROGRESS = "return-progress";
  public static final String LOSS_MAGNITUDE = "loss-magnitude";
  public static final String DEEPLOCALIZE = "deeplocalize";

  private DetectorIds() {}
}
