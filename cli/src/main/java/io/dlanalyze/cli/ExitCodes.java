package io.dlanalyze.cli;

import io.dlanalyze.trace.ErrorCode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The exit codes of every dl-analyze command, also listed in {@code --help}. Only {@link
 * DlAnalyze#main} calls {@code System.exit}.
 *
 * <p>The convention: an exit code is chosen where the error happens, never from the class of an
 * exception. A command that meets a failure it can name throws a {@link CliException} with the code
 * (an output it cannot write: {@link #OUTPUT_ERROR}; a usage mistake found late: {@link #USAGE}); a
 * reader's {@link io.dlanalyze.trace.TraceFormatException} carries its {@link ErrorCode}, mapped to
 * an exit code by {@link #of(ErrorCode)}; picocli's parameter errors are {@link #USAGE}; anything
 * else is a bug: {@link #SOFTWARE}, with its stack trace. {@link DlAnalyze} applies this in one
 * place.
 */
public final class ExitCodes {
  /**
   * Success; for analyze: no finding at or above {@code --fail-on}; for batch: every trace in the
   * results was read and none is buggy; for eval: every case was analysed.
   */
  public static final int OK = 0;

  /** An internal error: a bug in dl-analyze (a stack trace is printed), or out of memory. */
  public static final int SOFTWARE = 1;

  /** Bad command line: unknown option, missing argument, bad value, invalid config file. */
  public static final int USAGE = 2;

  /**
   * The analysis found a fault: a finding at or above {@code --fail-on}; for batch: some trace is
   * buggy and every trace was read.
   */
  public static final int FAULT_FOUND = 3;

  /**
   * A trace could not be read: missing, empty, corrupt, truncated past recovery, wrong schema, not
   * a regular file, permission denied; for batch: some trace in the results has status error (this
   * takes precedence over {@link #FAULT_FOUND}); for eval: a manifest that cannot be read, or some
   * case that could not be analysed.
   */
  public static final int BAD_INPUT = 4;

  /**
   * An output could not be written: the {@code -o} file, the batch's {@code --out} directory
   * (missing permission, disk full, another batch writing to it), or standard output (a full disk,
   * a closed pipe).
   */
  public static final int OUTPUT_ERROR = 5;

  /** The exit code of a trace that could not be read, by the reader's error code. */
  public static int of(ErrorCode code) {
    return switch (code) {
      case NOT_FOUND,
          EMPTY,
          UNKNOWN_FORMAT,
          CORRUPT,
          TRUNCATED,
          MISSING_COLUMN,
          WRONG_TYPE,
          INVALID_VALUE,
          BAD_METADATA,
          IO_ERROR ->
          BAD_INPUT;
    };
  }

  /** The list shown at the end of every command's help. */
  public static Map<String, String> helpList() {
    Map<String, String> list = new LinkedHashMap<>();
    list.put(
        " 0",
        "success; for analyze: no finding at or above --fail-on; for batch: no trace buggy or"
            + " unreadable; for eval: every case analysed");
    list.put(" 1", "internal error (a bug; the stack trace is printed), or out of memory");
    list.put(" 2", "usage error (bad option or argument, invalid config file)");
    list.put(
        " 3",
        "fault found: a finding at or above --fail-on (watch: --until); for batch: some trace"
            + " buggy, none unreadable");
    list.put(
        " 4",
        "unreadable or invalid trace (also not a regular file, permission denied); for batch:"
            + " some trace unreadable (wins over 3); for eval: a bad manifest or a case not"
            + " analysed");
    list.put(" 5", "output could not be written (-o FILE, --out DIR or its lock, standard output)");
    return list;
  }

  private ExitCodes() {}
}
