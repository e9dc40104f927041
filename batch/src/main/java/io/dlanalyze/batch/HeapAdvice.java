package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

/** The heap to try after running out of memory: twice the one that ran out, at least 2 GB. */
public final class HeapAdvice {
  private HeapAdvice() {}

  /** The JVM option, {@code -Xmx2g} up to a heap of 1 GB, else twice the heap in whole GB. */
  public static String larger(long maxHeapBytes) {
    long megabytes = maxHeapBytes >> 20;
    return format(ROOT, "-Xmx%dg", Math.max(2, (2 * megabytes + 1023) / 1024));
  }
}
