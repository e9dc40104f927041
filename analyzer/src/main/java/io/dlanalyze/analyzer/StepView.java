package io.dlanalyze.analyzer;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;

/**
 * Every row of one completed training step, addressed by (layer, phase); model-level rows have
 * layer -1. Valid only during {@link Detector#observe}: the engine reuses it for the next step.
 *
 * <p>Statistics a row left null, or a trace did not record, are not {@link #present}; their {@link
 * #value} is NaN, so always test {@code present} first (a NaN mean is a finding, a missing std is
 * not).
 */
public interface StepView {
  /**
   * A dense index for per-(layer, phase) state kept in flat arrays: {@code (layer + 1) *
   * Phase.COUNT + phase.code()}; model-level phases (layer -1) take 0..COUNT-1.
   */
  static int slot(int layer, Phase phase) {
    return (layer + 1) * Phase.COUNT + phase.code();
  }

  /** The number of slots that {@link #slot} can return for layers 0..layers-1 (plus the model). */
  static int slotCount(int layers) {
    return (layers + 1) * Phase.COUNT;
  }

  AnalysisContext context();

  /** The trace's step value. */
  long step();

  /** 1-based position of this step among the steps of the trace (DeepLocalize's counter). */
  long ordinal();

  int epoch();

  /** The in-epoch batch index, as Keras numbers batches. */
  int batch();

  /** Same as {@code context().layerCount()}. */
  int layerCount();

  /** Same as {@code context().layer(index)}. */
  Layer layer(int index);

  /** True when this step has a row for (layer, phase). */
  boolean has(int layer, Phase phase);

  /** True when that row exists and its {@code column} is not null. */
  boolean present(int layer, Phase phase, Column column);

  /**
   * A floating-point statistic (mean, std, min, max, l2_norm, zero_fraction), or NaN when not
   * {@link #present}.
   */
  double value(int layer, Phase phase, Column column);

  /** A count statistic (nan_count, inf_count, numel), or -1 when not {@link #present}. */
  long count(int layer, Phase phase, Column column);

  /**
   * Fast path: the presence bits of a slot ({@link #slot}) in this step. Bit {@code 1 <<
   * column.ordinal()} is set when that statistic is present; the mask is 0 exactly when the step
   * has no row for the slot. Slots beyond {@link #layerCount()} give 0.
   */
  int presentMask(int slot);

  /**
   * Fast path: the engine's array of a floating-point statistic, indexed by {@link #slot}. A value
   * means something only where {@link #presentMask} has the column's bit; read only, and only
   * during {@link Detector#observe}. Its length covers at least {@link #slotCount}({@link
   * #layerCount()}).
   */
  double[] doubles(Column column);

  /** Fast path: like {@link #doubles} for the count statistics (nan_count, inf_count, numel). */
  long[] longs(Column column);

  /**
   * The number of layers with at least one row in this step: detectors that skip absent layers
   * visit {@link #presentLayer}(0..n-1) instead of every layer, so a trace that records a few
   * layers a step costs what its rows cost, not steps x layers.
   */
  default int presentLayerCount() {
    return layerCount();
  }

  /** The {@code i}-th layer with a row in this step, in ascending layer order. */
  default int presentLayer(int i) {
    return i;
  }

  /** Shorthand for {@code value(layer, phase, Column.MEAN)}. */
  default double mean(int layer, Phase phase) {
    return value(layer, phase, Column.MEAN);
  }
}
