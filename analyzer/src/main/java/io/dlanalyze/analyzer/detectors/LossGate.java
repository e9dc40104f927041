package io.dlanalyze.analyzer.detectors;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.LossFunction;
import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.trace.TraceMetadata;

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

  /**
   * False when {@code dltrace.objective} says the loss does not measure progress (a GAN player's
   * loss, a policy-gradient surrogate): the gates then cannot tell a run that learned from one that
   * did not, so the rules they gate stay at info.
   */
  private final boolean progress;

  /**
   * The loss of a uniform guess (log K for a cross-entropy over K classes), or 0 when the metadata
   * does not give it.
   */
  private final double uniform;

  LossGate(AnalysisContext context) {
    this.loss = context.lossHistory();
    this.uniform = uniformLoss(context);
    this.window = context.options().getInt(Thresholds.WINDOW);
    this.convergedDrop = context.options().get(Thresholds.CONVERGED_DROP);
    this.minImprovement = context.options().get(Thresholds.MIN_IMPROVEMENT);
    this.progress = context.metadata().lossMeasuresProgress();
  }

  /**
   * True when the run made real progress: a converged model's small signals are not faults. A
   * classifier whose first block sits above the loss of a uniform guess counts its drop from that
   * loss: falling from a confidently wrong start back to a uniform guess undoes the start, it
   * learns nothing. Also true when the loss does not measure progress ({@code dltrace.objective}):
   * nothing then shows that the run failed to learn, so the gated rules stay at info.
   */
  boolean learned() {
    if (!progress) {
      return true;
    }
    if (!loss.learned(window, convergedDrop)) {
      return false;
    }
    if (uniform > 0 && loss.firstBlockMean(window) > uniform) {
      return loss.bestBlockMean(window) <= (1 - convergedDrop) * uniform;
    }
    return true;
  }

  /**
   * The loss of a uniform guess for a cross-entropy with a known number of classes (log 2 for a
   * binary one), else 0. Also 0 for a class- or sample-weighted loss ({@code
   * dltrace.loss_weighted}): a uniform guess then costs log K times the mean weight of the batch's
   * examples (about 1.15 for a {@code pos_weight} of 4.9 on 17% positives), which the trace does
   * not give; the rules measure from the run's own start, as when the class count is unknown. And 0
   * for a loss with terms added beside the loss function ({@code dltrace.loss_added}: a KL term, a
   * load-balancing loss), which a uniform guess's loss does not hold.
   */
  static double uniformLoss(AnalysisContext context) {
    return context.metadata().lossAdded() ? 0 : functionsUniformLoss(context);
  }

  /**
   * {@link #uniformLoss} of the loss function alone, also when terms are added beside it ({@code
   * dltrace.loss_added}): what the function's own term costs for a uniform guess, the whole loss at
   * the first step when the added terms start at 0 (a pseudo-label or consistency term that warms
   * up).
   */
  static double functionsUniformLoss(AnalysisContext context) {
    LossFunction function = LossFunction.of(context.metadata());
    if (!function.crossEntropy() || context.metadata().lossWeighted()) {
      return 0;
    }
    if (function.binary()) {
      return Math.log(2);
    }
    int classes = context.numClasses().orElse(0);
    return classes >= 2 ? Math.log(classes) : 0;
  }

  /**
   * The share of its peak at or below which a learning rate counts as taken away by its schedule:
   * healthy schedules reach 1/100 of their peak only near the end of a run.
   */
  static final double COLLAPSED = 1.0 / 100;

  /**
   * True when the learning rate at {@code step} (its last row at or before it) was at or below
   * {@link #COLLAPSED} of the run's peak: a schedule had taken the rate away by then.
   */
  boolean rateCollapsedAt(long step) {
    double rate = loss.learningRateAt(step);
    double peak = loss.peakLearningRate();
    return rate >= 0 && peak > 0 && collapsed(rate, peak);
  }

  /**
   * True when {@code rate} is at or below {@link #COLLAPSED} of {@code peak}, up to floating-point
   * rounding: a rate decayed to exactly 1/100 by two steps of 0.1 is 0.05 x 0.1 x 0.1 =
   * 5.000000000000001e-4 in doubles, a hair above 0.05 / 100.
   */
  static boolean collapsed(double rate, double peak) {
    return rate <= COLLAPSED * peak * (1 + 1e-9);
  }

  /**
   * True when there are enough losses (two blocks) of a loss that measures progress to tell a fault
   * from a converged model.
   */
  boolean judgeable() {
    return progress && loss.judgeable(window);
  }

  /**
   * True when the loss did not improve around {@code step}, or already went NaN/Inf; for a loss
   * that does not measure progress, only the latter.
   */
  boolean stalledAt(long step) {
    if (!progress) {
      long nonFinite = loss.firstNonFiniteStep();
      return nonFinite >= 0 && nonFinite <= step;
    }
    return loss.stalledAt(step, window, minImprovement);
  }

  /** True once the loss went NaN or Inf (numerical-error owns the run from there). */
  boolean nonFinite() {
    return loss.firstNonFiniteStep() >= 0;
  }

  /**
   * Where the loss started, as a climb away from it or a return below it is measured: its first
   * value, at least a uniform guess's loss; NaN without a loss per step.
   */
  static double startingLoss(AnalysisContext context) {
    LossHistory history = context.lossHistory();
    if (history.size() == 0 || !perStep(context)) {
      return Double.NaN;
    }
    return Math.max(history.loss(0), uniformLoss(context));
  }

  /**
   * True when the losses are one per training step: the first loss is then one step's, taken before
   * any update, not an epoch's mean (TensorBoard logs of model.fit hold one per epoch, which
   * already includes an epoch of updates). A converted log says which ({@code
   * dltrace.source.granularity}); a trace of the recorders ({@code dltrace.framework} {@code
   * pytorch} or {@code keras}, not converted) holds one loss per step by construction, also when an
   * epoch is one step (a full-batch graph network or physics-informed network); otherwise, when the
   * first epoch has more than one loss.
   */
  static boolean perStep(AnalysisContext context) {
    LossHistory history = context.lossHistory();
    if (history.size() < 2) {
      return false;
    }
    TraceMetadata metadata = context.metadata();
    String granularity = metadata.get(TraceMetadata.SOURCE_GRANULARITY).orElse("");
    if (!granularity.isEmpty()) {
      return granularity.equals("step");
    }
    if (metadata.get(TraceMetadata.SOURCE).isEmpty()
        && metadata.framework().map(f -> f.equals("pytorch") || f.equals("keras")).orElse(false)) {
      return true;
    }
    int epoch = context.epochOf(history.step(0));
    return epoch >= 0 && context.epochOf(history.step(1)) == epoch;
  }

  /** The loss history the gates read. */
  LossHistory history() {
    return loss;
  }
}
