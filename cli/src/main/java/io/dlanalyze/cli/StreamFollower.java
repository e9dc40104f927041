package io.dlanalyze.cli;

import io.dlanalyze.trace.PartFiles;
import io.dlanalyze.trace.PartsTraceReader;
import io.dlanalyze.trace.arrow.ArrowTraceReader;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Waits for a trace that is being written to grow, polling: {@code watch}'s side of {@link
 * ArrowTraceReader#follow} (one stream, by its size) and of {@link PartsTraceReader#follow} (a
 * directory of parts). Gives up after {@code idle} without new data (0: never), or once a deadline
 * set by {@link #giveUpAt} has passed. In a directory, a part that stopped growing while a later
 * part exists is left after {@code partWait} (its writer moved on), and the trace ends when no new
 * part follows the last one's end within {@code partWait}. {@code tick} runs at every poll (the
 * status line).
 */
final class StreamFollower implements ArrowTraceReader.Follow, PartsTraceReader.Waiter {
  private final Path path;
  private final boolean directory;
  private final long pollMillis;
  private final long idleNanos;
  private final long partWaitNanos;
  private final Runnable tick;
  private long lastGrowth = System.nanoTime();
  private long deadline;
  private boolean hasDeadline;
  private boolean idled;

  StreamFollower(
      Path path,
      boolean directory,
      long pollMillis,
      double idleSeconds,
      double partWaitSeconds,
      Runnable tick) {
    this.path = path;
    this.directory = directory;
    this.pollMillis = pollMillis;
    this.idleNanos = (long) (idleSeconds * 1e9);
    this.partWaitNanos = (long) (partWaitSeconds * 1e9);
    this.tick = tick;
  }

  /** True when the trace is there to open: the file, or a directory with a part file. */
  boolean present() {
    return directory
        ? Files.isDirectory(path) && !PartFiles.list(path).isEmpty()
        : Files.exists(path);
  }

  /** Waits until the trace is there; false when the idle time or the deadline passed first. */
  boolean awaitFile() throws IOException {
    while (!present()) {
      if (expired()) {
        return false;
      }
      pause();
    }
    lastGrowth = System.nanoTime();
    return true;
  }

  @Override
  public boolean await(long size) throws IOException {
    while (true) {
      long now;
      try {
        now = Files.size(path);
      } catch (NoSuchFileException e) {
        now = -1;
      }
      if (now > size) {
        lastGrowth = System.nanoTime();
        return true;
      }
      if (expired()) {
        return false;
      }
      pause();
    }
  }

  @Override
  public boolean pause(PartsTraceReader.Wait what, boolean laterPart) throws IOException {
    if (expired()) {
      return false;
    }
    boolean waitedLong = System.nanoTime() - lastGrowth > partWaitNanos;
    if (waitedLong && (what == PartsTraceReader.Wait.NEXT_PART || laterPart)) {
      return false;
    }
    pause();
    return true;
  }

  @Override
  public void progress() {
    lastGrowth = System.nanoTime();
  }

  private boolean expired() {
    long now = System.nanoTime();
    if (hasDeadline && now - deadline >= 0) {
      return true;
    }
    if (idleNanos > 0 && now - lastGrowth > idleNanos) {
      idled = true;
      return true;
    }
    return false;
  }

  private void pause() throws InterruptedIOException {
    tick.run();
    try {
      Thread.sleep(pollMillis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for the trace to grow");
    }
  }

  /** Gives up waiting once {@code seconds} from now have passed. */
  void giveUpAt(double seconds) {
    long at = System.nanoTime() + (long) (seconds * 1e9);
    if (!hasDeadline || at - deadline < 0) {
      deadline = at;
      hasDeadline = true;
    }
  }

  /** True when waiting ended because no data came for the idle time. */
  boolean idled() {
    return idled;
  }
}
