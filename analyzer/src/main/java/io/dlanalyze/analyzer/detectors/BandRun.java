package io.dlanalyze.analyzer.detectors;

/**
 * A layer's value against a normal band, for the detectors that watch a ratio or a variance stay
 * outside it: runs of observations above its high end (side +1) or below its low end (side -1). A
 * layer fires when a run reaches {@code window} observations, or, recorded sparsely, spans the
 * steps {@code window} observations span at one every {@value Run#SPREAD} steps ({@link Run}); its
 * first firing run is kept (start, end, side) and grows while it lasts. The per-layer runs of the
 * classification bits count observations only: counted in steps, the layers that a rate too high
 * killed in a sampled trace outranked the rate (docs/detectors.md, the note on {@code window}).
 */
final class BandRun {
  private final Run run;
  private int side;
  private int firedSide;

  BandRun(int window) {
    this.run = new Run(window, Run.Policy.FIRST, true);
  }

  /** An observation that cannot be judged (a non-finite value) ends the run. */
  void interrupt() {
    run.reset();
  }

  /**
   * Records the layer's value at {@code step}.
   *
   * @return true when the observation belongs to the first firing run, so the caller adds it to
   *     that run's evidence
   */
  boolean observe(long step, double value, double low, double high) {
    int s = value > high ? 1 : value < low ? -1 : 0;
    if (s != side) {
      run.reset();
    }
    side = s;
    boolean fired = run.qualified();
    boolean tracked = run.observe(step, s != 0);
    if (tracked && !fired) {
      firedSide = s;
    }
    return tracked;
  }

  boolean fired() {
    return run.qualified();
  }

  /** The side of the first firing run: +1 above the band, -1 below. */
  int firedSide() {
    return firedSide;
  }

  long start() {
    return run.onset();
  }

  long end() {
    return run.end();
  }

  /** Steps in the first firing run, from its start to its last observation. */
  long length() {
    return run.end() - run.onset() + 1;
  }
}
