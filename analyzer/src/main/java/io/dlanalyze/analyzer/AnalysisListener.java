package io.dlanalyze.analyzer;

import java.util.List;

/**
 * Follows an analysis while it reads ({@code dl-analyze watch}); called on the reading thread.
 *
 * <p>Findings are announced the step they become conclusive: a detector that counts its conclusive
 * findings ({@link Detector#conclusive()}) hands over each new one (another layer, another rule, a
 * raised severity) the step it appears; a detector that only tells when it fired ({@link
 * Detector#fired()}) runs a second time, beside the one that makes the report, and hands over its
 * findings once, the step it fires. Rules that need the whole run (trends over all of training,
 * "the run never learned") report in the final {@link Report} only.
 */
public interface AnalysisListener {
  /**
   * One detector's findings that became conclusive at {@code step}, with layer names, epoch and
   * batch resolved. The final report may word them differently (an episode still open at this step
   * is closed at the end; counts and last steps grow).
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
