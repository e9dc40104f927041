package io.dlanalyze.trace.parquet;

import static java.util.Objects.requireNonNull;

import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Runs the column decoders of one batch on several threads: the calling thread and {@code threads -
 * 1} helper threads, started on first use. Each task (one column of the batch) runs on exactly one
 * thread; threads claim the next task in a given order until none is left, and {@link #run} returns
 * when every task has finished. What a task writes (its own column's arrays and decoder state) is
 * visible to the caller when {@link #run} returns, and to whichever thread runs the same column in
 * the next batch.
 *
 * <p>Nothing is queued: at most one batch is being decoded at a time, so the memory in use is what
 * a single thread would use.
 */
final class DecodeWorkers {
  /** One column of a batch. */
  interface Task {
    /** Decodes task {@code index}; must not throw (the caller records failures by index). */
    void run(int index);
  }

  /**
   * One call of {@link #run}: its own claim counter, so a helper that wakes late claims nothing.
   */
  private static final class Job {
    final Task task;
    final int[] order;
    final AtomicInteger next = new AtomicInteger();
    int finished; // guarded by the workers' lock

    Job(Task task, int[] order) {
      this.task = task;
      this.order = order;
    }
  }

  private final int threads;
  private final String name;
  private final Object lock = new Object();
  private Thread[] helpers = new Thread[0];
  private @Nullable Job job; // guarded by lock; null between batches
  private long generation; // guarded by lock
  private boolean closed; // guarded by lock

  /**
   * @param threads how many threads decode, the caller's included (at least 1)
   * @param name the helper threads' name prefix
   */
  DecodeWorkers(int threads, String name) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be at least 1: " + threads);
    }
    this.threads = threads;
    this.name = name;
  }

  int threads() {
    return threads;
  }

  /**
   * Runs {@code task.run(order[k])} for every k, claimed in that order, on the caller and the
   * helper threads, and waits until all have finished.
   */
  void run(int[] order, Task task) {
    if (threads == 1 || order.length <= 1) {
      for (int index : order) {
        task.run(index);
      }
      return;
    }
    Job current = new Job(task, order);
    synchronized (lock) {
      if (closed) {
        throw new IllegalStateException("decode workers are closed");
      }
      startHelpers();
      job = current;
      generation++;
      lock.notifyAll();
    }
    work(current);
    boolean interrupted = false;
    synchronized (lock) {
      // the helpers write into the caller's batch: wait for them even when interrupted
      while (current.finished < order.length) {
        try {
          lock.wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (job == current) {
        job = null;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void startHelpers() {
    if (helpers.length > 0) {
      return;
    }
    Thread[] started = new Thread[threads - 1];
    for (int i = 0; i < started.length; i++) {
      started[i] = new Thread(this::help, name + "-" + (i + 1));
      started[i].setDaemon(true);
      started[i].start();
    }
    helpers = started;
  }

  private void help() {
    long seen = 0;
    while (true) {
      Job current;
      synchronized (lock) {
        while (!closed && (generation == seen || job == null)) {
          try {
            lock.wait();
          } catch (InterruptedException e) {
            return;
          }
        }
        if (closed) {
          return;
        }
        seen = generation;
        current = requireNonNull(job, "the wait ends on close or on a job");
      }
      work(current);
    }
  }

  private void work(Job current) {
    int done = 0;
    int[] order = current.order;
    try {
      int k;
      while ((k = current.next.getAndIncrement()) < order.length) {
        done++; // counted even if the task throws, so that the caller never waits for it
        current.task.run(order[k]);
      }
    } finally {
      if (done > 0) {
        synchronized (lock) {
          current.finished += done;
          if (current.finished == order.length) {
            lock.notifyAll();
          }
        }
      }
    }
  }

  /** Stops the helper threads (idle between batches) and waits for them. */
  void close() {
    Thread[] stopping;
    synchronized (lock) {
      closed = true;
      job = null;
      lock.notifyAll();
      stopping = helpers;
    }
    boolean interrupted = false;
    for (Thread helper : stopping) {
      while (helper.isAlive()) {
        try {
          helper.join();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
