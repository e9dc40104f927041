package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * The lock a local batch holds on its output directory for the whole run: an exclusive lock ({@link
 * FileChannel#tryLock()}, a POSIX record lock on Linux) on the file {@value #FILE_NAME} in the
 * directory. A second batch on the same directory does not wait: it is refused with a message that
 * names the process holding the lock, because two runs would each write tables without the other's
 * rows. The kernel drops the lock when the process ends, also on {@code kill -9}; the file itself
 * stays (deleting it would let a third run lock a new file while the second still waits on the old
 * one).
 */
public final class OutputLock implements AutoCloseable {
  /** The lock file in the output directory (a hidden name: never a trace, never a results file). */
  public static final String FILE_NAME = ".dl-analyze.lock";

  private final FileChannel channel;
  private final FileLock lock;

  private OutputLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /** Another process (or another batch in this process) holds the lock. */
  public static final class BusyException extends IOException {
    private static final long serialVersionUID = 1L;

    BusyException(String message) {
      super(message);
    }
  }

  /**
   * Creates the directory if missing and takes its lock.
   *
   * @throws BusyException when another batch holds it (the message names its process, when known)
   * @throws IOException when the directory or the lock file cannot be created
   */
  public static OutputLock acquire(Path directory) throws IOException {
    Files.createDirectories(directory);
    Path file = directory.resolve(FILE_NAME);
    FileChannel channel =
        FileChannel.open(
            file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
    if (lock == null) {
      String holder = holder(channel);
      channel.close();
      throw new BusyException(
          format(
              ROOT,
              "another dl-analyze batch is writing to this directory%s; run again when it has"
                  + " finished (the lock is %s)",
              holder.isEmpty() ? "" : " (" + holder + ")",
              file));
    }
    try {
      channel.truncate(0);
      String holder =
          format(ROOT, "pid %d, started %s", ProcessHandle.current().pid(), Instant.now());
      channel.write(ByteBuffer.wrap((holder + "\n").getBytes(StandardCharsets.UTF_8)), 0);
    } catch (IOException e) {
      // the note is for a second run's message only: the lock is what counts
    }
    return new OutputLock(channel, lock);
  }

  private static String holder(FileChannel channel) {
    try {
      ByteBuffer buffer = ByteBuffer.allocate(200);
      int n = channel.read(buffer, 0);
      if (n <= 0) {
        return "";
      }
      String text = new String(buffer.array(), 0, n, StandardCharsets.UTF_8).strip();
      int newline = text.indexOf('\n');
      return io.dlanalyze.trace.Printable.escapeText(
          newline < 0 ? text : text.substring(0, newline));
    } catch (IOException e) {
      return "";
    }
  }

  /** Releases the lock. */
  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      channel.close();
    }
  }
}
