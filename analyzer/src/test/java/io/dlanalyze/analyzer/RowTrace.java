package io.dlanalyze.analyzer;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * An in-memory trace for tests: rows written one by one, or copied from another reader, served in
 * batches of any size. Can shuffle the rows inside each step.
 */
public final class RowTrace {
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
  private final List<Row> rows;

  private RowTrace(TraceMetadata metadata, List<Row> rows) {
    this.metadata = metadata;
    this.rows = List.copyOf(rows);
  }

  public static RowTrace of(TraceMetadata metadata, List<Row> rows) {
    return new RowTrace(metadata, rows);
  }

  /** Every row of {@code source}, read to its end. */
  public static RowTrace copyOf(TraceReader source) {
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
                dbl(b, Column.STD, r),
                dbl(b, Column.MIN, r),
                dbl(b, Column.MAX, r),
                dbl(b, Column.L2_NORM, r),
                dbl(b, Column.ZERO_FRACTION, r),
                lng(b, Column.NAN_COUNT, r),
                lng(b, Column.INF_COUNT, r),
                lng(b, Column.NUMEL, r)));
      }
    }
    return new RowTrace(source.metadata(), rows);
  }

  private static Double dbl(TraceBatch b, Column c, int r) {
    return !b.has(c) || b.isNull(c, r) ? null : b.doubles(c)[r];
  }

  private static Long lng(TraceBatch b, Column c, int r) {
    return !b.has(c) || b.isNull(c, r) ? null : b.longs(c)[r];
  }

  public List<Row> rows() {
    return rows;
  }

  /** The same rows with the order inside each step shuffled (a fixed seed). */
  public RowTrace shuffledWithinSteps(long seed) {
    Random random = new Random(seed);
    List<Row> out = new ArrayList<>();
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
    return new RowTrace(metadata, out);
  }

  /** A reader over the rows, {@code batchRows} rows per batch. */
  public TraceReader open(int batchRows) {
    return new Reader(batchRows);
  }

  private final class Reader implements TraceReader {
    private final TraceDictionary dictionary = new TraceDictionary();
    private final TraceBatch batch;
    private final int batchRows;
    private int position;

    Reader(int batchRows) {
      this.batchRows = batchRows;
      this.batch = TraceBatch.allColumns(dictionary, Math.min(batchRows, Math.max(1, rows.size())));
    }

    @Override
    public Path path() {
      return Path.of("rows:test");
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
      return EnumSet.allOf(Column.class);
    }

    @Override
    public TraceDictionary dictionary() {
      return dictionary;
    }

    @Override
    public TraceBatch batch() {
      return batch;
    }

    @Override
    public boolean next() {
      int n = Math.min(batchRows, rows.size() - position);
      if (n <= 0) {
        batch.reset(0);
        return false;
      }
      batch.reset(n);
      for (int i = 0; i < n; i++) {
        Row row = rows.get(position + i);
        batch.ints(Column.EPOCH)[i] = row.epoch();
        batch.ints(Column.BATCH)[i] = row.batch();
        batch.longs(Column.STEP)[i] = row.step();
        batch.ints(Column.LAYER_INDEX)[i] = row.layerIndex();
        batch.ints(Column.LAYER_NAME)[i] = dictionary.layerNameId(row.layerName());
        if (row.layerType() == null) {
          batch.setNull(Column.LAYER_TYPE, i);
        } else {
          batch.ints(Column.LAYER_TYPE)[i] = dictionary.layerTypeId(row.layerType());
        }
        batch.ints(Column.PHASE)[i] = dictionary.phaseCode(row.phase());
        batch.doubles(Column.MEAN)[i] = row.mean();
        set(Column.STD, i, row.std());
        set(Column.MIN, i, row.min());
        set(Column.MAX, i, row.max());
        set(Column.L2_NORM, i, row.l2Norm());
        set(Column.ZERO_FRACTION, i, row.zeroFraction());
        set(Column.NAN_COUNT, i, row.nanCount());
        set(Column.INF_COUNT, i, row.infCount());
        set(Column.NUMEL, i, row.numel());
      }
      position += n;
      return true;
    }

    private void set(Column column, int i, Double value) {
      if (value == null) {
        batch.setNull(column, i);
      } else {
        batch.doubles(column)[i] = value;
      }
    }

    private void set(Column column, int i, Long value) {
      if (value == null) {
        batch.setNull(column, i);
      } else {
        batch.longs(column)[i] = value;
      }
    }

    @Override
    public long rowsRead() {
      return position;
    }

    @Override
    public long totalRows() {
      return rows.size();
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
  }

  /** Builds rows of a small mean-only model trace by hand. */
  public static final class Builder {
    private final List<Row> rows = new ArrayList<>();
    private TraceMetadata metadata = TraceMetadata.empty();
    private int stepsPerEpoch = 1_000_000;

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
      rows.add(
          new Row(
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
              null));
      return this;
    }

    /** A model-level row (loss, accuracy...). */
    public Builder model(long step, Phase phase, double mean) {
      rows.add(
          new Row(
              (int) (step / stepsPerEpoch),
              (int) (step % stepsPerEpoch),
              step,
              -1,
              "model",
              null,
              phase.wireName(),
              mean,
              null,
              null,
              null,
              null,
              null,
              null,
              null,
              null));
      return this;
    }

    public Builder add(Row row) {
      rows.add(row);
      return this;
    }

    public RowTrace build() {
      return new RowTrace(metadata, rows);
    }
  }

  public static Builder builder() {
    return new Builder();
  }
}
