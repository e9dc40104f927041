package io.dlanalyze.analyzer.detectors;

import org.jspecify.annotations.Nullable;

/**
 * Runs of consecutive observations of one stream where a condition holds. A run qualifies once it
 * reaches {@code window} observations, or, in a trace recorded sparsely, once it spans the steps
 * that {@code window} observations recorded every {@value #SPREAD} steps span with at least {@code
 * window / }{@value #SPREAD} of them (and, with a gate, at the first such observation where the
 * gate holds too). What is kept depends on the {@link Policy}; every policy keeps the longest run
 * seen, qualifying or not ({@link #longest()}).
 *
 * <p>The caller decides what breaks a run besides a failed condition: a step without the stream's
 * row ({@link #reset()}), a change of side or layer.
 */
final class Run {
  /** Which qualifying runs {@link #onset()}, {@link #end()} and {@link #occurrences()} describe. */
  enum Policy {
    /** The first qualifying run: its start, its last observation, its length. */
    FIRST,
    /** The longest qualifying run (the first of equally long ones). */
    LONGEST,
    /**
     * Every qualifying run: the first one's start, the last observation in any of them, and the
     * observations in all of them.
     */
    ANY
  }

  /** An extra condition for a run to qualify, asked only when it could (the loss stalled...). */
  interface Gate {
    boolean test(long step);
  }

  /**
   * The recording interval the windows were calibrated at: most corpus runs record their per-layer
   * phases every 4 steps, so {@code window} observations there span {@code 4 (window - 1)} steps. A
   * run recorded every 16 steps (a recorder left on with {@code every=16}) needs 800 steps for 50
   * observations, longer than most runs; with this rule it qualifies at its 14th observation, 208
   * steps in, and a run recorded every 4 steps or more often exactly as before.
   */
  static final int SPREAD = 4;

  private final int window;
  private final boolean spread;
  private final Policy policy;

  /** The current run: its start, its length, and whether it qualified. */
  private long start;

  private long length;
  private boolean qualifying;

  /** Runs started so far; the tracked run's number, for {@link Policy#FIRST}. */
  private long runs;

  private long trackedRun = -1;
  private long onset = -1;
  private long end = -1;
  private long occurrences;
  private long longest;

  Run(int window, Policy policy) {
    this(window, policy, false);
  }

  /**
   * @param spread whether a run of fewer observations over as many steps qualifies too ({@link
   *     #enough}); the detectors whose sampled runs were measured against the corpus say so
   */
  Run(int window, Policy policy, boolean spread) {
    this.window = window;
    this.spread = spread;
    this.policy = policy;
  }

  /** Whether a run of {@code length} observations from {@link #start} to {@code step} qualifies. */
  private boolean longEnough(long step) {
    return spread ? enough(window, length, step - start) : length >= window;
  }

  /**
   * Whether {@code observations} spread over {@code steps} steps (the first to the last) are as
   * much evidence as {@code window} observations: that many, or, recorded sparsely, at least a
   * {@value #SPREAD}th of them over the steps {@code window} observations span at one every {@value
   * #SPREAD} steps.
   */
  static boolean enough(int window, long observations, long steps) {
    return observations >= window
        || (observations >= Math.max(1, (window + SPREAD - 1) / SPREAD)
            && steps >= (long) SPREAD * Math.max(0, window - 1));
  }

  /** Ends the current run. */
  void reset() {
    length = 0;
    qualifying = false;
  }

  /** {@link #observe(long, boolean, long, Gate)} of a run that starts at its first observation. */
  boolean observe(long step, boolean holds) {
    return observe(step, holds, step, null);
  }

  /**
   * Records one observation.
   *
   * @param start the step a run that starts with this observation starts at (usually {@code step};
   *     a comparison with the previous row starts at that row)
   * @param gate an extra condition to qualify, or null
   * @return true when this observation belongs to a kept run, from the observation that qualified
   *     it on: for {@link Policy#FIRST} the first qualifying run, else any qualifying run
   */
  boolean observe(long step, boolean holds, long start, @Nullable Gate gate) {
    if (!holds) {
      reset();
      return false;
    }
    if (length == 0) {
      this.start = start;
      runs++;
    }
    length++;
    longest = Math.max(longest, length);
    if (!qualifying) {
      if (!longEnough(step)
          || (policy == Policy.FIRST && trackedRun >= 0)
          || (gate != null && !gate.test(step))) {
        return false;
      }
      qualifying = true;
      if (onset < 0 || policy == Policy.FIRST) {
        onset = this.start;
        trackedRun = runs;
      }
      if (policy == Policy.ANY) {
        occurrences += length - 1;
      }
    }
    switch (policy) {
      case FIRST -> {
        end = step;
        occurrences = length;
      }
      case ANY -> {
        end = step;
        occurrences++;
      }
      case LONGEST -> {
        if (trackedRun == runs || length > occurrences) {
          trackedRun = runs;
          onset = this.start;
          end = step;
          occurrences = length;
        }
      }
    }
    return true;
  }

  /** True once a run qualified. */
  boolean qualified() {
    return onset >= 0;
  }

  /** The start of the kept run ({@link Policy#ANY}: of the first qualifying run), or -1. */
  long onset() {
    return onset;
  }

  /** The last observation of the kept run (of any qualifying run for {@link Policy#ANY}). */
  long end() {
    return end;
  }

  /** Observations in the kept run ({@link Policy#ANY}: in all qualifying runs). */
  long occurrences() {
    return occurrences;
  }

  /** The length of the longest run seen, qualifying or not. */
  long longest() {
    return longest;
  }

  /** The length of the current run (0 after an observation that did not hold). */
  long length() {
    return length;
  }
}
