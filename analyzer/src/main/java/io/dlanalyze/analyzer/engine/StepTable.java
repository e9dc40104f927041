package io.dlanalyze.analyzer.engine;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ColumnType;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.validate.TraceValidator;
import java.util.Arrays;

/**
 * The rows of the current step, scattered into flat primitive arrays indexed by slot = (position +
 * 1) * {@link Phase#COUNT} + phase code, where a layer's position ({@link LayerPositions}) numbers
 * the layers with rows densely; model-level rows take slots 0..COUNT-1. A slot belongs to the
 * current step when its {@code seen} ordinal equals the step's ordinal, so starting a step costs
 * nothing and no array is cleared. When a step is complete, {@link #classify()} sets each present
 * slot's {@link StepView#NON_FINITE}, {@link StepView#ALL_ZERO} and {@link StepView#UNCHANGED} bits
 * once for every detector; only the bits the run's detectors read are computed.
 *
 * <p>Implementation notes: one double array per floating-point statistic and one long array per
 * count, each as long as the slot capacity, grown by doubling when a new layer appears; one int of
 * bits per slot (a column's {@link Column#bit()} when the value is present, the classification
 * bits, and {@link #ROW_BIT}); and, for the unchanged test, each slot's previous row (its compared
 * statistics, step, and whether it was comparable). Every per-slot array grows in {@link #grow}.
 */
final class StepTable implements StepView {
  /** Index of each column among the double statistics, or -1. */
  private static final int[] DOUBLE_INDEX = new int[Column.COUNT];

  /** Index of each column among the long statistics, or -1. */
  private static final int[] LONG_INDEX = new int[Column.COUNT];

  private static final int DOUBLE_COUNT;
  private static final int MEAN_INDEX;
  private static final int STD_INDEX;
  private static final int MIN_INDEX;
  private static final int MAX_INDEX;
  private static final int L2_INDEX;
  private static final int LONG_COUNT;

  /** A compared statistic that is present in both rows and within the tolerance. */
  private static final int SAME = 1;

  /** A compared statistic that is present in both rows and moved beyond the tolerance. */
  private static final int MOVED = 2;

  private static final int MEAN_BIT = Column.MEAN.bit();
  private static final int STD_BIT = Column.STD.bit();
  private static final int MIN_BIT = Column.MIN.bit();
  private static final int MAX_BIT = Column.MAX.bit();
  private static final int L2_BIT = Column.L2_NORM.bit();

  /** Set in every claimed slot's bits, so a slot with a row never has mask 0. */
  static final int ROW_BIT = 1 << 31;

  /** The largest layer index accepted; beyond it a trace is taken as corrupt. */
  static final int MAX_LAYER_INDEX = TraceValidator.MAX_LAYER_INDEX;

  /** Room made up front at most, whatever the metadata lists (4,096 layers: about 7 MB). */
  private static final int MAX_INITIAL_LAYERS = 4096;

  /** The statistics the unchanged test compares, in this order. */
  private static final Column[] COMPARED = {
    Column.MEAN, Column.STD, Column.MIN, Column.MAX, Column.L2_NORM
  };

  static {
    Arrays.fill(DOUBLE_INDEX, -1);
    Arrays.fill(LONG_INDEX, -1);
    int doubles = 0;
    int longs = 0;
    for (Column column : Column.values()) {
      if (column.type() == ColumnType.FLOAT64) {
        DOUBLE_INDEX[column.index()] = doubles++;
      } else if (column.type() == ColumnType.INT64 && column != Column.STEP) {
        LONG_INDEX[column.index()] = longs++;
      }
    }
    DOUBLE_COUNT = doubles;
    MEAN_INDEX = DOUBLE_INDEX[Column.MEAN.index()];
    STD_INDEX = DOUBLE_INDEX[Column.STD.index()];
    MIN_INDEX = DOUBLE_INDEX[Column.MIN.index()];
    MAX_INDEX = DOUBLE_INDEX[Column.MAX.index()];
    L2_INDEX = DOUBLE_INDEX[Column.L2_NORM.index()];
    LONG_COUNT = longs;
  }

