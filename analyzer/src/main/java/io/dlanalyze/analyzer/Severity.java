package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

/**
 * How bad a finding is, from least to most severe: {@code info < warning < error < critical}.
 *
 * <ul>
 *   <li>{@link #INFO}: worth knowing, not a fault (the verdict stays healthy);
 *   <li>{@link #WARNING}: a likely fault or a symptom that often precedes one;
 *   <li>{@link #ERROR}: a fault that stops or cripples learning (a dead layer, a model that does
 *       not learn);
 *   <li>{@link #CRITICAL}: the run is broken (NaN/Inf values).
 * </ul>
 *
 * <p>The verdict is "buggy" when a finding of {@link #WARNING} or more is present.
 */
public enum Severity {
  INFO("info"),
  WARNING("warning"),
  ERROR("error"),
  CRITICAL("critical");

  private final String wireName;

  Severity(String wireName) {
    this.wireName = wireName;
  }

  /** The lower-case name used in JSON, flags and docs. */
  public String wireName() {
    return wireName;
  }

  /** True when this severity is {@code other} or more severe. */
  public boolean atLeast(Severity other) {
    return compareTo(other) >= 0;
  }

  /** Parses a wire name, case-insensitively. */
  public static Severity fromWireName(String name) {
    for (Severity severity : values()) {
      if (severity.wireName.equalsIgnoreCase(name)) {
        return severity;
      }
    }
    throw new IllegalArgumentException(
        format(ROOT, "unknown severity: %s (expected info, warning, error or critical)", name));
  }

  @Override
  public String toString() {
    return wireName;
  }
}
