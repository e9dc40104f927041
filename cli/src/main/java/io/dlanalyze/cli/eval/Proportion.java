package io.dlanalyze.cli.eval;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import org.jspecify.annotations.Nullable;

/**
 * A count of successes out of trials, {@code k/n}, with its 95% Wilson score interval (Wilson, E.
 * B., 1927, "Probable inference, the law of succession, and statistical inference", JASA 22:
 * 209-212; recommended by Brown, Cai and DasGupta, 2001, "Interval Estimation for a Binomial
 * Proportion", Statistical Science 16(2): 101-133).
 *
 * <p>With p = k/n and z = 1.959964 (the 97.5% normal quantile), the interval is
 *
 * <pre>
 *   (p + z^2/(2n) -+ z sqrt(p(1 - p)/n + z^2/(4n^2))) / (1 + z^2/n)
 * </pre>
 *
 * the set of proportions a two-sided score test at the 5% level does not reject; R's {@code
 * prop.test(k, n, correct = FALSE)$conf.int} gives the same bounds.
 *
 * @param k successes, 0 to n
 * @param n trials, 0 or more; with none, the rate and the interval are undefined (NaN)
 */
public record Proportion(int k, int n) {
  /** The 97.5% quantile of the standard normal distribution: a two-sided 95% interval. */
  public static final double Z95 = 1.959963984540054;

  public static final Proportion EMPTY = new Proportion(0, 0);

  public Proportion {
    if (n < 0 || k < 0 || k > n) {
      throw new IllegalArgumentException(
          format(ROOT, "a proportion needs 0 <= k <= n: got %d/%d", k, n));
    }
  }

  /** k/n, or NaN when n is 0. */
  public double rate() {
    return n == 0 ? Double.NaN : (double) k / n;
  }

  /** The lower bound of the 95% Wilson interval (0 when k is 0), or NaN when n is 0. */
  public double low() {
    return k == 0 && n > 0 ? 0.0 : bound(-1);
  }

  /** The upper bound of the 95% Wilson interval (1 when k is n), or NaN when n is 0. */
  public double high() {
    return k == n && n > 0 ? 1.0 : bound(+1);
  }

  private double bound(int sign) {
    if (n == 0) {
      return Double.NaN;
    }
    double p = (double) k / n;
    double z2 = Z95 * Z95;
    double center = p + z2 / (2.0 * n);
    double half = Z95 * Math.sqrt(p * (1 - p) / n + z2 / (4.0 * n * n));
    double value = (center + sign * half) / (1 + z2 / n);
    return Math.min(1.0, Math.max(0.0, value));
  }

  /** This proportion plus another one (counts added). */
  public Proportion plus(Proportion other) {
    return new Proportion(k + other.k, n + other.n);
  }

  /** One more trial, a success or not. */
  public Proportion add(boolean success) {
    return new Proportion(k + (success ? 1 : 0), n + 1);
  }

  /**
   * The difference of two independent proportions, {@code this - other}, with the 95% interval of
   * Newcombe's method 10 (the hybrid score interval built from the two Wilson intervals: Newcombe,
   * R. G., 1998, "Interval estimation for the difference between independent proportions:
   * comparison of eleven methods", Statistics in Medicine 17: 873-890).
   *
   * @return the difference, or {@code null} when either proportion has no trials
   */
  public @Nullable Difference minus(Proportion other) {
    if (n == 0 || other.n == 0) {
      return null;
    }
    double p1 = rate();
    double p2 = other.rate();
    double d = p1 - p2;
    double below = Math.hypot(p1 - low(), other.high() - p2);
    double above = Math.hypot(high() - p1, p2 - other.low());
    return new Difference(d, Math.max(-1.0, d - below), Math.min(1.0, d + above));
  }

  /**
   * A difference of two proportions and its 95% interval.
   *
   * @param value p1 - p2
   * @param low the lower bound
   * @param high the upper bound
   */
  public record Difference(double value, double low, double high) {
    /** True when the interval excludes 0: the two proportions differ more than chance explains. */
    public boolean excludesZero() {
      return low > 0 || high < 0;
    }
  }

  /** {@code k/n = r% [low, high]} in percent with one decimal, or {@code 0/0} when n is 0. */
  @Override
  public String toString() {
    if (n == 0) {
      return "0/0";
    }
    return format(
        ROOT, "%d/%d = %.1f%% [%.1f, %.1f]", k, n, 100 * rate(), 100 * low(), 100 * high());
  }
}
