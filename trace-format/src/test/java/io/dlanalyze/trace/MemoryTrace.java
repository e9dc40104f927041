package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.LongFunction;

/**
 * The test suites' one in-memory trace and its one builder; every module's tests use it (the
 * trace-format test jar). Use it for what a test writes by hand or needs to hold whole:
 *
 * <ul>
 *   <li>{@link #builder()}: rows one by one, in the order given ({@link Builder#model(long, Phase,
 *       double)}, {@link Builder#layer(long, int, String, String, Phase, double)}, {@link
 *       Builder#add(Row)}); one epoch unless {@link Builder#stepsPerEpoch} says otherwise.
 *   <li>{@link #scripted(int)}: a small hand-written model for detector tests: declared layers
 *       ({@link Builder#layer(String, String)}, which become {@code dltrace.layers}), and per
 *       (phase, layer) a function from the step to the row's {@link Stats}; rows come out in the
 *       contract's order inside each step.
 *   <li>{@link #of(TraceMetadata, List)}, {@link #copyOf(TraceReader)} (any reader, read to its
 *       end) and {@link #of(SyntheticTrace)} (a generated trace).
 * </ul>
 *
 * <p>{@link #open} replays the trace batch by batch as a decoder would write them: each batch is
 * copied into the reader's reused arrays column by column, so engine benchmarks measure the
 * analysis without the decoding. A trace can be cut into step ranges ({@link #steps}, {@link
 * #split}), given other metadata, shuffled inside each step, and written to a file of any format
 * ({@link #write}, through {@link TestTraces}, which writes every test trace file). Synthetic
 * traces that need not be held whole are read from {@link SyntheticTrace#open} directly; hostile
 * values are in {@link HostileTraces}; a trace read back for comparison is a {@link TraceRows}.
 */
public final class MemoryTrace {
  /** One row; null statistics are absent. */
  public record Row(
      int epoch,
      int batch,
      long step,
      int layerIndex,
      String layerName,
      String layerType,
      String phase,
      double mean,
      Double std,
      Double min,
      Double max,
      Double l2Norm,
      Double zeroFraction,
      Long nanCount,
      Long infCount,
      Long numel) {
    public Row withMean(double value) {
      return new Row(
          epoch,
          batch,
          step,
          layerIndex,
          layerName,
          layerType,
          phase,
          value,
          std,
          min,
          max,
          l2Norm,
          zeroFraction,
          nanCount,
          infCount,
          numel);
    }
  }

  /** One scripted row's statistics; null ones are absent. */
  public record Stats(
      double mean, Double std, Double min, Double max, Double l2, Double zero, Long numel) {
    /** A tensor of 100 elements with this mean and standard deviation. */
    public static Stats of(double mean, double std) {
      return new Stats(
          mean,
          std,
          mean - 3 * std,
          mean + 3 * std,
          Math.sqrt(mean * mean + std * std) * 10,
          0.0,
          100L);
    }

    /** One value (a loss, an accuracy, a learning rate). */
    public static Stats scalar(double value) {
      return new Stats(value, 0.0, value, value, Math.abs(value), value == 0 ? 1.0 : 0.0, 1L);
    }

    /** A tensor of 100 elements with this l2 norm. */
    public static Stats norm(double l2) {
      return new Stats(0, l2 / 10, -l2 / 3, l2 / 3, l2, 0.0, 100L);
    }

    public Stats withZero(double zeroFraction) {
      return new Stats(mean, std, min, max, l2, zeroFraction, numel);
    }

    public Stats withNumel(long n) {
      return new Stats(mean, std, min, max, l2, zero, n);
    }

    public Stats withRange(double lo, double hi) {
      return new Stats(mean, std, lo, hi, l2, zero, numel);
    }
  }

  /** A scripted per-layer stream: the statistics of {@code layer} at {@code step}, or null. */
  public interface LayerStats {
    Stats at(long step, int layer);
  }

  private final TraceMetadata metadata;
  private final TraceDictionary dictionary;
  private final TraceBatch columns;

  private MemoryTrace(TraceMetadata metadata, TraceDictionary dictionary, TraceBatch columns) {
    this.metadata = metadata;
    this.dictionary = dictionary;
    this.columns = columns;
  }

