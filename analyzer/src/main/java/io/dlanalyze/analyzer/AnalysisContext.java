package io.dlanalyze.analyzer;

import io.dlanalyze.trace.TraceMetadata;

/**
 * What a detector may know about the analysis besides the current step: its options, the trace's
 * metadata, the layers seen so far and the epoch/batch of any step already read. Live: it grows as
 * the engine reads.
 */
public interface AnalysisContext {
  AnalysisOptions options();

  TraceMetadata metadata();

  /** One more than the largest layer index seen so far (in rows or {@code dltrace.layers}). */
  int layerCount();

  /** The layer at {@code index} (a placeholder when nothing named it). */
  Layer layer(int index);

  /** Completed steps so far. */
  long stepCount();

  /** The epoch of a step already read, or -1 when that step was not in the trace. */
  int epochOf(long step);

  /** The in-epoch batch index of a step already read, or -1 when that step was not in the trace. */
  int batchOf(long step);

  /**
   * The run's loss and accuracy so far, kept by the engine: during {@link Detector#observe} it
   * already holds the step being observed.
   */
  LossHistory lossHistory();
}