  /** True for the statistics a step keeps: the floating-point ones and the counts. */
  static boolean isStatistic(Column column) {
    return DOUBLE_INDEX[column.index()] >= 0 || LONG_INDEX[column.index()] >= 0;
  }

  private final AnalysisContext context;
  private final LayerPositions positions;
  private final double zeroFraction;
  private final double tolerance;

  /** The classification bits to compute ({@link StepView#CLASSIFICATIONS} or fewer). */
  private final int classifications;

  private int capacity;
  private final double[][] doubles = new double[DOUBLE_COUNT][];
  private final long[][] longs = new long[LONG_COUNT][];
  private int[] presentBits;
  private long[] seen;
  private int[] presentSlots;
  private int presentCount;

  /** Per position: the ordinal of the last step that had a row of the layer. */
  private long[] layerSeen;

  /** The layer indexes of this step, in order of their first row; sorted on first read. */
  private int[] presentLayers;

  private int presentLayerCount;
  private boolean presentLayersSorted;

  /** Per slot: the compared statistics of its last row (NaN where absent), COMPARED.length each. */
  private double[] lastStats;

  /** Per slot: the step of its last row, and of the row before (-1 when none). */
  private long[] lastStep;

  private long[] previousStep;

  /** Per slot: whether its last row could be compared (finite mean, not all zero). */
  private boolean[] comparable;

  /**
   * The layout {@link #rememberLayout} kept: the rows' layer indexes and phase codes as read, and
   * the slots they claimed, in row order ({@code layoutSlotCount} of each, -1 when none is kept),
   * and the layers (and their positions) in order of their first row.
   */
  private int[] layoutRowLayers = new int[0];

  private int[] layoutRowPhases = new int[0];
  private int[] layoutSlots = new int[0];

  private int layoutSlotCount = -1;
  private int[] layoutLayers = new int[0];
  private int[] layoutPositions = new int[0];
  private int layoutLayerCount;
  private boolean layoutLayersSorted;

  private long step = -1;
  private long ordinal;
  private int epoch;
  private int batch;

  /**
   * @param expectedLayers how many layers to make room for at once (the layers a trace's metadata
   *     lists, say); more grow the table by doubling
   * @param zeroFraction the share of zeros from which a tensor counts as all zero
   * @param tolerance the relative change up to which a statistic counts as unchanged
   * @param classifications the classification bits {@link #classify()} computes: those the run's
   *     detectors read ({@link io.dlanalyze.analyzer.Detector#classifications()})
   */
  StepTable(
      AnalysisContext context,
      LayerPositions positions,
      int expectedLayers,
      double zeroFraction,
      double tolerance,
      int classifications) {
    this.context = context;
    this.positions = positions;
    this.zeroFraction = zeroFraction;
    this.tolerance = tolerance;
    this.classifications = classifications & CLASSIFICATIONS;
    grow(Math.max(8, Math.min(expectedLayers, MAX_INITIAL_LAYERS)));
  }

  /** The slot of a layer's row: the layer gets a position when it has none. */
  int claimSlot(int layer, int phaseCode) {
    if (layer < 0) {
      return phaseCode;
    }
    int position = positions.assign(layer);
    if (position >= capacity) {
      grow(Math.max(position + 1, 2 * capacity));
    }
    return (position + 1) * Phase.COUNT + phaseCode;
  }

