package io.dlanalyze.analyzer.report;

/**
 * One statistic of one (layer, phase) over the run, downsampled into a fixed number of step
 * buckets: per bucket the minimum, maximum and last finite value, and whether NaN or an infinity
 * was seen. Primitive arrays only; {@link #add} is called once per trace row.
 */
final class BucketSeries {
  static final byte FINITE = 1;
  static final byte NAN = 2;
  static final byte POSITIVE_INFINITY = 4;
  static final byte NEGATIVE_INFINITY = 8;

  private final double[] min;
  private final double[] max;
  private final double[] last;
  private final byte[] flags;

  BucketSeries(int buckets) {
    this.min = new double[buckets];
    this.max = new double[buckets];
    this.last = new double[buckets];
    this.flags = new byte[buckets];
  }

  void add(int bucket, double value) {
    if (Double.isNaN(value)) {
      flags[bucket] |= NAN;
    } else if (value == Double.POSITIVE_INFINITY) {
      flags[bucket] |= POSITIVE_INFINITY;
    } else if (value == Double.NEGATIVE_INFINITY) {
      flags[bucket] |= NEGATIVE_INFINITY;
    } else if ((flags[bucket] & FINITE) == 0) {
      min[bucket] = value;
      max[bucket] = value;
      last[bucket] = value;
      flags[bucket] |= FINITE;
    } else {
      min[bucket] = Math.min(min[bucket], value);
      max[bucket] = Math.max(max[bucket], value);
      last[bucket] = value;
    }
  }

  int buckets() {
    return flags.length;
  }

  boolean hasFinite(int bucket) {
    return (flags[bucket] & FINITE) != 0;
  }

  /** True when a NaN or an infinity fell into the bucket. */
  boolean hasNonFinite(int bucket) {
    return (flags[bucket] & (NAN | POSITIVE_INFINITY | NEGATIVE_INFINITY)) != 0;
  }

  /** True when the bucket holds any value, finite or not. */
  boolean hasAny(int bucket) {
    return flags[bucket] != 0;
  }

  double min(int bucket) {
    return min[bucket];
  }

  double max(int bucket) {
    return max[bucket];
  }

  double last(int bucket) {
    return last[bucket];
  }

  /** True when some bucket holds a value. */
  boolean isEmpty() {
    for (byte flag : flags) {
      if (flag != 0) {
        return false;
      }
    }
    return true;
  }

  /** True when some bucket holds a finite value. */
  boolean hasAnyFinite() {
    for (byte flag : flags) {
      if ((flag & FINITE) != 0) {
        return true;
      }
    }
    return false;
  }
}
