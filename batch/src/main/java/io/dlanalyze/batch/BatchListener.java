package io.dlanalyze.batch;

/**
 * Progress of a local batch. Called from one thread (the one that runs {@link BatchRunner#run}), in
 * completion order.
 */
public interface BatchListener {
  /** The batch starts with this many traces. */
  default void started(int traces) {}

  /** One more trace is done ({@code done} of {@code total}). */
  default void traceDone(TraceOutcome outcome, int done, int total) {}

  /** Every trace is done. */
  default void finished() {}

  /** A listener that ignores everything. */
  static BatchListener none() {
    return new BatchListener() {};
  }
}
