package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.util.List;
import java.util.Optional;

/**
 * The thresholds the built-in detectors and baselines read, in documentation order. A new detector
 * adds its thresholds here (and to {@code docs/detectors.md}); the CLI and config files set them by
 * key.
 */
public final class Thresholds {
  /** Steps a per-layer symptom must persist, and the block size of loss trends (default mode). */
  public static final Threshold WINDOW =
      Threshold.integer(
          "window",
          50,
          1,
          1_000_000_000,
          "Steps a per-layer symptom must persist; also the loss-trend block size");

  /** Relative tolerance under which two consecutive statistics count as unchanged. */
  public static final Threshold UNCHANGED_TOLERANCE =
      Threshold.real(
          "unchanged-tolerance",
          1e-6,
          0,
          1,
          "Relative change below which a statistic counts as unchanged");

  /** zero_fraction at or above which a tensor counts as all zero. */
  public static final Threshold ZERO_FRACTION =
      Threshold.real(
          "zero-fraction",
          0.999,
          0.5,
          1,
          "zero_fraction at or above which a tensor counts as all zero");

  /** Relative loss improvement a block must achieve over the best block so far. */
  public static final Threshold MIN_IMPROVEMENT =
      Threshold.real(
          "min-improvement",
          0.01,
          0,
          1,
          "Relative loss decrease over the best block that counts as progress");

  /** Blocks of {@link #WINDOW} steps without progress before the model counts as not learning. */
  public static final Threshold PATIENCE =
      Threshold.integer(
          "patience",
          4,
          1,
          1_000_000,
          "Loss-trend blocks without progress before not-learning fires");

  /**
   * A flat loss that has already fallen by this fraction from its first block counts as converged,
   * not as a model that does not learn.
   */
  public static final Threshold CONVERGED_DROP =
      Threshold.real(
          "converged-drop",
          0.5,
          0,
          1,
          "Loss drop from the first block after which a flat loss counts as converged");

  /**
   * Share of its first block's training errors a model has removed (the best block's accuracy
   * against the first's) after which a flat loss counts as converged.
   */
  public static final Threshold CONVERGED_ERROR_CUT =
      Threshold.real(
          "converged-error-cut",
          0.4,
          0,
          1,
          "Share of the first block's training errors removed after which a flat loss counts as"
              + " converged");

  /**
   * The scale (the larger of |mean| and std of the first target row) at or above which a
   * regression's targets under a squared or absolute error count as unscaled.
   */
  public static final Threshold TARGET_SCALE =
      Threshold.real(
          "target-scale",
          250,
          0,
          1e300,
          "Scale of a regression's first targets at or above which they count as unscaled");

  /** DeepLocalize's N: the block of exactly equal values (deeplocalize mode). */
  public static final Threshold DL_WINDOW =
      Threshold.integer(
          "dl-window",
          5,
          1,
          1_000_000,
          "DeepLocalize's block of N equal values (deeplocalize mode)");

  /** DeepLocalize's zero rule: zero means in at least this share of the batches so far. */
  public static final Threshold DL_ZERO_RATIO =
      Threshold.real(
          "dl-zero-ratio",
          0.5,
          0,
          1,
          "DeepLocalize's share of batches with mean == 0 (deeplocalize mode)");

  /** Patience of the replayed Keras EarlyStopping baselines, in epochs. */
  public static final Threshold EARLY_STOPPING_PATIENCE =
      Threshold.integer(
          "es-patience",
          1,
          0,
          1_000_000,
          "Patience in epochs of the replayed Keras EarlyStopping baselines");

  /**
   * Growth of a layer's gradient norm over its early level that counts as exploding: at least 4x
   * the largest growth of any layer of a healthy dev run, 81,649 (a set classifier's attention seed
   * query, whose gradient starts near zero; docs/evaluation.md#calibration).
   */
  public static final Threshold EXPLODING_GROWTH =
      Threshold.real(
          "exploding-growth",
          2.3e6,
          2,
          1e300,
          "Growth of a layer's gradient l2 norm over its first steps that counts as exploding");

