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

  /**
   * The classification bits of {@link StepView#presentMask} this detector reads ({@link
   * StepView#NON_FINITE}, {@link StepView#ALL_ZERO}, {@link StepView#UNCHANGED}): the engine
   * computes only the bits some detector of the run reads, since classifying every row of every
   * step is a large share of an analysis that needs few statistics (DeepLocalize mode: more than
   * half of the analysis thread). By default every bit; a detector that reads none returns 0.
   */
  default int classifications() {
    return StepView.CLASSIFICATIONS;
  }

  /**
   * Called once, when the first step's rows are in and before that step is observed (at the end for
   * a trace without steps), so the context already holds what the engine infers from that step
   * ({@link AnalysisContext#numClasses()}); read thresholds from {@code context.options()} here.
   */
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
   * How many conclusive findings the detector holds: findings that {@link #finish} will return
   * whatever the rest of the run holds (a rule over the whole run, such as a trend or "the run
   * never learned", is not conclusive before the end). The count never falls; it grows by one for
   * each new conclusive finding (another layer, another rule) and for each raise of one's severity.
   *
   * <p>Used while a trace is followed ({@link AnalysisListener}, {@code dl-analyze watch}): each
   * time the count grows, the engine asks {@link #conclusiveFindings} and announces what is new. A
   * detector that overrides this method promises that {@link #conclusiveFindings} can be called at
   * any step, as often as needed, without changing what it reports later; it is asked on the same
   * instance that makes the report. A detector that does not override it is announced once, from a
   * second instance, the step its {@link #fired()} turns true (its {@link #finish} may change its
   * state); one that overrides neither reports at the end of the run only.
   */
  default int conclusive() {
    return fired() ? 1 : 0;
  }

  /**
   * The conclusive findings (see {@link #conclusive()}), as {@link #finish} words them at this
   * step. By default all of {@link #finish}'s findings: a detector whose {@link #finish} may also
   * return findings that are not conclusive yet leaves those out here.
   */
  default List<Finding> conclusiveFindings(AnalysisContext context) {
    return finish(context);
  }

  /**
   * The findings, in any order (the engine ranks them). Layer names, layer types, epoch and batch
   * left unset are filled in by the engine.
   */
  List<Finding> finish(AnalysisContext context);
}
