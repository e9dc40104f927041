package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Printable;

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
  INFO(0, "info"),
  WARNING(1, "warning"),
  ERROR(2, "error"),
  CRITICAL(3, "critical");

  private final int level;
  private final String wireName;

  Severity(int level, String wireName) {
    this.level = level;
    this.wireName = wireName;
  }

  /** 0 for info up to 3 for critical: the order of severity, as a number (the HTML filter's). */
  public int level() {
    return level;
  }

  /** The lower-case name used in JSON, flags and docs. */
  public String wireName() {
    return wireName;
  }

  /** True when this severity is {@code other} or more severe. */
  public boolean atLeast(Severity other) {
    return level >= other.level;
  }

  /** Parses a wire name, case-insensitively. */
  public static Severity fromWireName(String name) {
    for (Severity severity : values()) {
      if (severity.wireName.equalsIgnoreCase(name)) {
        return severity;
      }
    }
    throw new IllegalArgumentException(
        format(
            ROOT,
            "unknown severity: %s (expected info, warning, error or critical)",
            Printable.excerpt(name, Printable.QUOTE)));
  }

  @Override
  public String toString() {
    return wireName;
  }
}
