package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.BEST_BLOCK_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.BLOCKS_WITHOUT_PROGRESS;
import static io.dlanalyze.analyzer.EvidenceKeys.DROP_FROM_FIRST_BLOCK;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_BLOCK_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.INITIAL_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_BLOCK_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.TREND;
import static io.dlanalyze.analyzer.EvidenceKeys.WINDOW;
import static io.dlanalyze.analyzer.EvidenceKeys.ZERO_ACCURACY_STEPS;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.Trend;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.LossFunction;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.analyzer.text.Phrases;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Model-level checks that the model learns: the loss keeps decreasing, and the accuracy is not
 * stuck at zero.
 *
 * <p>Implementation notes. Loss: the batch losses are averaged over consecutive blocks of {@code
 * window} steps; a block makes progress when its mean is below the best block mean so far by more
 * than {@code min-improvement} (relative). {@code patience} blocks in a row without progress make a
 * stall, from the first step of the best block; a stall only counts when it is also at least {@code
 * patience} times as long as the progress before it took (the blocks between the last two best
 * blocks), so a loss that falls slowly but steadily is not stalled because a few blocks fell short
 * of {@code min-improvement}. A stall is reported only if it lasts to the end of the run: a later
 * block that makes progress again ends it, and the check starts over (the analysis is offline, like
 * Keras EarlyStopping's patience and AUTOTRAINER's late loss-curve rules it judges the whole curve,
 * not its first few blocks). A flat loss that has already fallen by {@code converged-drop} or more
 * from where it started (the first block's mean, or the mean of its first {@value #HEAD} losses
 * when that is higher, for a classifier no higher than a uniform guess's loss) counts as converged
 * and is not reported, whatever it does after: healthy runs trained six times longer than the
 * corpus' (corpus/longer_runs.py) went 13% to 27% over their best block on noise alone (mixup, a
 * loss near 0), a warm restart lifts it for a while, and a loss that climbs away for real is
 * loss-divergence's (against its start). A loss that starts at or below 0 (a Poisson or Gaussian
 * log-likelihood without its constant term, a density's NLL) has no floor at 0 for a share of its
 * value to mean anything: once it fell by {@code min-improvement} of its magnitude and settled, it
 * counts as converged too. So does a flat loss once the training accuracy's best block has removed
 * {@code converged-error-cut} of its first block's errors: a classifier on noisy labels learns all
 * it can while its cross-entropy falls less than half-way from a uniform guess. A block 10% over
 * the best marks a stall that is not converged as rising. Once the loss is NaN/Inf, numerical-error
 * owns the run and this check stops. Accuracy: {@code window} batches in a row with accuracy
 * exactly 0, in a run whose accuracy did not recover: at least half of its last {@code window}
 * batches still at exactly 0. A strict metric (the exact match of a decoded sequence) stays at 0
 * for the first epochs of a healthy run, while the model learns to emit more than blanks, and then
 * climbs; like a stall of the loss, only a state that lasts to the end of the run is a fault.
 * DeepLocalize's "model does not learn" is 5 exactly equal values
 * (docs/references.md#deeplocalize-mdl); the direction-aware block test follows TheDeepChecker's
 * loss non-decreasing check (#thedeepchecker) and AUTOTRAINER's not-converge gate (#autotrainer).
 */
@DetectorSpec(
    id = DetectorIds.NOT_LEARNING,
    symptom = Symptom.NOT_LEARNING,
    judgesProgress = true,
    severity = Severity.ERROR,
    summary = "The loss stops decreasing long before it converges, or the accuracy stays at zero",
    source =
        "DeepLocalize MDL; TheDeepChecker loss checks; AUTOTRAINER"
            + " (docs/references.md#deeplocalize-mdl, #thedeepchecker, #autotrainer)",
    thresholds = {"window", "min-improvement", "patience", "converged-drop", "converged-error-cut"},
    columns = {Column.MEAN})
public final class NotLearningDetector implements Detector {

  /** How many first losses say where the loss started. */
  private static final int HEAD = 10;

  /** A block this much above the best one means the loss is rising, not converged. */
  private static final double RISE = 0.1;

  /**
   * Collapse rule: a self-supervised joint-embedding objective ({@link
   * LossFunction#jointEmbedding}) keeps a floor while it learns: its negatives, its variance or
   * whitening term, its balanced assignments. A loss whose blocks end at this share of its start or
   * below has found the trivial solution: the embeddings collapsed to a constant (no stop-gradient,
   * the same view twice, no Sinkhorn step, no variance or whitening term). Healthy dev runs of such
   * objectives end at 12% of their start or more (Barlow Twins; BYOL 29%, SwAV 37%, W-MSE 40%,
   * SimCLR 39%); collapsed ones at 0.01% to 3.6%.
   */
  static final double COLLAPSE = 0.05;

  private int window;
  private double minImprovement;
  private int patience;
  private double convergedDrop;
  private double errorCut;

  private boolean lossStopped;
  private double blockSum;
  private long blockCount;
  private long blockStart;
  private long blocks;
  private double firstBlock;

  /** The loss of a uniform guess, or 0 ({@link LossGate#uniformLoss}). */
  private double uniform;

  /** {@link LossFunction#jointEmbedding}: whether the collapse rule ({@link #COLLAPSE}) applies. */
  private boolean jointEmbedding;

  /** The start of the first block of a collapse that lasts so far, or -1. */
  private long collapseStart = -1;

  /** The last step with a finite loss, and the loss's name as the metadata gives it. */
  private long lastLossStep;

  private String lossName = "the loss";

  /** The first {@value #HEAD} losses: where the loss started, before the first block's fall. */
  private double headSum;

  private int headCount;
  private double best;
  private long bestStart;
  private long bestBlock;
  private long pace;
  private int stale;
  private double lastBlock;

  /** A stall that has lasted so far; a finding only if it lasts to the end of the run. */
  private boolean stalled;

  private @Nullable Finding stall;
  private long lossLastStep;
  private long lossSteps;
  private long plateauSteps;
  private long onset;
  private long firstStaleStart;

  /** Block means of the training accuracy: the running block, the first and the best. */
  private double accuracyBlockSum;

  private int accuracyBlockCount;
  private double firstAccuracyBlock = Double.NaN;
  private double bestAccuracyBlock = Double.NaN;

  /** Batches in a row with accuracy exactly 0. */
  private Run zeroAccuracy;

  /**
   * Whether each of the last {@code window} accuracies was exactly 0 (a ring of at most {@code
   * window}, grown as accuracies come), and how many.
   */
  private boolean[] lastZero;

  private long lastAccuracies;
  private int lastZeros;

  /** Batches past the window in later runs of zero accuracy, and the last of them. */
  private long laterSteps;

  private long laterLast = -1;

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.WINDOW);
    minImprovement = context.options().get(Thresholds.MIN_IMPROVEMENT);
    patience = context.options().getInt(Thresholds.PATIENCE);
    convergedDrop = context.options().get(Thresholds.CONVERGED_DROP);
    errorCut = context.options().get(Thresholds.CONVERGED_ERROR_CUT);
    uniform = LossGate.uniformLoss(context);
    jointEmbedding = LossFunction.jointEmbedding(context.metadata());
    lossName = context.metadata().loss().orElse(lossName);
    zeroAccuracy = new Run(window, Run.Policy.FIRST);
    lastZero = new boolean[Math.min(window, 64)];
  }

  @Override
  public void observe(StepView step) {
    if (step.has(-1, Phase.LOSS)) {
      observeLoss(step.step(), step.mean(-1, Phase.LOSS));
    }
    if (step.has(-1, Phase.ACCURACY)) {
      observeAccuracy(step.step(), step.mean(-1, Phase.ACCURACY));
    }
  }

  private void observeLoss(long step, double loss) {
    if (lossStopped) {
      return;
    }
    if (!Double.isFinite(loss)) {
      lossStopped = true;
      return;
    }
    if (blockCount == 0) {
      blockStart = step;
    }
    lastLossStep = step;
    blockSum += loss;
    blockCount++;
    if (headCount < HEAD) {
      headSum += loss;
      headCount++;
    }
    if (stalled) {
      lossLastStep = step;
      lossSteps++;
    }
    if (blockCount < window) {
      return;
    }
    double mean = blockSum / blockCount;
    blockSum = 0;
    blockCount = 0;
    blocks++;
    lastBlock = mean;
    if (jointEmbedding && blocks > 1) {
      boolean collapsed = mean <= COLLAPSE * start();
      collapseStart = !collapsed ? -1 : collapseStart < 0 ? blockStart : collapseStart;
    }
    if (blocks == 1) {
      firstBlock = mean;
      best = mean;
      bestStart = blockStart;
      bestBlock = 1;
      pace = 1;
      return;
    }
    if (mean < best - minImprovement * Math.abs(best)) {
      pace = blocks - bestBlock;
      best = mean;
      bestStart = blockStart;
      bestBlock = blocks;
      stale = 0;
      // Progress again: a stall so far was a pause, not a model that stopped learning.
      stalled = false;
      stall = null;
      return;
    }
    stale++;
    if (stale == 1) {
      firstStaleStart = blockStart;
    }
    if (stalled || stale < patience || stale < patience * pace) {
      return;
    }
    double start = start();
    boolean noFloorAtZero = start <= 0;
    if (start - best >= convergedDrop * Math.abs(start)
        || (noFloorAtZero && best < start - minImprovement * Math.abs(start))
        || accuracyRose()) {
      // Converged: what it does from here is noise (mixup, warm restarts, a long plateau), or a
      // climb that loss-divergence judges against the start.
      return;
    }
    boolean rising = mean > best + RISE * Math.abs(best);
    stalled = true;
    onset = rising ? firstStaleStart : bestStart;
    plateauSteps = step - onset + 1;
    lossLastStep = step;
    lossSteps = plateauSteps;
    stall = lossFinding(rising);
  }

  /**
   * Where the loss started: the first block's mean, or the mean of its first losses when they were
   * higher (a loss that falls fast averages its fall into the first block), for a classifier no
   * higher than a uniform guess (falling from a confidently wrong start back to a uniform guess
   * learns nothing).
   */
  private double start() {
    double head = headSum / headCount;
    return Math.max(firstBlock, uniform > 0 ? Math.min(head, uniform) : head);
  }

  /**
   * Whether the training accuracy's best block has removed {@code converged-error-cut} of the first
   * block's errors: the model learned, and a flat loss is the floor its data allows.
   */
  private boolean accuracyRose() {
    double errors = 1 - firstAccuracyBlock;
    return errors > 0 && bestAccuracyBlock - firstAccuracyBlock >= errorCut * errors;
  }

  private Finding lossFinding(boolean rising) {
    double drop = firstBlock == 0 ? 0 : (firstBlock - best) / Math.abs(firstBlock);
    String trend =
        rising
            ? format(
                ROOT,
                "rose to %s, %s above the best, %s",
                Numbers.format(lastBlock),
                Numbers.percent((lastBlock - best) / Math.abs(best)),
                Numbers.format(best))
            : format(
                ROOT,
                "stayed within %s of the best, %s (last block %s)",
                Numbers.percent(minImprovement),
                Numbers.format(best),
                Numbers.format(lastBlock));
    return Finding.builder(this)
        .at(-1, Phase.LOSS)
        .steps(onset, lossLastStep, Math.max(1, lossSteps))
        .evidence(
            Evidence.builder()
                .put(TREND, rising ? Trend.RISING : Trend.FLAT)
                .put(FIRST_BLOCK_MEAN, firstBlock)
                .put(BEST_BLOCK_MEAN, best)
                .put(LAST_BLOCK_MEAN, lastBlock)
                .put(DROP_FROM_FIRST_BLOCK, drop)
                .put(WINDOW, (long) window)
                .put(BLOCKS_WITHOUT_PROGRESS, (long) stale)
                .build())
        .message(
            format(
                ROOT,
                "The loss stopped decreasing at step %d: for %d blocks of %d steps its block mean"
                    + " %s, only %s below the first block's %s.",
                onset,
                stale,
                window,
                trend,
                Numbers.percent(drop),
                Numbers.format(firstBlock)))
        .build();
  }

  private void observeAccuracy(long step, double accuracy) {
    if (Double.isFinite(accuracy)) {
      accuracyBlockSum += accuracy;
      if (++accuracyBlockCount == window) {
        double mean = accuracyBlockSum / window;
        accuracyBlockSum = 0;
        accuracyBlockCount = 0;
        if (Double.isNaN(firstAccuracyBlock)) {
          firstAccuracyBlock = mean;
          bestAccuracyBlock = mean;
        } else {
          bestAccuracyBlock = Math.max(bestAccuracyBlock, mean);
        }
      }
    }
    if (lastAccuracies == lastZero.length && lastZero.length < window) {
      // grown with the accuracies seen, up to window: a huge window costs only what the run has
      lastZero = Arrays.copyOf(lastZero, (int) Math.min(window, 2L * lastZero.length));
    }
    int slot = (int) (lastAccuracies++ % window);
    if (lastAccuracies > window && lastZero[slot]) {
      lastZeros--;
    }
    lastZero[slot] = accuracy == 0;
    if (lastZero[slot]) {
      lastZeros++;
    }
    if (!zeroAccuracy.observe(step, accuracy == 0)
        && zeroAccuracy.qualified()
        && zeroAccuracy.length() > window) {
      laterSteps++;
      laterLast = step;
    }
  }

  /** True while the accuracy is at 0 for good so far: a zero run that qualified, not recovered. */
  private boolean zeroForGood() {
    return zeroAccuracy.qualified() && 2 * lastZeros >= Math.min(lastAccuracies, window);
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> result = new ArrayList<>();
    if (stall != null) {
      result.add(
          Finding.builder(this)
              .at(-1, Phase.LOSS)
              .steps(
                  stall.firstStep(),
                  Math.max(stall.firstStep(), lossLastStep),
                  Math.max(1, lossSteps))
              .evidence(stall.evidence())
              .message(stall.message())
              .build());
    }
    if (zeroForGood()) {
      result.add(accuracyFinding());
    }
    if (stall == null && !lossStopped && collapseStart >= 0 && firstBlock > 0) {
      result.add(collapseFinding());
    }
    return result;
  }

  private Finding collapseFinding() {
    double start = start();
    return Finding.builder(this)
        .at(-1, Phase.LOSS)
        .steps(
            collapseStart, Math.max(collapseStart, lastLossStep), lastLossStep - collapseStart + 1)
        .evidence(
            Evidence.builder()
                .put(INITIAL_LOSS, start)
                .put(FIRST_BLOCK_MEAN, firstBlock)
                .put(LAST_BLOCK_MEAN, lastBlock)
                .put(DROP_FROM_FIRST_BLOCK, (firstBlock - lastBlock) / firstBlock)
                .put(THRESHOLD, COLLAPSE)
                .put(WINDOW, (long) window)
                .build())
        .message(
            format(
                ROOT,
                "The self-supervised loss (%s) fell to %s of its start, %s, by step %d: a"
                    + " joint-embedding objective keeps a floor while it learns (its negatives, its"
                    + " variance or whitening term, its balanced assignments), so the embeddings"
                    + " collapsed to a trivial solution.",
                lossName,
                Numbers.percent(lastBlock / start),
                Numbers.format(start),
                collapseStart))
        .suggestedFix(
            "Check the collapse guards: the stop-gradient or the target network, two different"
                + " augmented views, the variance, covariance or whitening term, the Sinkhorn"
                + " step, the negatives")
        .build();
  }

  private Finding accuracyFinding() {
    long accuracyFirst = zeroAccuracy.onset();
    long accuracySteps = zeroAccuracy.occurrences() + laterSteps;
    long accuracyLast = laterLast >= 0 ? laterLast : zeroAccuracy.end();
    return Finding.builder(this)
        .at(-1, Phase.ACCURACY)
        .steps(accuracyFirst, accuracyLast, accuracySteps)
        .evidence(
            Evidence.builder()
                .put(WINDOW, (long) window)
                .put(ZERO_ACCURACY_STEPS, accuracySteps)
                .build())
        .message(
            format(
                ROOT,
                "%s was exactly 0 for %d batches in a row from step %d (%d batches in all up"
                    + " to step %d).",
                Phrases.capitalize(Phrases.where("model", -1, Phase.ACCURACY)),
                window,
                accuracyFirst,
                accuracySteps,
                accuracyLast))
        .build();
  }
}