  /**
   * AUTOTRAINER's beta_3: first-layer over last-layer gradient norm above which gradients explode.
   */
  public static final Threshold EXPLODING_RATIO =
      Threshold.real(
          "exploding-ratio",
          70,
          1,
          1e300,
          "First-layer / last-layer gradient l2 ratio above which gradients explode (AUTOTRAINER)");

  /**
   * First-layer over last-layer gradient norm below which gradients vanish. AUTOTRAINER's beta_1 is
   * 1e-3; a healthy dev run holds 6.5e-4 (a 1-D CNN on waveforms in millivolts, whose first layer
   * takes inputs hundreds of times larger than its features), so the default sits at least 5x below
   * it (docs/evaluation.md#calibration).
   */
  public static final Threshold VANISHING_RATIO =
      Threshold.real(
          "vanishing-ratio",
          1e-4,
          0,
          1,
          "First-layer / last-layer gradient l2 ratio below which gradients vanish (AUTOTRAINER)");

  /** AUTOTRAINER's beta_2: the first layer's gradient norm must also be below this. */
  public static final Threshold VANISHING_NORM =
      Threshold.real(
          "vanishing-norm",
          1e-4,
          0,
          1e300,
          "First-layer gradient l2 norm below which gradients vanish (AUTOTRAINER)");

  /** TheDeepChecker's vanishing-gradient bound on the mean absolute gradient (here its RMS). */
  public static final Threshold VANISHING_RMS =
      Threshold.real(
          "vanishing-rms",
          1e-6,
          0,
          1e300,
          "Root-mean-square weight gradient of a layer below which it vanishes (TheDeepChecker)");

  /**
   * zero_fraction of a ReLU layer's output at or above which its units count as dying. A healthy
   * dev run held at most 0.82 for a whole window when the default was set (0.95), then 0.937 (a
   * Keras separable CNN of the seventh batch of dev programs, whose skip connection carries the
   * signal past a mostly silent layer), which took the default to 0.98 to keep the live units at
   * most a third of that run's, then 0.965 (a PyTorch box-localization CNN of the fifty-eighth
   * batch, accuracy 0.96), which took it to 0.9883, the smallest value to four digits that keeps
   * the same margin (docs/evaluation.md#calibration).
   */
  public static final Threshold DYING_RELU_FRACTION =
      Threshold.real(
          "dying-relu-fraction",
          0.9883,
          0.5,
          1,
          "zero_fraction of a ReLU layer's output at or above which it is dying");

  /**
   * DeepDiagnosis' share of pre-activations beyond +-5 that makes a sigmoid/tanh layer saturated.
   */
  public static final Threshold SATURATION_FRACTION =
      Threshold.real(
          "saturation-fraction",
          0.5,
          0,
          1,
          "Estimated share of sigmoid/tanh inputs beyond +-5 that counts as saturated"
              + " (DeepDiagnosis)");

  /** A sigmoid/tanh output whose std is below this share of the function's range is pinned. */
  public static final Threshold SATURATION_STD =
      Threshold.real(
          "saturation-std",
          0.02,
          0,
          1,
          "Output std, as a share of the activation's range, below which a pinned output counts as"
              + " saturated");

  /** Steps per loss block of the oscillation rule (TheDeepChecker checks every 10 iterations). */
  public static final Threshold OSCILLATION_BLOCK =
      Threshold.integer(
          "oscillation-block",
          10,
          1,
          1_000_000,
          "Steps per averaged loss block of the oscillation rule");

  /**
   * AUTOTRAINER's zeta, relative: a swing counts when it is this share of the first block's loss.
   */
  public static final Threshold OSCILLATION_AMPLITUDE =
      Threshold.real(
          "oscillation-amplitude",
          0.5,
          0,
          1e6,
          "Rise of the block loss, as a share of the first block's loss, that counts as a swing");

  /** AUTOTRAINER's eta, as a count: swings needed before the loss counts as oscillating. */
  public static final Threshold OSCILLATION_SWINGS =
      Threshold.integer(
          "oscillation-swings",
          3,
          1,
          1_000_000,
          "Rising swings of the block loss before it counts as oscillating");

