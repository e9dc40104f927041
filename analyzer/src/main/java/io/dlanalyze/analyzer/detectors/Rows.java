package io.dlanalyze.analyzer.detectors;

import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;

/** Reads one row of a step with the fallbacks several detectors share. */
final class Rows {
  private Rows() {}

  /** The row's min, or its mean when the trace has no min. */
  static double low(StepView step, int layer, Phase phase) {
    return valueOr(step, layer, phase, Column.MIN, step.mean(layer, phase));
  }

  /** The row's max, or its mean when the trace has no max. */
  static double high(StepView step, int layer, Phase phase) {
    return valueOr(step, layer, phase, Column.MAX, step.mean(layer, phase));
  }

  /** A statistic of the row, or {@code fallback} when it is not present. */
  static double valueOr(StepView step, int layer, Phase phase, Column column, double fallback) {
    return step.present(layer, phase, column) ? step.value(layer, phase, column) : fallback;
  }
}
