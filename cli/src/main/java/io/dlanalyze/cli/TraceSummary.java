package io.dlanalyze.cli;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.validate.TraceValidator;
import java.util.Arrays;

/**
 * What {@code inspect} tells about a trace, gathered in one streaming pass: row, step and epoch
 * counts, the layers seen in the data and the rows per phase.
 *
 * <p>Steps and epochs are counted as changes of value from row to row, which is the number of
 * distinct values in a trace that follows the contract's row order.
 */
final class TraceSummary {
  long rows;
  long steps;
  long minStep = Long.MAX_VALUE;
  long maxStep = Long.MIN_VALUE;
  long epochs;
  int minEpoch = Integer.MAX_VALUE;
  int maxEpoch = Integer.MIN_VALUE;
  private long lastStep;
  private int lastEpoch;

  /** Rows per phase code. */
  long[] phaseRows = new long[0];

  /** By layer_index + 1: the first name id seen, the first non-null type id, the row count. */
  int[] layerName = new int[0];

  int[] layerType = new int[0];
  long[] layerRows = new long[0];

  void accept(TraceBatch batch) {
    int n = batch.size();
    long[] step = batch.longs(Column.STEP);
    int[] epoch = batch.ints(Column.EPOCH);
    int[] phase = batch.ints(Column.PHASE);
    int[] index = batch.ints(Column.LAYER_INDEX);
    int[] name = batch.ints(Column.LAYER_NAME);
    int[] type = batch.ints(Column.LAYER_TYPE);
    boolean typeNulls = batch.hasNulls(Column.LAYER_TYPE);
    for (int i = 0; i < n; i++) {
      long s = step[i];
      if (rows + i == 0 || s != lastStep) {
        steps++;
        lastStep = s;
      }
      minStep = Math.min(minStep, s);
      maxStep = Math.max(maxStep, s);
      int e = epoch[i];
      if (rows + i == 0 || e != lastEpoch) {
        epochs++;
        lastEpoch = e;
      }
      minEpoch = Math.min(minEpoch, e);
      maxEpoch = Math.max(maxEpoch, e);
      int code = phase[i];
      if (code >= phaseRows.length) {
        phaseRows = Arrays.copyOf(phaseRows, Math.max(code + 1, phaseRows.length * 2));
      }
      phaseRows[code]++;
      int slot = index[i] + 1;
      if (slot < 0 || slot > TraceValidator.MAX_LAYER_INDEX + 1) {
        // outside the contract's range: the validator reports it, and no table is sized by it
        continue;
      }
      if (slot >= layerRows.length) {
        int size = Math.max(slot + 1, layerRows.length * 2);
        int old = layerRows.length;
        layerRows = Arrays.copyOf(layerRows, size);
        layerName = Arrays.copyOf(layerName, size);
        layerType = Arrays.copyOf(layerType, size);
        Arrays.fill(layerName, old, size, -1);
        Arrays.fill(layerType, old, size, -1);
      }
      if (layerRows[slot]++ == 0) {
        layerName[slot] = name[i];
      }
      if (layerType[slot] < 0
          && type[i] >= 0
          && !(typeNulls && batch.isNull(Column.LAYER_TYPE, i))) {
        layerType[slot] = type[i];
      }
    }
    rows += n;
  }
}
