package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Printable;

/** Which rule set an analysis runs. */
public enum AnalysisMode {
  /**
   * dl-analyze's own detectors: every symptom, tolerance-aware equality, propagation grouped,
   * ranked by causal order.
   */
  DEFAULT("default"),
  /**
   * DeepLocalize's Algorithms 1 and 2 as its Keras callback runs them: mean-only streams, exact
   * equality, the first hit in its fixed check order, reported in its own words.
   */
  DEEPLOCALIZE("deeplocalize");

  private final String wireName;

  AnalysisMode(String wireName) {
    this.wireName = wireName;
  }

  public String wireName() {
    return wireName;
  }

  public static AnalysisMode fromWireName(String name) {
    for (AnalysisMode mode : values()) {
      if (mode.wireName.equalsIgnoreCase(name)) {
        return mode;
      }
    }
    throw new IllegalArgumentException(
        format(
            ROOT,
            "unknown mode: %s (expected default or deeplocalize)",
            Printable.excerpt(name, Printable.QUOTE)));
  }

  @Override
  public String toString() {
    return wireName;
  }
}
