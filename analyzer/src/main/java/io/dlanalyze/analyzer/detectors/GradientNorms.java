package io.dlanalyze.analyzer.detectors;

import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import org.jspecify.annotations.Nullable;

/** Reads a layer's gradient norm: the weight gradient's l2_norm, else the output gradient's. */
final class GradientNorms {
  private GradientNorms() {}

  /** The phase the layer's gradient norm comes from in this step, or null when none. */
  static @Nullable Phase phase(StepView step, int layer) {
    if (step.present(layer, Phase.GRADIENT, Column.L2_NORM)) {
      return step.layer(layer).trainable() ? Phase.GRADIENT : null;
    }
    if (step.present(layer, Phase.BACKWARD, Column.L2_NORM)) {
      return Phase.BACKWARD;
    }
    return null;
  }

  /** The gradient l2 norm of the layer in this step, or NaN when not recorded. */
  static double l2(StepView step, int layer) {
    Phase phase = phase(step, layer);
    return phase == null ? Double.NaN : step.value(layer, phase, Column.L2_NORM);
  }

  /**
   * Root mean square of the phase's tensor, a gradient's or the weights' (l2 / sqrt(numel)), or NaN
   * when numel is unknown.
   */
  static double rms(StepView step, int layer, Phase phase) {
    long numel = step.count(layer, phase, Column.NUMEL);
    if (numel <= 0) {
      return Double.NaN;
    }
    return step.value(layer, phase, Column.L2_NORM) / Math.sqrt((double) numel);
  }
}
