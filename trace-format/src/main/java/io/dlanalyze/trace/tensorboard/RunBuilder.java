package io.dlanalyze.trace.tensorboard;

import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.tensorboard.EventCollector.FileInfo;
import io.dlanalyze.trace.tensorboard.TagMapping.Target;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Turns the series of a run into trace rows.
 *
 * <ol>
 *   <li><b>Time axis.</b> Keras' TensorBoard callback writes {@code epoch_*} scalars and the weight
 *       histograms with the epoch as their step, and {@code batch_*} scalars (with {@code
 *       update_freq='batch'}) with the batch counter. When the run has per-step training values,
 *       the trace's step is the TensorBoard step, and a per-epoch value lands on the last step its
 *       file had written before it (validation files: on the step of the same epoch's training
 *       values). Otherwise the trace has one step per epoch, the epoch index.
 *   <li><b>One tag per phase.</b> When several tags map to one model-level phase, the user's rule
 *       wins, then the tag with the most values, then the built-in order.
 *   <li><b>Layers.</b> The weight (or gradient) parameters of a layer are merged into one row per
 *       step: counts, sums and sums of squares add up, min and max combine, as if the tensors were
 *       one. Layers are ordered as in the Keras model config, else by first appearance.
 *   <li><b>Statistics.</b> mean = sum / n; std = sqrt(sum_squares / n - mean^2) (population);
 *       l2_norm = sqrt(sum_squares); numel = n. A later value at the same step replaces an earlier.
 *       A scalar's row has mean = the value and no other statistic, except that one episode's
 *       return has numel 1 (a window's mean return leaves it null: how many episodes, and how many
 *       of them the previous value already held, the tag does not say).
 * </ol>
 */
final class RunBuilder {
  /** Whether a trace step is a training step or an epoch. */
  enum Granularity {
    STEP,
    EPOCH
  }

  private static final long LOSS_KEY = 0;
  private static final long ACCURACY_KEY = 1;
  private static final long LEARNING_RATE_KEY = 2;
  private static final long EPISODE_RETURN_KEY = Long.MAX_VALUE - 2;
  private static final long VAL_LOSS_KEY = Long.MAX_VALUE - 1;
  private static final long VAL_ACCURACY_KEY = Long.MAX_VALUE;

  private final KerasModel keras;
  private final TraceDictionary dictionary;
  private final RunNotes notes;
  private final List<FileInfo> files;
  private final List<Series> all;
  private final boolean[] epochAxis;
  private Granularity granularity = Granularity.STEP;
  private final TreeMap<Long, Long> boundaries = new TreeMap<>();
  private final Map<Target, Series> chosen = new LinkedHashMap<>();
  private final List<String> layerNames = new ArrayList<>();
  private final List<List<Series>> layerWeights = new ArrayList<>();
  private final List<List<Series>> layerGradients = new ArrayList<>();
  private @Nullable RunEpochs epochs;
  private boolean percentAccuracy;
  private boolean percentValAccuracy;

  RunBuilder(
      EventCollector collector, KerasModel keras, TraceDictionary dictionary, RunNotes notes) {
    this.keras = keras;
    this.dictionary = dictionary;
    this.notes = notes;
    this.files = collector.files();
    this.all = collector.series();
    this.epochAxis = new boolean[all.size()];
  }

  Granularity granularity() {
    return granularity;
  }

  List<String> layerNames() {
    return layerNames;
  }

  /** The boundaries of the epochs: epoch index to its last trace step. */
  TreeMap<Long, Long> boundaries() {
    return boundaries;
  }

  /** Batches per epoch when known, else -1 (after {@link #build()}). */
  long stepsPerEpoch(RunTable table) {
    return table.size == 0 || epochs == null ? -1 : epochs.stepsPerEpoch(table.step[0]);
  }

  /**
   * 1 when one of the layer's weight or gradient streams has bucket-estimated moments, per phase.
   */
  int estimatedStreams(int layer) {
    int n = 0;
    for (List<Series> group : List.of(layerWeights.get(layer), layerGradients.get(layer))) {
      for (Series series : group) {
        if (series.estimated) {
          n++;
          break;
        }
      }
    }
    return n;
  }

