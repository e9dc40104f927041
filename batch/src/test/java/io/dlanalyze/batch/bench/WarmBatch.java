package io.dlanalyze.batch.bench;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.batch.AnalysisSettings;
import io.dlanalyze.batch.Fingerprint;
import io.dlanalyze.batch.Fingerprints;
import io.dlanalyze.batch.LocalDiscovery;
import io.dlanalyze.batch.TraceAnalysis;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The per-trace work of a batch (fingerprint, then analysis) over the same traces several times in
 * one JVM, on one thread: the CPU a trace costs once the JVM has compiled the code, against the
 * first pass, and the bytes a trace allocates. For {@code docs/performance.md}, "Batch".
 *
 * <pre>{@code java -cp ... io.dlanalyze.batch.bench.WarmBatch DIR PASSES}</pre>
 *
 * Prints one line per pass: CPU per trace of the whole process and of the analysing thread, for the
 * fingerprints and the analyses, the bytes the thread allocated per trace, and the collections.
 */
public final class WarmBatch {
  private WarmBatch() {}

  public static void main(String[] args) {
    List<Path> traces = LocalDiscovery.find(List.of(args[0]), null).traces();
    int passes = Integer.parseInt(args[1]);
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    TraceAnalysis analysis = new TraceAnalysis(new AnalysisSettings(AnalysisMode.DEFAULT));
    int n = traces.size();
    System.out.printf(
        ROOT, "# %d traces; process CPU at start: %.0f ms%n", n, os.getProcessCpuTime() / 1e6);
    for (int pass = 1; pass <= passes; pass++) {
      long gcBefore = collections();
      long allocated = threads.getCurrentThreadAllocatedBytes();
      long process = os.getProcessCpuTime();
      long thread = threads.getCurrentThreadCpuTime();
      List<Fingerprint> fingerprints = new ArrayList<>(n);
      for (Path trace : traces) {
        fingerprints.add(Fingerprints.ofLocalOrUnavailable(trace));
      }
      long processFingerprinted = os.getProcessCpuTime();
      long threadFingerprinted = threads.getCurrentThreadCpuTime();
      long buggy = 0;
      for (int i = 0; i < n; i++) {
        Path trace = traces.get(i);
        if (analysis.analyze(trace, trace.toString(), fingerprints.get(i)).run().findings() > 0) {
          buggy++;
        }
      }
      long processDone = os.getProcessCpuTime();
      long threadDone = threads.getCurrentThreadCpuTime();
      System.out.println(
          format(
              ROOT,
              "pass %d: fingerprint %.2f ms/trace (thread %.2f), analysis %.2f ms/trace (thread"
                  + " %.2f), allocated %.2f MB/trace, %d collections, %d traces with findings",
              pass,
              (processFingerprinted - process) / 1e6 / n,
              (threadFingerprinted - thread) / 1e6 / n,
              (processDone - processFingerprinted) / 1e6 / n,
              (threadDone - threadFingerprinted) / 1e6 / n,
              (threads.getCurrentThreadAllocatedBytes() - allocated) / 1e6 / n,
              collections() - gcBefore,
              buggy));
    }
  }

  private static long collections() {
    long count = 0;
    for (GarbageCollectorMXBean collector : ManagementFactory.getGarbageCollectorMXBeans()) {
      count += Math.max(0, collector.getCollectionCount());
    }
    return count;
  }
}
