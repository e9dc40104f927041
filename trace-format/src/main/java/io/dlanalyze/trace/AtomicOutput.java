package io.dlanalyze.trace;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * A temporary file beside a target path, renamed onto the target on {@link #commit()} and deleted
 * on {@link #abort()}: the target either keeps its old content or gets the complete new one.
 */
public final class AtomicOutput {
  /** rw-r--r--: what a plain file write would give under the common umask 022. */
  private static final java.util.Set<java.nio.file.attribute.PosixFilePermission>
      OUTPUT_PERMISSIONS = java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--");

  private final Path target;
  private final Path temporary;
  private boolean done;

  private AtomicOutput(Path target, Path temporary) {
    this.target = target;
    this.temporary = temporary;
  }

  /**
   * Creates the temporary file in the target's directory (so the rename stays on one file system).
   */
  public static AtomicOutput create(Path target) throws IOException {
    Path absolute = target.toAbsolutePath();
    Path directory = absolute.getParent();
    if (directory != null && !Files.isDirectory(directory)) {
      throw new IOException("directory does not exist: " + directory);
    }
    if (Files.isDirectory(absolute)) {
      throw new IOException("is a directory");
    }
    String name = absolute.getFileName().toString();
    Path temporary = Files.createTempFile(directory, "." + name + ".", ".tmp");
    // createTempFile makes the file private (0600); an output file should get the usual mode.
    try {
      Files.setPosixFilePermissions(temporary, OUTPUT_PERMISSIONS);
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system: keep the default
    }
    return new AtomicOutput(target, temporary);
  }

  public Path target() {
    return target;
  }

  /** Where to write until {@link #commit()}. */
  public Path temporary() {
    return temporary;
  }

  /** Moves the temporary file onto the target. */
  public void commit() throws IOException {
    if (done) {
      return;
    }
    try {
      Files.move(
          temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING);
    }
    done = true;
  }

  /** Deletes the temporary file; the target is untouched. */
  public void abort() {
    if (done) {
      return;
    }
    done = true;
    try {
      Files.deleteIfExists(temporary);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes a whole text atomically. */
  public static void writeString(Path target, String content) throws IOException {
    AtomicOutput output = create(target);
    try {
      Files.writeString(output.temporary(), content, java.nio.charset.StandardCharsets.UTF_8);
      output.commit();
    } finally {
      output.abort();
    }
  }
}
