package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Printable;

/**
 * The classes of symptom a finding reports. The wire names are part of the report format ({@code
 * docs/report-format.md}); adding a constant is a compatible change, renaming one is not.
 */
public enum Symptom {
  /** NaN or Inf values (DeepLocalize's numerical error). */
  NUMERICAL_ERROR("numerical_error"),
  /** Values that are all zero persistently: a dead layer, vanishing-to-zero gradients. */
  DEAD_OR_ZERO("dead_or_zero"),
  /** Values that stop changing from one step to the next: frozen weights, a stuck layer. */
  UNCHANGED_VALUES("unchanged_values"),
  /** The model does not learn: the loss does not decrease, the accuracy stays at zero. */
  NOT_LEARNING("not_learning"),
  EXPLODING_GRADIENT("exploding_gradient"),
  VANISHING_GRADIENT("vanishing_gradient"),
  SATURATION("saturation"),
  OSCILLATION("oscillation"),
  SLOW_CONVERGENCE("slow_convergence"),
  /**
   * The loss does not fit the output layer or the labels: its values leave the range its definition
   * allows (a negative cross-entropy), or it is paired with an output it cannot train (binary
   * cross-entropy over many classes, MSE on a softmax, cross-entropy on an output that is already a
   * softmax).
   */
  LOSS_MISMATCH("loss_mismatch"),
  /** No non-linearity where one is needed: a stack of linear layers is one linear map. */
  MISSING_ACTIVATION("missing_activation");

  private final String wireName;

  Symptom(String wireName) {
    this.wireName = wireName;
  }

  /** The snake_case name used in JSON, e.g. {@code "numerical_error"}. */
  public String wireName() {
    return wireName;
  }

  public static Symptom fromWireName(String name) {
    for (Symptom symptom : values()) {
      if (symptom.wireName.equals(name)) {
        return symptom;
      }
    }
    throw new IllegalArgumentException(
        format(ROOT, "unknown symptom: %s", Printable.excerpt(name, Printable.QUOTE)));
  }

  @Override
  public String toString() {
    return wireName;
  }
}