  /** Generates the whole trace into memory. */
  public static MemoryTrace of(SyntheticTrace trace) {
    if (trace.totalRows() > Integer.MAX_VALUE / 2) {
      throw new IllegalArgumentException(
          format(ROOT, "trace too large for memory: %d rows", trace.totalRows()));
    }
    int n = (int) trace.totalRows();
    try (TraceReader reader = trace.open(ReadOptions.all().withBatchRows(Math.max(1, n)))) {
      reader.next();
      TraceBatch all = TraceBatch.allColumns(reader.dictionary(), Math.max(1, n));
      all.reset(n);
      all.swapContents(reader.batch());
      return new MemoryTrace(reader.metadata(), reader.dictionary(), all);
    }
  }

  /** These rows, in this order. */
  public static MemoryTrace of(TraceMetadata metadata, List<Row> rows) {
    TraceDictionary dictionary = new TraceDictionary();
    TraceBatch columns = TraceBatch.allColumns(dictionary, Math.max(1, rows.size()));
    columns.reset(rows.size());
    for (int i = 0; i < rows.size(); i++) {
      Row row = rows.get(i);
      columns.ints(Column.EPOCH)[i] = row.epoch();
      columns.ints(Column.BATCH)[i] = row.batch();
      columns.longs(Column.STEP)[i] = row.step();
      columns.ints(Column.LAYER_INDEX)[i] = row.layerIndex();
      columns.ints(Column.LAYER_NAME)[i] = dictionary.layerNameId(row.layerName());
      if (row.layerType() == null) {
        columns.setNull(Column.LAYER_TYPE, i);
      } else {
        columns.ints(Column.LAYER_TYPE)[i] = dictionary.layerTypeId(row.layerType());
      }
      columns.ints(Column.PHASE)[i] = dictionary.phaseCode(row.phase());
      columns.doubles(Column.MEAN)[i] = row.mean();
      set(columns, Column.STD, i, row.std());
      set(columns, Column.MIN, i, row.min());
      set(columns, Column.MAX, i, row.max());
      set(columns, Column.L2_NORM, i, row.l2Norm());
      set(columns, Column.ZERO_FRACTION, i, row.zeroFraction());
      set(columns, Column.NAN_COUNT, i, row.nanCount());
      set(columns, Column.INF_COUNT, i, row.infCount());
      set(columns, Column.NUMEL, i, row.numel());
    }
    return new MemoryTrace(metadata, dictionary, columns);
  }

  private static void set(TraceBatch columns, Column column, int i, Double value) {
    if (value == null) {
      columns.setNull(column, i);
    } else {
      columns.doubles(column)[i] = value;
    }
  }

  private static void set(TraceBatch columns, Column column, int i, Long value) {
    if (value == null) {
      columns.setNull(column, i);
    } else {
      columns.longs(column)[i] = value;
    }
  }

  /** Every row of {@code source}, read to its end (columns it does not load are null). */
  public static MemoryTrace copyOf(TraceReader source) {
    List<Row> rows = new ArrayList<>();
    while (source.next()) {
      addRows(source.batch(), source.dictionary(), rows);
    }
    return of(source.metadata(), rows);
  }

  /** Appends the rows of {@code b} as records, its strings resolved through {@code d}. */
  private static void addRows(TraceBatch b, TraceDictionary d, List<Row> into) {
    for (int r = 0; r < b.size(); r++) {
      into.add(
          new Row(
              b.ints(Column.EPOCH)[r],
              b.ints(Column.BATCH)[r],
              b.longs(Column.STEP)[r],
              b.ints(Column.LAYER_INDEX)[r],
              d.layerName(b.ints(Column.LAYER_NAME)[r]),
              b.isNull(Column.LAYER_TYPE, r) ? null : d.layerType(b.ints(Column.LAYER_TYPE)[r]),
              d.phaseName(b.ints(Column.PHASE)[r]),
              b.doubles(Column.MEAN)[r],
              real(b, Column.STD, r),
              real(b, Column.MIN, r),
              real(b, Column.MAX, r),
              real(b, Column.L2_NORM, r),
              real(b, Column.ZERO_FRACTION, r),
              count(b, Column.NAN_COUNT, r),
              count(b, Column.INF_COUNT, r),
              count(b, Column.NUMEL, r)));
    }
  }

  private static Double real(TraceBatch b, Column c, int r) {
    return !b.has(c) || b.isNull(c, r) ? null : b.doubles(c)[r];
  }

