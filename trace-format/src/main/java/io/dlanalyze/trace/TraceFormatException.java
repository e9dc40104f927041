package io.dlanalyze.trace;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * A trace that cannot be read or does not follow the contract. The message is one line, meant for
 * the user: {@code run.parquet: row group 3: column 'phase' is missing}.
 */
public final class TraceFormatException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;
  private final transient @Nullable Path file;
  private final @Nullable String location;
  private final String detail;

  public TraceFormatException(
      ErrorCode code, @Nullable Path file, @Nullable String location, String detail) {
    this(code, file, location, detail, null);
  }

  public TraceFormatException(
      ErrorCode code,
      @Nullable Path file,
      @Nullable String location,
      String detail,
      @Nullable Throwable cause) {
    super(render(file, location, detail), cause);
    this.code = requireNonNull(code, "code is null");
    this.file = file;
    this.location = location;
    this.detail = requireNonNull(detail, "detail is null");
  }

  /** The one-line message (file, location and detail), which every such error has. */
  @Override
  public String getMessage() {
    return requireNonNull(super.getMessage(), "the constructor sets the message");
  }

  public ErrorCode code() {
    return code;
  }

  /** The file the problem is in, or {@code null} when there is none. */
  public @Nullable Path file() {
    return file;
  }

  /** Where in the file ("row 12", "row group 3"), or {@code null}. */
  public @Nullable String location() {
    return location;
  }

  /** The problem without file and location. */
  public String detail() {
    return detail;
  }

  /**
   * This error with its file and location set, when it has none: for errors raised where the file
   * is not known (a name over {@link Limits#MAX_NAME_CHARS}), completed by the reader.
   */
  public TraceFormatException at(Path file, @Nullable String location) {
    if (this.file != null) {
      return this;
    }
    return new TraceFormatException(
        code, file, this.location != null ? this.location : location, detail, this);
  }

  private static String render(@Nullable Path file, @Nullable String location, String detail) {
    StringBuilder message = new StringBuilder();
    if (file != null) {
      message.append(file).append(": ");
    }
    if (location != null) {
      message.append(location).append(": ");
    }
    return message.append(detail).toString();
  }
}