  @Nullable Series chosen(Target target) {
    return chosen.get(target);
  }

  RunTable build() {
    decideAxes();
    place();
    choose();
    groupLayers();
    RunTable table = rows();
    RunEpochs assigned = new RunEpochs(granularity, boundaries, chosen.get(Target.EPOCH));
    assigned.assign(table);
    epochs = assigned;
    return table;
  }

  private void decideAxes() {
    boolean trainPerStep = false;
    boolean anyPerEpoch = false;
    for (int i = 0; i < all.size(); i++) {
      Series series = all.get(i);
      if (series.histogram) {
        for (int f = series.files.nextSetBit(0); f >= 0; f = series.files.nextSetBit(f + 1)) {
          epochAxis[i] |= files.get(f).epochTags;
        }
      } else {
        epochAxis[i] = series.tag.toLowerCase(ROOT).startsWith("epoch_");
      }
      anyPerEpoch |= epochAxis[i];
      Target target = series.mapped.target();
      boolean training =
          target == Target.LOSS
              || target == Target.ACCURACY
              || target == Target.LEARNING_RATE
              || target == Target.EPISODE_RETURN
              || target.histogram();
      trainPerStep |= training && !series.validation && !epochAxis[i] && series.size > 0;
    }
    granularity = trainPerStep || !anyPerEpoch ? Granularity.STEP : Granularity.EPOCH;
    if (granularity == Granularity.STEP) {
      for (int i = 0; i < all.size(); i++) {
        Series series = all.get(i);
        if (!epochAxis[i] || series.histogram || series.validation) {
          continue;
        }
        for (int p = 0; p < series.size; p++) {
          long last = files.get(series.fileOf[p]).maxStepBefore(series.seqs[p]);
          if (last >= 0) {
            boundaries.putIfAbsent(series.steps[p], last);
          }
        }
      }
    }
  }

  /** Where each value lands, and which of several values at one trace step is kept (the last). */
  private void place() {
    for (int i = 0; i < all.size(); i++) {
      Series series = all.get(i);
      long[] placed = new long[series.size];
      long dropped = 0;
      for (int p = 0; p < series.size; p++) {
        long at;
        if (granularity == Granularity.EPOCH) {
          at = epochAxis[i] ? series.steps[p] : -1;
        } else if (!epochAxis[i]) {
          at = series.steps[p];
        } else {
          long own = files.get(series.fileOf[p]).maxStepBefore(series.seqs[p]);
          Long boundary = series.validation ? boundaries.get(series.steps[p]) : null;
          at = boundary != null ? boundary : own;
        }
        placed[p] = at;
        if (at < 0) {
          dropped++;
        }
      }
      int[] order = IndexSort.order(series.size, placed, series.seqs);
      long duplicates = 0;
      for (int k = 0; k + 1 < order.length; k++) {
        int earlier = order[k];
        int later = order[k + 1];
        if (placed[earlier] >= 0 && placed[earlier] == placed[later]) {
          placed[earlier] = -1;
          if (!sameNumbers(series, earlier, later)) {
            duplicates++;
          }
        }
      }
      series.placed = placed;
      series.dropped = dropped;
      notes.duplicates(duplicates);
    }
  }

  /** Lightning logs its epoch counter several times per step, always with the same value. */
  private static boolean sameNumbers(Series series, int a, int b) {
    for (int c = 0; c < series.values.length; c++) {
      if (Double.compare(series.value(c, a), series.value(c, b)) != 0) {
        return false;
      }
    }
    return true;
  }

  private void choose() {
    for (Target target :
        List.of(
            Target.LOSS,
            Target.ACCURACY,
            Target.LEARNING_RATE,
            Target.VAL_LOSS,
            Target.VAL_ACCURACY,
            Target.EPOCH,
            Target.EPISODE_RETURN)) {
      List<Series> candidates = new ArrayList<>();
      for (Series series : all) {
        if (!series.histogram && series.mapped.target() == target) {
          candidates.add(series);
        }
      }
      candidates.sort(RunBuilder::preferred);
      if (candidates.isEmpty() || candidates.get(0).placedCount() == 0) {
        notes.unused(target, null, candidates);
        continue;
      }
      Series best = candidates.get(0);
      chosen.put(target, best);
      notes.unused(target, best, candidates.subList(1, candidates.size()));
    }
    percentAccuracy = isPercent(chosen.get(Target.ACCURACY));
    percentValAccuracy = isPercent(chosen.get(Target.VAL_ACCURACY));
    notes.percent(chosen.get(Target.ACCURACY), percentAccuracy);
    notes.percent(chosen.get(Target.VAL_ACCURACY), percentValAccuracy);
  }

