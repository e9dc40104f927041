package io.dlanalyze.analyzer.detectors;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.trace.Phase;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The model-level loss and accuracy of a run, kept per step and per epoch, for the gates of the
 * symptom detectors: a symptom that shows up while the loss falls steadily is usually benign
 * (docs/references.md#false-alarm-sources: condition on the loss trend, not only the ratio).
 *
 * <p>Memory: one history per analysis, shared by every detector that needs one ({@link
 * #of(AnalysisContext)}); 8 bytes per finite loss (the losses) plus 12 bytes per run of consecutive
 * steps (one run for a trace logged at every step), so a run of a million steps costs 8 MB, once,
 * not once per detector.
 */
final class LossHistory {
  /** The history of each running analysis; an entry goes with its analysis' context. */
  private static final Map<AnalysisContext, LossHistory> SHARED =
      Collections.synchronizedMap(new WeakHashMap<>());

  private double[] losses = new double[256];
  private int size;

  /**
   * Runs of consecutive steps: run r holds the losses from index runIndex[r], at step runStep[r]
   * on.
   */
  private int[] runIndex = new int[4];

  private long[] runStep = new long[4];
  private int runs;
  private boolean observedAny;
  private long lastObserved;
  private long firstNonFiniteStep = -1;
  private double[] epochLossSum = new double[16];
  private long[] epochLossCount = new long[16];
  private double[] epochAccuracySum = new double[16];
  private long[] epochAccuracyCount = new long[16];
  private int[] epochIds = new int[16];
  private long[] epochFirstStep = new long[16];
  private int epochs;
  private long currentStep;

  /**
   * The history of this analysis, shared by the detectors that call this from {@code begin}: each
   * of them calls {@link #observe} first thing in its own {@code observe}; the first call of a step
   * records it, the others find it recorded.
   */
  static LossHistory of(AnalysisContext context) {
    return SHARED.computeIfAbsent(context, c -> new LossHistory());
  }

  /** Records the loss and accuracy rows of one step, if any; a step already recorded is ignored. */
  void observe(StepView step) {
    if (observedAny && step.step() <= lastObserved) {
      return;
    }
    observedAny = true;
    lastObserved = step.step();
    boolean hasLoss = step.has(-1, Phase.LOSS);
    boolean hasAccuracy = step.has(-1, Phase.ACCURACY);
    if (!hasLoss && !hasAccuracy) {
      return;
    }
    currentStep = step.step();
    int epoch = epochSlot(step.epoch());
    if (hasLoss) {
      double loss = step.mean(-1, Phase.LOSS);
      if (Double.isFinite(loss)) {
        append(step.step(), loss);
        epochLossSum[epoch] += loss;
        epochLossCount[epoch]++;
      } else if (firstNonFiniteStep < 0) {
        firstNonFiniteStep = step.step();
      }
    }
    if (hasAccuracy) {
      double accuracy = step.mean(-1, Phase.ACCURACY);
      if (Double.isFinite(accuracy)) {
        epochAccuracySum[epoch] += accuracy;
        epochAccuracyCount[epoch]++;
      }
    }
  }

  private void append(long step, double loss) {
    if (size == losses.length) {
      losses = Arrays.copyOf(losses, size + (size >> 1));
    }
    if (runs == 0 || step != runStep[runs - 1] + (size - runIndex[runs - 1])) {
      if (runs == runIndex.length) {
        runIndex = Arrays.copyOf(runIndex, runs * 2);
        runStep = Arrays.copyOf(runStep, runs * 2);
      }
      runIndex[runs] = size;
      runStep[runs] = step;
      runs++;
    }
    losses[size] = loss;
    size++;
  }

  private int epochSlot(int epoch) {
    if (epochs > 0 && epochIds[epochs - 1] == epoch) {
      return epochs - 1;
    }
    if (epochs == epochIds.length) {
      int n = epochs * 2;
      epochIds = Arrays.copyOf(epochIds, n);
      epochLossSum = Arrays.copyOf(epochLossSum, n);
      epochLossCount = Arrays.copyOf(epochLossCount, n);
      epochAccuracySum = Arrays.copyOf(epochAccuracySum, n);
      epochAccuracyCount = Arrays.copyOf(epochAccuracyCount, n);
      epochFirstStep = Arrays.copyOf(epochFirstStep, n);
    }
    epochIds[epochs] = epoch;
    epochFirstStep[epochs] = currentStep;
    return epochs++;
  }

  /** Number of finite losses recorded. */
  int size() {
    return size;
  }

  /** The step of the finite loss at {@code index}. */
  long step(int index) {
    if (index < 0 || index >= size) {
      throw new IndexOutOfBoundsException(index);
    }
    int r = runOfIndex(index);
    return runStep[r] + (index - runIndex[r]);
  }

  /** The run holding the loss at {@code index} (0 <= index < size). */
  private int runOfIndex(int index) {
    int lo = 0;
    int hi = runs - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      if (runIndex[mid] <= index) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
  }

  double loss(int index) {
    return losses[index];
  }

  /** The first step whose loss was NaN or Inf, or -1. */
  long firstNonFiniteStep() {
    return firstNonFiniteStep;
  }

  /** The index of the first finite loss at or after {@code step}, or {@link #size()}. */
  int indexAtOrAfter(long step) {
    if (runs == 0 || step <= runStep[0]) {
      return 0;
    }
    int lo = 0;
    int hi = runs - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      if (runStep[mid] <= step) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    int end = lo + 1 < runs ? runIndex[lo + 1] : size;
    long offset = step - runStep[lo];
    return offset < end - runIndex[lo] ? runIndex[lo] + (int) offset : end;
  }

  /** The mean of the finite losses with index in [from, to), or NaN when empty. */
  double mean(int from, int to) {
    from = Math.max(0, from);
    to = Math.min(size, to);
    if (to <= from) {
      return Double.NaN;
    }
    double sum = 0;
    for (int i = from; i < to; i++) {
      sum += losses[i];
    }
    return sum / (to - from);
  }

  /** The mean loss of the first block of {@code window} losses. */
  double firstBlockMean(int window) {
    return mean(0, window);
  }

  /**
   * The lowest mean over consecutive blocks of {@code window} losses (a shorter last block too).
   */
  double bestBlockMean(int window) {
    double best = Double.NaN;
    for (int from = 0; from < size; from += window) {
      double m = mean(from, from + window);
      if (Double.isNaN(best) || m < best) {
        best = m;
      }
    }
    return best;
  }

  /**
   * True when the run made real progress: the best block mean is at least {@code drop} (a fraction)
   * below the first block mean. Needs two blocks; false otherwise.
   */
  boolean learned(int window, double drop) {
    if (size < 2 * window) {
      return false;
    }
    double first = firstBlockMean(window);
    double best = bestBlockMean(window);
    return best <= (1 - drop) * first;
  }

  /** True when there are at least two blocks of losses to judge progress by. */
  boolean judgeable(int window) {
    return size >= 2 * window;
  }

  /**
   * True when the loss did not improve around a stretch of steps: the mean over the {@code window}
   * losses ending at {@code step} is not below (1 - minImprovement) times the mean over the {@code
   * window} losses before them, or the loss already went non-finite by then.
   */
  boolean stalledAt(long step, int window, double minImprovement) {
    if (firstNonFiniteStep >= 0 && firstNonFiniteStep <= step) {
      return true;
    }
    int end = indexAtOrAfter(step + 1);
    if (end < 2 * window) {
      end = Math.min(size, 2 * window);
    }
    if (end < 2) {
      return false;
    }
    int half = Math.min(window, end / 2);
    double recent = mean(end - half, end);
    double before = mean(end - 2 * half, end - half);
    return !(recent < (1 - minImprovement) * before);
  }

  /** Number of epochs with at least one finite loss or accuracy. */
  int epochs() {
    return epochs;
  }

  int epoch(int slot) {
    return epochIds[slot];
  }

  /** The first step of an epoch (by slot). */
  long epochFirstStep(int slot) {
    return epochFirstStep[slot];
  }

  /** The epoch's mean loss, or NaN. */
  double epochLoss(int slot) {
    return epochLossCount[slot] == 0 ? Double.NaN : epochLossSum[slot] / epochLossCount[slot];
  }

  /** The epoch's mean accuracy, or NaN when the trace has none. */
  double epochAccuracy(int slot) {
    return epochAccuracyCount[slot] == 0
        ? Double.NaN
        : epochAccuracySum[slot] / epochAccuracyCount[slot];
  }

  /** True when some epoch has an accuracy. */
  boolean hasAccuracy() {
    for (int i = 0; i < epochs; i++) {
      if (epochAccuracyCount[i] > 0) {
        return true;
      }
    }
    return false;
  }
}
