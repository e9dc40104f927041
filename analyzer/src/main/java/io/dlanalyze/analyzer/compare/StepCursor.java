package io.dlanalyze.analyzer.compare;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.validate.TraceValidator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads a trace one step at a time: after {@link #advance()}, the statistics of every (layer,
 * phase) row of that step, by slot ({@code (layer + 1) * Phase.COUNT + phase}; model-level phases
 * are layer -1). Arrays grow with the largest layer index seen (at most {@link
 * TraceValidator#MAX_LAYER_INDEX}), never with the number of steps.
 */
final class StepCursor {
  /** The statistics compared; the last one is nan_count + inf_count. */
  static final Column[] STATS = {Column.MEAN, Column.STD, Column.L2_NORM, Column.ZERO_FRACTION};

  static final int NON_FINITE = STATS.length;
  static final int STAT_COUNT = STATS.length + 1;

  private final TraceReader reader;
  private final TraceBatch batch;
  private int row;
  private boolean started;
  private long step = -1;
  private long steps;
  private double[][] values = new double[STAT_COUNT][0];
  private boolean[][] present = new boolean[STAT_COUNT][0];
  private boolean[] inStep = new boolean[0];
  private int[] touched = new int[16];
  private int touchedCount;
  private final List<String> names = new ArrayList<>();
  private final List<String> types = new ArrayList<>();
  private final boolean[] phases = new boolean[Phase.COUNT];
  private boolean newLayers;

  StepCursor(TraceReader reader) {
    this.reader = reader;
    this.batch = reader.batch();
  }

  static int slot(int layer, Phase phase) {
    return (layer + 1) * Phase.COUNT + phase.code();
  }

  static int layerOf(int slot) {
    return slot / Phase.COUNT - 1;
  }

  static Phase phaseOf(int slot) {
    return Phase.ofCode(slot % Phase.COUNT);
  }

  /** Reads the next step; false at the end of the trace. */
  boolean advance() {
    for (int i = 0; i < touchedCount; i++) {
      int s = touched[i];
      inStep[s] = false;
      for (int k = 0; k < STAT_COUNT; k++) {
        present[k][s] = false;
      }
    }
    touchedCount = 0;
    if (!ensureRow()) {
      return false;
    }
    long next = batch.longs(Column.STEP)[row];
    if (started && next < step) {
      throw new TraceFormatException(
          ErrorCode.INVALID_VALUE,
          reader.path(),
          null,
          format(ROOT, "step %d comes after step %d: rows must be ordered by step", next, step));
    }
    started = true;
    step = next;
    steps++;
    while (ensureRow() && batch.longs(Column.STEP)[row] == step) {
      absorb(row);
      row++;
    }
    return true;
  }

  private boolean ensureRow() {
    while (row >= batch.size()) {
      if (!reader.next()) {
        return false;
      }
      row = 0;
    }
    return true;
  }

  private void absorb(int r) {
    int code = batch.ints(Column.PHASE)[r];
    if (!Phase.isKnown(code)) {
      return;
    }
    Phase phase = Phase.ofCode(code);
    int layer = phase.isModelLevel() ? -1 : batch.ints(Column.LAYER_INDEX)[r];
    if (layer < -1 || layer > TraceValidator.MAX_LAYER_INDEX) {
      throw new TraceFormatException(
          ErrorCode.INVALID_VALUE,
          reader.path(),
          null,
          format(
              ROOT,
              "layer_index must be -1 or in [0, %d]: %d",
              TraceValidator.MAX_LAYER_INDEX,
              layer));
    }
    phases[code] = true;
    if (layer >= 0) {
      while (names.size() <= layer) {
        names.add(null);
        types.add(null);
      }
      if (names.get(layer) == null) {
        names.set(layer, reader.dictionary().layerName(batch.ints(Column.LAYER_NAME)[r]));
        if (batch.has(Column.LAYER_TYPE) && !batch.isNull(Column.LAYER_TYPE, r)) {
          types.set(layer, reader.dictionary().layerType(batch.ints(Column.LAYER_TYPE)[r]));
        }
        newLayers = true;
      }
    }
    int s = slot(layer, phase);
    grow(s + 1);
    if (!inStep[s]) {
      inStep[s] = true;
      if (touchedCount == touched.length) {
        touched = Arrays.copyOf(touched, touched.length * 2);
      }
      touched[touchedCount++] = s;
    }
    for (int k = 0; k < STATS.length; k++) {
      Column column = STATS[k];
      if (batch.has(column) && !batch.isNull(column, r)) {
        values[k][s] = batch.doubles(column)[r];
        present[k][s] = true;
      }
    }
    long bad = 0;
    boolean counted = false;
    for (Column column : new Column[] {Column.NAN_COUNT, Column.INF_COUNT}) {
      if (batch.has(column) && !batch.isNull(column, r)) {
        bad += batch.longs(column)[r];
        counted = true;
      }
    }
    if (counted) {
      values[NON_FINITE][s] = bad;
      present[NON_FINITE][s] = true;
    }
  }

  private void grow(int size) {
    if (inStep.length >= size) {
      return;
    }
    int capacity = Math.max(size, inStep.length * 2);
    inStep = Arrays.copyOf(inStep, capacity);
    for (int k = 0; k < STAT_COUNT; k++) {
      values[k] = Arrays.copyOf(values[k], capacity);
      present[k] = Arrays.copyOf(present[k], capacity);
    }
  }

  long step() {
    return step;
  }

  /** Steps read so far. */
  long steps() {
    return steps;
  }

  int touchedCount() {
    return touchedCount;
  }

  int touched(int i) {
    return touched[i];
  }

  boolean has(int slot) {
    return slot < inStep.length && inStep[slot];
  }

  boolean present(int stat, int slot) {
    return slot < inStep.length && present[stat][slot];
  }

  double value(int stat, int slot) {
    return values[stat][slot];
  }

  /** Layers seen so far: index to name, {@code null} for an index not seen. */
  List<String> names() {
    return names;
  }

  List<String> types() {
    return types;
  }

  boolean[] phases() {
    return phases;
  }

  /** True once after a step that brought a layer not seen before. */
  boolean takeNewLayers() {
    boolean result = newLayers;
    newLayers = false;
    return result;
  }

  TraceReader reader() {
    return reader;
  }
}
