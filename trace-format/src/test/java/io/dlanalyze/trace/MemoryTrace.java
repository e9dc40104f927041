package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The test suites' in-memory trace: written row by row ({@link #builder()}, {@link
 * #of(TraceMetadata, List)}), copied from any reader ({@link #copyOf}) or generated ({@link
 * #of(SyntheticTrace)}), and replayed batch by batch as a decoder would write them ({@link #open}):
 * each batch is copied into the reader's reused arrays column by column, so engine benchmarks
 * measure the analysis without the decoding. Can shuffle the rows inside each step, and write
 * itself to a file of any format.
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
    TraceBatch b = source.batch();
    TraceDictionary d = source.dictionary();
    while (source.next()) {
      for (int r = 0; r < b.size(); r++) {
        rows.add(
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
    return of(source.metadata(), rows);
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
    TraceBatch b = columns;
    for (int r = 0; r < b.size(); r++) {
      rows.add(
          new Row(
              b.ints(Column.EPOCH)[r],
              b.ints(Column.BATCH)[r],
              b.longs(Column.STEP)[r],
              b.ints(Column.LAYER_INDEX)[r],
              dictionary.layerName(b.ints(Column.LAYER_NAME)[r]),
              b.isNull(Column.LAYER_TYPE, r)
                  ? null
                  : dictionary.layerType(b.ints(Column.LAYER_TYPE)[r]),
              dictionary.phaseName(b.ints(Column.PHASE)[r]),
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
    return rows;
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

  /** Writes the rows to a file of the format {@code path}'s extension names. */
  public Path write(Path path, WriteOptions options) {
    try (TraceReader reader = open(Column.all(), 1_000)) {
      TestTraces.copy(reader, path, options);
    }
    return path;
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

  public static Builder builder() {
    return new Builder();
  }

  /** Builds a small mean-only trace row by row. */
  public static final class Builder {
    private final List<Row> rows = new ArrayList<>();
    private TraceMetadata metadata = TraceMetadata.empty();
    private int stepsPerEpoch = 1_000_000;

    private Builder() {}

    public Builder metadata(TraceMetadata metadata) {
      this.metadata = metadata;
      return this;
    }

    public Builder stepsPerEpoch(int stepsPerEpoch) {
      this.stepsPerEpoch = stepsPerEpoch;
      return this;
    }

    /** A layer row with only a mean. */
    public Builder layer(long step, int layer, String name, String type, Phase phase, double mean) {
      return add(row(step, layer, name, type, phase, mean));
    }

    /** A model-level row (loss, accuracy...). */
    public Builder model(long step, Phase phase, double mean) {
      return add(row(step, -1, "model", null, phase, mean));
    }

    private Row row(long step, int layer, String name, String type, Phase phase, double mean) {
      return new Row(
          (int) (step / stepsPerEpoch),
          (int) (step % stepsPerEpoch),
          step,
          layer,
          name,
          type,
          phase.wireName(),
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

    public Builder add(Row row) {
      rows.add(row);
      return this;
    }

    public MemoryTrace build() {
      return of(metadata, rows);
    }
  }
}