  private static Long count(TraceBatch b, Column c, int r) {
    return !b.has(c) || b.isNull(c, r) ? null : b.longs(c)[r];
  }

  public TraceMetadata metadata() {
    return metadata;
  }

  public int size() {
    return columns.size();
  }

  /** Every row, all columns, as the replay copies them: a caller may edit values first. */
  public TraceBatch columns() {
    return columns;
  }

  /** Every row as a record, in order. */
  public List<Row> rows() {
    List<Row> rows = new ArrayList<>(size());
    addRows(columns, dictionary, rows);
    return rows;
  }

  /** The same rows under other metadata. */
  public MemoryTrace withMetadata(TraceMetadata other) {
    return of(other, rows());
  }

  /** The rows of the steps from {@code from} (inclusive) to {@code to} (exclusive), in order. */
  public MemoryTrace steps(long from, long to) {
    List<Row> kept = new ArrayList<>();
    for (Row row : rows()) {
      if (row.step() >= from && row.step() < to) {
        kept.add(row);
      }
    }
    return of(metadata, kept);
  }

  /**
   * The rows a recorder sampling with {@code every} keeps: every model-level row (the scalars are
   * recorded at each step) and the layer rows of steps 0, every, 2 every...
   */
  public MemoryTrace sampledEvery(int every) {
    List<Row> kept = new ArrayList<>();
    for (Row row : rows()) {
      if (row.layerIndex() < 0 || row.step() % every == 0) {
        kept.add(row);
      }
    }
    return of(metadata, kept);
  }

  /**
   * The trace cut before each of the steps {@code cuts} (ascending): {@code cuts.length + 1}
   * pieces, the first from the start, the last to the end; each with this trace's metadata.
   */
  public List<MemoryTrace> split(long... cuts) {
    List<MemoryTrace> pieces = new ArrayList<>();
    long from = Long.MIN_VALUE;
    for (long cut : cuts) {
      pieces.add(steps(from, cut));
      from = cut;
    }
    pieces.add(steps(from, Long.MAX_VALUE));
    return pieces;
  }

  /** The same rows with the order inside each step shuffled (a fixed seed). */
  public MemoryTrace shuffledWithinSteps(long seed) {
    List<Row> rows = rows();
    Random random = new Random(seed);
    List<Row> out = new ArrayList<>(rows.size());
    int i = 0;
    while (i < rows.size()) {
      int j = i;
      while (j < rows.size() && rows.get(j).step() == rows.get(i).step()) {
        j++;
      }
      List<Row> step = new ArrayList<>(rows.subList(i, j));
      Collections.shuffle(step, random);
      out.addAll(step);
      i = j;
    }
    return of(metadata, out);
  }

  /** Writes the rows to a file of the format {@code path}'s extension names; returns the path. */
  public Path write(Path path, WriteOptions options) {
    try (TraceReader reader = open(Column.all(), 1_000)) {
      return TestTraces.copy(reader, path, options);
    }
  }

  /** A reader over every column, {@code batchRows} rows per batch. */
  public TraceReader open(int batchRows) {
    return open(Column.all(), batchRows);
  }

  /** A reader over the rows in batches of {@code batchRows}, loading only {@code projection}. */
  public TraceReader open(Set<Column> projection, int batchRows) {
    return new TraceReader() {
      private final TraceBatch batch =
          new TraceBatch(dictionary, projection, Math.min(batchRows, Math.max(1, size())));
      private int position;

      @Override
      public boolean next() {
        int n = Math.min(batchRows, size() - position);
        if (n <= 0) {
          batch.reset(0);
          return false;
        }
        batch.reset(n);
        for (Column column : projection) {
          switch (column.type()) {
            case INT32, STRING ->
                System.arraycopy(columns.ints(column), position, batch.ints(column), 0, n);
            case INT64 ->
                System.arraycopy(columns.longs(column), position, batch.longs(column), 0, n);
            case FLOAT64 ->
                System.arraycopy(columns.doubles(column), position, batch.doubles(column), 0, n);
          }
          if (columns.hasNulls(column)) {
            System.arraycopy(
                columns.nullMask(column), position, batch.nullMaskForWrite(column), 0, n);
          }
        }
        position += n;
        return true;
      }

      @Override
      public TraceBatch batch() {
        return batch;
      }

      @Override
      public Path path() {
        return Path.of("memory.trace");
      }

      @Override
      public TraceFormat format() {
        return TraceFormat.SYNTHETIC;
      }

      @Override
      public TraceMetadata metadata() {
        return metadata;
      }

      @Override
      public Set<Column> columnsInFile() {
        return Column.all();
      }

      @Override
      public TraceDictionary dictionary() {
        return dictionary;
      }

      @Override
      public long rowsRead() {
        return position;
      }

      @Override
      public long totalRows() {
        return size();
      }

      @Override
      public boolean truncated() {
        return false;
      }

      @Override
      public List<String> warnings() {
        return List.of();
      }

      @Override
      public void close() {}
    };
  }

