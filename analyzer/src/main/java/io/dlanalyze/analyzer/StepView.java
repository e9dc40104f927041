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
 *
 * <p>The fast path reads the engine's arrays by slot, a dense index of a (layer, phase) stream
 * ({@link #slot}): per-slot state is best kept in the same numbering. The engine classifies every
 * row once ({@link #NON_FINITE}, {@link #ALL_ZERO}, {@link #UNCHANGED} in {@link #presentMask}), so
 * detectors test a bit instead of recomputing. It computes the bits that some detector of the run
 * reads ({@link Detector#classifications()}); the others stay clear.
 */
public interface StepView {
  /**
   * Set in {@link #presentMask} when the row holds a NaN or Inf: its mean, or a present min or max,
   * is not finite, or a present nan_count or inf_count is positive.
   */
  int NON_FINITE = 1 << 28;

  /**
   * Set in {@link #presentMask} when the row's tensor counts as all zero: zero_fraction at or above
   * the {@code zero-fraction} threshold, or, without zero_fraction, a zero mean and zero std, min,
   * max and l2_norm where present.
   */
  int ALL_ZERO = 1 << 29;

  /**
   * Set in {@link #presentMask} for a layer's row that did not change since the stream's previous
   * row ({@link #previousStep}): both have a finite mean and are not all zero, and none of their
   * mean, std, min, max and l2_norm moved by more than {@code unchanged-tolerance} times its scale
   * (max(|a|, |b|); for the mean also the std); at least one of them is in both. A softmax output's
   * mean (1/K) is constant by construction and not compared.
   */
  int UNCHANGED = 1 << 30;

  /** Every classification bit: {@link #NON_FINITE}, {@link #ALL_ZERO} and {@link #UNCHANGED}. */
  int CLASSIFICATIONS = NON_FINITE | ALL_ZERO | UNCHANGED;

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

  /** Shorthand for {@code value(layer, phase, Column.MEAN)}. */
  default double mean(int layer, Phase phase) {
    return value(layer, phase, Column.MEAN);
  }

  /**
   * Fast path: the slot of a (layer, phase) stream, the same for the whole analysis; -1 when the
   * layer has had no row so far. Model-level phases (layer -1) have slots 0 to {@link Phase#COUNT}
   * - 1. Same as {@link AnalysisContext#slot}.
   */
  int slot(int layer, Phase phase);

  /**
   * Fast path: the bits of a slot ({@link #slot}) in this step: {@link Column#bit()} of each
   * statistic present, and the classification bits ({@link #NON_FINITE}, {@link #ALL_ZERO}, {@link
   * #UNCHANGED}). 0 exactly when the step has no row for the slot (also for slot -1).
   */
  int presentMask(int slot);

  /**
   * Fast path: the engine's array of a floating-point statistic, indexed by {@link #slot}. A value
   * means something only where {@link #presentMask} has the column's bit; read only, and only
   * during {@link Detector#observe}.
   */
  double[] doubles(Column column);

  /** Fast path: like {@link #doubles} for the count statistics (nan_count, inf_count, numel). */
  long[] longs(Column column);

  /** The step of the slot's row before this step's, or -1 when this is its first. */
  long previousStep(int slot);

  /**
   * The number of layers with at least one row in this step: detectors that skip absent layers
   * visit {@link #presentLayer}(0..n-1) instead of every layer, so a trace that records a few
   * layers a step costs what its rows cost, not steps x layers.
   */
  int presentLayerCount();

  /** The {@code i}-th layer index with a row in this step, in ascending layer order. */
  int presentLayer(int i);

  /** The number of slots with a row in this step (model-level ones too). */
  int presentSlotCount();

  /** The {@code i}-th slot with a row in this step, in no particular order. */
  int presentSlot(int i);
}
