package io.dlanalyze.analyzer.detectors;

import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Per-(layer, phase) runs of consecutive observations where a condition holds, in flat arrays
 * indexed by {@link StepView#slot}. A stream qualifies once a run reaches {@code window}
 * observations; its first qualifying run's start is the onset, and every later observation in a
 * qualifying run counts as an occurrence.
 */
final class RunTracker {
  private final int window;
  private long[] runStart = new long[0];
  private long[] runLength = new long[0];
  private long[] firstStep = new long[0];
  private long[] lastStep = new long[0];
  private long[] occurrences = new long[0];
  private long[] longest = new long[0];
  private boolean any;

  RunTracker(int window) {
    this.window = window;
  }

  private void ensure(int slots) {
    if (runStart.length >= slots) {
      return;
    }
    int old = runStart.length;
    slots = Math.max(slots, old * 2);
    runStart = Arrays.copyOf(runStart, slots);
    runLength = Arrays.copyOf(runLength, slots);
    firstStep = Arrays.copyOf(firstStep, slots);
    lastStep = Arrays.copyOf(lastStep, slots);
    occurrences = Arrays.copyOf(occurrences, slots);
    longest = Arrays.copyOf(longest, slots);
    Arrays.fill(firstStep, old, slots, -1);
  }

  /**
   * Records one observation of a stream.
   *
   * @param start the step the run starts at if this observation starts one (usually {@code step})
   */
  void observe(int layer, Phase phase, long step, boolean holds, long start) {
    observe(StepView.slot(layer, phase), step, holds, start);
  }

  /** {@link #observe(int, Phase, long, boolean, long)} by slot ({@link StepView#slot}). */
  void observe(int slot, long step, boolean holds, long start) {
    ensure(slot + 1);
    if (!holds) {
      runLength[slot] = 0;
      return;
    }
    if (runLength[slot] == 0) {
      runStart[slot] = start;
    }
    long length = ++runLength[slot];
    longest[slot] = Math.max(longest[slot], length);
    if (length == window) {
      if (firstStep[slot] < 0) {
        firstStep[slot] = runStart[slot];
      }
      occurrences[slot] += window;
      lastStep[slot] = step;
      any = true;
    } else if (length > window) {
      occurrences[slot]++;
      lastStep[slot] = step;
    }
  }

  /** The current run length of a stream. */
  long runLength(int layer, Phase phase) {
    int slot = StepView.slot(layer, phase);
    return slot < runLength.length ? runLength[slot] : 0;
  }

  boolean any() {
    return any;
  }

  /** Every stream that qualified, in slot order. */
  List<LayerGroups.Run> runs() {
    List<LayerGroups.Run> runs = new ArrayList<>();
    for (int slot = 0; slot < firstStep.length; slot++) {
      if (firstStep[slot] >= 0) {
        runs.add(
            new LayerGroups.Run(
                slot / Phase.COUNT - 1,
                Phase.ofCode(slot % Phase.COUNT),
                firstStep[slot],
                lastStep[slot],
                occurrences[slot],
                longest[slot]));
      }
    }
    return runs;
  }
}
