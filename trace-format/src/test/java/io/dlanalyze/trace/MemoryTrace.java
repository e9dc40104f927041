package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * A trace decoded once into memory, all columns, and replayed batch by batch: each batch is copied
 * into the reader's reused arrays column by column, as a decoder writes them, so engine benchmarks
 * measure the analysis without the decoding.
 */
public final class MemoryTrace {
  private final TraceMetadata metadata;
  private final TraceDictionary dictionary;
  private final TraceBatch rows;

  private MemoryTrace(TraceMetadata metadata, TraceDictionary dictionary, TraceBatch rows) {
    this.metadata = metadata;
    this.dictionary = dictionary;
    this.rows = rows;
  }

  /** Generates the whole trace into one batch. */
  public static MemoryTrace of(SyntheticTrace trace) {
    if (trace.totalRows() > Integer.MAX_VALUE / 2) {
      throw new IllegalArgumentException(
          format(ROOT, "trace too large for memory: %d rows", trace.totalRows()));
    }
    int n = (int) trace.totalRows();
    try (TraceReader reader = trace.open(ReadOptions.all().withBatchRows(n))) {
      reader.next();
      TraceBatch all = TraceBatch.allColumns(reader.dictionary(), n);
      all.reset(n);
      all.swapContents(reader.batch());
      return new MemoryTrace(reader.metadata(), reader.dictionary(), all);
    }
  }

  /** Every row, all columns: a caller may edit values before replaying them. */
  public TraceBatch rows() {
    return rows;
  }

  public int size() {
    return rows.size();
  }

  /** A reader over the rows in batches of {@code batchRows}, loading only {@code projection}. */
  public TraceReader open(Set<Column> projection, int batchRows) {
    return new TraceReader() {
      private final TraceBatch batch =
          new TraceBatch(dictionary, projection, Math.min(batchRows, Math.max(1, size())));
      private int position;

      @Override
      public boolean next() {
        int n = Math.min(batchRows, rows.size() - position);
        if (n <= 0) {
          batch.reset(0);
          return false;
        }
        batch.reset(n);
        for (Column column : projection) {
          switch (column.type()) {
            case INT32, STRING ->
                System.arraycopy(rows.ints(column), position, batch.ints(column), 0, n);
            case INT64 -> System.arraycopy(rows.longs(column), position, batch.longs(column), 0, n);
            case FLOAT64 ->
                System.arraycopy(rows.doubles(column), position, batch.doubles(column), 0, n);
          }
          if (rows.hasNulls(column)) {
            System.arraycopy(rows.nullMask(column), position, batch.nullMaskForWrite(column), 0, n);
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
    };
  }
}
