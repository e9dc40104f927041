package io.dlanalyze.trace;

import java.nio.file.Path;

/**
 * Writes a trace batch by batch. Output goes to a temporary file beside the target and is renamed
 * into place by {@link #close()}, so a failed or aborted write never leaves a half-written trace.
 */
public interface TraceWriter extends AutoCloseable {
  /** The final path the trace appears at after {@link #close()}. */
  Path path();

  /**
   * Appends the first {@code batch.size()} rows. String ids are resolved through the batch's own
   * dictionary, so batches from any reader can be written.
   */
  void write(TraceBatch batch);

  /** Finishes the file and moves it into place. */
  @Override
  void close();

  /** Drops everything written so far; the target path is left as it was. Idempotent. */
  void abort();
}
