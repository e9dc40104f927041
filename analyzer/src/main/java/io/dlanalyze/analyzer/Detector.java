package io.dlanalyze.analyzer;

import io.dlanalyze.trace.Column;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * One rule over a trace. A detector makes one pass, does no I/O and keeps little state; the engine
 * owns reading. Each analysis gets a fresh instance (see {@link DetectorInfo#create()}); the class
 * carries a {@link DetectorSpec}.
 *
 * <p>Life cycle: {@link #begin} once, {@link #observe} once per completed step in step order,
 * {@link #finish} once. The engine hands a step over only when all of its rows have been read, so
 * what a detector sees does not depend on batch or row-group size, nor on the order of rows inside
 * a step.
 *
 * <pre>{@code
 * public void observe(StepView step) {
 *   for (int layer = 0; layer < step.layerCount(); layer++) {
 *     if (step.has(layer, Phase.GRADIENT) && step.present(layer, Phase.GRADIENT, Column.L2_NORM)) {
 *       double norm = step.value(layer, Phase.GRADIENT, Column.L2_NORM);
 *       ...
 *     }
 *   }
 * }
 * }</pre>
 */
public interface Detector {
  /**
   * The statistics columns this detector reads ({@code mean}, {@code zero_fraction}...): by default
   * those of its class's {@link DetectorSpec#columns()}, else the mean. The key columns (epoch,
   * batch, step, layer_index, layer_name, layer_type, phase) are always loaded. Columns a trace
   * lacks read as null.
   */
  default Set<Column> columns() {
    DetectorSpec spec = getClass().getAnnotation(DetectorSpec.class);
    Set<Column> columns = EnumSet.of(Column.MEAN);
    if (spec != null) {
      columns.addAll(Arrays.asList(spec.columns()));
    }
    return columns;
  }

  /** Called once before the first step; read thresholds from {@code context.options()} here. */
  default void begin(AnalysisContext context) {}

  /** Called once per completed step, in step order, with every row of that step. */
  void observe(StepView step);

  /**
   * True once the detector holds at least one finding that {@link #finish} will return; the engine
   * stops early on it when {@link AnalysisOptions#firstFault()} is set.
   */
  default boolean fired() {
    return false;
  }

  /**
   * The findings, in any order (the engine ranks them). Layer names, layer types, epoch and batch
   * left unset are filled in by the engine.
   */
  List<Finding> finish(AnalysisContext context);
}
