package io.dlanalyze.cli.eval;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.Printable;
import java.nio.file.Path;

/** A manifest that cannot be read or breaks its schema; rendered as {@code file: detail}. */
public final class ManifestException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** On one line whatever the detail quotes from the manifest: control characters escaped. */
  public ManifestException(Path file, String detail) {
    super(Printable.escapeText(file + ": " + detail));
  }

  /** {@code file: detail}, which every such error has. */
  @Override
  public String getMessage() {
    return requireNonNull(super.getMessage(), "the constructor sets the message");
  }
}
