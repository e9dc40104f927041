package io.dlanalyze.bench;

import static java.util.Locale.ROOT;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Wall time, CPU time and peak RSS of one measurement inside this JVM. CPU time is what tells a
 * measurement apart from other load on a shared machine: the process's (every thread, native ones
 * included, e.g. DuckDB's workers) and the calling thread's.
 */
final class Measure {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private final long wallStart;
  private final long cpuStart;
  private final long threadCpuStart;

  private Measure() {
    resetPeakRss();
    this.cpuStart = OS.getProcessCpuTime();
    this.threadCpuStart = THREADS.getCurrentThreadCpuTime();
    this.wallStart = System.nanoTime();
  }

  /** Starts a measurement; the process's peak RSS is reset first where Linux allows it. */
  static Measure start() {
    return new Measure();
  }

  /** The figures so far. */
  Result stop() {
    long wall = System.nanoTime() - wallStart;
    long threadCpu = THREADS.getCurrentThreadCpuTime() - threadCpuStart;
    long cpu = OS.getProcessCpuTime() - cpuStart;
    return new Result(wall / 1e9, cpu / 1e9, threadCpu / 1e9, peakRssMb());
  }

  /** One measurement: seconds and MB. */
  record Result(double wallSeconds, double cpuSeconds, double threadCpuSeconds, long peakRssMb) {
    String format(long rows) {
      return String.format(
          ROOT,
          "wall_s=%.3f cpu_s=%.3f main_cpu_s=%.3f rows_per_s=%.0f rows_per_cpu_s=%.0f"
              + " peak_rss_mb=%d",
          wallSeconds,
          cpuSeconds,
          threadCpuSeconds,
          rows / wallSeconds,
          rows / cpuSeconds,
          peakRssMb);
    }
  }

  /** Best (least wall time) and median of a series of results, by wall time. */
  static Result[] bestAndMedian(Result[] results) {
    Result[] sorted = results.clone();
    Arrays.sort(sorted, (a, b) -> Double.compare(a.wallSeconds(), b.wallSeconds()));
    return new Result[] {sorted[0], sorted[sorted.length / 2]};
  }

  /**
   * Writing 5 to clear_refs resets VmHWM (Linux 4.0+); elsewhere the peak covers the JVM's life.
   */
  private static void resetPeakRss() {
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
    } catch (IOException | UnsupportedOperationException e) {
      // Not Linux, or not allowed: the peak then covers everything before, which only overstates
      // it.
    }
  }

  /** VmHWM of this process in MB, or -1 when /proc is not there. */
  static long peakRssMb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }
}