  private void grow(int layers) {
    int slots = (layers + 1) * Phase.COUNT;
    for (int i = 0; i < doubles.length; i++) {
      doubles[i] = grown(doubles[i], slots);
    }
    for (int i = 0; i < longs.length; i++) {
      longs[i] = longs[i] == null ? new long[slots] : Arrays.copyOf(longs[i], slots);
    }
    presentBits = presentBits == null ? new int[slots] : Arrays.copyOf(presentBits, slots);
    seen = grown(seen, slots, 0);
    presentSlots = presentSlots == null ? new int[slots] : Arrays.copyOf(presentSlots, slots);
    layerSeen = grown(layerSeen, layers, 0);
    presentLayers = presentLayers == null ? new int[layers] : Arrays.copyOf(presentLayers, layers);
    lastStats = grown(lastStats, slots * COMPARED.length);
    lastStep = grown(lastStep, slots, -1);
    previousStep = grown(previousStep, slots, -1);
    comparable = comparable == null ? new boolean[slots] : Arrays.copyOf(comparable, slots);
    capacity = layers;
  }

  private static double[] grown(double[] array, int size) {
    return array == null ? new double[size] : Arrays.copyOf(array, size);
  }

  private static long[] grown(long[] array, int size, long fill) {
    int old = array == null ? 0 : array.length;
    long[] grown = array == null ? new long[size] : Arrays.copyOf(array, size);
    Arrays.fill(grown, old, size, fill);
    return grown;
  }

  /** Starts the next step; its ordinal is one more than the previous one's. */
  void begin(long step, int epoch, int batch) {
    this.step = step;
    this.epoch = epoch;
    this.batch = batch;
    this.ordinal++;
    this.presentCount = 0;
    this.presentLayerCount = 0;
    this.presentLayersSorted = true;
  }

  /**
   * Claims a slot for a row of the current step and marks the given columns present in it (those
   * the row has a value of for certain; others are marked as they are scattered).
   *
   * @return true when the slot was new in this step, false for a duplicate row
   */
  boolean claim(int slot, int columnBits) {
    if (seen[slot] == ordinal) {
      presentBits[slot] |= columnBits;
      return false;
    }
    seen[slot] = ordinal;
    presentBits[slot] = ROW_BIT | columnBits;
    presentSlots[presentCount++] = slot;
    int position = slot / Phase.COUNT - 1;
    if (position >= 0 && layerSeen[position] != ordinal) {
      layerSeen[position] = ordinal;
      int layer = positions.index(position);
      if (presentLayerCount > 0 && presentLayers[presentLayerCount - 1] > layer) {
        presentLayersSorted = false;
      }
      presentLayers[presentLayerCount++] = layer;
    }
    return true;
  }

  /**
   * Keeps the current step's claims as a layout to {@link #replay}, with the rows [from, to) that
   * made them (their layer indexes and phase codes as read): call only when those rows are all the
   * step has, each claimed a new slot and nothing was learnt about a layer from them.
   */
  void rememberLayout(int[] layerIndex, int[] phase, int from, int to) {
    int rows = to - from;
    if (layoutSlots.length < rows) {
      layoutRowLayers = new int[rows];
      layoutRowPhases = new int[rows];
      layoutSlots = new int[rows];
    }
    if (layoutLayers.length < presentLayerCount) {
      layoutLayers = new int[presentLayerCount];
      layoutPositions = new int[presentLayerCount];
    }
    layoutSlotCount = rows;
    layoutLayerCount = presentLayerCount;
    System.arraycopy(layerIndex, from, layoutRowLayers, 0, rows);
    System.arraycopy(phase, from, layoutRowPhases, 0, rows);
    System.arraycopy(presentSlots, 0, layoutSlots, 0, rows);
    System.arraycopy(presentLayers, 0, layoutLayers, 0, presentLayerCount);
    for (int i = 0; i < presentLayerCount; i++) {
      layoutPositions[i] = positions.of(layoutLayers[i]);
    }
    layoutLayersSorted = presentLayersSorted;
  }

  /** Keeps no layout: the next step's rows are claimed one by one. */
  void forgetLayout() {
    layoutSlotCount = -1;
  }

