package io.dlanalyze.trace;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * Streams one trace as columnar batches, in file order. The batch object is reused: its arrays are
 * valid until the next call to {@link #next()}.
 *
 * <pre>{@code
 * try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
 *   TraceBatch batch = reader.batch();
 *   while (reader.next()) {
 *     double[] mean = batch.doubles(Column.MEAN);
 *     for (int row = 0; row < batch.size(); row++) { ... }
 *   }
 * }
 * }</pre>
 *
 * <p>A reader of a crash-truncated file returns every complete batch and then reports the
 * truncation in {@link #warnings()} instead of failing.
 */
public interface TraceReader extends AutoCloseable {
  /** The file or directory read; a synthetic reader returns a descriptive path. */
  Path path();

  TraceFormat format();

  TraceMetadata metadata();

  /** The contract columns present in the file (a projection may load fewer). */
  Set<Column> columnsInFile();

  /** The strings of this trace; the batch's string columns index into it. */
  TraceDictionary dictionary();

  /** The reused batch that {@link #next()} fills. */
  TraceBatch batch();

  /**
   * Loads the next batch into {@link #batch()}.
   *
   * @return false at the end of the trace (including after a tolerated truncation)
   * @throws TraceFormatException when the file is corrupt past recovery
   */
  boolean next();

  /** Rows returned so far. */
  long rowsRead();

  /** Total rows when the format knows them up front (Parquet, Arrow file), or -1 (stream, CSV). */
  long totalRows();

  /** True when the file ended early and only the complete batches before the cut were read. */
  boolean truncated();

  /** Non-fatal problems met so far: truncation, phases this version does not know, and so on. */
  List<String> warnings();

  @Override
  void close();
}
