package io.dlanalyze.analyzer.engine;

import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.trace.Phase;
import java.util.Arrays;

/**
 * The engine's {@link LossHistory}: it records each completed step before the detectors see it.
 *
 * <p>Memory: 8 bytes per finite loss plus 12 bytes per run of consecutive steps (one run for a
 * trace logged at every step), so a run of a million steps costs 8 MB, once per analysis.
 */
final class LossRecorder implements LossHistory {
  private double[] losses = new double[256];
  private int size;

  /**
   * Runs of consecutive steps: run r holds the losses from index runIndex[r], at step runStep[r]
   * on.
   */
  private int[] runIndex = new int[4];

  private long[] runStep = new long[4];
  private int runs;
  private long firstNonFiniteStep = -1;
  private double[] epochLossSum = new double[16];
  private long[] epochLossCount = new long[16];
  private double[] epochAccuracySum = new double[16];
  private long[] epochAccuracyCount = new long[16];
  private int[] epochIds = new int[16];
  private long[] epochFirstStep = new long[16];
  private int epochs;
  private long currentStep;
  private double peakLearningRate = Double.NaN;

  /** The learning rate where it changes: from step lrSteps[i] on it was lrValues[i]. */
  private long[] lrSteps = new long[16];

  private double[] lrValues = new double[16];
  private int lrChanges;

  /** Records the loss, accuracy and learning-rate rows of one completed step, if any. */
  void observe(StepView step) {
    if (step.has(-1, Phase.LEARNING_RATE)) {
      recordLearningRate(step.step(), step.mean(-1, Phase.LEARNING_RATE));
    }
    boolean hasLoss = step.has(-1, Phase.LOSS);
    boolean hasAccuracy = step.has(-1, Phase.ACCURACY);
    record(
        step.step(),
        step.epoch(),
        hasLoss,
        hasLoss ? step.mean(-1, Phase.LOSS) : Double.NaN,
        hasAccuracy,
        hasAccuracy ? step.mean(-1, Phase.ACCURACY) : Double.NaN);
  }

  /** Records one step: its loss and accuracy rows, where present (their means, maybe NaN). */
  void record(
      long step, int epoch, boolean hasLoss, double loss, boolean hasAccuracy, double accuracy) {
    if (!hasLoss && !hasAccuracy) {
      return;
    }
    currentStep = step;
    int slot = epochSlot(epoch);
    if (hasLoss) {
      if (Double.isFinite(loss)) {
        append(step, loss);
        epochLossSum[slot] += loss;
        epochLossCount[slot]++;
      } else if (firstNonFiniteStep < 0) {
        firstNonFiniteStep = step;
      }
    }
    if (hasAccuracy && Double.isFinite(accuracy)) {
      epochAccuracySum[slot] += accuracy;
      epochAccuracyCount[slot]++;
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

  @Override
  public int size() {
    return size;
  }

  @Override
  public long step(int index) {
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

  @Override
  public double loss(int index) {
    return losses[index];
  }

  @Override
  public long firstNonFiniteStep() {
    return firstNonFiniteStep;
  }

  @Override
  public int indexAtOrAfter(long step) {
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

  @Override
  public double mean(int from, int to) {
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
  @Override
  public double firstBlockMean(int window) {
    return mean(0, window);
  }

  @Override
  public double bestBlockMean(int window) {
    double best = Double.NaN;
    for (int from = 0; from < size; from += window) {
      double m = mean(from, from + window);
      if (Double.isNaN(best) || m < best) {
        best = m;
      }
    }
    return best;
  }

  @Override
  public boolean learned(int window, double drop) {
    if (size < 2 * window) {
      return false;
    }
    double first = firstBlockMean(window);
    double best = bestBlockMean(window);
    // |first|: a loss that starts below zero (a Poisson or Gaussian likelihood without its constant
    // term) must fall too; (1 - drop) x first would ask it to rise
    return first - best >= drop * Math.abs(first);
  }

  @Override
  public boolean judgeable(int window) {
    return size >= 2 * window;
  }

  @Override
  public boolean stalledAt(long step, int window, double minImprovement) {
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
    return !(before - recent > minImprovement * Math.abs(before));
  }

  @Override
  public int epochs() {
    return epochs;
  }

  @Override
  public int epoch(int slot) {
    return epochIds[slot];
  }

  @Override
  public long epochFirstStep(int slot) {
    return epochFirstStep[slot];
  }

  @Override
  public double epochLoss(int slot) {
    return epochLossCount[slot] == 0 ? Double.NaN : epochLossSum[slot] / epochLossCount[slot];
  }

  @Override
  public double epochAccuracy(int slot) {
    return epochAccuracyCount[slot] == 0
        ? Double.NaN
        : epochAccuracySum[slot] / epochAccuracyCount[slot];
  }

  /**
   * Records one learning-rate row, of a step at or after the last one recorded: the peak keeps the
   * largest finite, positive one; the history keeps the rows where the rate changes.
   */
  void recordLearningRate(long step, double rate) {
    if (Double.isFinite(rate) && rate > 0 && !(rate <= peakLearningRate)) {
      peakLearningRate = rate;
    }
    if (lrChanges > 0 && Double.compare(lrValues[lrChanges - 1], rate) == 0) {
      return;
    }
    if (lrChanges == lrSteps.length) {
      lrSteps = Arrays.copyOf(lrSteps, lrChanges * 2);
      lrValues = Arrays.copyOf(lrValues, lrChanges * 2);
    }
    lrSteps[lrChanges] = step;
    lrValues[lrChanges] = rate;
    lrChanges++;
  }

  @Override
  public double learningRateAt(long step) {
    int low = 0;
    int high = lrChanges - 1;
    int found = -1;
    while (low <= high) {
      int mid = (low + high) >>> 1;
      if (lrSteps[mid] <= step) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found < 0 ? Double.NaN : lrValues[found];
  }

  @Override
  public double peakLearningRate() {
    return peakLearningRate;
  }

  @Override
  public boolean hasAccuracy() {
    for (int i = 0; i < epochs; i++) {
      if (epochAccuracyCount[i] > 0) {
        return true;
      }
    }
    return false;
  }
}