  private static int preferred(Series a, Series b) {
    if (a.mapped.user() != b.mapped.user()) {
      return a.mapped.user() ? -1 : 1;
    }
    int c = Integer.compare(b.placedCount(), a.placedCount());
    if (c != 0) {
      return c;
    }
    c = Integer.compare(a.mapped.rank(), b.mapped.rank());
    return c != 0 ? c : Long.compare(a.firstSeq, b.firstSeq);
  }

  /** An accuracy logged in percent: some value above 1, none above 100. */
  private static boolean isPercent(@Nullable Series series) {
    if (series == null) {
      return false;
    }
    double max = Double.NEGATIVE_INFINITY;
    for (int p = 0; p < series.size; p++) {
      double v = series.value(0, p);
      if (series.placed[p] >= 0 && Double.isFinite(v)) {
        max = Math.max(max, v);
      }
    }
    return max > 1 && max <= 100;
  }

  private void groupLayers() {
    for (KerasModel.Layer layer : keras.layers()) {
      addLayer(layer.name());
    }
    List<Series> leftOut = new ArrayList<>();
    for (Series series : all) {
      if (!series.histogram || !series.mapped.target().histogram()) {
        continue;
      }
      if (series.placedCount() == 0) {
        continue;
      }
      if (!series.mapped.main()) {
        leftOut.add(series);
        continue;
      }
      int layer =
          addLayer(
              resolveLayer(
                  requireNonNull(
                      series.mapped.layer(), "a weight or gradient mapping has a layer")));
      List<Series> group =
          (series.mapped.target() == Target.WEIGHT ? layerWeights : layerGradients).get(layer);
      Series sameParameter = null;
      for (Series other : group) {
        if (other.mapped.parameter() != null
            && other.mapped.parameter().equals(series.mapped.parameter())) {
          sameParameter = other;
        }
      }
      if (sameParameter == null) {
        group.add(series);
      } else if (series.placedCount() > sameParameter.placedCount()) {
        group.set(group.indexOf(sameParameter), series);
        notes.duplicateParameter(sameParameter, series);
      } else {
        notes.duplicateParameter(series, sameParameter);
      }
    }
    notes.leftOut(leftOut);
    List<Series> used = new ArrayList<>(chosen.values());
    for (int layer = 0; layer < layerNames.size(); layer++) {
      used.addAll(layerWeights.get(layer));
      used.addAll(layerGradients.get(layer));
    }
    notes.dropped(used, granularity);
  }

  private int addLayer(String name) {
    int index = layerNames.indexOf(name);
    if (index >= 0) {
      return index;
    }
    layerNames.add(name);
    layerWeights.add(new ArrayList<>());
    layerGradients.add(new ArrayList<>());
    return layerNames.size() - 1;
  }

  /**
   * The layer a histogram's path names: with a Keras config, the config's layer whose name is the
   * path without the model's name, or the path's last segment; otherwise the path itself.
   */
  private String resolveLayer(String path) {
    if (keras.layers().isEmpty()) {
      return path;
    }
    String rest = path;
    if (keras.name() != null && rest.startsWith(keras.name() + "/")) {
      rest = rest.substring(keras.name().length() + 1);
    }
    if (keras.indexOf(rest) >= 0) {
      return rest;
    }
    String last = rest.substring(Math.max(rest.lastIndexOf('/'), rest.lastIndexOf('.')) + 1);
    return keras.indexOf(last) >= 0 ? last : path;
  }

