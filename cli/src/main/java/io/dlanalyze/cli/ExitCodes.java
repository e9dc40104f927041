package io.dlanalyze.cli;

/**
 * The exit codes of every dl-analyze command, also listed in {@code --help}. Only {@link
 * DlAnalyze#main} calls {@code System.exit}.
 */
public final class ExitCodes {
  /**
   * Success; for analyze: no finding at or above {@code --fail-on}; for batch: every trace in the
   * results was read and none is buggy.
   */
  public static final int OK = 0;

  /** An internal error: a bug in dl-analyze (a stack trace is printed). */
  public static final int SOFTWARE = 1;

  /** Bad command line: unknown option, missing argument, bad value. */
  public static final int USAGE = 2;

  /**
   * The analysis found a fault: a finding at or above {@code --fail-on}; for batch: some trace is
   * buggy and every trace was read.
   */
  public static final int FAULT_FOUND = 3;

  /**
   * A trace could not be read: missing, empty, corrupt, truncated past recovery, wrong schema; for
   * batch: some trace in the results has status error (this takes precedence over {@link
   * #FAULT_FOUND}).
   */
  public static final int BAD_INPUT = 4;

  /** An output could not be written (directory missing, permission, disk full). */
  public static final int OUTPUT_ERROR = 5;

  /** The list shown at the end of every command's help. */
  public static java.util.Map<String, String> helpList() {
    java.util.Map<String, String> list = new java.util.LinkedHashMap<>();
    list.put(
        " 0",
        "success; for analyze: no finding at or above --fail-on; for batch: no trace buggy or"
            + " unreadable");
    list.put(" 1", "internal error (a bug; the stack trace is printed)");
    list.put(" 2", "usage error (bad option or argument)");
    list.put(
        " 3",
        "fault found: a finding at or above --fail-on; for batch: some trace buggy, none"
            + " unreadable");
    list.put(" 4", "unreadable or invalid trace; for batch: some trace unreadable (wins over 3)");
    list.put(" 5", "output could not be written");
    return list;
  }

  private ExitCodes() {}
}
