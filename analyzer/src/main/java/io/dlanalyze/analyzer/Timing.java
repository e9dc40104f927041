package io.dlanalyze.analyzer;

/**
 * How long the analysis took. Rendered only on request ({@code --timing}) so reports stay
 * byte-for-byte reproducible.
 *
 * @param elapsedNanos wall time of the pass, reading included
 * @param rows rows analysed
 * @param stoppedEarly true when the pass stopped at the first fault ({@code --first-fault}): the
 *     rows are then the few before the fault and the time mostly start-up, so a rate would say
 *     nothing about the reader's speed and is not reported
 */
public record Timing(long elapsedNanos, long rows, boolean stoppedEarly) {
  /** Rows per second, or 0 when no time elapsed. */
  public double rowsPerSecond() {
    return elapsedNanos <= 0 ? 0 : rows * 1e9 / elapsedNanos;
  }
}
