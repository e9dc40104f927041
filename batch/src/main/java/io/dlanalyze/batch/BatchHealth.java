package io.dlanalyze.batch;

/**
 * The overall state of the results table, which the CLI turns into its exit code. Precedence:
 * {@link #UNREADABLE} over {@link #BUGGY} over {@link #HEALTHY}, so a batch that could not read
 * every trace never looks complete.
 */
public enum BatchHealth {
  /** Every trace was analysed and none is buggy (healthy or inconclusive). CLI exit code 0. */
  HEALTHY,
  /** Every trace was analysed and at least one is buggy. CLI exit code 3. */
  BUGGY,
  /** At least one trace could not be analysed (status error). CLI exit code 4. */
  UNREADABLE
}
