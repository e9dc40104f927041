package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.util.List;
import java.util.Optional;

/**
 * The thresholds the built-in detectors and baselines read, in documentation order. A new
 * detector adds its thresholds here (and to {@code docs/detectors.md}); the CLI and config files
 * set them by key.
 */
public final class Thresholds {
  /** Steps a per-layer symptom must persist, and the block size of loss trends (default mode). */
  public static final Threshold WINDOW =
      Threshold.integer("window", 50, 1, 1_000_000_000, "Steps a per-layer symptom must persist; also the loss-trend block size");

  /** Relative tolerance under which two consecutive statistics count as unchanged. */
  public static final Threshold UNCHANGED_TOLERANCE =
      Threshold.real("unchanged-tolerance", 1e-6, 0, 1, "Relative change below which a statistic counts as unchanged");

  /** zero_fraction at or above which a tensor counts as all zero. */
  public static final Threshold ZERO_FRACTION =
      Threshold.real("zero-fraction", 0.999, 0.5, 1, "zero_fraction at or above which a tensor counts as all zero");

  /** Relative loss improvement a block must achieve over the best block so far. */
  public static final Threshold MIN_IMPROVEMENT =
      Threshold.real("min-improvement", 0.01, 0, 1, "Relative loss decrease over the best block that counts as progress");

  /** Blocks of {@link #WINDOW} steps without progress before the model counts as not learning. */
  public static final Threshold PATIENCE =
      Threshold.integer("patience", 4, 1, 1_000_000, "Loss-trend blocks without progress before not-learning fires");

  /**
   * A flat loss that has already fallen by this fraction from its first block counts as converged,
   * not as a model that does not learn.
   */
  public static final Threshold CONVERGED_DROP =
      Threshold.real("converged-drop", 0.5, 0, 1, "Loss drop from the first block after which a flat loss counts as converged");

  /** DeepLocalize's N: the block of exactly equal values (deeplocalize mode). */
  public static final Threshold DL_WINDOW =
      Threshold.integer("dl-window", 5, 1, 1_000_000, "DeepLocalize's block of N equal values (deeplocalize mode)");

  /** DeepLocalize's zero rule: zero means in at least this share of the batches so far. */
  public static final Threshold DL_ZERO_RATIO =
      Threshold.real("dl-zero-ratio", 0.5, 0, 1, "DeepLocalize's share of batches with mean == 0 (deeplocalize mode)");

  /** Patience of the replayed Keras EarlyStopping baselines, in epochs. */
  public static final Threshold EARLY_STOPPING_PATIENCE =
      Threshold.integer("es-patience", 1, 0, 1_000_000, "Patience in epochs of the replayed Keras EarlyStopping baselines");

  private static final List<Threshold> ALL =
      List.of(
          WINDOW,
          UNCHANGED_TOLERANCE,
          ZERO_FRACTION,
          MIN_IMPROVEMENT,
          PATIENCE,
          CONVERGED_DROP,
          DL_WINDOW,
          DL_ZERO_RATIO,
          EARLY_STOPPING_PATIENCE);

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
