package io.dlanalyze.trace;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Where an output file is written so that it is never seen half-written.
 *
 * <p>For a regular file (or a new one) the content goes to a temporary file beside the target,
 * renamed onto it on {@link #commit()} and deleted on {@link #abort()}: the target either keeps its
 * old content or gets the complete new one. A symbolic link is followed first: the file it points
 * to is replaced and the link stays a link (also a dangling link, whose target is created).
 *
 * <p>A target that exists and is not a regular file (a device such as {@code /dev/null}, a named
 * pipe, {@code /dev/stdout} or {@code /proc/self/fd/1}, the {@code /dev/fd/63} of a shell's {@code
 * >(...)}) is written to directly: nothing can be renamed onto it without replacing the device or
 * pipe itself, so there is no atomicity, and {@link #abort()} cannot take back what was written.
 *
 * <p>The temporary files are named {@code .NAME.dl-analyze-HOST-PID-RANDOM.tmp}; one left behind by
 * a process that was killed ({@code kill -9}, power loss) is deleted by the next {@link #create} in
 * the same directory ({@link StaleTemporaries}).
 */
public final class AtomicOutput {
  /** rw-r--r--: what a plain file write would give under the common umask 022. */
  private static final Set<PosixFilePermission> OUTPUT_PERMISSIONS =
      PosixFilePermissions.fromString("rw-r--r--");

  /** Symbolic links followed at most, as the kernel's limit (ELOOP). */
  private static final int MAX_LINKS = 40;

  private final Path target;
  private final Path temporary;
  private final boolean direct;
  private boolean done;

  private AtomicOutput(Path target, Path temporary, boolean direct) {
    this.target = target;
    this.temporary = temporary;
    this.direct = direct;
  }

  /**
   * Prepares writing {@code target}: a temporary file in the directory of the file it names (so the
   * rename stays on one file system), or the target itself when it is not a regular file.
   *
   * @throws IOException when the target is a directory, its directory does not exist, or the
   *     temporary file cannot be created
   */
  public static AtomicOutput create(Path target) throws IOException {
    Path absolute = target.toAbsolutePath();
    BasicFileAttributes attributes = attributes(absolute);
    if (attributes != null && attributes.isDirectory()) {
      throw new IOException("is a directory");
    }
    if (attributes != null && !attributes.isRegularFile()) {
      return new AtomicOutput(target, absolute, true);
    }
    Path file = attributes != null ? absolute.toRealPath() : followDangling(absolute);
    Path directory = file.getParent();
    if (directory == null) {
      throw new IOException("is a directory"); // an absolute path without a parent is the root
    }
    if (!Files.isDirectory(directory)) {
      throw new IOException("directory does not exist: " + directory);
    }
    StaleTemporaries.clean(directory);
    Path temporary =
        Files.createTempFile(directory, StaleTemporaries.prefix(file.getFileName()), ".tmp");
    // createTempFile makes the file private (0600); an output file should get the usual mode.
    try {
      Files.setPosixFilePermissions(temporary, OUTPUT_PERMISSIONS);
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system: keep the default
    }
    return new AtomicOutput(file, temporary, false);
  }

  /** The attributes of what {@code path} names, links followed; null when nothing is there. */
  private static @Nullable BasicFileAttributes attributes(Path path) throws IOException {
    try {
      return Files.readAttributes(path, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      return null;
    } catch (FileSystemException e) {
      if (Files.isSymbolicLink(path)) {
        return null; // a loop of links or a link through a missing directory: followed below
      }
      throw e;
    }
  }

  /** The path a chain of symbolic links ends at (the path itself when it is not a link). */
  private static Path followDangling(Path path) throws IOException {
    Path current = path;
    for (int hops = 0; Files.isSymbolicLink(current); hops++) {
      if (hops == MAX_LINKS) {
        throw new IOException("too many levels of symbolic links");
      }
      Path link = Files.readSymbolicLink(current);
      current = current.resolveSibling(link).toAbsolutePath();
    }
    return current;
  }

  /** The file that gets the content: the target, or the file its symbolic links point to. */
  public Path target() {
    return target;
  }

  /**
   * Where to write until {@link #commit()}: the temporary file, or the target itself when it is not
   * a regular file ({@link #isDirect()}).
   */
  public Path temporary() {
    return temporary;
  }

  /** True when the target is written to directly (a device or a pipe): no temporary file. */
  public boolean isDirect() {
    return direct;
  }

  /** Moves the temporary file onto the target (nothing to do when writing directly). */
  public void commit() throws IOException {
    if (done) {
      return;
    }
    if (!direct) {
      try {
        Files.move(
            temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING);
      }
    }
    done = true;
  }

  /** Deletes the temporary file; the target is untouched (unless written to directly). */
  public void abort() {
    if (done) {
      return;
    }
    done = true;
    if (direct) {
      return;
    }
    try {
      Files.deleteIfExists(temporary);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Text written by {@link #writeText} as it is produced. */
  @FunctionalInterface
  public interface TextContent {
    void writeTo(Writer out) throws IOException;
  }

  /**
   * Writes a text atomically (directly to a device or pipe) as {@code content} produces it, in
   * UTF-8: a large report is not held in memory whole. When {@code content} fails, the temporary
   * file is deleted and the target keeps what it had.
   */
  public static void writeText(Path target, TextContent content) throws IOException {
    AtomicOutput output = create(target);
    try {
      try (Writer out = Files.newBufferedWriter(output.temporary(), StandardCharsets.UTF_8)) {
        content.writeTo(out);
      }
      output.commit();
    } finally {
      output.abort();
    }
  }

  /** Writes a whole text atomically (directly to a device or pipe). */
  public static void writeString(Path target, String content) throws IOException {
    AtomicOutput output = create(target);
    try {
      Files.writeString(output.temporary(), content, StandardCharsets.UTF_8);
      output.commit();
    } finally {
      output.abort();
    }
  }
}
