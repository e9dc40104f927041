package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import java.io.Serializable;
import org.jspecify.annotations.Nullable;

/**
 * What a trace looked like when it was analysed; kept in the runs table so the next run can skip it
 * while it stays the same ({@link Fingerprints} computes it).
 *
 * @param sizeBytes the file's size; for a directory of part files, their total
 * @param modifiedMillis the last-modified time in ms since the epoch; for a directory of part
 *     files, the latest of them
 * @param contentHash {@code sha256:} and the hex SHA-256 of the file's head and tail (see {@link
 *     Fingerprints}), or {@link #UNAVAILABLE} when the file could not be read
 */
public record Fingerprint(long sizeBytes, long modifiedMillis, String contentHash)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The hash of a file that could not be read; such a fingerprint never matches. */
  public static final String UNAVAILABLE = "unavailable";

  public Fingerprint {
    requireNonNull(contentHash, "contentHash is null");
    if (sizeBytes < 0) {
      throw new IllegalArgumentException(
          format(ROOT, "sizeBytes must not be negative: %s", sizeBytes));
    }
  }

  /** A fingerprint of a trace that could not be read. */
  public static Fingerprint unavailable(long sizeBytes, long modifiedMillis) {
    return new Fingerprint(sizeBytes, modifiedMillis, UNAVAILABLE);
  }

  /** True when both were read and are equal: the trace is unchanged. */
  public boolean sameAs(@Nullable Fingerprint other) {
    return other != null && !contentHash.equals(UNAVAILABLE) && equals(other);
  }
}
