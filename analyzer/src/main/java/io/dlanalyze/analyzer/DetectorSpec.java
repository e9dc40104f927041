package io.dlanalyze.analyzer;

import io.dlanalyze.trace.Column;
import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.regex.Pattern;

/**
 * The metadata of a {@link Detector}, on its class:
 *
 * <pre>{@code
 * @DetectorSpec(
 *     id = "dead-or-zero",
 *     symptom = Symptom.DEAD_OR_ZERO,
 *     severity = Severity.ERROR,
 *     summary = "A layer's activations or gradients are all zero for many steps",
 *     source = "DeepLocalize Alg. 2 zero rule (docs/references.md#deeplocalize-checks)",
 *     columns = {Column.MEAN, Column.ZERO_FRACTION})
 * public final class DeadOrZeroDetector implements Detector { ... }
 * }</pre>
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface DetectorSpec {
  /** What a detector id looks like: kebab-case. */
  Pattern ID_PATTERN = Pattern.compile("[a-z][a-z0-9]*(-[a-z0-9]+)*");

  /** Stable kebab-case id: appears in flags, JSON and docs; never renamed. */
  String id();

  /** The symptom class of the detector's findings (a finding may name another one). */
  Symptom symptom();

  /** The default severity of the detector's findings. */
  Severity severity();

  /** One line in sentence case, no final period. */
  String summary();

  /** Where the rule comes from (paper, tool, section of the research notes). */
  String source();

  /**
   * True for a detector whose warnings name a cause rather than a harm (inputs that are not
   * normalized): they decide the verdict only beside a warning of another detector. Alone, the
   * report keeps them at info, because a run that shows no harm is not buggy for having a risk
   * factor.
   */
  boolean needsCorroboration() default false;

  /**
   * True for a detector that reads the loss's trend as the measure of training progress (it fell,
   * stalled, swung, diverged), or the accuracy as a supervised one (a share of examples right, with
   * a chance level and a binomial spread): it does not run on a trace whose {@code
   * dltrace.objective} says the loss is not minimized (a GAN player's loss, a policy-gradient
   * surrogate, whose accuracy, if any, is a coverage or a reward), and the report says so.
   */
  boolean judgesProgress() default false;

  /** The keys of the {@link Thresholds} the detector reads, in documentation order. */
  String[] thresholds() default {};

  /**
   * The statistics columns the detector reads ({@code mean}, {@code zero_fraction}...), the default
   * of {@link Detector#columns()}. The key columns are always loaded; columns a trace lacks read as
   * null.
   */
  Column[] columns() default {Column.MEAN};
}
