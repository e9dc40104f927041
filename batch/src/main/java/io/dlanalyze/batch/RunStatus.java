package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

/** Whether a trace was analysed. */
public enum RunStatus {
  /** Analysed; the verdict and findings are in the row. */
  OK("ok"),
  /**
   * Could not be analysed (unreadable, empty, corrupt, truncated past recovery, internal error).
   */
  ERROR("error");

  private final String wireName;

  RunStatus(String wireName) {
    this.wireName = wireName;
  }

  /** The value in the runs table's {@code status} column. */
  public String wireName() {
    return wireName;
  }

  public static RunStatus fromWireName(String name) {
    for (RunStatus status : values()) {
      if (status.wireName.equals(name)) {
        return status;
      }
    }
    throw new IllegalArgumentException(
        format(ROOT, "unknown status: %s (expected ok or error)", name));
  }

  @Override
  public String toString() {
    return wireName;
  }
}
