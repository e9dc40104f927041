package io.dlanalyze.analyzer.report;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The time series the HTML report draws, read from the trace in a second streaming pass after the
 * analysis: the {@link Report} says which findings rank first, and this pass keeps only what their
 * charts need. A post-mortem report can afford the second read (it costs about as much as the
 * analysis' own pass, with a smaller projection), and it keeps chart code out of the engine and the
 * detectors.
 *
 * <p>What is kept, all in primitive arrays, bounded whatever the run length:
 *
 * <ul>
 *   <li>for each of the top {@link Options#topFindings()} findings, the statistics of {@link
 *       ChartStat} for its (layer, phase) and for the {@link Options#neighbours()} layers on each
 *       side in the same phase (a model-level finding: its own phase only);
 *   <li>the means of the model-level phases loss, accuracy, val_loss and val_accuracy;
 *   <li>one {@link HeatmapGrid} per heatmap phase: the layer-level phases of the top findings in
 *       rank order, each followed by the phases its consequences reached, then forward and
 *       gradient; at most {@link Options#heatmaps()}.
 * </ul>
 *
 * <p>Sampling: the report's step range [first, last] is cut into at most {@link
 * Options#maxPoints()} buckets of {@code stepsPerBucket} consecutive step values; every series
 * keeps min, max and last per bucket ({@link BucketSeries}). Heatmaps use their own, coarser
 * columns. Rows after the report's last step (an analysis stopped with --first-fault) are ignored.
 */
public final class TraceCharts {
  /** The columns the second pass reads. */
  static final Set<Column> COLUMNS =
      Collections.unmodifiableSet(
          EnumSet.of(
              Column.STEP,
              Column.LAYER_INDEX,
              Column.PHASE,
              Column.MEAN,
              Column.STD,
              Column.L2_NORM,
              Column.ZERO_FRACTION,
              Column.NAN_COUNT,
              Column.INF_COUNT));

  /** The model-level phases drawn as curves, in this order. */
  static final List<Phase> MODEL_PHASES =
      List.of(Phase.LOSS, Phase.ACCURACY, Phase.VAL_LOSS, Phase.VAL_ACCURACY);

  private static final ChartStat[] STATS = ChartStat.values();

  /**
   * How much the report draws.
   *
   * @param topFindings findings that get their own charts (0 to 10)
   * @param neighbours layers drawn on each side of a finding's layer (0 to 5)
   * @param maxPoints step buckets per series (10 to 5000)
   * @param heatmaps layer x step heatmaps (0 to 4)
   * @param heatmapColumns step columns per heatmap (10 to 2000)
   * @param heatmapRows layer rows per heatmap; more layers are grouped (10 to 2000)
   */
  public record Options(
      int topFindings,
      int neighbours,
      int maxPoints,
      int heatmaps,
      int heatmapColumns,
      int heatmapRows) {
    public Options {
      check("topFindings", topFindings, 0, 10);
      check("neighbours", neighbours, 0, 5);
      check("maxPoints", maxPoints, 10, 5000);
      check("heatmaps", heatmaps, 0, 4);
      check("heatmapColumns", heatmapColumns, 10, 2000);
      check("heatmapRows", heatmapRows, 10, 2000);
    }

    /** 3 findings, 2 neighbours each side, 300 points per series, 2 heatmaps of 400 x 200. */
    public static Options defaults() {
      return new Options(3, 2, 300, 2, 400, 200);
    }

    private static void check(String name, int value, int min, int max) {
      if (value < min || value > max) {
        throw new IllegalArgumentException(
            format(ROOT, "%s must be in [%d, %d]: %d", name, min, max, value));
      }
    }
  }

  /** A (layer, phase) stream whose statistics are kept; layer -1 for model-level phases. */
  record Key(int layer, Phase phase) {}

  private final Options options;
  private final long firstStep;
  private final long lastStep;
  private final long stepsPerBucket;
  private final int buckets;
  private final List<Key> keys;
  private final BucketSeries[][] series;
  private final List<HeatmapGrid> heatmaps;
  private final Map<String, String> metadata;
  private final List<LayerInfo> layerInfos;
  private final Set<Column> columns;

  private TraceCharts(
      Options options,
      long firstStep,
      long lastStep,
      long stepsPerBucket,
      int buckets,
      List<Key> keys,
      BucketSeries[][] series,
      List<HeatmapGrid> heatmaps,
      Map<String, String> metadata,
      List<LayerInfo> layerInfos,
      Set<Column> columns) {
    this.options = options;
    this.firstStep = firstStep;
    this.lastStep = lastStep;
    this.stepsPerBucket = stepsPerBucket;
    this.buckets = buckets;
    this.keys = keys;
    this.series = series;
    this.heatmaps = heatmaps;
    this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    this.layerInfos = List.copyOf(layerInfos);
    this.columns = columns;
  }

  /**
   * Series-free charts with the bucket layout of the steps {@code first} to {@code last} (at most
   * {@code maxPoints} buckets): the x axis of charts whose series come from elsewhere, such as the
   * overlay of two runs in {@link ComparisonHtmlRenderer}.
   */
  static TraceCharts axis(long first, long last, int maxPoints) {
    long perBucket = first < 0 || last < first ? 1 : bucketWidth(first, last, maxPoints);
    int buckets = first < 0 || last < first ? 0 : bucketCount(first, last, perBucket);
    return new TraceCharts(
        Options.defaults(),
        first,
        last,
        perBucket,
        buckets,
        List.of(),
        new BucketSeries[0][],
        List.of(),
        Map.of(),
        List.of(),
        EnumSet.noneOf(Column.class));
  }

  /**
   * Opens the trace the report was made from, reads the chart data and closes it.
   *
   * @throws TraceFormatException when the trace cannot be read
   */
  public static TraceCharts collect(Path trace, Report report, Options options) {
    try (TraceReader reader = TraceReaders.open(trace, ReadOptions.columns(COLUMNS))) {
      return collect(reader, report, options);
    }
  }

  /**
   * Reads the chart data from a reader positioned at the start of the trace the report was made
   * from (it should load {@link #COLUMNS}; missing statistics are simply not drawn). The reader is
   * read to its end (or the report's last step) and not closed.
   */
  public static TraceCharts collect(TraceReader reader, Report report, Options options) {
    requireNonNull(report, "report is null");
    requireNonNull(options, "options is null");
    long first = report.trace().firstStep();
    long last = report.trace().lastStep();
    List<Layer> layers = report.trace().layers();
    // The layer index space: a report lists only the layers something names.
    int layerCount = layers.isEmpty() ? 0 : layers.get(layers.size() - 1).index() + 1;
    Map<String, String> metadata = reader.metadata().asMap();
    List<LayerInfo> infos = reader.metadata().layers();
    Set<Column> columns = EnumSet.noneOf(Column.class);
    TraceBatch batch = reader.batch();
    for (Column column : reader.columnsInFile()) {
      if (batch.has(column)) {
        columns.add(column);
      }
    }
    if (first < 0 || last < first) {
      return new TraceCharts(
          options,
          -1,
          -1,
          1,
          0,
          List.of(),
          new BucketSeries[0][],
          List.of(),
          metadata,
          infos,
          columns);
    }
    long perBucket = bucketWidth(first, last, options.maxPoints());
    int buckets = bucketCount(first, last, perBucket);

    List<Key> keys = keys(report, options, layerCount);
    // The kept streams by (position of their layer among the kept layers, phase): a few layers,
    // whatever the largest layer index.
    int[] keyLayers = keys.stream().mapToInt(Key::layer).distinct().sorted().toArray();
    int[] slotToKey = new int[keyLayers.length * Phase.COUNT];
    Arrays.fill(slotToKey, -1);
    BucketSeries[][] series = new BucketSeries[keys.size()][STATS.length];
    for (int k = 0; k < keys.size(); k++) {
      Key key = keys.get(k);
      int position = Arrays.binarySearch(keyLayers, key.layer());
      slotToKey[position * Phase.COUNT + key.phase().code()] = k;
      for (int s = 0; s < STATS.length; s++) {
        series[k][s] = new BucketSeries(buckets);
      }
    }
    List<HeatmapGrid> heatmaps = new ArrayList<>();
    int[] phaseToHeatmap = new int[Phase.COUNT];
    Arrays.fill(phaseToHeatmap, -1);
    if (layerCount > 0) {
      for (Phase phase : heatmapPhases(report, options)) {
        phaseToHeatmap[phase.code()] = heatmaps.size();
        heatmaps.add(
            new HeatmapGrid(
                phase, layerCount, options.heatmapRows(), first, last, options.heatmapColumns()));
      }
    }
    boolean[] modelLevel = new boolean[Phase.COUNT];
    for (Phase phase : Phase.values()) {
      modelLevel[phase.code()] = phase.isModelLevel();
    }
    HeatmapGrid[] grids = heatmaps.toArray(HeatmapGrid[]::new);
    boolean hasMean = columns.contains(Column.MEAN);
    boolean hasStd = columns.contains(Column.STD);
    boolean hasL2 = columns.contains(Column.L2_NORM);
    boolean hasZero = columns.contains(Column.ZERO_FRACTION);
    boolean hasNan = columns.contains(Column.NAN_COUNT);
    boolean hasInf = columns.contains(Column.INF_COUNT);
    while (reader.next()) {
      int n = batch.size();
      long[] steps = batch.longs(Column.STEP);
      int[] layerIndex = batch.ints(Column.LAYER_INDEX);
      int[] phases = batch.ints(Column.PHASE);
      double[] mean = hasMean ? batch.doubles(Column.MEAN) : null;
      double[] std = hasStd ? batch.doubles(Column.STD) : null;
      double[] l2 = hasL2 ? batch.doubles(Column.L2_NORM) : null;
      double[] zero = hasZero ? batch.doubles(Column.ZERO_FRACTION) : null;
      long[] nan = hasNan ? batch.longs(Column.NAN_COUNT) : null;
      long[] inf = hasInf ? batch.longs(Column.INF_COUNT) : null;
      boolean[] meanNull = hasMean ? batch.nullMask(Column.MEAN) : null;
      boolean[] stdNull = hasStd ? batch.nullMask(Column.STD) : null;
      boolean[] l2Null = hasL2 ? batch.nullMask(Column.L2_NORM) : null;
      boolean[] zeroNull = hasZero ? batch.nullMask(Column.ZERO_FRACTION) : null;
      boolean[] nanNull = hasNan ? batch.nullMask(Column.NAN_COUNT) : null;
      boolean[] infNull = hasInf ? batch.nullMask(Column.INF_COUNT) : null;
      for (int r = 0; r < n; r++) {
        long step = steps[r];
        int code = phases[r];
        if (step < first || step > last || code < 0 || code >= Phase.COUNT) {
          continue;
        }
        int layer = modelLevel[code] ? -1 : layerIndex[r];
        if (layer < -1 || layer >= layerCount) {
          continue;
        }
        int position = Arrays.binarySearch(keyLayers, layer);
        int key = position < 0 ? -1 : slotToKey[position * Phase.COUNT + code];
        HeatmapGrid grid =
            layer >= 0 && phaseToHeatmap[code] >= 0 ? grids[phaseToHeatmap[code]] : null;
        if (key < 0 && grid == null) {
          continue;
        }
        boolean meanPresent = mean != null && (meanNull == null || !meanNull[r]);
        boolean stdPresent = std != null && (stdNull == null || !stdNull[r]);
        boolean l2Present = l2 != null && (l2Null == null || !l2Null[r]);
        boolean zeroPresent = zero != null && (zeroNull == null || !zeroNull[r]);
        boolean nanPresent = nan != null && (nanNull == null || !nanNull[r]);
        boolean infPresent = inf != null && (infNull == null || !infNull[r]);
        long nonFinite =
            (nanPresent ? Math.max(0, nan[r]) : 0) + (infPresent ? Math.max(0, inf[r]) : 0);
        if (key >= 0) {
          BucketSeries[] stats = series[key];
          int bucket = (int) ((step - first) / perBucket);
          if (meanPresent) {
            stats[ChartStat.MEAN.index()].add(bucket, mean[r]);
          }
          if (stdPresent) {
            stats[ChartStat.STD.index()].add(bucket, std[r]);
          }
          if (l2Present) {
            stats[ChartStat.L2_NORM.index()].add(bucket, l2[r]);
          }
          if (zeroPresent) {
            stats[ChartStat.ZERO_FRACTION.index()].add(bucket, zero[r]);
          }
          if (nanPresent || infPresent) {
            stats[ChartStat.NON_FINITE.index()].add(bucket, (double) nonFinite);
          }
        }
        if (grid != null) {
          grid.add(
              layer,
              step,
              meanPresent,
              meanPresent ? mean[r] : 0,
              zeroPresent,
              zeroPresent ? zero[r] : 0,
              stdPresent,
              stdPresent ? std[r] : 0,
              nonFinite);
        }
      }
    }
    return new TraceCharts(
        options, first, last, perBucket, buckets, keys, series, heatmaps, metadata, infos, columns);
  }

  /**
   * The steps per bucket: the smallest of 1, 2, 5, 10, 20, 50... that cuts the steps {@code first}
   * to {@code last} (both at least 0) into at most {@code maxBuckets} buckets (round widths make
   * readable captions: "buckets of 200 steps"). Exact for any steps up to {@code Long.MAX_VALUE}.
   */
  static long bucketWidth(long first, long last, int maxBuckets) {
    // A width w is enough when w * maxBuckets >= last - first + 1, that is w > q below; the
    // step count last - first + 1 itself overflows for the steps 0 to Long.MAX_VALUE.
    long q = (last - first) / maxBuckets;
    long width = 1;
    while (true) {
      for (long factor : new long[] {1, 2, 5}) {
        if (width * factor > q) {
          return width * factor;
        }
      }
      if (width > Long.MAX_VALUE / 50) {
        return q == Long.MAX_VALUE ? q : q + 1;
      }
      width *= 10;
    }
  }

  /** The buckets of {@code width} steps that cover the steps {@code first} to {@code last}. */
  static int bucketCount(long first, long last, long width) {
    return (int) ((last - first) / width + 1);
  }

  /** The streams kept: the top findings' layers and neighbours, then the model-level curves. */
  static List<Key> keys(Report report, Options options, int layerCount) {
    List<Key> keys = new ArrayList<>();
    List<Finding> findings = report.findings();
    for (int i = 0; i < findings.size() && i < options.topFindings(); i++) {
      Finding finding = findings.get(i);
      if (finding.isModelLevel() || finding.phase().isModelLevel()) {
        addKey(keys, new Key(-1, finding.phase()));
      } else {
        int from = Math.max(0, finding.layerIndex() - options.neighbours());
        int to = Math.min(layerCount - 1, finding.layerIndex() + options.neighbours());
        for (int layer = from; layer <= to; layer++) {
          addKey(keys, new Key(layer, finding.phase()));
        }
      }
    }
    for (Phase phase : MODEL_PHASES) {
      if (report.trace().phases().contains(phase.wireName())) {
        addKey(keys, new Key(-1, phase));
      }
    }
    return keys;
  }

  /** The heatmap phases: see the class comment. Only layer-level phases the trace has. */
  static List<Phase> heatmapPhases(Report report, Options options) {
    List<Phase> candidates = new ArrayList<>();
    List<Finding> findings = report.findings();
    for (int i = 0; i < findings.size() && i < Math.max(1, options.topFindings()); i++) {
      Finding finding = findings.get(i);
      candidates.add(finding.phase());
      for (Consequence consequence : finding.consequences()) {
        candidates.add(consequence.phase());
      }
    }
    candidates.add(Phase.FORWARD);
    candidates.add(Phase.GRADIENT);
    List<Phase> phases = new ArrayList<>();
    for (Phase phase : candidates) {
      if (phases.size() < options.heatmaps()
          && !phase.isModelLevel()
          && !phases.contains(phase)
          && report.trace().phases().contains(phase.wireName())) {
        phases.add(phase);
      }
    }
    return phases;
  }

  private static void addKey(List<Key> keys, Key key) {
    if (!keys.contains(key)) {
      keys.add(key);
    }
  }

  Options options() {
    return options;
  }

  /** The first step of the range drawn, or -1 when the trace had no step. */
  long firstStep() {
    return firstStep;
  }

  long lastStep() {
    return lastStep;
  }

  /** Consecutive step values per bucket (1: every step is a point). */
  long stepsPerBucket() {
    return stepsPerBucket;
  }

  int buckets() {
    return buckets;
  }

  /** The step in the middle of a bucket, where its point is drawn. */
  double bucketStep(int bucket) {
    return firstStep + bucket * (double) stepsPerBucket + (stepsPerBucket - 1) / 2.0;
  }

  /** The series of a statistic of a (layer, phase), or {@code null} when it was not kept. */
  BucketSeries series(int layer, Phase phase, ChartStat stat) {
    int k = keys.indexOf(new Key(layer, phase));
    return k < 0 ? null : series[k][stat.index()];
  }

  List<HeatmapGrid> heatmaps() {
    return heatmaps;
  }

  /** Every metadata key-value pair of the trace, in file order. */
  Map<String, String> metadata() {
    return metadata;
  }

  /** The layers listed in the trace's {@code dltrace.layers}. */
  List<LayerInfo> layerInfos() {
    return layerInfos;
  }

  /** True when the trace has this column. */
  boolean has(Column column) {
    return columns.contains(column);
  }
}
