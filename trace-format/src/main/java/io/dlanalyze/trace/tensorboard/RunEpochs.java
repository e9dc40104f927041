package io.dlanalyze.trace.tensorboard;

import io.dlanalyze.trace.tensorboard.RunBuilder.Granularity;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Fills the epoch and batch columns of a run's rows, from what the run tells:
 *
 * <ul>
 *   <li>one step per epoch: epoch = the step, batch 0;
 *   <li>Keras with per-batch values: the epochs end where their {@code epoch_*} values landed;
 *   <li>Lightning: the {@code epoch} scalar it logs with every step;
 *   <li>else: epoch 0, batch = steps since the first.
 * </ul>
 *
 * The batch is the step's distance from the first step of its epoch. Values beyond the int32 range
 * are clamped.
 */
final class RunEpochs {
  private final Granularity granularity;
  private final long[] boundarySteps;
  private final long[] boundaryEpochs;
  private final @Nullable Series epochSeries;

  RunEpochs(Granularity granularity, TreeMap<Long, Long> boundaries, @Nullable Series epochSeries) {
    this.granularity = granularity;
    int n = boundaries.size();
    long[] steps = new long[n];
    long[] epochs = new long[n];
    int i = 0;
    for (Map.Entry<Long, Long> entry : boundaries.entrySet()) {
      epochs[i] = entry.getKey();
      steps[i] = entry.getValue();
      i++;
    }
    int[] order = IndexSort.order(n, steps, epochs);
    this.boundarySteps = new long[n];
    this.boundaryEpochs = new long[n];
    for (int k = 0; k < n; k++) {
      boundarySteps[k] = steps[order[k]];
      boundaryEpochs[k] = epochs[order[k]];
    }
    this.epochSeries = epochSeries;
  }

  void assign(RunTable table) {
    if (table.size == 0) {
      return;
    }
    long first = table.step[0];
    long @Nullable [] epochSteps = null;
    double @Nullable [] epochValues = null;
    if (epochSeries != null) {
      int[] order = IndexSort.order(epochSeries.size, epochSeries.placed, epochSeries.seqs);
      int kept = 0;
      epochSteps = new long[order.length];
      epochValues = new double[order.length];
      for (int index : order) {
        if (epochSeries.placed[index] >= 0) {
          epochSteps[kept] = epochSeries.placed[index];
          epochValues[kept] = epochSeries.value(0, index);
          kept++;
        }
      }
      epochSteps = Arrays.copyOf(epochSteps, kept);
      epochValues = Arrays.copyOf(epochValues, kept);
    }
    int pointer = -1;
    long currentEpoch = Long.MIN_VALUE;
    long epochStart = first;
    for (int r = 0; r < table.size; r++) {
      long step = table.step[r];
      if (r > 0 && step == table.step[r - 1]) {
        table.epoch[r] = table.epoch[r - 1];
        table.batch[r] = table.batch[r - 1];
        continue;
      }
      long epoch;
      long start;
      if (granularity == Granularity.EPOCH) {
        epoch = step;
        start = step;
      } else if (boundarySteps.length > 0) {
        int i = Arrays.binarySearch(boundarySteps, step);
        if (i < 0) {
          i = -i - 1;
        } else {
          while (i > 0 && boundarySteps[i - 1] == step) {
            i--;
          }
        }
        int last = boundarySteps.length - 1;
        epoch = i <= last ? boundaryEpochs[i] : boundaryEpochs[last] + 1;
        start = i > 0 ? boundarySteps[Math.min(i, last + 1) - 1] + 1 : first;
      } else if (epochSteps != null && epochValues != null && epochSteps.length > 0) {
        while (pointer + 1 < epochSteps.length && epochSteps[pointer + 1] <= step) {
          pointer++;
        }
        double value = epochValues[Math.max(pointer, 0)];
        epoch = Double.isFinite(value) ? (long) Math.floor(value) : 0;
        if (epoch != currentEpoch) {
          currentEpoch = epoch;
          epochStart = step;
        }
        start = epochStart;
      } else {
        epoch = 0;
        start = first;
      }
      table.epoch[r] = clamp(epoch);
      table.batch[r] = clamp(step - start);
    }
  }

  /**
   * Batches per epoch when every epoch of a Keras run with per-batch values has the same length, 1
   * for a run with one step per epoch, else -1.
   */
  long stepsPerEpoch(long firstStep) {
    if (granularity == Granularity.EPOCH) {
      return 1;
    }
    if (boundarySteps.length == 0) {
      return -1;
    }
    long length = boundarySteps[0] - firstStep + 1;
    for (int i = 1; i < boundarySteps.length; i++) {
      if (boundarySteps[i] - boundarySteps[i - 1] != length) {
        return -1;
      }
    }
    return length > 0 ? length : -1;
  }

  private static int clamp(long value) {
    return (int) Math.max(0, Math.min(Integer.MAX_VALUE, value));
  }
}
