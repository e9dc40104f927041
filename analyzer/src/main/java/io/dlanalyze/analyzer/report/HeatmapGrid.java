package io.dlanalyze.analyzer.report;

import io.dlanalyze.trace.Phase;
import java.util.Arrays;

/**
 * A layer x step grid of one statistic of one phase, downsampled: each cell covers {@code
 * layersPerRow} consecutive layers and {@code stepsPerColumn} consecutive steps, and keeps the
 * largest value of its {@link Metric} seen in it plus flags for "a NaN/Inf was seen" and "rows were
 * all zero". Primitive arrays only.
 *
 * <p>For {@link Metric#LOG_MEAN}: a row is all zero when its zero_fraction is 1, or, when the trace
 * has no zero_fraction, when its mean is 0 and its std is 0 or missing; a row is non-finite when
 * its mean is NaN/Inf or its nan_count or inf_count is positive. {@link Metric#LOG_L2} and {@link
 * Metric#LOG_STD}: 0 is all zero, a NaN/Inf value or count non-finite. {@link
 * Metric#ZERO_FRACTION}: the value itself (0 to 1), never flagged. {@link Metric#NON_FINITE}: log10
 * of nan_count + inf_count; rows with none are {@link Cell#CLEAR}.
 */
final class HeatmapGrid {
  static final byte ROWS = 1;
  static final byte NON_FINITE = 2;
  static final byte ZERO = 4;
  static final byte NON_ZERO = 8;

  /** The statistic a grid shows. */
  enum Metric {
    LOG_MEAN("log10 |mean|", "log10 |mean|"),
    ZERO_FRACTION("zero_fraction", "zero_fraction"),
    LOG_L2("log10 l2_norm", "l2_norm (log scale)"),
    NON_FINITE("log10 (nan_count + inf_count)", "NaN/Inf count (log scale)"),
    LOG_STD("log10 std", "std (log scale)");

    private final String scaleLabel;
    private final String title;

    Metric(String scaleLabel, String title) {
      this.scaleLabel = scaleLabel;
      this.title = title;
    }

    /** The colour scale's label. */
    String scaleLabel() {
      return scaleLabel;
    }

    /** The statistic as a heatmap title says it. */
    String title() {
      return title;
    }
  }

  /** What a cell shows. */
  enum Cell {
    NO_DATA,
    NON_FINITE,
    ALL_ZERO,
    /** Rows whose mean is exactly 0 (not all-zero tensors) or missing: the bottom of the scale. */
    FLOOR,
    /** Rows with no NaN/Inf at all ({@link Metric#NON_FINITE} only). */
    CLEAR,
    VALUE
  }

  private final Phase phase;
  private final Metric metric;
  private final int layers;
  private final int layersPerRow;
  private final int rows;
  private final long firstStep;
  private final long stepsPerColumn;
  private final int columns;
  private final float[] maxValue;
  private final byte[] flags;

  HeatmapGrid(Phase phase, int layers, int maxRows, long firstStep, long lastStep, int maxColumns) {
    this(phase, Metric.LOG_MEAN, layers, maxRows, firstStep, lastStep, maxColumns);
  }

  HeatmapGrid(
      Phase phase,
      Metric metric,
      int layers,
      int maxRows,
      long firstStep,
      long lastStep,
      int maxColumns) {
    this.phase = phase;
    this.metric = metric;
    this.layers = layers;
    this.layersPerRow = Math.max(1, (layers + maxRows - 1) / maxRows);
    this.rows = Math.max(1, (layers + layersPerRow - 1) / layersPerRow);
    this.firstStep = firstStep;
    this.stepsPerColumn = TraceCharts.bucketWidth(firstStep, lastStep, maxColumns);
    this.columns = Math.max(1, TraceCharts.bucketCount(firstStep, lastStep, stepsPerColumn));
    this.maxValue = new float[rows * columns];
    Arrays.fill(maxValue, Float.NaN);
    this.flags = new byte[rows * columns];
  }

  /** Adds one trace row of layer {@code layer} at {@code step} (log|mean| grids). */
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
    add(
        layer,
        step,
        meanPresent,
        mean,
        zeroFractionPresent,
        zeroFraction,
        stdPresent,
        std,
        false,
        0,
        nonFiniteCount);
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
      boolean l2Present,
      double l2,
      long nonFiniteCount) {
    int cell = (layer / layersPerRow) * columns + (int) ((step - firstStep) / stepsPerColumn);
    flags[cell] |= ROWS;
    switch (metric) {
      case LOG_MEAN ->
          addLogMean(
              cell,
              meanPresent,
              mean,
              zeroFractionPresent,
              zeroFraction,
              stdPresent,
              std,
              nonFiniteCount);
      case ZERO_FRACTION -> {
        if (zeroFractionPresent && Double.isFinite(zeroFraction)) {
          keep(cell, (float) zeroFraction);
        }
      }
      case NON_FINITE -> {
        if (nonFiniteCount > 0) {
          flags[cell] |= NON_FINITE;
          keep(cell, (float) Math.log10((double) nonFiniteCount));
        }
      }
      case LOG_L2 -> addLog(cell, l2Present, l2, nonFiniteCount);
      case LOG_STD -> addLog(cell, stdPresent, std, nonFiniteCount);
    }
  }

  private void addLogMean(
      int cell,
      boolean meanPresent,
      double mean,
      boolean zeroFractionPresent,
      double zeroFraction,
      boolean stdPresent,
      double std,
      long nonFiniteCount) {
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
      keep(cell, (float) Math.log10(Math.abs(mean)));
    }
  }

  private void addLog(int cell, boolean present, double value, long nonFiniteCount) {
    if (!present) {
      return;
    }
    if (!Double.isFinite(value) || nonFiniteCount > 0) {
      flags[cell] |= NON_FINITE;
      return;
    }
    if (value == 0) {
      flags[cell] |= ZERO;
      return;
    }
    flags[cell] |= NON_ZERO;
    keep(cell, (float) Math.log10(Math.abs(value)));
  }

  private void keep(int cell, float value) {
    if (Float.isNaN(maxValue[cell]) || value > maxValue[cell]) {
      maxValue[cell] = value;
    }
  }

  Phase phase() {
    return phase;
  }

  Metric metric() {
    return metric;
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
    if (metric == Metric.ZERO_FRACTION) {
      return Float.isNaN(maxValue[i]) ? Cell.FLOOR : Cell.VALUE;
    }
    if (metric == Metric.NON_FINITE) {
      return Float.isNaN(maxValue[i]) ? Cell.CLEAR : Cell.VALUE;
    }
    if ((f & NON_FINITE) != 0) {
      return Cell.NON_FINITE;
    }
    if ((f & ZERO) != 0 && (f & NON_ZERO) == 0) {
      return Cell.ALL_ZERO;
    }
    return Float.isNaN(maxValue[i]) ? Cell.FLOOR : Cell.VALUE;
  }

  /** The largest value of a {@link Cell#VALUE} cell (a log10 for the log metrics). */
  float log(int row, int column) {
    return maxValue[row * columns + column];
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

  /** True when some cell saw a NaN/Inf value or count. */
  boolean hasNonFinite() {
    for (byte f : flags) {
      if ((f & NON_FINITE) != 0) {
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
