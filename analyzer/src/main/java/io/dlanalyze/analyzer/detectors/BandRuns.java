package io.dlanalyze.analyzer.detectors;

import java.util.Arrays;

/**
 * Per layer: runs of consecutive observations on one side of a normal band, above its high end
 * (side +1) or below its low end (side -1). A layer fires when a run reaches {@code window}
 * observations; its first firing run is kept (start, end, side) and grows while it lasts. For the
 * detectors that watch a ratio or a variance stay outside its band.
 */
final class BandRuns {
  private final int window;
  private int[] side = new int[0];
  private long[] runStart = new long[0];
  private long[] run = new long[0];
  private int[] firedSide = new int[0];
  private long[] firedStart = new long[0];
  private long[] firedEnd = new long[0];

  BandRuns(int window) {
    this.window = window;
  }

  /** The number of layers with room. */
  int capacity() {
    return run.length;
  }

  /**
   * Makes room for layers 0..layers-1, doubling (a trace that adds layers one by one copies
   * O(layers)); returns the capacity, to which callers size their own per-layer arrays.
   */
  int ensure(int layers) {
    int old = run.length;
    if (old >= layers) {
      return old;
    }
    int n = Math.max(layers, old * 2);
    side = Arrays.copyOf(side, n);
    runStart = Arrays.copyOf(runStart, n);
    run = Arrays.copyOf(run, n);
    firedSide = Arrays.copyOf(firedSide, n);
    firedStart = Arrays.copyOf(firedStart, n);
    firedEnd = Arrays.copyOf(firedEnd, n);
    Arrays.fill(firedStart, old, n, -1);
    return n;
  }

  /** An observation that cannot be judged (a non-finite value) ends the layer's run. */
  void interrupt(int layer) {
    run[layer] = 0;
  }

  /**
   * Records one observation of a layer at {@code step} on side {@code s} (-1, 0 inside the band,
   * +1).
   *
   * @return true when the observation belongs to the layer's first firing run, so the caller adds
   *     it to that run's evidence
   */
  boolean observe(int layer, long step, int s) {
    if (s == 0 || s != side[layer]) {
      run[layer] = 0;
    }
    side[layer] = s;
    if (s == 0) {
      return false;
    }
    if (run[layer] == 0) {
      runStart[layer] = step;
    }
    run[layer]++;
    if (run[layer] < window || firedStart[layer] >= 0 && firedStart[layer] != runStart[layer]) {
      return false;
    }
    if (firedStart[layer] < 0) {
      firedStart[layer] = runStart[layer];
      firedSide[layer] = s;
    }
    firedEnd[layer] = step;
    return true;
  }

  boolean fired(int layer) {
    return firedStart[layer] >= 0;
  }

  /** The side of the layer's first firing run: +1 above the band, -1 below. */
  int firedSide(int layer) {
    return firedSide[layer];
  }

  long firedStart(int layer) {
    return firedStart[layer];
  }

  long firedEnd(int layer) {
    return firedEnd[layer];
  }

  /** Observations in the first firing run, from its start to its last step. */
  long firedLength(int layer) {
    return firedEnd[layer] - firedStart[layer] + 1;
  }
}
