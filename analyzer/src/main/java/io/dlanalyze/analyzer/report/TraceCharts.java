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
import org.jspecify.annotations.Nullable;

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
 *   <li>for each of the first {@link Options#topFindings()} findings in story order ({@link
 *       ReportStory}: the root cause's finding first), the statistics of {@link ChartStat} for its
 *       (layer, phase) and for the {@link Options#neighbours()} layers on each side in the same
 *       phase (a model-level finding: its own phase only), and those of the places the leading
 *       finding's consequences reach (their distributions over time);
 *   <li>the means of the model-level phases loss, accuracy, val_loss and val_accuracy;
 *   <li>one {@link HeatmapGrid} per heatmap ({@link #heatmapSpecs}), the one that shows the root
 *       cause's symptom first; at most {@link Options#heatmaps()}.
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
              Column.MIN,
              Column.MAX,
              Column.L2_NORM,
              Column.ZERO_FRACTION,
              Column.NAN_COUNT,
              Column.INF_COUNT));

  /** The model-level phases drawn as curves, in this order. */
  static final List<Phase> MODEL_PHASES =
      List.of(Phase.LOSS, Phase.ACCURACY, Phase.VAL_LOSS, Phase.VAL_ACCURACY, Phase.EPISODE_RETURN);

  private static final ChartStat[] STATS = ChartStat.values();

  /**
   * How much the report draws.
   *
   * @param topFindings findings that get their own charts (0 to 10)
   * @param neighbours layers drawn on each side of a finding's layer (0 to 5)
   * @param maxPoints step buckets per series (10 to 5000)
   * @param heatmaps layer x step heatmaps (0 to 12)
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
      check("heatmaps", heatmaps, 0, 12);
      check("heatmapColumns", heatmapColumns, 10, 2000);
      check("heatmapRows", heatmapRows, 10, 2000);
    }

    /** 3 findings, 2 neighbours each side, 300 points per series, 7 heatmaps of 400 x 200. */
    public static Options defaults() {
      return new Options(3, 2, 300, 7, 400, 200);
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

  /** A heatmap: a statistic of a phase over layers and steps. */
  record HeatmapSpec(Phase phase, HeatmapGrid.Metric metric) {}

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
    this.layerInfos = layerInfos; // unmodifiable: TraceMetadata's, or List.of()
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
    List<LayerInfo> infos = reader.metadata().layersByIndex();
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
    // the grids of each phase code
    HeatmapGrid[][] phaseGrids = new HeatmapGrid[Phase.COUNT][];
    if (layerCount > 0) {
      for (HeatmapSpec spec : heatmapSpecs(report, options, columns)) {
        HeatmapGrid grid =
            new HeatmapGrid(
                spec.phase(),
                spec.metric(),
                layerCount,
                options.heatmapRows(),
                first,
                last,
                options.heatmapColumns());
        heatmaps.add(grid);
        int code = spec.phase().code();
        HeatmapGrid[] old = phaseGrids[code] == null ? new HeatmapGrid[0] : phaseGrids[code];
        HeatmapGrid[] grown = Arrays.copyOf(old, old.length + 1);
        grown[old.length] = grid;
        phaseGrids[code] = grown;
      }
    }
    boolean[] modelLevel = new boolean[Phase.COUNT];
    for (Phase phase : Phase.values()) {
      modelLevel[phase.code()] = phase.isModelLevel();
    }
    boolean hasMean = columns.contains(Column.MEAN);
    boolean hasStd = columns.contains(Column.STD);
    boolean hasL2 = columns.contains(Column.L2_NORM);
    boolean hasMin = columns.contains(Column.MIN);
    boolean hasMax = columns.contains(Column.MAX);
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
      double[] min = hasMin ? batch.doubles(Column.MIN) : null;
      double[] max = hasMax ? batch.doubles(Column.MAX) : null;
      boolean[] minNull = hasMin ? batch.nullMask(Column.MIN) : null;
      boolean[] maxNull = hasMax ? batch.nullMask(Column.MAX) : null;
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
        HeatmapGrid[] grids = layer >= 0 ? phaseGrids[code] : null;
        if (key < 0 && grids == null) {
          continue;
        }
        boolean meanPresent = mean != null && (meanNull == null || !meanNull[r]);
        boolean stdPresent = std != null && (stdNull == null || !stdNull[r]);
        boolean l2Present = l2 != null && (l2Null == null || !l2Null[r]);
        boolean zeroPresent = zero != null && (zeroNull == null || !zeroNull[r]);
        boolean nanPresent = nan != null && (nanNull == null || !nanNull[r]);
        boolean infPresent = inf != null && (infNull == null || !infNull[r]);
        long nonFinite =
            (nanPresent ? Math.max(0, at(nan, r)) : 0) + (infPresent ? Math.max(0, at(inf, r)) : 0);
        if (key >= 0) {
          BucketSeries[] stats = series[key];
          int bucket = (int) ((step - first) / perBucket);
          if (meanPresent) {
            stats[ChartStat.MEAN.index()].add(bucket, at(mean, r));
          }
          if (stdPresent) {
            stats[ChartStat.STD.index()].add(bucket, at(std, r));
          }
          if (l2Present) {
            stats[ChartStat.L2_NORM.index()].add(bucket, at(l2, r));
          }
          if (zeroPresent) {
            stats[ChartStat.ZERO_FRACTION.index()].add(bucket, at(zero, r));
          }
          if (nanPresent || infPresent) {
            stats[ChartStat.NON_FINITE.index()].add(bucket, (double) nonFinite);
          }
          if (min != null && (minNull == null || !minNull[r])) {
            stats[ChartStat.MIN.index()].add(bucket, min[r]);
          }
          if (max != null && (maxNull == null || !maxNull[r])) {
            stats[ChartStat.MAX.index()].add(bucket, max[r]);
          }
        }
        if (grids != null) {
          for (HeatmapGrid grid : grids) {
            grid.add(
                layer,
                step,
                meanPresent,
                meanPresent ? at(mean, r) : 0,
                zeroPresent,
                zeroPresent ? at(zero, r) : 0,
                stdPresent,
                stdPresent ? at(std, r) : 0,
                l2Present,
                l2Present ? at(l2, r) : 0,
                nonFinite);
          }
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

  /**
   * The streams kept: the charted findings' layers and neighbours (in story order, {@link
   * ReportStory}), the layers the leading finding's consequences reach (its distributions), then
   * the model-level curves.
   */
  static List<Key> keys(Report report, Options options, int layerCount) {
    List<Key> keys = new ArrayList<>();
    List<Finding> findings = charted(report, options);
    for (Finding finding : findings) {
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
    for (Key key : distributionKeys(report, layerCount)) {
      addKey(keys, key);
    }
    for (Phase phase : MODEL_PHASES) {
      if (report.trace().phases().contains(phase.wireName())) {
        addKey(keys, new Key(-1, phase));
      }
    }
    return keys;
  }

  /** The findings that get charts: the first {@code topFindings} in story order. */
  static List<Finding> charted(Report report, Options options) {
    List<Finding> charted = new ArrayList<>();
    ReportStory story = ReportStory.of(report);
    for (int rank : story.order()) {
      if (charted.size() >= options.topFindings()) {
        break;
      }
      charted.add(report.findings().get(rank - 1));
    }
    return charted;
  }

  /** Layer streams whose distributions are drawn, at most this many. */
  static final int DISTRIBUTIONS = 4;

  /**
   * The (layer, phase) streams whose distributions over time are drawn: the leading finding's layer
   * and phase, then the layer-level places its consequences reach, at most {@link #DISTRIBUTIONS};
   * none when it is model-level.
   */
  static List<Key> distributionKeys(Report report, int layerCount) {
    List<Key> keys = new ArrayList<>();
    Finding leading = ReportStory.of(report).leading().orElse(null);
    if (leading == null || leading.isModelLevel() || leading.phase().isModelLevel()) {
      return keys;
    }
    if (leading.layerIndex() < layerCount) {
      keys.add(new Key(leading.layerIndex(), leading.phase()));
    }
    for (Consequence consequence : leading.consequences()) {
      Key key = new Key(consequence.layerIndex(), consequence.phase());
      if (keys.size() < DISTRIBUTIONS
          && consequence.layerIndex() >= 0
          && consequence.layerIndex() < layerCount
          && !consequence.phase().isModelLevel()
          && !keys.contains(key)) {
        keys.add(key);
      }
    }
    return keys;
  }

  /** The heatmap phases of the log10 |mean| maps, as before the other statistics' maps. */
  static List<Phase> heatmapPhases(Report report, Options options) {
    List<Phase> phases = new ArrayList<>();
    for (HeatmapSpec spec : heatmapSpecs(report, options, EnumSet.allOf(Column.class))) {
      if (spec.metric() == HeatmapGrid.Metric.LOG_MEAN) {
        phases.add(spec.phase());
      }
    }
    return phases;
  }

  /**
   * The heatmaps drawn, in page order: first the map that shows the leading finding's symptom
   * (zero_fraction for dead or zero values, gradient l2_norm for exploding or vanishing gradients,
   * NaN/Inf counts for numerical errors, the activations' std for saturation, else log10 |mean| of
   * its phase); then log10 |mean| of the charted findings' phases and the phases their consequences
   * reached, then of forward and gradient (two of these at most); then zero_fraction of the
   * activations and of the gradients, gradient l2_norm, NaN/Inf counts of the forward pass and the
   * activations' std. Only layer-level phases the trace has, statistics it has, at most {@code
   * options.heatmaps()}.
   */
  static List<HeatmapSpec> heatmapSpecs(Report report, Options options, Set<Column> columns) {
    List<String> present = report.trace().phases();
    Phase activations =
        present.contains(Phase.ACTIVATION.wireName()) ? Phase.ACTIVATION : Phase.FORWARD;
    List<HeatmapSpec> candidates = new ArrayList<>();
    Finding leading = ReportStory.of(report).leading().orElse(null);
    if (leading != null) {
      Phase own = leading.phase().isModelLevel() ? null : leading.phase();
      candidates.add(
          switch (leading.symptom()) {
            case DEAD_OR_ZERO ->
                new HeatmapSpec(own == null ? activations : own, HeatmapGrid.Metric.ZERO_FRACTION);
            case EXPLODING_GRADIENT, VANISHING_GRADIENT ->
                new HeatmapSpec(Phase.GRADIENT, HeatmapGrid.Metric.LOG_L2);
            case NUMERICAL_ERROR ->
                new HeatmapSpec(own == null ? Phase.FORWARD : own, HeatmapGrid.Metric.NON_FINITE);
            case SATURATION -> new HeatmapSpec(activations, HeatmapGrid.Metric.LOG_STD);
            default ->
                own == null
                    ? new HeatmapSpec(Phase.GRADIENT, HeatmapGrid.Metric.LOG_L2)
                    : new HeatmapSpec(own, HeatmapGrid.Metric.LOG_MEAN);
          });
    }
    List<Phase> meanPhases = new ArrayList<>();
    List<Finding> findings = charted(report, options);
    if (findings.isEmpty() && !report.findings().isEmpty()) {
      findings = List.of(report.findings().get(0));
    }
    for (Finding finding : findings) {
      meanPhases.add(finding.phase());
      for (Consequence consequence : finding.consequences()) {
        meanPhases.add(consequence.phase());
      }
    }
    meanPhases.add(Phase.FORWARD);
    meanPhases.add(Phase.GRADIENT);
    int meanMaps = 0;
    for (Phase phase : meanPhases) {
      if (meanMaps < 2
          && !phase.isModelLevel()
          && present.contains(phase.wireName())
          && !candidates.contains(new HeatmapSpec(phase, HeatmapGrid.Metric.LOG_MEAN))) {
        candidates.add(new HeatmapSpec(phase, HeatmapGrid.Metric.LOG_MEAN));
        meanMaps++;
      }
    }
    candidates.add(new HeatmapSpec(activations, HeatmapGrid.Metric.ZERO_FRACTION));
    candidates.add(new HeatmapSpec(Phase.GRADIENT, HeatmapGrid.Metric.ZERO_FRACTION));
    candidates.add(new HeatmapSpec(Phase.GRADIENT, HeatmapGrid.Metric.LOG_L2));
    candidates.add(new HeatmapSpec(Phase.FORWARD, HeatmapGrid.Metric.NON_FINITE));
    candidates.add(new HeatmapSpec(activations, HeatmapGrid.Metric.LOG_STD));
    List<HeatmapSpec> specs = new ArrayList<>();
    for (HeatmapSpec spec : candidates) {
      if (specs.size() < options.heatmaps()
          && !spec.phase().isModelLevel()
          && present.contains(spec.phase().wireName())
          && columns.contains(column(spec.metric()))
          && !specs.contains(spec)) {
        specs.add(spec);
      }
    }
    return specs;
  }

  private static Column column(HeatmapGrid.Metric metric) {
    return switch (metric) {
      case LOG_MEAN -> Column.MEAN;
      case ZERO_FRACTION -> Column.ZERO_FRACTION;
      case LOG_L2 -> Column.L2_NORM;
      case NON_FINITE -> Column.NAN_COUNT;
      case LOG_STD -> Column.STD;
    };
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

  /** A value of a column the caller found present: its array is loaded. */
  private static double at(double @Nullable [] values, int row) {
    return requireNonNull(values, "a present value has its column")[row];
  }

  private static long at(long @Nullable [] values, int row) {
    return requireNonNull(values, "a present value has its column")[row];
  }

  /** The series of a statistic of a (layer, phase), or {@code null} when it was not kept. */
  @Nullable BucketSeries series(int layer, Phase phase, ChartStat stat) {
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

  /** The layers listed in the trace's {@code dltrace.layers}: each index once, sorted by index. */
  List<LayerInfo> layerInfos() {
    return layerInfos;
  }

  /** True when the trace has this column. */
  boolean has(Column column) {
    return columns.contains(column);
  }
}