  /** AUTOTRAINER's delta: the largest epoch-to-epoch accuracy gain below which training is slow. */
  public static final Threshold SLOW_CONVERGENCE_DELTA =
      Threshold.real(
          "slow-convergence-delta",
          0.01,
          0,
          1,
          "Largest epoch-to-epoch accuracy gain below which convergence is slow (AUTOTRAINER)");

  /** Epochs needed before the epoch-level rules judge a run. */
  public static final Threshold MIN_EPOCHS =
      Threshold.integer(
          "min-epochs", 3, 2, 1_000_000, "Epochs needed before the epoch-level rules judge a run");

  /**
   * Accuracy margin over chance (as a share of 1 - chance) that a converging classifier must reach.
   */
  public static final Threshold CHANCE_MARGIN =
      Threshold.real(
          "chance-margin",
          0.1,
          0,
          1,
          "Share of the way from chance to 1 that the best epoch accuracy must reach");

  /** Lower end of the effective learning-rate band (DeepDiagnosis: 1e-3 / 100). */
  public static final Threshold LR_LOW =
      Threshold.real(
          "effective-lr-low",
          1e-5,
          0,
          1,
          "Effective learning rate lr x ||g|| / ||w|| below which updates are too small"
              + " (DeepDiagnosis)");

  /** Upper end of the effective learning-rate band (DeepDiagnosis: 1e-3 x 100). */
  public static final Threshold LR_HIGH =
      Threshold.real(
          "effective-lr-high",
          0.1,
          0,
          1e300,
          "Effective learning rate lr x ||g|| / ||w|| above which updates are too large"
              + " (DeepDiagnosis)");

  /** UMLAUT/DeepDiagnosis: inputs beyond +-this are not normalized. */
  public static final Threshold INPUT_BOUND =
      Threshold.real(
          "input-bound",
          1,
          0,
          1e300,
          "Input magnitude beyond which the inputs count as not normalized (UMLAUT,"
              + " DeepDiagnosis)");

  /** AUTOTRAINER's abnormal data: mean |first-layer output| at or above this. */
  public static final Threshold ABNORMAL_HIDDEN =
      Threshold.real(
          "abnormal-hidden",
          10,
          0,
          1e300,
          "RMS of the first layer's output at or above which unnormalized inputs are a fault"
              + " (AUTOTRAINER)");

  /**
   * The first layer's output RMS at or above which unnormalized inputs are a fault on their own,
   * with no other harm beside them, when no normalization layer follows the first layer. The
   * largest such RMS of a healthy dev run with unnormalized inputs was 10.8 (the raw 0..16 digits
   * into a Keras MLP); the default sits above 3x it (docs/evaluation.md#calibration).
   */
  public static final Threshold ABNORMAL_HIDDEN_ALONE =
      Threshold.real(
          "abnormal-hidden-alone",
          35,
          0,
          1e300,
          "RMS of the first layer's output at or above which unnormalized inputs are a fault"
              + " without corroboration, when no normalization layer follows the first layer");

  /** DeepDiagnosis' poor weight: variance below this. */
  public static final Threshold WEIGHT_VARIANCE_LOW =
      Threshold.real(
          "weight-variance-low",
          1e-5,
          0,
          1e300,
          "Weight variance (std^2) below which a layer's weights are poor (DeepDiagnosis)");

  /**
   * DeepDiagnosis' poor weight: variance above this. DeepDiagnosis uses 10; the largest weight
   * variance of a healthy dev run was 15.2 (a two-unit XOR network), so the default sits about 6x
   * above it (docs/evaluation.md#calibration).
   */
  public static final Threshold WEIGHT_VARIANCE_HIGH =
      Threshold.real(
          "weight-variance-high",
          100,
          0,
          1e300,
          "Weight variance (std^2) above which a layer's weights are poor (DeepDiagnosis)");

