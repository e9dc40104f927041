package io.dlanalyze.analyzer.detectors;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.Phase;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * One layer's gradient norm against its early level, for exploding-gradient's growth rule. The
 * reference is the median of the first three positive finite norms. The layer explodes at the first
 * step whose norm reaches {@code growth} times the reference, or turns non-finite after reaching
 * {@link #CALM} times it; the onset is the step after the last one still within {@link #CALM} times
 * the reference. A layer whose second norm is already {@link #CALM} times its first and whose third
 * is non-finite explodes from its first step.
 */
final class GradientGrowth {
  /** Within this factor of the reference, a norm is calm. */
  static final double CALM = 10;

  /** The phase the layer's norm comes from (the first one seen); null until then. */
  private @Nullable Phase phase;

  private final double[] early = new double[3];
  private int earlyCount;
  private double reference = Double.NaN;
  private long calmStep = -1;
  private double peak;
  private long peakStep;
  private long fireStep = -1;
  private long onset;
  private double firePeak;
  private long firePeakStep;
  private long nonFiniteStep = -1;

  /** The phase the layer's norm comes from: a state is made by its first observation. */
  Phase phase() {
    return requireNonNull(phase, "not observed yet");
  }

  /**
   * Records the layer's norm {@code l2} at {@code step}, read from {@code from}. A finite norm
   * counts as exploded when it reaches {@code growth} times the reference, or times {@code floor}
   * (the smallest norm that has not vanished) when the reference is below it: a growth measured
   * from a vanished gradient says how far it woke up, not that it exploded.
   */
  void observe(long step, Phase from, double l2, double growth, double floor) {
    if (phase == null) {
      phase = from;
    }
    if (fireStep >= 0) {
      if (Double.isFinite(l2) && l2 > firePeak) {
        firePeak = l2;
        firePeakStep = step;
      } else if (!Double.isFinite(l2) && nonFiniteStep < 0) {
        nonFiniteStep = step;
      }
    } else if (Double.isNaN(reference)) {
      early(step, l2);
    } else if (!Double.isFinite(l2)) {
      if (peak >= CALM * reference) {
        fire(step);
        nonFiniteStep = step;
      }
    } else if (l2 <= CALM * reference) {
      calmStep = step;
      peak = 0;
    } else {
      if (l2 > peak) {
        peak = l2;
        peakStep = step;
      }
      if (l2 >= growth * Math.max(reference, floor)) {
        fire(step);
      }
    }
  }

  private void early(long step, double l2) {
    if (!Double.isFinite(l2) && earlyCount >= 2) {
      if (early[1] >= CALM * early[0]) {
        reference = early[0];
        calmStep = calmStep - 1;
        peak = early[1];
        peakStep = calmStep + 1;
        fire(step);
        nonFiniteStep = step;
      }
    } else if (Double.isFinite(l2) && l2 > 0) {
      early[earlyCount++] = l2;
      calmStep = step;
      if (earlyCount == 3) {
        double[] sorted = early.clone();
        Arrays.sort(sorted);
        reference = sorted[1];
      }
    }
  }

  private void fire(long at) {
    fireStep = at;
    onset = calmStep + 1;
    firePeak = peak;
    firePeakStep = peakStep;
  }

  boolean fired() {
    return fireStep >= 0;
  }

  long fireStep() {
    return fireStep;
  }

  long onset() {
    return onset;
  }

  double reference() {
    return reference;
  }

  double peak() {
    return firePeak;
  }

  long peakStep() {
    return firePeakStep;
  }

  /** The first step whose norm was NaN or Inf after the layer exploded, or -1. */
  long nonFiniteStep() {
    return nonFiniteStep;
  }

  /** The peak norm over the reference. */
  double growth() {
    return firePeak / reference;
  }
}