  /**
   * Claims the remembered layout's slots for the current step when it has no rows yet and its rows
   * [from, to) are the layout's rows, as {@link #claim} would for them one by one, and writes each
   * row's slot to {@code rowSlots}.
   *
   * @return false, claiming nothing, when the step already has rows or its rows differ
   */
  boolean replay(int[] layerIndex, int[] phase, int from, int to, int[] rowSlots, int columnBits) {
    if (presentCount != 0
        || to - from != layoutSlotCount
        || !Arrays.equals(layerIndex, from, to, layoutRowLayers, 0, layoutSlotCount)
        || !Arrays.equals(phase, from, to, layoutRowPhases, 0, layoutSlotCount)) {
      return false;
    }
    int bits = ROW_BIT | columnBits;
    for (int i = 0; i < layoutSlotCount; i++) {
      int slot = layoutSlots[i];
      seen[slot] = ordinal;
      presentBits[slot] = bits;
      rowSlots[from + i] = slot;
    }
    System.arraycopy(layoutSlots, 0, presentSlots, 0, layoutSlotCount);
    presentCount = layoutSlotCount;
    for (int i = 0; i < layoutLayerCount; i++) {
      layerSeen[layoutPositions[i]] = ordinal;
    }
    System.arraycopy(layoutLayers, 0, presentLayers, 0, layoutLayerCount);
    presentLayerCount = layoutLayerCount;
    presentLayersSorted = layoutLayersSorted;
    return true;
  }

  /**
   * Sets the classification bits of every slot of the completed step, and remembers its rows for
   * the next comparison.
   *
   * <ul>
   *   <li>{@link StepView#NON_FINITE}: the mean, or a present min or max, is NaN or Inf, or a
   *       present nan_count or inf_count is positive;
   *   <li>{@link StepView#ALL_ZERO}: zero_fraction at or above the zero-fraction threshold, or,
   *       without zero_fraction, a zero mean and zero std, min, max and l2_norm where present;
   *   <li>{@link StepView#UNCHANGED} (layers only): this row and the slot's previous row are both
   *       comparable (finite mean, not all zero), at least one statistic of mean, std, min, max and
   *       l2_norm is in both, and none moved by more than the tolerance times its scale (max(|a|,
   *       |b|); for the mean also the std). The mean of a softmax output (the layer's activation or
   *       type says so, or a forward or activation mean that is 1/K for an integer K both times) is
   *       constant by construction and not compared.
   * </ul>
   *
   * <p>Only the bits given at construction are computed, with {@link StepView#ALL_ZERO} also when
   * {@link StepView#UNCHANGED} is asked for (an all-zero row is not comparable); each slot's
   * previous step is kept in any case. Without {@link StepView#UNCHANGED} no row is remembered.
   */
  void classify() {
    boolean nonFinite = (classifications & NON_FINITE) != 0;
    boolean compare = (classifications & UNCHANGED) != 0;
    boolean zeros = compare || (classifications & ALL_ZERO) != 0;
    double[] mean = doubles[DOUBLE_INDEX[Column.MEAN.index()]];
    double[] min = doubles[DOUBLE_INDEX[Column.MIN.index()]];
    double[] max = doubles[DOUBLE_INDEX[Column.MAX.index()]];
    double[] zero = doubles[DOUBLE_INDEX[Column.ZERO_FRACTION.index()]];
    long[] nan = longs[LONG_INDEX[Column.NAN_COUNT.index()]];
    long[] inf = longs[LONG_INDEX[Column.INF_COUNT.index()]];
    for (int i = 0; i < presentCount; i++) {
      int slot = presentSlots[i];
      int mask = presentBits[slot];
      if (nonFinite
          && (!Double.isFinite(mean[slot])
              || ((mask & Column.MIN.bit()) != 0 && !Double.isFinite(min[slot]))
              || ((mask & Column.MAX.bit()) != 0 && !Double.isFinite(max[slot]))
              || ((mask & Column.NAN_COUNT.bit()) != 0 && nan[slot] > 0)
              || ((mask & Column.INF_COUNT.bit()) != 0 && inf[slot] > 0))) {
        mask |= NON_FINITE;
      }
      boolean allZero =
          zeros
              && ((mask & Column.ZERO_FRACTION.bit()) != 0
                  ? zero[slot] >= zeroFraction
                  : mean[slot] == 0 && zeroWherePresent(mask, slot));
      if (allZero) {
        mask |= ALL_ZERO;
      }
      previousStep[slot] = lastStep[slot];
      lastStep[slot] = step;
      if (compare && slot >= Phase.COUNT) {
        boolean usable = Double.isFinite(mean[slot]) && !allZero;
        if (compareAndRemember(mask, slot, usable && comparable[slot])) {
          mask |= UNCHANGED;
        }
        comparable[slot] = usable;
      }
      presentBits[slot] = mask;
    }
  }