  /**
   * A classifier's loss at its first step, as a multiple of log(K) (the cross-entropy of a uniform
   * guess over K classes), at or above which the initial outputs are confidently wrong. The largest
   * ratio of a healthy dev run of the corpus was 2.8 (a fine-tuned CNN) when the default was set
   * (6), then 4.6 (a Keras MLP on the raw 0..16 digits that trains to 0.91 validation accuracy),
   * which took the default to 10 to keep it 2x above (docs/evaluation.md#calibration).
   */
  public static final Threshold INITIAL_LOSS_RATIO =
      Threshold.real(
          "initial-loss-ratio",
          10,
          1,
          1e300,
          "First-step cross-entropy, as a multiple of log(classes), at or above which the"
              + " initial outputs are confidently wrong");

  /**
   * The effective learning rate {@code lr x ||g|| / ||w||}, on the last step before the first
   * NaN/Inf, at or above which that update was as large as the weights themselves: the update blew
   * the values up. With plain SGD an update that replaces the weights gives about 1; no step of a
   * healthy dev run without gradient clipping reached 0.35 (docs/evaluation.md#calibration).
   */
  public static final Threshold UPDATE_BLOWUP =
      Threshold.real(
          "update-blowup",
          0.5,
          0,
          1e300,
          "Effective learning rate on the step before the first NaN/Inf at or above which that"
              + " update blew the values up");

  /**
   * The typical step of an adaptive optimizer (Adam, RMSprop and their kin) relative to the
   * weights, lr / rms(w), below which the updates are too small for the run to train: the median
   * over the trainable layers of each layer's geometric mean over the run. Half the lowest of a
   * healthy dev run, 1.08e-3 (a PyTorch entity-embedding classifier under RMSprop at 1e-3, whose
   * embedding tables have weights of unit scale; docs/evaluation.md#calibration).
   */
  public static final Threshold ADAPTIVE_STEP_LOW =
      Threshold.real(
          "adaptive-step-low",
          5e-4,
          0,
          1,
          "Typical lr / rms(weight) of an adaptive optimizer below which its updates are too small"
              + " to train");

  /**
   * The share of a run's learning-rate rows at or below 1/100 of the run's peak rate at or above
   * which the schedule took the rate away: on the healthy dev runs a schedule spends at most 0.25
   * of the run there (a step schedule's last quarter), twice that is the default
   * (docs/evaluation.md#calibration).
   */
  public static final Threshold LR_COLLAPSE_SHARE =
      Threshold.real(
          "lr-collapse-share",
          0.6,
          0,
          1,
          "Share of the run's steps with a learning rate at or below 1/100 of its peak, at or above"
              + " which the schedule took the rate away");

  /**
   * The highest mean loss over a block of {@code oscillation-block} steps, as a multiple of the
   * run's starting loss (its first step's loss, or the loss of a uniform guess when that is
   * higher), at or above which training diverged. Twice the highest of a healthy dev run, 3.34 (a
   * Keras VQ-VAE whose commitment and codebook terms rose as the encoder's outputs grew, before the
   * loss fell; docs/evaluation.md#calibration).
   */
  public static final Threshold DIVERGENCE_RATIO =
      Threshold.real(
          "divergence-ratio",
          6.7,
          1,
          1e300,
          "Highest block-mean loss, as a multiple of the starting loss, at or above which training"
              + " diverged");

  /**
   * How many times its first level the weight gradients' norm must reach, climbing, to count as
   * accumulating across steps. Healthy runs grow 10x and more too, but with falls of 58% or more
   * below their running peak (docs/evaluation.md#calibration); {@link #ACCUMULATION_DRAWDOWN} tells
   * them apart.
   */
  public static final Threshold ACCUMULATION_GROWTH =
      Threshold.real(
          "accumulation-growth",
          10,
          1,
          1e300,
          "Growth of the weight gradients' norm over its first steps that, climbing without falls,"
              + " counts as gradients accumulating across steps");

