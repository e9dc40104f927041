package io.dlanalyze.analyzer.detectors;

/**
 * DeepLocalize's {@code meanResult}, {@code np.mean(a) == np.max(a)}, with numpy's own summation
 * order, so exact-equality verdicts match numpy's.
 */
final class NumpyMean {
  private NumpyMean() {}

  /**
   * {@code np.mean(values[0..n)) == np.max(values[0..n))}: numpy's pairwise summation (a plain loop
   * below 8 values, 8 accumulators up to 128, halves above); an empty list gives NaN (false).
   */
  static boolean meanEqualsMax(double[] values, int n) {
    if (n == 0) {
      return false;
    }
    double max = values[0];
    for (int i = 1; i < n; i++) {
      max = Math.max(max, values[i]);
    }
    return pairwiseSum(values, 0, n) / n == max;
  }

  static double pairwiseSum(double[] a, int from, int n) {
    if (n < 8) {
      double res = -0.0;
      for (int i = 0; i < n; i++) {
        res += a[from + i];
      }
      return res;
    }
    if (n <= 128) {
      double r0 = a[from];
      double r1 = a[from + 1];
      double r2 = a[from + 2];
      double r3 = a[from + 3];
      double r4 = a[from + 4];
      double r5 = a[from + 5];
      double r6 = a[from + 6];
      double r7 = a[from + 7];
      int i;
      for (i = 8; i < n - (n % 8); i += 8) {
        int at = from + i;
        r0 += a[at];
        r1 += a[at + 1];
        r2 += a[at + 2];
        r3 += a[at + 3];
        r4 += a[at + 4];
        r5 += a[at + 5];
        r6 += a[at + 6];
        r7 += a[at + 7];
      }
      double res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
      for (; i < n; i++) {
        res += a[from + i];
      }
      return res;
    }
    int half = n / 2;
    half -= half % 8;
    return pairwiseSum(a, from, half) + pairwiseSum(a, from + half, n - half);
  }
}