  /** A builder of rows added one by one: one epoch, no metadata unless told. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A builder of a scripted trace of {@code steps} steps: version 1, 20 steps per epoch (unless
   * told), its declared layers listed in {@code dltrace.layers}.
   */
  public static Builder scripted(int steps) {
    if (steps <= 0) {
      throw new IllegalArgumentException("a scripted trace needs steps: " + steps);
    }
    Builder builder = new Builder();
    builder.steps = steps;
    return builder.stepsPerEpoch(20).meta(TraceMetadata.VERSION, "1");
  }

  /**
   * Builds a trace either row by row ({@link #builder()}: rows in the order added) or from scripted
   * streams ({@link #scripted(int)}: per step, the streams of each phase in the contract's order),
   * not both.
   */
  public static final class Builder {
    private record Stream(Phase phase, int layer, LongFunction<Stats> stats) {}

    private final List<Row> rows = new ArrayList<>();
    private final List<Stream> streams = new ArrayList<>();
    private final List<LayerInfo> layers = new ArrayList<>();
    private final Map<String, String> keys = new LinkedHashMap<>();
    private TraceMetadata metadata = TraceMetadata.empty();
    private int stepsPerEpoch = 1_000_000;
    private int steps;

    private Builder() {}

    /** The metadata the keys of {@link #meta} and the declared layers are added to. */
    public Builder metadata(TraceMetadata metadata) {
      this.metadata = metadata;
      return this;
    }

    /** One metadata key. */
    public Builder meta(String key, String value) {
      keys.put(key, value);
      return this;
    }

    public Builder stepsPerEpoch(int stepsPerEpoch) {
      this.stepsPerEpoch = stepsPerEpoch;
      return this;
    }

    // ---- rows one by one ------------------------------------------------------------------------

    /** A layer row with only a mean. */
    public Builder layer(long step, int layer, String name, String type, Phase phase, double mean) {
      return add(row(step, layer, name, type, phase.wireName(), mean));
    }

    /** A model-level row (loss, accuracy...) with only a mean. */
    public Builder model(long step, Phase phase, double mean) {
      return add(row(step, -1, "model", null, phase.wireName(), mean));
    }

    public Builder add(Row row) {
      rows.add(row);
      return this;
    }

    private Row row(long step, int layer, String name, String type, String phase, double mean) {
      return new Row(
          (int) (step / stepsPerEpoch),
          (int) (step % stepsPerEpoch),
          step,
          layer,
          name,
          type,
          phase,
          mean,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null);
    }

    // ---- declared layers ------------------------------------------------------------------------

    /** A trainable Linear layer with this activation. */
    public Builder layer(String name, String activation) {
      return layer(name, "Linear", activation);
    }

    public Builder layer(String name, String type, String activation) {
      return declare(new LayerInfo(layers.size(), name, type, activation, 100, true));
    }

    /** A layer whose {@code fan_out} (its number of output units) is known. */
    public Builder layer(String name, String type, String activation, long fanOut) {
      return declare(
          new LayerInfo(
              layers.size(), name, type, activation, 100, true, null, true, -1, fanOut, null));
    }

    /**
     * A layer whose {@code fan_in} and {@code fan_out} (its input and output widths) are known,
     * with {@code params} parameters.
     */
    public Builder layer(
        String name, String type, String activation, long fanIn, long fanOut, long params) {
      return declare(
          new LayerInfo(
              layers.size(),
              name,
              type,
              activation,
              params,
              true,
              null,
              true,
              fanIn,
              fanOut,
              null));
    }