  /**
   * The largest fall below its running peak, as a share of the peak, that a climbing gradient norm
   * may take and still count as accumulating. The smallest fall of a healthy dev run whose norm
   * grew 10x was 0.58 when the default was set (0.1), then 0.466 (a Keras CNN of the fourth batch
   * of dev programs), which took the default to 0.09 to keep it 5x below, then 0.257 (a PyTorch
   * Lightning CNN under momentum SGD of the sixth batch, whose gradient norm grew 50x), which took
   * it to 0.05, then 0.1725 (a waveform CNN of the thirteenth batch under bfloat16 autocast), which
   * took it to 0.03, then 0 (a U-Net of the twentieth batch under Adam climbed 16x without ever
   * falling back), which turned the test off: a climb counts as steady by it only when it falls
   * strictly less than this share, and accumulation-step alone decides
   * (docs/evaluation.md#calibration).
   */
  public static final Threshold ACCUMULATION_DRAWDOWN =
      Threshold.real(
          "accumulation-drawdown",
          0,
          0,
          1,
          "Largest fall of the climbing gradient norm below its running peak, as a share of it,"
              + " for gradients that accumulate across steps");

  /**
   * The largest median step of a climbing gradient norm, as a share of the norm before it, over the
   * second half of its climb, for the climb to count as a running sum. A running sum moves by one
   * mini-batch gradient per step, a shrinking share of a sum that has grown 10x; a healthy norm
   * that grows moves with the mini-batch noise of its own size. The smallest of a healthy dev run
   * whose norm grew 10x is 0.033 (a word2vec whose embeddings grow 50x from a small start, and its
   * gradients with them, smoothly); the default sits 5x below it (docs/evaluation.md#calibration).
   * The same bound applies to the norm's median step over the second half of the whole run, past
   * its peak: a running sum then holds still, a healthy norm keeps moving (at least 0.042 a step in
   * every healthy dev run that grew 10x).
   */
  public static final Threshold ACCUMULATION_STEP =
      Threshold.real(
          "accumulation-step",
          0.0065,
          0,
          1,
          "Median step of the climbing gradient norm over the second half of its climb, or over"
              + " the second half of the run once it has climbed, as a share of the norm, for"
              + " gradients that accumulate across steps");

  /**
   * How many times the batch-to-batch variance of the accuracy must exceed what sampling a batch
   * explains (a binomial over the batch size, around the local accuracy) for the batches to count
   * as not random samples of the data. The highest of a healthy dev run is 4.28 (an MLP trained
   * with mixup, whose accuracy is scored against each batch's mixed targets; 2.85 before it, an
   * EmbeddingBag classifier under plain SGD at a rate of 3-5, when the default was 5.7; 2.29 before
   * that, when it was 4.6); the default sits 2x above it (docs/evaluation.md#calibration).
   */
  public static final Threshold BATCH_DISPERSION =
      Threshold.real(
          "batch-dispersion",
          11.6,
          0,
          1e300,
          "Batch-to-batch variance of the accuracy, as a multiple of a binomial's over the batch"
              + " size, at or above which the batches are not random samples (unshuffled data)");

  /**
   * The smallest gain of the mean episode return, in standard errors, for an agent to count as
   * learning. The lowest of a healthy dev agent is 3.10 (a Keras DQN on the cart-pole of the
   * hundred-and-sixth batch; 3.79 before it, a Keras DDPG with 5 episodes a quarter); the default
   * is half that, rounded down (docs/evaluation.md#calibration).
   */
  public static final Threshold MIN_RETURN_GAIN =
      Threshold.real(
          "min-return-gain",
          1.55,
          0,
          1000,
          "Smallest gain of the mean episode return from the first quarter of the run's return rows"
              + " to the last, in standard errors (Welch's t), for an agent to count as learning");

  /**
   * How many times its first block's magnitude the loss of an objective that does not measure
   * progress (a GAN player's, a policy-gradient surrogate, a temporal-difference error) must end at
   * for its game to count as blown up, the first and last twentieths of the run compared. The
   * highest of a healthy dev run or fixed twin is 4.7 (a Keras DDPG's temporal-difference error,
   * which grows with the values it learns); the default is about 200 times that
   * (docs/evaluation.md#calibration).
   */
  public static final Threshold MAGNITUDE_GROWTH =
      Threshold.real(
          "magnitude-growth",
          1000,
          1,
          1e300,
          "Times its first block's magnitude the loss of an objective that does not measure"
              + " progress must end at to count as blown up");

  public static final Threshold RETURN_MIN_ROWS =
      Threshold.integer(
          "return-min-rows",
          8,
          4,
          1_000_000,
          "Fewest steps with episode_return rows for return-progress to judge a run");

