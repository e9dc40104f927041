package io.dlanalyze.trace.validate;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * One rule broken by a trace, rendered on one line as {@code file: row N: detail} (or {@code file:
 * detail} for a problem of the whole trace).
 *
 * @param severity whether the trace breaks the contract (error) or only looks suspicious (warning)
 * @param rule the rule's stable id, e.g. {@code step-order}
 * @param file the trace the row is in
 * @param row the 0-based row over the whole trace, or -1 for a problem of the whole trace
 * @param detail what is wrong, with the values
 */
public record Problem(Severity severity, String rule, Path file, long row, String detail) {
  /** How bad a problem is. */
  public enum Severity {
    /** The trace breaks the contract: analysis results may be wrong. */
    ERROR,
    /** Suspicious but readable: analysis goes on. */
    WARNING
  }

  public Problem {
    requireNonNull(severity, "severity is null");
    requireNonNull(rule, "rule is null");
    requireNonNull(detail, "detail is null");
  }

  /** {@code "row N"}, or {@code null} for a problem of the whole trace. */
  public @Nullable String location() {
    return row < 0 ? null : "row " + row;
  }

  /** The one-line message: {@code run.parquet: row 1043: step 12 after step 13 (...)}. */
  public String message() {
    StringBuilder text = new StringBuilder();
    if (file != null) {
      text.append(file).append(": ");
    }
    if (row >= 0) {
      text.append("row ").append(row).append(": ");
    }
    return text.append(detail).toString();
  }

  @Override
  public String toString() {
    return message();
  }
}
