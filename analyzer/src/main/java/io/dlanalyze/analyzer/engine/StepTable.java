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
 * The rows of the current step, scattered into flat primitive arrays indexed by slot = (layer_index
 * + 1) * {@link Phase#COUNT} + phase code, so model-level rows (layer -1) take slots 0..COUNT-1. A
 * slot belongs to the current step when its {@code seen} ordinal equals the step's ordinal, so
 * starting a step costs nothing and no array is cleared.
 *
 * <p>Implementation notes: one double array per floating-point statistic and one long array per
 * count, each as long as the slot capacity, grown by doubling when a larger layer index appears;
 * one int of null bits per slot (bit = column ordinal, set when the value is present).
 */
final class StepTable implements StepView {
  /** Index of each column among the double statistics, or -1. */
  static final int[] DOUBLE_INDEX = new int[Column.COUNT];

  /** Index of each column among the long statistics, or -1. */
  static final int[] LONG_INDEX = new int[Column.COUNT];

  static final Column[] DOUBLE_COLUMNS;
  static final Column[] LONG_COLUMNS;

  /** Set in every claimed slot's bits, so a slot with a row never has mask 0. */
  static final int ROW_BIT = 1 << 31;

  /** The largest layer index accepted; beyond it a trace is taken as corrupt. */
  static final int MAX_LAYER_INDEX = TraceValidator.MAX_LAYER_INDEX;

  static {
    Arrays.fill(DOUBLE_INDEX, -1);
    Arrays.fill(LONG_INDEX, -1);
    int doubles = 0;
    int longs = 0;
    Column[] d = new Column[Column.COUNT];
    Column[] l = new Column[Column.COUNT];
    for (Column column : Column.values()) {
      if (column.type() == ColumnType.FLOAT64) {
        DOUBLE_INDEX[column.index()] = doubles;
        d[doubles++] = column;
      } else if (column.type() == ColumnType.INT64 && column != Column.STEP) {
        LONG_INDEX[column.index()] = longs;
        l[longs++] = column;
      }
    }
    DOUBLE_COLUMNS = Arrays.copyOf(d, doubles);
    LONG_COLUMNS = Arrays.copyOf(l, longs);
  }

  private final AnalysisContext context;
  private int layerCapacity;
  private double[][] doubles = new double[DOUBLE_COLUMNS.length][];
  private long[][] longs = new long[LONG_COLUMNS.length][];
  private int[] presentBits;
  private long[] seen;
  private int[] presentSlots;
  private int presentCount;

  /** Per layer: the ordinal of the last step that had a row of it. */
  private long[] layerSeen;

  /** The layers of this step, in order of their first row; sorted on first read. */
  private int[] presentLayers;

  private int presentLayerCount;
  private boolean presentLayersSorted;

  private long step = -1;
  private long ordinal;
  private int epoch;
  private int batch;

  StepTable(AnalysisContext context, int initialLayers) {
    this.context = context;
    this.layerCapacity = 0;
    grow(Math.max(1, initialLayers));
  }

  static int slot(int layer, int phaseCode) {
    return (layer + 1) * Phase.COUNT + phaseCode;
  }

  /** Makes room for layer indexes up to {@code layer}. */
  void ensureLayer(int layer) {
    if (layer >= layerCapacity) {
      grow(Math.max(layer + 1, layerCapacity * 2));
    }
  }

  private void grow(int layers) {
    int slots = (layers + 1) * Phase.COUNT;
    for (int i = 0; i < doubles.length; i++) {
      doubles[i] = doubles[i] == null ? new double[slots] : Arrays.copyOf(doubles[i], slots);
    }
    for (int i = 0; i < longs.length; i++) {
      longs[i] = longs[i] == null ? new long[slots] : Arrays.copyOf(longs[i], slots);
    }
    presentBits = presentBits == null ? new int[slots] : Arrays.copyOf(presentBits, slots);
    seen = seen == null ? new long[slots] : Arrays.copyOf(seen, slots);
    presentSlots = presentSlots == null ? new int[slots] : Arrays.copyOf(presentSlots, slots);
    layerSeen = layerSeen == null ? new long[layers] : Arrays.copyOf(layerSeen, layers);
    presentLayers = presentLayers == null ? new int[layers] : Arrays.copyOf(presentLayers, layers);
    layerCapacity = layers;
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
   * Claims a slot for a row of the current step.
   *
   * @return true when the slot was new in this step, false for a duplicate row
   */
  boolean claim(int slot) {
    if (seen[slot] == ordinal) {
      return false;
    }
    seen[slot] = ordinal;
    presentBits[slot] = ROW_BIT;
    presentSlots[presentCount++] = slot;
    int layer = slot / Phase.COUNT - 1;
    if (layer >= 0 && layerSeen[layer] != ordinal) {
      layerSeen[layer] = ordinal;
      if (presentLayerCount > 0 && presentLayers[presentLayerCount - 1] > layer) {
        presentLayersSorted = false;
      }
      presentLayers[presentLayerCount++] = layer;
    }
    return true;
  }

  double[] doubles(int statIndex) {
    return doubles[statIndex];
  }

  long[] longs(int statIndex) {
    return longs[statIndex];
  }

  int[] presentBits() {
    return presentBits;
  }

  int presentCount() {
    return presentCount;
  }

  int[] presentSlots() {
    return presentSlots;
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
  public boolean has(int layer, Phase phase) {
    if (layer < -1 || layer >= layerCapacity) {
      return false;
    }
    return seen[slot(layer, phase.code())] == ordinal;
  }

  @Override
  public boolean present(int layer, Phase phase, Column column) {
    if (layer < -1 || layer >= layerCapacity) {
      return false;
    }
    int slot = slot(layer, phase.code());
    return seen[slot] == ordinal && (presentBits[slot] & column.bit()) != 0;
  }

  @Override
  public double value(int layer, Phase phase, Column column) {
    int index = DOUBLE_INDEX[column.index()];
    if (index < 0) {
      throw new IllegalArgumentException("not a floating-point statistic: " + column.wireName());
    }
    return present(layer, phase, column) ? doubles[index][slot(layer, phase.code())] : Double.NaN;
  }

  @Override
  public int presentMask(int slot) {
    return slot >= 0 && slot < seen.length && seen[slot] == ordinal ? presentBits[slot] : 0;
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

  @Override
  public long count(int layer, Phase phase, Column column) {
    int index = LONG_INDEX[column.index()];
    if (index < 0) {
      throw new IllegalArgumentException("not a count statistic: " + column.wireName());
    }
    return present(layer, phase, column) ? longs[index][slot(layer, phase.code())] : -1;
  }
}