  private boolean zeroWherePresent(int mask, int slot) {
    for (int k = 1; k < COMPARED.length; k++) {
      Column column = COMPARED[k];
      if ((mask & column.bit()) != 0 && doubles[DOUBLE_INDEX[column.index()]][slot] != 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * Compares a layer slot's row with the slot's previous one (when {@code check}) and remembers it
   * for the next comparison, in one pass over the {@link #COMPARED} statistics.
   *
   * @return true when at least one statistic is in both rows and none moved by more than the
   *     tolerance times its scale (max(|a|, |b|); for the mean also the std); a softmax output's
   *     mean is not compared
   */
  private boolean compareAndRemember(int mask, int slot, boolean check) {
    int base = slot * COMPARED.length;
    double std = (mask & STD_BIT) != 0 ? doubles[STD_INDEX][slot] : Double.NaN;
    double mean = (mask & MEAN_BIT) != 0 ? doubles[MEAN_INDEX][slot] : Double.NaN;
    double meanBefore = lastStats[base];
    lastStats[base] = mean;
    int outcome = 0;
    if (check
        && !Double.isNaN(meanBefore)
        && !Double.isNaN(mean)
        && !(output(slot)
            && (softmaxOutput(slot) || (meanBefore == mean && isReciprocalOfInteger(mean))))) {
      double scale = Math.max(Math.abs(meanBefore), Math.abs(mean));
      if (!Double.isNaN(std)) {
        scale = Math.max(scale, Math.abs(std));
      }
      outcome = Math.abs(mean - meanBefore) > tolerance * scale ? MOVED : SAME;
    }
    outcome |= remember(base + 1, std, check);
    outcome |=
        remember(base + 2, (mask & MIN_BIT) != 0 ? doubles[MIN_INDEX][slot] : Double.NaN, check);
    outcome |=
        remember(base + 3, (mask & MAX_BIT) != 0 ? doubles[MAX_INDEX][slot] : Double.NaN, check);
    outcome |=
        remember(base + 4, (mask & L2_BIT) != 0 ? doubles[L2_INDEX][slot] : Double.NaN, check);
    return outcome == SAME;
  }

  /** Remembers one compared statistic and says how it moved since the last row ({@code check}). */
  private int remember(int at, double now, boolean check) {
    double before = lastStats[at];
    lastStats[at] = now;
    if (!check || Double.isNaN(before) || Double.isNaN(now)) {
      return 0;
    }
    return Math.abs(now - before) > tolerance * Math.max(Math.abs(before), Math.abs(now))
        ? MOVED
        : SAME;
  }

  private boolean softmaxOutput(int slot) {
    return output(slot) && context.layer(positions.index(slot / Phase.COUNT - 1)).isSoftmax();
  }

  /** True for a layer's output rows (forward, activation), which a softmax can make. */
  private static boolean output(int slot) {
    int code = slot % Phase.COUNT;
    return code == Phase.FORWARD.code() || code == Phase.ACTIVATION.code();
  }

  /** True when {@code mean} is 1/K for an integer K >= 2: a softmax output's mean. */
  static boolean isReciprocalOfInteger(double mean) {
    if (!(mean > 0 && mean <= 0.5)) {
      return false;
    }
    double k = Math.rint(1 / mean);
    return Math.abs(mean * k - 1) <= 1e-9;
  }

  int[] presentBits() {
    return presentBits;
  }

  /** The slot of a layer index that has a position, or -1. */
  private int slotOf(int layer, int phaseCode) {
    if (layer < 0) {
      return layer == -1 ? phaseCode : -1;
    }
    int position = positions.of(layer);
    return position < 0 ? -1 : (position + 1) * Phase.COUNT + phaseCode;
  }

  @Override
  public AnalysisContext context() {
    return context;
  }

  @Override
  public long step() {
    return step;
  }

  @Override
  public long ordinal() {
    return ordinal;
  }

  @Override
  public int epoch() {
    return epoch;
  }

  @Override
  public int batch() {
    return batch;
  }

  @Override
  public int layerCount() {
    return context.layerCount();
  }

  @Override
  public Layer layer(int index) {
    return context.layer(index);
  }

  @Override
  public int slot(int layer, Phase phase) {
    return slotOf(layer, phase.code());
  }

  /** True when some step so far had a row of the slot. */
  boolean everSeen(int slot) {
    return slot >= 0 && slot < seen.length && seen[slot] > 0;
  }

  @Override
  public int presentLayerCount() {
    return presentLayerCount;
  }

  @Override
  public int presentLayer(int i) {
    if (!presentLayersSorted) {
      Arrays.sort(presentLayers, 0, presentLayerCount);
      presentLayersSorted = true;
    }
    return presentLayers[i];
  }

  @Override
  public int presentSlotCount() {
    return presentCount;
  }

  @Override
  public int presentSlot(int i) {
    return presentSlots[i];
  }

  @Override
  public boolean has(int layer, Phase phase) {
    int slot = slotOf(layer, phase.code());
    return slot >= 0 && seen[slot] == ordinal;
  }

  @Override
  public boolean present(int layer, Phase phase, Column column) {
    int slot = slotOf(layer, phase.code());
    return slot >= 0 && seen[slot] == ordinal && (presentBits[slot] & column.bit()) != 0;
  }

  @Override
  public double value(int layer, Phase phase, Column column) {
    int index = DOUBLE_INDEX[column.index()];
    if (index < 0) {
      throw new IllegalArgumentException("not a floating-point statistic: " + column.wireName());
    }
    return present(layer, phase, column) ? doubles[index][slotOf(layer, phase.code())] : Double.NaN;
  }

  @Override
  public long count(int layer, Phase phase, Column column) {
    int index = LONG_INDEX[column.index()];
    if (index < 0) {
      throw new IllegalArgumentException("not a count statistic: " + column.wireName());
    }
    return present(layer, phase, column) ? longs[index][slotOf(layer, phase.code())] : -1;
  }

  @Override
  public int presentMask(int slot) {
    return slot >= 0 && slot < seen.length && seen[slot] == ordinal ? presentBits[slot] : 0;
  }

  @Override
  public long previousStep(int slot) {
    return slot >= 0 && slot < previousStep.length ? previousStep[slot] : -1;
  }

  @Override
  public double[] doubles(Column column) {
    int index = DOUBLE_INDEX[column.index()];
    if (index < 0) {
      throw new IllegalArgumentException("not a floating-point statistic: " + column.wireName());
    }
    return doubles[index];
  }

  @Override
  public long[] longs(Column column) {
    int index = LONG_INDEX[column.index()];
    if (index < 0) {
      throw new IllegalArgumentException("not a count statistic: " + column.wireName());
    }
    return longs[index];
  }
}
