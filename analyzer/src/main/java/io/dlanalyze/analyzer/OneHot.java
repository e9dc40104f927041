package io.dlanalyze.analyzer;

/**
 * One-hot target rows read from their statistics: each row of K classes sums to 1 (label-smoothed
 * rows too), so the targets' mean is 1/K whatever the batch holds.
 */
public final class OneHot {
  /**
   * How far 1/mean may be from a whole number, relative to it, and how far apart the per-step means
   * of one-hot rows may be: the room is for the rounding of a float32 mean.
   */
  public static final double TOLERANCE = 1e-5;

  private OneHot() {}

  /** K when {@code mean} is 1/K for a whole K of at least 2 (within {@link #TOLERANCE}), else 0. */
  public static int classes(double mean) {
    if (!(mean > 0)) {
      return 0;
    }
    double k = 1 / mean;
    long rounded = Math.round(k);
    return rounded >= 2 && rounded <= Integer.MAX_VALUE && Math.abs(k - rounded) <= TOLERANCE * k
        ? (int) rounded
        : 0;
  }
}
