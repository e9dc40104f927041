package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionService;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Analyses local traces in parallel: a fixed pool of {@code jobs} threads, each taking one trace at
 * a time, fingerprinting it, and either skipping it (unchanged since the previous run) or streaming
 * it through the analyzer.
 *
 * <p>Memory: at most {@code jobs} traces are open at once, and each analysis streams (one reader
 * batch of at most 64 Ki rows of the projected columns, one Parquet row group's compressed column
 * chunks, the per-step tables of the engine); the only thing that grows with the number of traces
 * is the result rows (about 1 KB per trace plus one row per finding). {@code docs/nightly.md} has
 * the measured figures.
 */
public final class BatchRunner {
  private final AnalysisSettings settings;
  private final int jobs;
  private final boolean force;

  /**
   * @param jobs the number of traces analysed at once
   * @param force analyse every trace, even unchanged ones
   */
  public BatchRunner(AnalysisSettings settings, int jobs, boolean force) {
    this.settings = requireNonNull(settings, "settings is null");
    if (jobs < 1) {
      throw new IllegalArgumentException(format(ROOT, "jobs must be positive: %s", jobs));
    }
    this.jobs = jobs;
    this.force = force;
  }

  /** The default parallelism: one job per available core. */
  public static int defaultJobs() {
    return Runtime.getRuntime().availableProcessors();
  }

  /**
   * Runs the batch over {@code traces} (absolute paths, as {@link LocalDiscovery} returns them).
   * Never fails because of a trace: each failure is a row with status error.
   *
   * @throws InterruptedException when the calling thread is interrupted (the pool is stopped)
   */
  public BatchResults run(List<Path> traces, PreviousResults previous, BatchListener listener)
      throws InterruptedException {
    return run(traces, List.of(), previous, listener);
  }

  /**
   * Runs the batch over {@code traces}, with an error row for each path of {@code unlisted} (a
   * directory that could not be listed, whose traces may be missing): it counts as unreadable.
   *
   * @throws InterruptedException when the calling thread is interrupted (the pool is stopped)
   */
  public BatchResults run(
      List<Path> traces,
      List<LocalDiscovery.Unlisted> unlisted,
      PreviousResults previous,
      BatchListener listener)
      throws InterruptedException {
    long start = System.nanoTime();
    TraceAnalysis analysis = new TraceAnalysis(settings);
    PreviousResults known = force ? PreviousResults.none() : previous;
    listener.started(traces.size());
    List<TraceOutcome> outcomes = new ArrayList<>(traces.size());
    ExecutorService pool =
        Executors.newFixedThreadPool(Math.min(jobs, Math.max(1, traces.size())), threads());
    try {
      CompletionService<TraceOutcome> done = new ExecutorCompletionService<>(pool);
      for (Path trace : traces) {
        done.submit(() -> process(trace, analysis, known));
      }
      for (int i = 0; i < traces.size(); i++) {
        TraceOutcome outcome;
        try {
          outcome = done.take().get();
        } catch (ExecutionException e) {
          // process() turns every failure into a row; reaching here is a bug.
          throw new IllegalStateException("a batch task failed: " + e.getCause(), e.getCause());
        }
        outcomes.add(outcome);
        listener.traceDone(outcome, i + 1, traces.size());
      }
    } finally {
      pool.shutdownNow();
    }
    listener.finished();
    for (LocalDiscovery.Unlisted path : unlisted) {
      outcomes.add(
          TraceOutcome.analyzed(
              analysis.unlisted(path.path(), path.path().toString(), path.reason())));
    }
    long elapsed = (System.nanoTime() - start) / 1_000_000;
    return BatchResults.assemble(outcomes, previous, analysis.config(), elapsed);
  }

  /** One trace: fingerprint, then skip or analyse. */
  static TraceOutcome process(Path trace, TraceAnalysis analysis, PreviousResults previous) {
    String path = trace.toString();
    Fingerprint fingerprint = Fingerprints.ofLocalOrUnavailable(trace);
    if (previous.unchanged(path, fingerprint, analysis.config())) {
      return TraceOutcome.skipped(
          requireNonNull(previous.run(path), "an unchanged trace has a previous row"),
          previous.findings(path));
    }
    return TraceOutcome.analyzed(analysis.analyze(trace, path, fingerprint));
  }

  private static ThreadFactory threads() {
    AtomicInteger count = new AtomicInteger();
    return task -> {
      Thread thread = new Thread(task, "dl-analyze-batch-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}
