package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.BAR;
import static io.dlanalyze.analyzer.EvidenceKeys.BEST_EPOCH;
import static io.dlanalyze.analyzer.EvidenceKeys.BEST_EPOCH_ACCURACY;
import static io.dlanalyze.analyzer.EvidenceKeys.BEST_EPOCH_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.CHANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.CONVERGENCE_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.EPOCHS;
import static io.dlanalyze.analyzer.EvidenceKeys.EXPLAINED_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_EPOCH_ACCURACY;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_EPOCH_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_EPOCH_ACCURACY;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_EPOCH_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.METRIC;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_VARIANCE;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.ConvergenceRule;
import io.dlanalyze.analyzer.EvidenceKeys.Metric;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.OneHot;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Reports a model that never gets meaningfully better than guessing: over at least {@code
 * min-epochs} epochs, a classifier's best epoch accuracy stays below chance + {@code chance-margin}
 * x (1 - chance), or a regression's best epoch mean squared error explains less than {@code
 * chance-margin} of the targets' variance (it does no better than predicting the mean), or a Huber
 * or absolute-error regression's best epoch loss stays above what predicting the mean scores at
 * most (variance / 2 for Huber, sqrt(variance) for an absolute error: it does worse than a
 * constant). Catches what a loss trend cannot: a loss that falls to zero on wrong labels, or a loss
 * that falls quickly to the variance of the targets and stays there. Runs whose loss went NaN/Inf
 * are left to numerical-error.
 *
 * <p>Implementation notes: AUTOTRAINER's not-converge is "max train and validation accuracy < Theta
 * = 0.6" (docs/references.md#autotrainer), an absolute bar that a hard 100-class problem misses
 * while healthy and a 2-class problem clears by guessing; here the bar is relative to chance.
 * Chance is the majority-class rate for 0/1 targets of a binary task (from the target phase's
 * mean), else 1/K with K from {@code dltrace.num_classes}, else from the largest class index seen
 * in the target phase plus one. Without {@code dltrace.num_classes}, 0/1 targets whose mean is the
 * same 1/K at every recorded step are one-hot rows of K classes (each row sums to 1), not a binary
 * task's labels, whose mean moves with each batch's share of positives: reading a one-hot row as a
 * binary label would set chance at its "majority" share, 1 - 1/K. Without any of these the run is
 * not judged, and so are targets in [0, 1] that are not all 0 or 1 (their variance is not mean x (1
 * - mean): pixels, soft targets) and 0/1 targets of several labels per example that are not one-hot
 * (a multi-label task, by the targets' element count over {@code dltrace.batch_size}). Under a
 * class- or sample-weighted loss ({@code dltrace.loss_weighted}) chance is 1/K also for 0/1 targets
 * (0.5): the weights ask for balanced predictions, not for the majority class.
 */
@DetectorSpec(
    id = DetectorIds.NOT_CONVERGING,
    symptom = Symptom.NOT_LEARNING,
    judgesProgress = true,
    severity = Severity.ERROR,
    summary =
        "The accuracy never rises meaningfully above chance, or a regression never beats predicting"
            + " the mean",
    source =
        "AUTOTRAINER not-converge, max accuracy < Theta, relative to chance"
            + " (docs/references.md#autotrainer)",
    thresholds = {"min-epochs", "chance-margin"},
    columns = {Column.MEAN, Column.STD, Column.MIN, Column.MAX, Column.NUMEL})
public final class NotConvergingDetector implements Detector {

  private LossHistory history;
  private int minEpochs;
  private double margin;
  private long firstStep = -1;
  private long lastStep = -1;
  private double targetMax = Double.NEGATIVE_INFINITY;
  private double targetMin = Double.POSITIVE_INFINITY;
  private double targetMeanSum;
  private double targetVarianceSum;
  private long targetVarianceSteps;
  private long targetSteps;

  /** The lowest and highest per-step target mean: equal for one-hot rows (see oneHotClasses). */
  private double targetMeanLow = Double.POSITIVE_INFINITY;

  private double targetMeanHigh = Double.NEGATIVE_INFINITY;

  /**
   * False once a recorded step's targets have a variance other than mean x (1 - mean), the variance
   * of values that are all 0 or 1: targets in [0, 1] that are not labels (pixels, soft targets).
   */
  private boolean targetsZeroOne = true;

  /** The targets' element count per example at the first step that records it, or 0. */
  private long targetsPerExample;

  private int batchSize;

  /**
   * The first loss over the largest per-element mean squared error that the first step's outputs
   * and targets allow, (sigma_out + sigma_target)^2 + (mu_out - mu_target)^2; NaN until a step
   * records the loss, the targets and the last layer's output.
   */
  private double elementwiseExcess = Double.NaN;

  /**
   * The first loss over the square root of that largest per-element squared error; NaN likewise.
   */
  private double firstLossOverRootBound = Double.NaN;

  /**
   * A first loss more than this many times the largest per-element mean squared error of its
   * outputs and targets is not one: it is summed over the elements or carries other terms (an
   * explicit penalty), and the variance of one target element says nothing about it. The bound is
   * exact on one batch; the factor leaves room for a recorder that takes the loss and the
   * statistics from different passes.
   */
  static final double MAX_ELEMENTWISE_EXCESS = 2;

  /** Per epoch (in order of appearance): the sum and count of its validation accuracies. */
  private final Map<Integer, double[]> validation = new LinkedHashMap<>();

  @Override
  public void begin(AnalysisContext context) {
    history = context.lossHistory();
    minEpochs = context.options().getInt(Thresholds.MIN_EPOCHS);
    margin = context.options().get(Thresholds.CHANCE_MARGIN);
    batchSize = context.metadata().batchSize().orElse(0);
  }

  @Override
  public void observe(StepView step) {
    if (firstStep < 0) {
      firstStep = step.step();
    }
    lastStep = step.step();
    if (step.has(-1, Phase.VAL_ACCURACY)) {
      double accuracy = step.mean(-1, Phase.VAL_ACCURACY);
      if (Double.isFinite(accuracy)) {
        double[] sum = validation.computeIfAbsent(step.epoch(), e -> new double[2]);
        sum[0] += accuracy;
        sum[1]++;
      }
    }
    if (Double.isNaN(elementwiseExcess)) {
      elementwiseExcess = elementwiseExcess(step);
      if (!Double.isNaN(elementwiseExcess)) {
        double loss = step.mean(-1, Phase.LOSS);
        firstLossOverRootBound = loss / Math.sqrt(loss / elementwiseExcess);
      }
    }
    if (targetsPerExample == 0 && batchSize > 0 && step.present(-1, Phase.TARGET, Column.NUMEL)) {
      long numel = step.count(-1, Phase.TARGET, Column.NUMEL);
      targetsPerExample = numel > 0 && numel % batchSize == 0 ? numel / batchSize : -1;
    }
    if (step.present(-1, Phase.TARGET, Column.MAX) && step.present(-1, Phase.TARGET, Column.MIN)) {
      targetMax = Math.max(targetMax, step.value(-1, Phase.TARGET, Column.MAX));
      targetMin = Math.min(targetMin, step.value(-1, Phase.TARGET, Column.MIN));
      double mean = step.mean(-1, Phase.TARGET);
      if (Double.isFinite(mean)) {
        targetMeanSum += mean;
        targetSteps++;
        targetMeanLow = Math.min(targetMeanLow, mean);
        targetMeanHigh = Math.max(targetMeanHigh, mean);
      }
      double std = step.value(-1, Phase.TARGET, Column.STD);
      if (Double.isFinite(mean)
          && Double.isFinite(std)
          && Math.abs(std * std - mean * (1 - mean)) > OneHot.TOLERANCE * mean * (1 - mean)) {
        targetsZeroOne = false;
      }
      if (Double.isFinite(std)) {
        targetVarianceSum += std * std;
        targetVarianceSteps++;
      }
    }
  }

  /**
   * K when the 0/1 targets are one-hot rows of K classes, else 0: every recorded step's target mean
   * is the same 1/K, as each row sums to 1 (label-smoothed rows too) whatever the batch holds,
   * where a binary task's 0/1 labels have a mean that moves with the share of positives in each
   * batch. Needs two recorded steps; a full-batch binary task whose positive share happens to be
   * 1/K reads as K classes, which only lowers its chance level.
   */
  private int oneHotClasses() {
    if (targetSteps < 2 || !(targetMeanLow > 0)) {
      return 0;
    }
    if (targetMeanHigh - targetMeanLow > OneHot.TOLERANCE * targetMeanHigh) {
      return 0;
    }
    return OneHot.classes(targetMeanHigh);
  }

  /**
   * This step's loss over the largest per-element mean squared error its outputs (the last layer's
   * activation) and targets allow, or NaN when the step lacks one of them.
   */
  private static double elementwiseExcess(StepView step) {
    if (!step.present(-1, Phase.LOSS, Column.MEAN)
        || !step.present(-1, Phase.TARGET, Column.STD)
        || step.presentLayerCount() == 0) {
      return Double.NaN;
    }
    int last = -1;
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      if (step.present(layer, Phase.ACTIVATION, Column.STD)) {
        last = Math.max(last, layer);
      }
    }
    if (last < 0) {
      return Double.NaN;
    }
    double loss = step.mean(-1, Phase.LOSS);
    double spread =
        step.value(last, Phase.ACTIVATION, Column.STD) + step.value(-1, Phase.TARGET, Column.STD);
    double offset = step.mean(last, Phase.ACTIVATION) - step.mean(-1, Phase.TARGET);
    double bound = spread * spread + offset * offset;
    double excess = loss / bound;
    return Double.isFinite(excess) && bound > 0 ? excess : Double.NaN;
  }

  /**
   * The training accuracy rose but the validation accuracy never held above the bar: the model fits
   * its training batches (memorizes) and learns nothing that carries over, as with shuffled or
   * mismatched labels. The best validation accuracy is the best median of three neighbouring epochs
   * (the first and last epochs standing in for their missing neighbour), not the single best epoch:
   * a small validation set's accuracy is noisy, and the highest of many evaluations at chance sits
   * above chance by luck, where a model that learns holds its accuracy from one epoch to the next.
   */
  private Optional<Finding> validationAtChance(
      double chance, double bar, double bestTraining, long onset) {
    double best = Double.NEGATIVE_INFINITY;
    int bestEpoch = -1;
    List<Map.Entry<Integer, double[]>> epochs = new ArrayList<>(validation.entrySet());
    for (int i = 0; i < epochs.size(); i++) {
      double accuracy = medianOfThree(epochs, i);
      if (accuracy > best) {
        best = accuracy;
        bestEpoch = epochs.get(i).getKey();
      }
    }
    if (!(best < bar)) {
      return Optional.empty();
    }
    return Optional.of(
        Finding.builder(this)
            .at(-1, Phase.VAL_ACCURACY)
            .steps(onset, lastStep, validation.size())
            .evidence(
                Evidence.builder()
                    .put(CONVERGENCE_RULE, ConvergenceRule.ACCURACY_AT_CHANCE)
                    .put(METRIC, Metric.ACCURACY)
                    .put(BEST_EPOCH_ACCURACY, best)
                    .put(BEST_EPOCH, (long) bestEpoch)
                    .put(CHANCE, chance)
                    .put(BAR, bar)
                    .put(EPOCHS, (long) validation.size())
                    .build())
            .message(
                format(
                    ROOT,
                    "Over %d epochs the validation accuracy never held above %s (best %s, the"
                        + " median of epoch %d and its neighbours), against a chance level of %s,"
                        + " while the training accuracy reached %s: nothing learned carries over to"
                        + " new data (are the labels right?).",
                    validation.size(),
                    Numbers.format(bar),
                    Numbers.format(best),
                    bestEpoch,
                    Numbers.format(chance),
                    Numbers.format(bestTraining)))
            .build());
  }

  /**
   * The median of the validation accuracies of epoch {@code i} and its two neighbours, the first
   * and last epochs standing in for their missing neighbour (a median filter's nearest-edge rule):
   * a run still rising at its last epoch keeps that epoch's accuracy.
   */
  private static double medianOfThree(List<Map.Entry<Integer, double[]>> epochs, int i) {
    int last = epochs.size() - 1;
    double[] values = {
      accuracy(epochs.get(Math.max(0, i - 1))),
      accuracy(epochs.get(i)),
      accuracy(epochs.get(Math.min(last, i + 1)))
    };
    Arrays.sort(values);
    return values[1];
  }

  private static double accuracy(Map.Entry<Integer, double[]> epoch) {
    return epoch.getValue()[0] / epoch.getValue()[1];
  }

  /**
   * A per-element regression loss whose value for a constant prediction at the targets' mean is
   * bounded by their variance: Huber's (Keras {@code huber}, PyTorch {@code HuberLoss}, any delta)
   * is at most r^2 / 2 per element, so predicting the mean scores at most variance / 2; an absolute
   * error (MAE, {@code L1Loss}) is at most the root mean square, so at most sqrt(variance).
   * SmoothL1Loss is left out: divided by its beta, which the trace does not record, it has no such
   * bound.
   */
  private enum Bounded {
    HUBER,
    ABSOLUTE;

    static @Nullable Bounded of(String lossName) {
      String n = lossName.replaceAll("[^a-z0-9]", "");
      if (n.equals("huber") || n.equals("huberloss")) {
        return HUBER;
      }
      if (n.equals("mae") || n.equals("l1loss") || n.equals("meanabsoluteerror")) {
        return ABSOLUTE;
      }
      return null;
    }

    double meanPredictorBound(double variance) {
      return this == HUBER ? variance / 2 : Math.sqrt(variance);
    }
  }

  /**
   * How far, in accuracy, the last epoch's training accuracy must sit below the first epoch's while
   * the loss fell. On the 1,147 healthy dev runs with an accuracy of labels (not an autoencoder's
   * reconstruction) no last epoch ended below its first; this bar leaves room for a noisy metric.
   */
  static final double ACCURACY_FALL = 0.05;

  /**
   * A run whose loss fell ({@link LossGate#learned()}, and its last epoch below its first) while
   * its training accuracy fell from the first epoch to the last by more than {@link
   * #ACCURACY_FALL}: the loss is minimized away from what the accuracy measures (a loss or a term
   * with its sign flipped, targets flipped, a penalty that outweighs the fit). Needs recorded
   * targets that are labels, not soft targets in [0, 1] (pixels, whose "accuracy" is no measure of
   * progress); judged before chance, which it does not need (a concordance index, a ranking's hit
   * rate).
   */
  private Optional<Finding> accuracyFellAsLossFell(AnalysisContext context, int epochs) {
    boolean softTargets = unitIntervalTargets() && !targetsZeroOne;
    if (targetSteps == 0 || softTargets || !new LossGate(context).learned()) {
      return Optional.empty();
    }
    double first = history.epochAccuracy(0);
    double last = history.epochAccuracy(epochs - 1);
    if (!(first - last > ACCURACY_FALL)) {
      return Optional.empty();
    }
    double firstLoss = history.epochLoss(0);
    double lastLoss = history.epochLoss(epochs - 1);
    if (!(lastLoss < firstLoss)) {
      // The loss learned at some point (its best block) but ended above its first epoch: it
      // rose too (a term that ran away and came back), and the rule's reading, a loss minimized
      // away from the accuracy, is not what the curves say.
      return Optional.empty();
    }
    return Optional.of(
        Finding.builder(this)
            .at(-1, Phase.ACCURACY)
            .steps(history.epochFirstStep(0), lastStep, epochs)
            .evidence(
                Evidence.builder()
                    .put(CONVERGENCE_RULE, ConvergenceRule.ACCURACY_FELL_AS_LOSS_FELL)
                    .put(FIRST_EPOCH_ACCURACY, first)
                    .put(LAST_EPOCH_ACCURACY, last)
                    .put(FIRST_EPOCH_LOSS, firstLoss)
                    .put(LAST_EPOCH_LOSS, lastLoss)
                    .put(EPOCHS, (long) epochs)
                    .build())
            .message(
                format(
                    ROOT,
                    "Over %d epochs the loss fell from %s to %s while the training accuracy fell"
                        + " from %s to %s: the loss is minimized away from what the accuracy"
                        + " measures (a sign flipped in the loss or one of its terms, flipped"
                        + " targets, a penalty that outweighs the fit).",
                    epochs,
                    Numbers.format(firstLoss),
                    Numbers.format(lastLoss),
                    Numbers.format(first),
                    Numbers.format(last)))
            .build());
  }

  /**
   * A Huber or absolute-error regression whose best epoch loss stayed above what predicting the
   * targets' mean scores at most: not a weak model, one that does worse than a constant. The bound
   * holds for any residuals, so no margin is needed; a loss summed over elements or carrying a
   * penalty can exceed it too, and the first step's loss is checked against the largest per-element
   * loss its outputs and targets allow, as for a squared error.
   */
  private Optional<Finding> worseThanTheMean(
      Bounded loss, double variance, int epochs, long onset) {
    // elementwiseExcess is the first loss over the largest per-element squared error; Huber is at
    // most half of that, an absolute error at most its square root. Unknown (no output recorded),
    // the loss is taken as per element, as for a squared error.
    if ((loss == Bounded.HUBER && elementwiseExcess > MAX_ELEMENTWISE_EXCESS / 2)
        || (loss == Bounded.ABSOLUTE && firstLossOverRootBound > MAX_ELEMENTWISE_EXCESS)) {
      return Optional.empty();
    }
    int lowest = lowestLossEpoch(epochs);
    double best = history.epochLoss(lowest);
    int bestEpoch = history.epoch(lowest);
    double bound = loss.meanPredictorBound(variance);
    if (!(best > bound)) {
      return Optional.empty();
    }
    return Optional.of(
        Finding.builder(this)
            .at(-1, Phase.LOSS)
            .steps(onset, lastStep, epochs)
            .evidence(
                Evidence.builder()
                    .put(CONVERGENCE_RULE, ConvergenceRule.LOSS_ABOVE_MEAN_PREDICTOR)
                    .put(BEST_EPOCH_LOSS, best)
                    .put(BEST_EPOCH, (long) bestEpoch)
                    .put(TARGET_VARIANCE, variance)
                    .put(BAR, bound)
                    .put(EPOCHS, (long) epochs)
                    .build())
            .message(
                format(
                    ROOT,
                    "Over %d epochs the best loss was %s (epoch %d), above the %s that predicting"
                        + " the mean of the targets (variance %s) scores at most: the model does"
                        + " worse than a constant.",
                    epochs,
                    Numbers.format(best),
                    bestEpoch,
                    Numbers.format(bound),
                    Numbers.format(variance)))
            .build());
  }

  /** The position, among the loss history's first {@code epochs} epochs, of the lowest loss. */
  private int lowestLossEpoch(int epochs) {
    int lowest = 0;
    for (int e = 1; e < epochs; e++) {
      if (history.epochLoss(e) < history.epochLoss(lowest)) {
        lowest = e;
      }
    }
    return lowest;
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    int epochs = history.epochs();
    if (epochs < minEpochs || history.firstNonFiniteStep() >= 0) {
      return findings;
    }
    long onset = history.epochFirstStep(minEpochs - 1);
    if (history.hasAccuracy()) {
      Optional<Finding> fell = accuracyFellAsLossFell(context, epochs);
      if (fell.isPresent()) {
        findings.add(fell.get());
        return findings;
      }
      double chance = chance(context);
      if (Double.isNaN(chance)) {
        return findings;
      }
      double best = Double.NEGATIVE_INFINITY;
      int bestEpoch = -1;
      for (int e = 0; e < epochs; e++) {
        double accuracy = history.epochAccuracy(e);
        if (accuracy > best) {
          best = accuracy;
          bestEpoch = history.epoch(e);
        }
      }
      double bar = chance + margin * (1 - chance);
      if (best < bar) {
        findings.add(
            Finding.builder(this)
                .at(-1, Phase.ACCURACY)
                .steps(onset, lastStep, epochs)
                .evidence(
                    Evidence.builder()
                        .put(CONVERGENCE_RULE, ConvergenceRule.ACCURACY_AT_CHANCE)
                        .put(BEST_EPOCH_ACCURACY, best)
                        .put(BEST_EPOCH, (long) bestEpoch)
                        .put(CHANCE, chance)
                        .put(BAR, bar)
                        .put(EPOCHS, (long) epochs)
                        .build())
                .message(
                    format(
                        ROOT,
                        "Over %d epochs the mean accuracy never exceeded %s (best %s in epoch %d),"
                            + " against a chance level of %s.",
                        epochs,
                        Numbers.format(bar),
                        Numbers.format(best),
                        bestEpoch,
                        Numbers.format(chance)))
                .build());
      } else if (validation.size() >= minEpochs) {
        validationAtChance(chance, bar, best, onset).ifPresent(findings::add);
      }
      return findings;
    }
    String lossName = context.metadata().loss().orElse("").toLowerCase(Locale.ROOT);
    boolean squared =
        lossName.equals("mse") || lossName.contains("mean_squared") || lossName.contains("mseloss");
    Bounded bounded = Bounded.of(lossName);
    if ((!squared && bounded == null) || targetVarianceSteps == 0) {
      return findings;
    }
    double variance = targetVarianceSum / targetVarianceSteps;
    if (!(variance > 0)) {
      return findings;
    }
    if (bounded != null) {
      worseThanTheMean(bounded, variance, epochs, onset).ifPresent(findings::add);
      return findings;
    }
    if (elementwiseExcess > MAX_ELEMENTWISE_EXCESS) {
      return findings;
    }
    int lowest = lowestLossEpoch(epochs);
    double best = history.epochLoss(lowest);
    int bestEpoch = history.epoch(lowest);
    double explained = 1 - best / variance;
    if (explained < margin) {
      findings.add(
          Finding.builder(this)
              .at(-1, Phase.LOSS)
              .steps(onset, lastStep, epochs)
              .evidence(
                  Evidence.builder()
                      .put(CONVERGENCE_RULE, ConvergenceRule.LOSS_AT_TARGET_VARIANCE)
                      .put(BEST_EPOCH_LOSS, best)
                      .put(BEST_EPOCH, (long) bestEpoch)
                      .put(TARGET_VARIANCE, variance)
                      .put(EXPLAINED_VARIANCE, explained)
                      .put(BAR, margin)
                      .put(EPOCHS, (long) epochs)
                      .build())
              .message(
                  format(
                      ROOT,
                      "Over %d epochs the best mean squared error was %s (epoch %d) against a"
                          + " target variance of %s: the model explains %s of the variance, no"
                          + " better than predicting the mean.",
                      epochs,
                      Numbers.format(best),
                      bestEpoch,
                      Numbers.format(variance),
                      Numbers.percent(Math.max(0, explained))))
              .build());
    }
    return findings;
  }

  /** True when targets were recorded and all lay in [0, 1]: labels, or soft targets (pixels). */
  private boolean unitIntervalTargets() {
    return targetSteps > 0 && targetMin >= 0 && targetMax <= 1;
  }

  /**
   * The accuracy of a guess that knows nothing about the inputs: the majority class's share for 0/1
   * targets, else 1/K. Under a class- or sample-weighted loss ({@code dltrace.loss_weighted}) 1/K
   * (0.5 for 0/1 targets): the weights make the loss ask for balanced predictions, so a healthy
   * model trades majority-class hits for minority-class ones and its plain accuracy sits near or
   * below the majority share; that share is no bar for it.
   */
  private double chance(AnalysisContext context) {
    int classes = context.metadata().numClasses().orElse(0);
    boolean binaryTargets = unitIntervalTargets() && targetMax > targetMin;
    if (binaryTargets && classes == 0) {
      if (!targetsZeroOne) {
        return Double.NaN;
      }
      int oneHot = oneHotClasses();
      if (oneHot > 2) {
        return 1.0 / oneHot;
      }
      if (targetsPerExample > 1) {
        // several 0/1 labels per example that are not one-hot rows: a multi-label task, whose
        // accuracy is averaged over the labels and has no single majority share as its chance
        return Double.NaN;
      }
    }
    if (binaryTargets && classes <= 2 && context.metadata().lossWeighted()) {
      return 0.5;
    }
    if (binaryTargets && classes <= 2) {
      double p = targetMeanSum / targetSteps;
      return Math.max(p, 1 - p);
    }
    if (classes < 2
        && targetSteps > 0
        && targetMin >= 0
        && targetMax > 1
        && targetMax == Math.rint(targetMax)) {
      classes = (int) targetMax + 1;
    }
    return classes >= 2 ? 1.0 / classes : Double.NaN;
  }
}