    /** A trainable layer whose parameters the optimizer does not hold. */
    public Builder layerOutsideOptimizer(String name, String activation) {
      return declare(
          new LayerInfo(
              layers.size(), name, "Linear", activation, 100, true, null, false, -1, -1, null));
    }

    /** A trainable Linear layer whose penalty (compact JSON, e.g. {"l2":0.5}) is in the loss. */
    public Builder regularizedLayer(String name, String activation, String regularizer) {
      return declare(
          new LayerInfo(
              layers.size(),
              name,
              "Linear",
              activation,
              100,
              true,
              null,
              true,
              -1,
              -1,
              regularizer));
    }

    /** A layer that holds constants, not weights (an adapted Keras Normalization layer). */
    public Builder constantLayer(String name, String type) {
      return declare(
          new LayerInfo(
              layers.size(), name, type, "linear", 17, false, null, true, -1, -1, null, true));
    }

    public Builder frozenLayer(String name, String activation) {
      return frozenLayer(name, "Linear", activation);
    }

    public Builder frozenLayer(String name, String type, String activation) {
      return declare(new LayerInfo(layers.size(), name, type, activation, 100, false));
    }

    /** A layer with no parameters (pooling, flatten) that the metadata marks not trainable. */
    public Builder parameterlessLayer(String name, String type) {
      return declare(new LayerInfo(layers.size(), name, type, "linear", 0, false));
    }

    private Builder declare(LayerInfo layer) {
      layers.add(layer);
      return this;
    }

    // ---- scripted streams -----------------------------------------------------------------------

    /** A model-level stream (loss, accuracy, input, target, learning_rate); null: no row. */
    public Builder model(Phase phase, LongFunction<Stats> stats) {
      return stream(phase, -1, stats);
    }

    /** A per-layer stream of a declared layer; null: no row at that step. */
    public Builder stream(Phase phase, int layer, LongFunction<Stats> stats) {
      streams.add(new Stream(phase, layer, stats));
      return this;
    }

    /** The same per-layer stream for every layer declared so far. */
    public Builder everyLayer(Phase phase, LayerStats stats) {
      for (int l = 0; l < layers.size(); l++) {
        int layer = l;
        stream(phase, layer, step -> stats.at(step, layer));
      }
      return this;
    }

    /** A loss falling from 2.3 to about 0.3 with a little deterministic noise. */
    public Builder healthyLoss() {
      int n = steps;
      return model(
          Phase.LOSS,
          step ->
              Stats.scalar(
                  0.2 + 2.1 * Math.exp(-4.0 * step / n) * (1 + 0.05 * Math.sin(step * 1.7))));
    }

    /** A loss that stays around 1.0 with a little noise. */
    public Builder flatLoss() {
      return model(Phase.LOSS, step -> Stats.scalar(1.0 + 0.01 * Math.sin(step * 1.3)));
    }

    public MemoryTrace build() {
      if (!rows.isEmpty() && !streams.isEmpty()) {
        throw new IllegalStateException("rows added one by one and scripted streams do not mix");
      }
      TraceMetadata built = metadata;
      for (Map.Entry<String, String> key : keys.entrySet()) {
        built = built.with(key.getKey(), key.getValue());
      }
      if (steps > 0 || !layers.isEmpty()) {
        built = built.with(TraceMetadata.LAYERS, TraceMetadata.layersJson(layers));
      }
      return of(built, streams.isEmpty() ? rows : scriptedRows());
    }

    private List<Row> scriptedRows() {
      List<Row> out = new ArrayList<>();
      for (long step = 0; step < steps; step++) {
        for (Phase phase : Phase.values()) {
          for (Stream stream : streams) {
            if (stream.phase() != phase) {
              continue;
            }
            Stats s = stream.stats().apply(step);
            if (s == null) {
              continue; // no row of this stream at this step
            }
            LayerInfo layer = stream.layer() < 0 ? null : layers.get(stream.layer());
            out.add(
                new Row(
                    (int) (step / stepsPerEpoch),
                    (int) (step % stepsPerEpoch),
                    step,
                    stream.layer(),
                    layer == null ? "model" : layer.name(),
                    layer == null ? null : layer.type(),
                    phase.wireName(),
                    s.mean(),
                    s.std(),
                    s.min(),
                    s.max(),
                    s.l2(),
                    s.zero(),
                    0L,
                    0L,
                    s.numel()));
          }
        }
      }
      return out;
    }
  }
}