  /** Collects every placed value, orders them by (step, phase and layer), merges and derives. */
  private RunTable rows() {
    int upper = 0;
    for (Series series : chosen.values()) {
      upper += series.size;
    }
    for (int layer = 0; layer < layerNames.size(); layer++) {
      for (Series series : layerWeights.get(layer)) {
        upper += series.size;
      }
      for (Series series : layerGradients.get(layer)) {
        upper += series.size;
      }
    }
    long[] steps = new long[upper];
    long[] keys = new long[upper];
    Series[] sources = new Series[upper];
    int[] points = new int[upper];
    int n = 0;
    for (Map.Entry<Target, Series> entry : chosen.entrySet()) {
      long key = modelKey(entry.getKey());
      if (key < 0) {
        continue;
      }
      n = collect(entry.getValue(), key, steps, keys, sources, points, n);
    }
    for (int layer = 0; layer < layerNames.size(); layer++) {
      for (Series series : layerGradients.get(layer)) {
        n = collect(series, 3 + 2L * layer, steps, keys, sources, points, n);
      }
      for (Series series : layerWeights.get(layer)) {
        n = collect(series, 4 + 2L * layer, steps, keys, sources, points, n);
      }
    }
    int[] order = IndexSort.order(n, steps, keys);
    int rows = 0;
    for (int k = 0; k < n; k++) {
      if (k == 0 || !sameRow(order[k - 1], order[k], steps, keys)) {
        rows++;
      }
    }
    RunTable table = new RunTable(rows);
    int modelName = dictionary.layerNameId("model");
    double[] moments = new double[TensorValues.MOMENTS];
    int row = -1;
    int empty = 0;
    for (int k = 0; k < n; k++) {
      int at = order[k];
      Series series = sources[at];
      int p = points[at];
      boolean first = k == 0 || !sameRow(order[k - 1], at, steps, keys);
      if (first) {
        if (row >= 0 && !finish(table, row, moments)) {
          empty++;
          row--;
        }
        row++;
        table.step[row] = steps[at];
        table.hasStats[row] = false;
        table.hasNumel[row] = false;
        long key = keys[at];
        if (key <= LEARNING_RATE_KEY || key >= EPISODE_RETURN_KEY) {
          table.layerIndex[row] = -1;
          table.layerName[row] = modelName;
          table.layerType[row] = -1;
          table.phase[row] = modelPhase(key).code();
          table.mean[row] = scaled(series, series.value(0, p));
          if (key == EPISODE_RETURN_KEY && !series.mapped.smoothed()) {
            // one episode's return: a sample of one (a window's mean leaves numel null)
            table.numel[row] = 1;
            table.hasNumel[row] = true;
          }
          continue;
        }
        int layer = (int) ((key - 3) / 2);
        table.layerIndex[row] = layer;
        table.layerName[row] = dictionary.layerNameId(layerNames.get(layer));
        table.layerType[row] = dictionary.layerTypeId(layerType(layer));
        table.phase[row] = ((key - 3) % 2 == 0 ? Phase.GRADIENT : Phase.WEIGHT).code();
        table.hasStats[row] = true;
        for (int m = 0; m < TensorValues.MOMENTS; m++) {
          moments[m] = series.value(m, p);
        }
      } else if (table.hasStats[row]) {
        moments[TensorValues.MIN] = Math.min(moments[TensorValues.MIN], series.value(0, p));
        moments[TensorValues.MAX] = Math.max(moments[TensorValues.MAX], series.value(1, p));
        for (int m = TensorValues.COUNT; m < TensorValues.MOMENTS; m++) {
          moments[m] += series.value(m, p);
        }
      }
    }
    if (row >= 0 && !finish(table, row, moments)) {
      empty++;
      row--;
    }
    notes.emptyHistograms(empty);
    return row + 1 == table.size ? table : shrink(table, row + 1);
  }

  private static boolean sameRow(int a, int b, long[] steps, long[] keys) {
    return steps[a] == steps[b] && keys[a] == keys[b];
  }

  private static int collect(
      Series series, long key, long[] steps, long[] keys, Series[] sources, int[] points, int n) {
    int at = n;
    for (int p = 0; p < series.size; p++) {
      if (series.placed[p] >= 0) {
        steps[at] = series.placed[p];
        keys[at] = key;
        sources[at] = series;
        points[at] = p;
        at++;
      }
    }
    return at;
  }