  /**
   * The smallest drop of the loss below its start (the first block's mean; a uniform guess's loss
   * for a cross-entropy over known classes), as a share of the start, for a run to count as having
   * progressed. Every healthy dev run fell at least 0.2526 (a DINO self-distillation loss, the
   * cross-entropy between a student and a sharpened teacher that moves with it, whose floor sits
   * far above 0; 0.264 before it, a flow-matching loss on the floor its noise sets); the default is
   * half that, rounded down. SASRec's summed loss is left out of that margin, a false alarm named
   * in docs/evaluation.md#calibration.
   */
  public static final Threshold MIN_PROGRESS =
      Threshold.real(
          "min-progress",
          0.126,
          0,
          1,
          "Smallest drop of the best block-mean loss below its start, as a share of the start, for"
              + " a run to count as having progressed");

  /**
   * The median layer's weight norm at the last step, as a share of its first, below which training
   * pulled the weights toward zero. Every healthy dev run ends at 0.58 or more (a Bayes by Backprop
   * network, whose KL term pulls the weight means toward the prior's 0); the default is half that,
   * rounded down (docs/evaluation.md#calibration).
   */
  public static final Threshold WEIGHT_SHRINK =
      Threshold.real(
          "weight-shrink",
          0.28,
          0,
          1,
          "Median layer's last weight norm, as a share of its first, below which the weights were"
              + " pulled toward zero (a penalty that outweighs the loss)");

  private static final List<Threshold> ALL =
      List.of(
          WINDOW,
          UNCHANGED_TOLERANCE,
          ZERO_FRACTION,
          MIN_IMPROVEMENT,
          PATIENCE,
          CONVERGED_DROP,
          CONVERGED_ERROR_CUT,
          TARGET_SCALE,
          DL_WINDOW,
          DL_ZERO_RATIO,
          EARLY_STOPPING_PATIENCE,
          EXPLODING_GROWTH,
          EXPLODING_RATIO,
          VANISHING_RATIO,
          VANISHING_NORM,
          VANISHING_RMS,
          DYING_RELU_FRACTION,
          SATURATION_FRACTION,
          SATURATION_STD,
          OSCILLATION_BLOCK,
          OSCILLATION_AMPLITUDE,
          OSCILLATION_SWINGS,
          SLOW_CONVERGENCE_DELTA,
          MIN_EPOCHS,
          CHANCE_MARGIN,
          LR_LOW,
          LR_HIGH,
          UPDATE_BLOWUP,
          LR_COLLAPSE_SHARE,
          ADAPTIVE_STEP_LOW,
          INPUT_BOUND,
          ABNORMAL_HIDDEN,
          ABNORMAL_HIDDEN_ALONE,
          WEIGHT_VARIANCE_LOW,
          WEIGHT_VARIANCE_HIGH,
          INITIAL_LOSS_RATIO,
          DIVERGENCE_RATIO,
          ACCUMULATION_GROWTH,
          ACCUMULATION_DRAWDOWN,
          ACCUMULATION_STEP,
          BATCH_DISPERSION,
          MIN_PROGRESS,
          WEIGHT_SHRINK,
          MIN_RETURN_GAIN,
          RETURN_MIN_ROWS,
          MAGNITUDE_GROWTH);

  private Thresholds() {}

  /** Every known threshold, in documentation order. */
  public static List<Threshold> all() {
    return ALL;
  }

  /** The threshold with this key, if known. */
  public static Optional<Threshold> byKey(String key) {
    for (Threshold threshold : ALL) {
      if (threshold.key().equals(key)) {
        return Optional.of(threshold);
      }
    }
    return Optional.empty();
  }

  /** The threshold with this key, or an error that lists the known keys. */
  public static Threshold require(String key) {
    return byKey(key)
        .orElseThrow(
            () -> {
              StringBuilder keys = new StringBuilder();
              for (Threshold threshold : ALL) {
                keys.append(keys.length() == 0 ? "" : ", ").append(threshold.key());
              }
              return new IllegalArgumentException(
                  format(ROOT, "unknown threshold: %s (known: %s)", key, keys));
            });
  }
}
