package io.dlanalyze.trace.tensorboard;

/**
 * The rows of a TensorBoard run in trace order, column by column. Scalar rows carry only {@code
 * mean}; histogram rows also std, min, max, l2_norm and (when the count is known) numel. The string
 * columns hold ids of the reader's dictionary (layer type -1 for null).
 */
final class RunTable {
  final int size;
  final long[] step;
  final int[] epoch;
  final int[] batch;
  final int[] layerIndex;
  final int[] layerName;
  final int[] layerType;
  final int[] phase;
  final double[] mean;
  final double[] std;
  final double[] min;
  final double[] max;
  final double[] l2;
  final long[] numel;
  final boolean[] hasStats;
  final boolean[] hasNumel;

  RunTable(int size) {
    this.size = size;
    step = new long[size];
    epoch = new int[size];
    batch = new int[size];
    layerIndex = new int[size];
    layerName = new int[size];
    layerType = new int[size];
    phase = new int[size];
    mean = new double[size];
    std = new double[size];
    min = new double[size];
    max = new double[size];
    l2 = new double[size];
    numel = new long[size];
    hasStats = new boolean[size];
    hasNumel = new boolean[size];
  }
}
