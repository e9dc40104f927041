package io.dlanalyze.trace.tensorboard;

/** A stable merge sort of positions by two long keys, without boxing. */
final class IndexSort {
  private IndexSort() {}

  /** The positions 0..n-1 ordered by (primary, secondary), ties in position order. */
  static int[] order(int n, long[] primary, long[] secondary) {
    int[] index = new int[n];
    boolean sorted = true;
    for (int i = 0; i < n; i++) {
      index[i] = i;
      if (i > 0 && compare(i - 1, i, primary, secondary) > 0) {
        sorted = false;
      }
    }
    if (sorted) {
      return index;
    }
    int[] scratch = new int[n];
    for (int width = 1; width < n; width *= 2) {
      for (int low = 0; low < n - width; low += 2 * width) {
        int middle = low + width;
        int high = Math.min(low + 2 * width, n);
        if (compare(index[middle - 1], index[middle], primary, secondary) <= 0) {
          continue;
        }
        int a = low;
        int b = middle;
        int out = low;
        while (a < middle && b < high) {
          scratch[out++] =
              compare(index[a], index[b], primary, secondary) <= 0 ? index[a++] : index[b++];
        }
        while (a < middle) {
          scratch[out++] = index[a++];
        }
        while (b < high) {
          scratch[out++] = index[b++];
        }
        System.arraycopy(scratch, low, index, low, high - low);
      }
    }
    return index;
  }

  private static int compare(int x, int y, long[] primary, long[] secondary) {
    int c = Long.compare(primary[x], primary[y]);
    return c != 0 ? c : Long.compare(secondary[x], secondary[y]);
  }
}
