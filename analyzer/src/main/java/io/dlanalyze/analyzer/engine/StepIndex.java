package io.dlanalyze.analyzer.engine;

import java.util.Arrays;

/**
 * The epoch and in-epoch batch of every step read, stored as runs: a new run starts when the epoch
 * changes or when {@code batch - step} changes, so a regularly logged trace takes one run per epoch
 * however many steps it has.
 */
final class StepIndex {
  private long[] firstStep = new long[16];
  private long[] lastStep = new long[16];
  private int[] epoch = new int[16];
  private long[] batchOffset = new long[16];
  private int runs;
  private long steps;
  private int epochs;

  void add(long step, int epochValue, int batchValue) {
    long offset = (long) batchValue - step;
    steps++;
    if (runs > 0 && epoch[runs - 1] == epochValue && batchOffset[runs - 1] == offset) {
      lastStep[runs - 1] = step;
      return;
    }
    if (runs == 0 || epoch[runs - 1] != epochValue) {
      epochs++;
    }
    if (runs == firstStep.length) {
      int n = runs * 2;
      firstStep = Arrays.copyOf(firstStep, n);
      lastStep = Arrays.copyOf(lastStep, n);
      epoch = Arrays.copyOf(epoch, n);
      batchOffset = Arrays.copyOf(batchOffset, n);
    }
    firstStep[runs] = step;
    lastStep[runs] = step;
    epoch[runs] = epochValue;
    batchOffset[runs] = offset;
    runs++;
  }

  long steps() {
    return steps;
  }

  /** Distinct epochs (counted as changes of the epoch value). */
  int epochs() {
    return epochs;
  }

  long firstStep() {
    return runs == 0 ? -1 : firstStep[0];
  }

  long lastStep() {
    return runs == 0 ? -1 : lastStep[runs - 1];
  }

  int epochOf(long step) {
    int run = find(step);
    return run < 0 ? -1 : epoch[run];
  }

  int batchOf(long step) {
    int run = find(step);
    return run < 0 ? -1 : (int) (step + batchOffset[run]);
  }

  private int find(long step) {
    int low = 0;
    int high = runs - 1;
    while (low <= high) {
      int mid = (low + high) >>> 1;
      if (lastStep[mid] < step) {
        low = mid + 1;
      } else if (firstStep[mid] > step) {
        high = mid - 1;
      } else {
        return mid;
      }
    }
    return -1;
  }
}
