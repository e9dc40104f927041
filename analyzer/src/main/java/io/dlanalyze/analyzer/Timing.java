package io.dlanalyze.analyzer;

/**
 * How long the analysis took. Rendered only on request ({@code --timing}) so reports stay
 * byte-for-byte reproducible.
 *
 * @param elapsedNanos wall time of the pass, reading included
 * @param rows rows read
 */
public record Timing(long elapsedNanos, long rows) {
  /** Rows per second, or 0 when no time elapsed. */
  public double rowsPerSecond() {
    return elapsedNanos <= 0 ? 0 : rows * 1e9 / elapsedNanos;
  }
}
