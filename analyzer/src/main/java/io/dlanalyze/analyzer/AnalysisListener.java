package io.dlanalyze.analyzer;

import java.util.List;

/**
 * Follows an analysis while it reads ({@code dl-analyze watch}); called on the reading thread.
 *
 * <p>Findings are announced when their detector first fires: each detector that can tell it has a
 * finding ({@link Detector#fired()}) runs a second time, beside the one that makes the report, and
 * hands its findings over the moment it fires. Detectors that decide only at the end of the run
 * (trends over the whole run) report in the final {@link Report} only.
 */
public interface AnalysisListener {
  /**
   * A detector fired at {@code step}: the findings it holds at that step, with layer names, epoch
   * and batch resolved. The final report may word them differently (an episode still open at this
   * step is closed at the end).
   */
  void findings(long step, List<Finding> findings);

  /**
   * A step was completed (all of its rows read) and analysed.
   *
   * @param loss the step's loss, NaN when it has none
   * @return false to stop reading: the report then covers the steps read so far
   */
  boolean stepCompleted(long step, int epoch, double loss);
}
