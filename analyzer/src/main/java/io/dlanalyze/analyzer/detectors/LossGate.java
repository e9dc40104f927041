package io.dlanalyze.analyzer.detectors;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.Thresholds;

/**
 * The loss-trend gates of the symptom detectors, over the engine's {@link LossHistory}: a symptom
 * that shows up while the loss falls steadily is usually benign. Judged over blocks of {@code
 * window} losses: the run {@link #learned()} when its best block is {@code converged-drop} below
 * its first; the loss {@link #stalledAt} a step when the block ending there is not {@code
 * min-improvement} below the block before.
 */
final class LossGate {
  private final LossHistory loss;
  private final int window;
  private final double convergedDrop;
  private final double minImprovement;

  LossGate(AnalysisContext context) {
    this.loss = context.lossHistory();
    this.window = context.options().getInt(Thresholds.WINDOW);
    this.convergedDrop = context.options().get(Thresholds.CONVERGED_DROP);
    this.minImprovement = context.options().get(Thresholds.MIN_IMPROVEMENT);
  }

  /** True when the run made real progress: a converged model's small signals are not faults. */
  boolean learned() {
    return loss.learned(window, convergedDrop);
  }

  /** True when there are enough losses (two blocks) to tell a fault from a converged model. */
  boolean judgeable() {
    return loss.judgeable(window);
  }

  /** True when the loss did not improve around {@code step}, or already went NaN/Inf. */
  boolean stalledAt(long step) {
    return loss.stalledAt(step, window, minImprovement);
  }

  /** True once the loss went NaN or Inf (numerical-error owns the run from there). */
  boolean nonFinite() {
    return loss.firstNonFiniteStep() >= 0;
  }

  /**
   * True when the first epoch has more than one loss: the first loss is then one step's, taken
   * before any update, not an epoch's mean (TensorBoard logs of model.fit hold one per epoch, which
   * already includes an epoch of updates).
   */
  static boolean perStep(AnalysisContext context) {
    LossHistory history = context.lossHistory();
    if (history.size() < 2) {
      return false;
    }
    int epoch = context.epochOf(history.step(0));
    return epoch >= 0 && context.epochOf(history.step(1)) == epoch;
  }

  /** The loss history the gates read. */
  LossHistory history() {
    return loss;
  }
}
