package io.dlanalyze.trace.validate;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.Printable;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.UnknownPhases;
import io.dlanalyze.trace.validate.Problem.Severity;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Checks the values of a trace against the contract while a consumer streams it: feed every batch
 * to {@link #accept(TraceBatch)} in file order, then call {@link #finish()}. One pass, no per-row
 * objects; the state is a few arrays indexed by layer and phase.
 *
 * <table>
 *   <caption>Rules</caption>
 *   <tr><th>rule</th><th>severity</th><th>what it checks</th></tr>
 *   <tr><td>{@code step-order}</td><td>error</td><td>step never decreases from row to row</td></tr>
 *   <tr><td>{@code negative-position}</td><td>error</td><td>epoch, batch and step are not negative</td></tr>
 *   <tr><td>{@code epoch-batch-order}</td><td>warning</td><td>rows of one step share (epoch, batch);
 *       a new step has a larger (epoch, batch)</td></tr>
 *   <tr><td>{@code counts}</td><td>error</td><td>nan_count, inf_count, numel not negative;
 *       nan_count + inf_count at most numel</td></tr>
 *   <tr><td>{@code zero-fraction}</td><td>error</td><td>zero_fraction in [0, 1]</td></tr>
 *   <tr><td>{@code layer-identity}</td><td>error</td><td>one name per layer_index, one layer_index
 *       per name</td></tr>
 *   <tr><td>{@code layer-index}</td><td>error</td><td>model-level phases have layer_index -1, layer
 *       phases 0 or more; nothing below -1 or above {@link #MAX_LAYER_INDEX}</td></tr>
 *   <tr><td>{@code required-null}</td><td>error</td><td>no null in a required column</td></tr>
 *   <tr><td>{@code unknown-phase}</td><td>warning</td><td>phases this version does not know (the rows
 *       are kept)</td></tr>
 *   <tr><td>{@code metadata-layers}</td><td>warning</td><td>a layer_index named differently in
 *       {@code dltrace.layers}</td></tr>
 * </table>
 *
 * <p>Each rule reports its first {@link #DEFAULT_LIMIT_PER_RULE} rows; the rest are counted in one
 * closing line per rule. A rule whose columns the batch does not load is skipped.
 */
public final class TraceValidator {
  /** The largest layer_index a trace may use ({@link LayerInfo#MAX_INDEX}). */
  public static final int MAX_LAYER_INDEX = LayerInfo.MAX_INDEX;

  /** Problems listed per rule before the rest are only counted. */
  public static final int DEFAULT_LIMIT_PER_RULE = 20;

  private static final long UNSEEN = Long.MIN_VALUE;

  private final Path file;
  private final TraceMetadata metadata;
  private final int limitPerRule;
  private final List<Problem> problems = new ArrayList<>();
  private final Map<String, long[]> suppressed = new LinkedHashMap<>();
  private final Map<String, Integer> reported = new LinkedHashMap<>();
  private final Set<Long> reportedPairs = new HashSet<>();
  private long rows;
  private long previousStep = UNSEEN;
  private int stepEpoch;
  private int stepBatch;

  /** Name id + 1 by layer_index + 1 (0 = not seen yet). */
  private int[] nameOfIndex = new int[0];

  private long[] firstRowOfIndex = new long[0];

  /** layer_index + 2 by name id (0 = not seen yet). */
  private int[] indexOfName = new int[0];

  private long[] firstRowOfName = new long[0];
  private final UnknownPhases unknownPhases = new UnknownPhases();
  private @Nullable TraceDictionary dictionary;
  private boolean finished;

  /**
   * @param file the trace, for messages
   * @param metadata its metadata; {@code dltrace.layers} is checked against the data
   */
  public TraceValidator(Path file, TraceMetadata metadata) {
    this(file, metadata, DEFAULT_LIMIT_PER_RULE);
  }

  public TraceValidator(Path file, TraceMetadata metadata, int limitPerRule) {
    if (limitPerRule < 1) {
      throw new IllegalArgumentException(
          format(ROOT, "limitPerRule must be positive: %s", limitPerRule));
    }
    this.file = file;
    this.limitPerRule = limitPerRule;
    this.metadata = metadata;
  }

  /** The columns the rules read; load them (or all) for a full check. */
  public static Set<Column> columns() {
    return EnumSet.of(
        Column.EPOCH,
        Column.BATCH,
        Column.STEP,
        Column.LAYER_INDEX,
        Column.LAYER_NAME,
        Column.PHASE,
        Column.ZERO_FRACTION,
        Column.NAN_COUNT,
        Column.INF_COUNT,
        Column.NUMEL);
  }

  /** Checks the next batch of the trace. */
  public void accept(TraceBatch batch) {
    if (finished) {
      throw new IllegalStateException("validator is finished");
    }
    if (dictionary != null && batch.dictionary() != dictionary) {
      throw new IllegalArgumentException("batches of one trace must share one dictionary");
    }
    dictionary = batch.dictionary();
    int n = batch.size();
    checkRequiredNulls(batch, n);
    checkOrder(batch, n);
    checkCounts(batch, n);
    checkLayers(batch, n);
    rows += n;
  }

  private void checkRequiredNulls(TraceBatch batch, int n) {
    for (Column column : Column.required()) {
      if (batch.has(column) && batch.hasNulls(column)) {
        for (int i = 0; i < n; i++) {
          if (batch.isNull(column, i)) {
            report(
                Severity.ERROR,
                "required-null",
                rows + i,
                format(ROOT, "column '%s' is null (the column is required)", column.wireName()));
          }
        }
      }
    }
  }

  private void checkOrder(TraceBatch batch, int n) {
    if (!batch.has(Column.STEP)) {
      return;
    }
    long[] step = batch.longs(Column.STEP);
    int[] epoch = batch.has(Column.EPOCH) ? batch.ints(Column.EPOCH) : null;
    int[] batchIndex = batch.has(Column.BATCH) ? batch.ints(Column.BATCH) : null;
    for (int i = 0; i < n; i++) {
      long s = step[i];
      long row = rows + i;
      if (s < 0) {
        report(Severity.ERROR, "negative-position", row, format(ROOT, "step %d is negative", s));
      }
      if (epoch != null && batchIndex != null && (epoch[i] < 0 || batchIndex[i] < 0)) {
        report(
            Severity.ERROR,
            "negative-position",
            row,
            format(ROOT, "epoch %d, batch %d: neither may be negative", epoch[i], batchIndex[i]));
      }
      boolean newStep = previousStep == UNSEEN || s != previousStep;
      if (previousStep != UNSEEN && s < previousStep) {
        report(
            Severity.ERROR,
            "step-order",
            row,
            format(ROOT, "step %d after step %d (steps must not decrease)", s, previousStep));
      }
      if (epoch != null && batchIndex != null) {
        int e = epoch[i];
        int b = batchIndex[i];
        if (newStep) {
          if (previousStep != UNSEEN
              && s > previousStep
              && (e < stepEpoch || (e == stepEpoch && b <= stepBatch))) {
            report(
                Severity.WARNING,
                "epoch-batch-order",
                row,
                format(
                    ROOT,
                    "step %d has epoch %d, batch %d, not after epoch %d, batch %d of step %d",
                    s,
                    e,
                    b,
                    stepEpoch,
                    stepBatch,
                    previousStep));
          }
          stepEpoch = e;
          stepBatch = b;
        } else if (e != stepEpoch || b != stepBatch) {
          report(
              Severity.WARNING,
              "epoch-batch-order",
              row,
              format(
                  ROOT,
                  "step %d has epoch %d, batch %d here but epoch %d, batch %d in its first row",
                  s,
                  e,
                  b,
                  stepEpoch,
                  stepBatch));
        }
      }
      previousStep = s;
    }
  }

  private void checkCounts(TraceBatch batch, int n) {
    long[] nan = loaded(batch, Column.NAN_COUNT);
    long[] inf = loaded(batch, Column.INF_COUNT);
    long[] numel = loaded(batch, Column.NUMEL);
    for (Column column : new Column[] {Column.NAN_COUNT, Column.INF_COUNT, Column.NUMEL}) {
      long[] values = loaded(batch, column);
      if (values == null) {
        continue;
      }
      boolean nulls = batch.hasNulls(column);
      for (int i = 0; i < n; i++) {
        if (values[i] < 0 && !(nulls && batch.isNull(column, i))) {
          report(
              Severity.ERROR,
              "counts",
              rows + i,
              format(ROOT, "%s %d is negative", column.wireName(), values[i]));
        }
      }
    }
    if (nan != null && inf != null && numel != null) {
      for (int i = 0; i < n; i++) {
        if (nan[i] >= 0
            && inf[i] >= 0
            && numel[i] >= 0
            && nan[i] > numel[i] - inf[i]
            && !batch.isNull(Column.NAN_COUNT, i)
            && !batch.isNull(Column.INF_COUNT, i)
            && !batch.isNull(Column.NUMEL, i)) {
          report(
              Severity.ERROR,
              "counts",
              rows + i,
              format(
                  ROOT, "nan_count %d + inf_count %d exceeds numel %d", nan[i], inf[i], numel[i]));
        }
      }
    }
    if (batch.has(Column.ZERO_FRACTION)) {
      double[] zero = batch.doubles(Column.ZERO_FRACTION);
      boolean nulls = batch.hasNulls(Column.ZERO_FRACTION);
      for (int i = 0; i < n; i++) {
        double z = zero[i];
        if (!(z >= 0 && z <= 1) && !(nulls && batch.isNull(Column.ZERO_FRACTION, i))) {
          report(
              Severity.ERROR,
              "zero-fraction",
              rows + i,
              format(ROOT, "zero_fraction %s is outside [0, 1]", z));
        }
      }
    }
  }

  private static long @Nullable [] loaded(TraceBatch batch, Column column) {
    return batch.has(column) ? batch.longs(column) : null;
  }

  private void checkLayers(TraceBatch batch, int n) {
    int[] index = batch.has(Column.LAYER_INDEX) ? batch.ints(Column.LAYER_INDEX) : null;
    int[] name = batch.has(Column.LAYER_NAME) ? batch.ints(Column.LAYER_NAME) : null;
    int[] phase = batch.has(Column.PHASE) ? batch.ints(Column.PHASE) : null;
    for (int i = 0; i < n; i++) {
      long row = rows + i;
      if (phase != null) {
        int code = phase[i];
        if (code >= Phase.COUNT) {
          unknownPhases.count(code, row);
        } else if (index != null && code >= 0) {
          Phase known = Phase.ofCode(code);
          int layer = index[i];
          if (known.isModelLevel() && layer != -1) {
            report(
                Severity.ERROR,
                "layer-index",
                row,
                format(
                    ROOT,
                    "phase '%s' is model-level but layer_index is %d (expected -1)",
                    known.wireName(),
                    layer));
          } else if (!known.isModelLevel() && layer < 0) {
            report(
                Severity.ERROR,
                "layer-index",
                row,
                format(
                    ROOT,
                    "phase '%s' is per layer but layer_index is %d",
                    known.wireName(),
                    layer));
          }
        }
      }
      if (index == null) {
        continue;
      }
      int layer = index[i];
      if (layer < -1) {
        report(
            Severity.ERROR,
            "layer-index",
            row,
            format(
                ROOT,
                "layer_index %d is invalid (-1 for model-level rows, else a 0-based position)",
                layer));
        continue;
      }
      if (layer > MAX_LAYER_INDEX) {
        report(
            Severity.ERROR,
            "layer-index",
            row,
            format(ROOT, "layer_index %d is above the limit %d", layer, MAX_LAYER_INDEX));
        continue;
      }
      if (name != null && name[i] >= 0) {
        checkIdentity(batch.dictionary(), layer, name[i], row);
      }
    }
  }

  private void checkIdentity(TraceDictionary names, int layer, int nameId, long row) {
    int slot = layer + 1;
    if (slot >= nameOfIndex.length) {
      int size = Math.max(slot + 1, nameOfIndex.length * 2);
      nameOfIndex = Arrays.copyOf(nameOfIndex, size);
      firstRowOfIndex = Arrays.copyOf(firstRowOfIndex, size);
    }
    int seenName = nameOfIndex[slot] - 1;
    if (seenName < 0) {
      nameOfIndex[slot] = nameId + 1;
      firstRowOfIndex[slot] = row;
      String listed = metadata.layer(layer).map(LayerInfo::name).orElse(null);
      if (listed != null && !listed.equals(names.layerName(nameId))) {
        report(
            Severity.WARNING,
            "metadata-layers",
            row,
            format(
                ROOT,
                "layer_index %d is named '%s' here but '%s' in dltrace.layers",
                layer,
                Printable.escape(names.layerName(nameId)),
                Printable.escape(listed)));
      }
    } else if (seenName != nameId && reportedPairs.add(pair(0, layer, nameId))) {
      report(
          Severity.ERROR,
          "layer-identity",
          row,
          format(
              ROOT,
              "layer_index %d is named '%s' here but '%s' at row %d",
              layer,
              Printable.escape(names.layerName(nameId)),
              Printable.escape(names.layerName(seenName)),
              firstRowOfIndex[slot]));
    }
    if (nameId >= indexOfName.length) {
      int size = Math.max(nameId + 1, indexOfName.length * 2);
      indexOfName = Arrays.copyOf(indexOfName, size);
      firstRowOfName = Arrays.copyOf(firstRowOfName, size);
    }
    int seenIndex = indexOfName[nameId] - 2;
    if (seenIndex < -1) {
      indexOfName[nameId] = layer + 2;
      firstRowOfName[nameId] = row;
    } else if (seenIndex != layer && reportedPairs.add(pair(1, layer, nameId))) {
      report(
          Severity.ERROR,
          "layer-identity",
          row,
          format(
              ROOT,
              "layer '%s' has layer_index %d here but %d at row %d",
              Printable.escape(names.layerName(nameId)),
              layer,
              seenIndex,
              firstRowOfName[nameId]));
    }
  }

  private static long pair(int kind, int layer, int nameId) {
    return ((long) kind << 62) | ((long) (layer + 1) << 31) | nameId;
  }

  private void report(Severity severity, String rule, long row, String detail) {
    int count = reported.merge(rule, 1, Integer::sum);
    if (count <= limitPerRule) {
      problems.add(new Problem(severity, rule, file, row, detail));
    } else {
      long[] rest = suppressed.computeIfAbsent(rule, r -> new long[] {0, severity.ordinal()});
      rest[0]++;
    }
  }

  /**
   * Ends the check and returns every problem: the listed ones in row order, the unknown phases with
   * their row counts, then one line per rule whose further rows were only counted.
   */
  public List<Problem> finish() {
    if (!finished) {
      finished = true;
      // Stable: problems of one row keep the order of the checks, whatever the batch sizes were.
      problems.sort(java.util.Comparator.comparingLong(Problem::row));
      if (dictionary != null) {
        for (UnknownPhases.Seen phase : unknownPhases.seen(dictionary)) {
          problems.add(
              new Problem(
                  Severity.WARNING,
                  "unknown-phase",
                  file,
                  phase.firstRow(),
                  format(
                      ROOT,
                      "unknown phase '%s' (%d %s from here on): the rows are kept, but no"
                          + " detector reads them",
                      Printable.escape(phase.name()),
                      phase.rows(),
                      phase.rows() == 1 ? "row" : "rows")));
        }
      }
      for (Map.Entry<String, long[]> rest : suppressed.entrySet()) {
        problems.add(
            new Problem(
                Severity.values()[(int) rest.getValue()[1]],
                rest.getKey(),
                file,
                -1,
                format(
                    ROOT,
                    "%d more rows break rule %s (only the first %d are listed)",
                    rest.getValue()[0],
                    rest.getKey(),
                    limitPerRule)));
      }
    }
    return List.copyOf(problems);
  }

  /** True when a problem of error severity has been found so far. */
  public boolean hasErrors() {
    for (Problem problem : problems) {
      if (problem.severity() == Severity.ERROR) {
        return true;
      }
    }
    for (long[] rest : suppressed.values()) {
      if (rest[1] == Severity.ERROR.ordinal()) {
        return true;
      }
    }
    return false;
  }

  /** Rows checked so far. */
  public long rowsChecked() {
    return rows;
  }
}
