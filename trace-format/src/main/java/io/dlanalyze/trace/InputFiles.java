package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.io.IOException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * The gate in front of the readers for a path a user named: a trace is a regular file (symbolic
 * links followed) or a directory of part files, and it can be read. A named pipe, a device or a
 * socket is refused before anything opens it, because opening a pipe blocks until someone writes to
 * it and a device such as {@code /dev/zero} never ends.
 */
public final class InputFiles {
  private InputFiles() {}

  /**
   * Checks that {@code path} can be read as a trace.
   *
   * @throws TraceFormatException NOT_FOUND when it does not exist, IO_ERROR when it is not a
   *     regular file or a directory, or when permission to read it is denied
   */
  public static void requireReadable(Path path) {
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(path, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      throw new TraceFormatException(ErrorCode.NOT_FOUND, path, null, "no such file");
    } catch (AccessDeniedException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, path, null, "permission denied: cannot look the file up", e);
    } catch (IOException | SecurityException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, path, null, format(ROOT, "cannot read: %s", e.getMessage()), e);
    }
    if (attributes.isDirectory()) {
      return;
    }
    if (!attributes.isRegularFile()) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR,
          path,
          null,
          format(
              ROOT,
              "not a regular file but %s: a trace must be a regular file or a directory of"
                  + " part files",
              kind(path)));
    }
    try (SeekableByteChannel channel = Files.newByteChannel(path)) {
      // opened: readable
    } catch (AccessDeniedException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, path, null, "permission denied: the file cannot be read", e);
    } catch (NoSuchFileException e) {
      throw new TraceFormatException(ErrorCode.NOT_FOUND, path, null, "no such file");
    } catch (IOException | SecurityException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, path, null, format(ROOT, "cannot read: %s", e.getMessage()), e);
    }
  }

  /** True when {@code path} (links followed) is a regular file or a directory. */
  public static boolean isFileOrDirectory(Path path) {
    return Files.isRegularFile(path) || Files.isDirectory(path);
  }

  /** What kind of special file {@code path} is, in words: "a named pipe (FIFO)", ... */
  public static String kind(Path path) {
    int mode;
    try {
      mode = (Integer) Files.getAttribute(path, "unix:mode");
    } catch (IOException | RuntimeException e) {
      return "a special file";
    }
    return switch (mode & 0170000) {
      case 0010000 -> "a named pipe (FIFO)";
      case 0020000 -> "a character device";
      case 0060000 -> "a block device";
      case 0140000 -> "a socket";
      default -> "a special file";
    };
  }
}
