package io.dlanalyze.analyzer.detectors;

import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.trace.Phase;
import java.util.Arrays;

/**
 * The model-level loss and accuracy of a run, kept per step (one double each) and per epoch, for
 * the gates of the symptom detectors: a symptom that shows up while the loss falls steadily is
 * usually benign (DEEPLOCALIZE-AND-PEERS.md 5.2: "condition on loss trend, not only ratio").
 */
final class LossHistory {
  private long[] steps = new long[256];
  private double[] losses = new double[256];
  private int size;
  private long firstNonFiniteStep = -1;
  private double[] epochLossSum = new double[16];
  private long[] epochLossCount = new long[16];
  private double[] epochAccuracySum = new double[16];
  private long[] epochAccuracyCount = new long[16];
  private int[] epochIds = new int[16];
  private long[] epochFirstStep = new long[16];
  private int epochs;
  private long currentStep;

  /** Records the loss and accuracy rows of one step, if any. */
  void observe(StepView step) {
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
        if (size == steps.length) {
          steps = Arrays.copyOf(steps, size * 2);
          losses = Arrays.copyOf(losses, size * 2);
        }
        steps[size] = step.step();
        losses[size] = loss;
        size++;
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

  long step(int index) {
    return steps[index];
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
    int i = Arrays.binarySearch(steps, 0, size, step);
    return i >= 0 ? i : -i - 1;
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

  /** The lowest mean over consecutive blocks of {@code window} losses (a shorter last block too). */
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
   * True when the run made real progress: the best block mean is at least {@code drop} (a
   * fraction) below the first block mean. Needs two blocks; false otherwise.
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
   * losses ending at {@code step} is not below (1 - minImprovement) times the mean over the
   * {@code window} losses before them, or the loss already went non-finite by then.
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
    return epochAccuracyCount[slot] == 0 ? Double.NaN : epochAccuracySum[slot] / epochAccuracyCount[slot];
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
