package io.dlanalyze.bench;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/** A trace decoded once into memory and replayed batch by batch, copied like a decoder writes. */
final class MemoryTrace {
  private final TraceMetadata metadata;
  private final TraceDictionary dictionary;
  private final TraceBatch rows;

  private MemoryTrace(TraceMetadata metadata, TraceDictionary dictionary, TraceBatch rows) {
    this.metadata = metadata;
    this.dictionary = dictionary;
    this.rows = rows;
  }

  static MemoryTrace of(SyntheticTrace trace) {
    int n = Math.toIntExact(trace.totalRows());
    try (TraceReader reader = trace.open(ReadOptions.all().withBatchRows(n))) {
      reader.next();
      TraceBatch all = TraceBatch.allColumns(reader.dictionary(), n);
      all.reset(n);
      all.swapContents(reader.batch());
      return new MemoryTrace(reader.metadata(), reader.dictionary(), all);
    }
  }

  TraceReader open(Set<Column> projection, int batchRows) {
    return new TraceReader() {
      private final TraceBatch batch = new TraceBatch(dictionary, projection, batchRows);
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
            case INT32, STRING -> System.arraycopy(rows.ints(column), position, batch.ints(column), 0, n);
            case INT64 -> System.arraycopy(rows.longs(column), position, batch.longs(column), 0, n);
            case FLOAT64 -> System.arraycopy(rows.doubles(column), position, batch.doubles(column), 0, n);
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
        return TraceFormat.PARQUET;
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
