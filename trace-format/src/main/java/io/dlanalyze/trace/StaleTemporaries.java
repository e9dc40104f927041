package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The temporary files of {@link AtomicOutput}, named {@code .NAME.dl-analyze-HOST-PID-RANDOM.tmp}
 * (HOST: 8 hex digits of a hash of the host name), and the clean-up of those a killed process left
 * behind.
 *
 * <p>A temporary file is stale when it was made on this host by a process that is gone: no process
 * has its PID, or the process that has it started after the file was last written (the PID was
 * reused). Files of other hosts (a directory shared over NFS) and of live processes are never
 * touched, nor is any file of another naming.
 */
final class StaleTemporaries {
  private static final Pattern NAME =
      Pattern.compile("\\..*\\.dl-analyze-([0-9a-f]{8})-([0-9]+)-[0-9]+\\.tmp");
  private static final String HOST = hostTag();

  private StaleTemporaries() {}

  /** The prefix of a new temporary file for {@code name}. */
  static String prefix(Path name) {
    return format(ROOT, ".%s.dl-analyze-%s-%d-", name, HOST, ProcessHandle.current().pid());
  }

  /** Deletes the stale temporary files in {@code directory}; problems are ignored. */
  static int clean(Path directory) {
    if (directory == null) {
      return 0;
    }
    int deleted = 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, ".*.dl-analyze-*.tmp")) {
      for (Path file : files) {
        if (isStale(file)) {
          try {
            Files.deleteIfExists(file);
            deleted++;
          } catch (IOException e) {
            // another process's clean-up, or no permission: leave it
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      // an unlistable directory: the temporary file cannot be created there either
    }
    return deleted;
  }

  static boolean isStale(Path file) {
    Matcher name = NAME.matcher(file.getFileName().toString());
    if (!name.matches() || !name.group(1).equals(HOST)) {
      return false;
    }
    try {
      if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
        return false;
      }
      long pid = Long.parseLong(name.group(2));
      Optional<ProcessHandle> process = ProcessHandle.of(pid);
      if (process.isEmpty() || !process.get().isAlive()) {
        return true;
      }
      Optional<Instant> started = process.get().info().startInstant();
      Instant written = Files.getLastModifiedTime(file, LinkOption.NOFOLLOW_LINKS).toInstant();
      return started.isPresent() && started.get().isAfter(written.plusSeconds(1));
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private static String hostTag() {
    String host = System.getenv("HOSTNAME");
    try {
      Path kernel = Path.of("/proc/sys/kernel/hostname");
      if (Files.isReadable(kernel)) {
        host = Files.readString(kernel, StandardCharsets.UTF_8).strip();
      }
    } catch (IOException | RuntimeException e) {
      // keep the environment's
    }
    return format(ROOT, "%08x", (host == null ? "localhost" : host).hashCode());
  }
}