  /**
   * Derives a histogram row's statistics from its moments; false for an empty histogram (no values,
   * no NaN), which leaves no row.
   */
  private static boolean finish(RunTable table, int row, double[] m) {
    if (!table.hasStats[row]) {
      return true;
    }
    double count = m[TensorValues.COUNT];
    if (!(count > 0)) {
      if (!Double.isNaN(m[TensorValues.MIN]) || !Double.isNaN(m[TensorValues.SUM])) {
        return false;
      }
      // TF's buckets of a tensor with a NaN: NaN edges, no counts
      table.mean[row] = Double.NaN;
      table.std[row] = Double.NaN;
      table.min[row] = Double.NaN;
      table.max[row] = Double.NaN;
      table.l2[row] = Double.NaN;
      table.hasNumel[row] = false;
      return true;
    }
    double mean = m[TensorValues.SUM] / count;
    double variance = m[TensorValues.SUM_SQUARES] / count - mean * mean;
    table.mean[row] = mean;
    table.std[row] = Double.isNaN(variance) ? Double.NaN : Math.sqrt(Math.max(0, variance));
    table.min[row] = m[TensorValues.MIN];
    table.max[row] = m[TensorValues.MAX];
    table.l2[row] = Math.sqrt(m[TensorValues.SUM_SQUARES]);
    table.numel[row] = Math.round(count);
    table.hasNumel[row] = true;
    return true;
  }

  private static RunTable shrink(RunTable table, int size) {
    RunTable smaller = new RunTable(size);
    for (Object[] pair :
        new Object[][] {
          {table.step, smaller.step},
          {table.epoch, smaller.epoch},
          {table.batch, smaller.batch},
          {table.layerIndex, smaller.layerIndex},
          {table.layerName, smaller.layerName},
          {table.layerType, smaller.layerType},
          {table.phase, smaller.phase},
          {table.mean, smaller.mean},
          {table.std, smaller.std},
          {table.min, smaller.min},
          {table.max, smaller.max},
          {table.l2, smaller.l2},
          {table.numel, smaller.numel},
          {table.hasStats, smaller.hasStats},
          {table.hasNumel, smaller.hasNumel}
        }) {
      System.arraycopy(pair[0], 0, pair[1], 0, size);
    }
    return smaller;
  }

  private double scaled(Series series, double value) {
    boolean percent =
        series == chosen.get(Target.ACCURACY)
            ? percentAccuracy
            : series == chosen.get(Target.VAL_ACCURACY) && percentValAccuracy;
    return percent ? value / 100 : value;
  }

  private @Nullable String layerType(int layer) {
    int index = keras.indexOf(layerNames.get(layer));
    return index < 0 ? null : keras.layers().get(index).type();
  }

  private static long modelKey(Target target) {
    return switch (target) {
      case LOSS -> LOSS_KEY;
      case ACCURACY -> ACCURACY_KEY;
      case LEARNING_RATE -> LEARNING_RATE_KEY;
      case VAL_LOSS -> VAL_LOSS_KEY;
      case VAL_ACCURACY -> VAL_ACCURACY_KEY;
      case EPISODE_RETURN -> EPISODE_RETURN_KEY;
      case EPOCH, WEIGHT, GRADIENT, IGNORE -> -1;
    };
  }

  private static Phase modelPhase(long key) {
    if (key == LOSS_KEY) {
      return Phase.LOSS;
    }
    if (key == ACCURACY_KEY) {
      return Phase.ACCURACY;
    }
    if (key == LEARNING_RATE_KEY) {
      return Phase.LEARNING_RATE;
    }
    if (key == EPISODE_RETURN_KEY) {
      return Phase.EPISODE_RETURN;
    }
    return key == VAL_LOSS_KEY ? Phase.VAL_LOSS : Phase.VAL_ACCURACY;
  }

  /** Trace statistics for the notes: how many distinct steps, and how many with layer rows. */
  static long[] stepCounts(RunTable table) {
    long steps = 0;
    long layerSteps = 0;
    boolean layerInStep = false;
    for (int r = 0; r < table.size; r++) {
      if (r == 0 || table.step[r] != table.step[r - 1]) {
        steps++;
        layerInStep = false;
      }
      if (table.layerIndex[r] >= 0 && !layerInStep) {
        layerSteps++;
        layerInStep = true;
      }
    }
    return new long[] {steps, layerSteps};
  }
}
