package io.dlanalyze.cli;

import io.dlanalyze.trace.arrow.ArrowTraceReader;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Waits for a trace that is being written to grow, polling its size: {@code watch}'s side of {@link
 * ArrowTraceReader#follow}. Gives up after {@code idle} without growth (0: never), or once a
 * deadline set by {@link #giveUpAt} has passed. {@code tick} runs at every poll (the status line).
 */
final class StreamFollower implements ArrowTraceReader.Follow {
  private final Path path;
  private final long pollMillis;
  private final long idleNanos;
  private final Runnable tick;
  private long lastGrowth = System.nanoTime();
  private long deadline;
  private boolean hasDeadline;
  private boolean idled;

  StreamFollower(Path path, long pollMillis, double idleSeconds, Runnable tick) {
    this.path = path;
    this.pollMillis = pollMillis;
    this.idleNanos = (long) (idleSeconds * 1e9);
    this.tick = tick;
  }

  /** Waits until the file exists; false when the idle time or the deadline passed first. */
  boolean awaitFile() throws IOException {
    while (!Files.exists(path)) {
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
