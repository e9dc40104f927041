package io.dlanalyze.trace;

/** Why a trace could not be read. Each code is a user error: the input, not the program. */
public enum ErrorCode {
  /** The path does not exist or cannot be opened. */
  NOT_FOUND,
  /** The file is empty. */
  EMPTY,
  /** The format cannot be told from the name or the first bytes, or is not supported. */
  UNKNOWN_FORMAT,
  /** The file is not a valid file of its format (bad magic, corrupt page, bad footer). */
  CORRUPT,
  /** The file ends early: a run died mid-write. */
  TRUNCATED,
  /** A required column is absent. */
  MISSING_COLUMN,
  /** A column has the wrong physical type. */
  WRONG_TYPE,
  /** A value breaks the contract (negative count, step not increasing, name/index mismatch). */
  INVALID_VALUE,
  /** The metadata cannot be parsed. */
  BAD_METADATA,
  /** An I/O error other than the above. */
  IO_ERROR
}
