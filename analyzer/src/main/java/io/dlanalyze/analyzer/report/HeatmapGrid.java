package io.dlanalyze.analyzer.report;

import io.dlanalyze.trace.Phase;
import java.util.Arrays;

/**
 * A layer x step grid of one phase, downsampled: each cell covers {@code layersPerRow} consecutive
 * layers and {@code stepsPerColumn} consecutive steps, and keeps the largest log10 |mean| seen in
 * it plus flags for "a NaN/Inf was seen" and "rows were all zero". Primitive arrays only.
 *
 * <p>A row is all zero when its zero_fraction is 1, or, when the trace has no zero_fraction, when
 * its mean is 0 and its std is 0 or missing. A row is non-finite when its mean is NaN/Inf or its
 * nan_count or inf_count is positive.
 */
final class HeatmapGrid {
  static final byte ROWS = 1;
  static final byte NON_FINITE = 2;
  static final byte ZERO = 4;
  static final byte NON_ZERO = 8;

  /** What a cell shows. */
  enum Cell {
    NO_DATA,
    NON_FINITE,
    ALL_ZERO,
    /** Rows whose mean is exactly 0 (not all-zero tensors) or missing: the bottom of the scale. */
    FLOOR,
    VALUE
  }

  private final Phase phase;
  private final int layers;
  private final int layersPerRow;
  private final int rows;
  private final long firstStep;
  private final long stepsPerColumn;
  private final int columns;
  private final float[] maxLog;
  private final byte[] flags;

  HeatmapGrid(Phase phase, int layers, int maxRows, long firstStep, long lastStep, int maxColumns) {
    this.phase = phase;
    this.layers = layers;
    this.layersPerRow = Math.max(1, (layers + maxRows - 1) / maxRows);
    this.rows = Math.max(1, (layers + layersPerRow - 1) / layersPerRow);
    this.firstStep = firstStep;
    this.stepsPerColumn = TraceCharts.bucketWidth(firstStep, lastStep, maxColumns);
    this.columns = Math.max(1, TraceCharts.bucketCount(firstStep, lastStep, stepsPerColumn));
    this.maxLog = new float[rows * columns];
    Arrays.fill(maxLog, Float.NaN);
    this.flags = new byte[rows * columns];
  }

  /** Adds one trace row of layer {@code layer} at {@code step}; see the class comment. */
  void add(
      int layer,
      long step,
      boolean meanPresent,
      double mean,
      boolean zeroFractionPresent,
      double zeroFraction,
      boolean stdPresent,
      double std,
      long nonFiniteCount) {
    int cell = (layer / layersPerRow) * columns + (int) ((step - firstStep) / stepsPerColumn);
    flags[cell] |= ROWS;
    if ((meanPresent && !Double.isFinite(mean)) || nonFiniteCount > 0) {
      flags[cell] |= NON_FINITE;
      return;
    }
    boolean zero =
        zeroFractionPresent
            ? zeroFraction >= 1
            : meanPresent && mean == 0 && (!stdPresent || std == 0);
    if (zero) {
      flags[cell] |= ZERO;
      return;
    }
    flags[cell] |= NON_ZERO;
    if (meanPresent && mean != 0) {
      float log = (float) Math.log10(Math.abs(mean));
      if (Float.isNaN(maxLog[cell]) || log > maxLog[cell]) {
        maxLog[cell] = log;
      }
    }
  }

  Phase phase() {
    return phase;
  }

  int layers() {
    return layers;
  }

  int layersPerRow() {
    return layersPerRow;
  }

  int rows() {
    return rows;
  }

  int columns() {
    return columns;
  }

  long firstStep() {
    return firstStep;
  }

  long stepsPerColumn() {
    return stepsPerColumn;
  }

  Cell cell(int row, int column) {
    int i = row * columns + column;
    byte f = flags[i];
    if ((f & ROWS) == 0) {
      return Cell.NO_DATA;
    }
    if ((f & NON_FINITE) != 0) {
      return Cell.NON_FINITE;
    }
    if ((f & ZERO) != 0 && (f & NON_ZERO) == 0) {
      return Cell.ALL_ZERO;
    }
    return Float.isNaN(maxLog[i]) ? Cell.FLOOR : Cell.VALUE;
  }

  /** The largest log10 |mean| of a {@link Cell#VALUE} cell. */
  float log(int row, int column) {
    return maxLog[row * columns + column];
  }

  /** True when some cell holds a row. */
  boolean hasData() {
    for (byte f : flags) {
      if (f != 0) {
        return true;
      }
    }
    return false;
  }

  /** The first column holding a non-finite cell in a row, or -1. */
  int firstNonFiniteColumn(int row) {
    for (int c = 0; c < columns; c++) {
      if ((flags[row * columns + c] & NON_FINITE) != 0) {
        return c;
      }
    }
    return -1;
  }
}
