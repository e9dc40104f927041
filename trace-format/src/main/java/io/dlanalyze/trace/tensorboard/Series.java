package io.dlanalyze.trace.tensorboard;

import io.dlanalyze.trace.tensorboard.TagMapping.Mapped;
import java.util.Arrays;
import java.util.BitSet;

/**
 * The values of one tag of a run, as read: for each, its TensorBoard step, the file it came from,
 * its position in the run ({@code seq}, increasing in reading order) and its numbers (a scalar's
 * value, or a histogram's five moments). Primitive arrays that double as they fill: about 28 bytes
 * per scalar and 60 per histogram.
 */
final class Series {
  final String tag;
  final boolean validation;
  final boolean histogram;
  final Mapped mapped;
  final long firstSeq;
  final BitSet files = new BitSet();

  /** True when some value's moments were estimated from buckets. */
  boolean estimated;

  int size;
  long[] steps = new long[8];
  long[] seqs = new long[8];
  int[] fileOf = new int[8];
  double[][] values;

  /** Values that could not be placed on the trace's steps. */
  long dropped;

  /** Where each value lands in the trace (-1: not placed), filled by {@link RunBuilder}. */
  long[] placed = new long[0];

  Series(String tag, boolean validation, boolean histogram, Mapped mapped, long firstSeq) {
    this.tag = tag;
    this.validation = validation;
    this.histogram = histogram;
    this.mapped = mapped;
    this.firstSeq = firstSeq;
    int columns = histogram ? TensorValues.MOMENTS : 1;
    this.values = new double[columns][8];
  }

  void add(long step, long seq, int file, double[] numbers) {
    if (size == steps.length) {
      int grown = size * 2;
      steps = Arrays.copyOf(steps, grown);
      seqs = Arrays.copyOf(seqs, grown);
      fileOf = Arrays.copyOf(fileOf, grown);
      for (int c = 0; c < values.length; c++) {
        values[c] = Arrays.copyOf(values[c], grown);
      }
    }
    steps[size] = step;
    seqs[size] = seq;
    fileOf[size] = file;
    for (int c = 0; c < values.length; c++) {
      values[c][size] = numbers[c];
    }
    files.set(file);
    size++;
  }

  /** A scalar value, or a histogram's moment {@code column}. */
  double value(int column, int index) {
    return values[column][index];
  }

  /** The number of values placed in the trace. */
  int placedCount() {
    int n = 0;
    for (int i = 0; i < size; i++) {
      if (placed[i] >= 0) {
        n++;
      }
    }
    return n;
  }
}
