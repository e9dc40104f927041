package io.dlanalyze.trace.parquet;

import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.PartFiles;
import io.dlanalyze.trace.ReadErrors;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.UnknownPhases;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.apache.parquet.NoHadoopReadOptions;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.metadata.ColumnChunkMetaData;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;
import org.apache.parquet.io.SeekableInputStream;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.jspecify.annotations.Nullable;

/**
 * Streams a Parquet trace (one file, or a directory of {@code *.parquet} part files read in name
 * order as one trace) row group by row group into one reused {@link TraceBatch}.
 *
 * <p>Only the projected columns are read from disk and decoded ({@link ColumnDecoder}). A batch
 * holds {@code min(batchRows, rows left in the row group)} rows: it never spans two row groups, so
 * a row group is the unit of I/O and memory stays bounded by one row group's compressed column
 * chunks plus one batch of arrays, whatever the size of the file.
 *
 * <p>With {@link ReadOptions#decodeThreads()} above 1 the projected columns of a batch are decoded
 * on that many threads ({@link DecodeWorkers}): each column by one thread, in the same order within
 * the column as on one thread, and the largest column chunks claimed first. Only the batch being
 * decoded is in flight (one row group's compressed chunks, one decompressed page per column, one
 * batch of arrays), as on one thread; the batch, the string ids and the error of a damaged file are
 * the same whatever the number of threads (the error of the first failing column in projection
 * order).
 *
 * <p>A projected nullable column that the file does not have is loaded as all nulls. Values at null
 * positions are NaN (float64), 0 (integers) and -1 (string ids).
 *
 * <p>Runs without Hadoop: footers are read by {@link ParquetPart}, pages come from parquet-mr's
 * {@link ParquetFileReader} with {@link NoHadoopReadOptions} and {@link NoHadoopCodecFactory}.
 */
public final class ParquetTraceReader implements TraceReader {
  private final Path path;
  private final List<ParquetPart> parts;
  private final TraceMetadata metadata;
  private final Set<Column> inFile;
  private final TraceDictionary dictionary = new TraceDictionary();
  private final TraceBatch batch;
  private final int batchRows;
  private final Column[] projected;
  private final Column[] absent;
  private final ParquetReadOptions readOptions;
  private final NoHadoopCodecFactory codecs;
  private final long totalRows;
  private final UnknownPhases unknownPhases = new UnknownPhases();
  private final DecodeWorkers workers;
  private final DecodeWorkers.Task decodeTask = this::decodeColumn;

  private int partIndex = -1;
  private @Nullable ParquetPart part;
  private @Nullable ParquetFileReader fileReader;
  private ColumnDecoder[] decoders = new ColumnDecoder[0];
  private @Nullable ColumnDecoder phaseDecoder;
  private List<ColumnDescriptor> descriptors = List.of();

  /** The order in which decode threads claim the columns: largest compressed chunk first. */
  private int[] decodeOrder = new int[0];

  private long[] chunkBytes = new long[0];

  /** What each column's decoder threw in the current batch, by decoder index. */
  private Throwable[] decodeErrors = new Throwable[0];

  private int decodingRows;

  /** The current part file, open for {@link #checkPages}. */
  private @Nullable SeekableInputStream headerStream;

  private @Nullable PageReadStore rowGroupStore;
  private int rowGroup;
  private long rowGroupFirstRow;
  private long nextRowGroupFirstRow;
  private long rowsLeftInGroup;
  private long rowsRead;
  private boolean closed;

  private ParquetTraceReader(
      Path path,
      List<ParquetPart> parts,
      ReadOptions options,
      ParquetReadOptions readOptions,
      NoHadoopCodecFactory codecs) {
    this.path = path;
    this.parts = parts;
    this.readOptions = readOptions;
    this.codecs = codecs;
    this.batchRows = options.batchRows();
    this.workers = new DecodeWorkers(options.decodeThreads(), "dl-analyze-decode");
    ParquetPart first = parts.get(0);
    // the first part's footer, plus what only later parts hold (a reason written at the end)
    java.util.Map<String, String> values = new java.util.LinkedHashMap<>(first.keyValues());
    TraceMetadata merged;
    ParquetPart adding = first;
    try {
      merged = TraceMetadata.of(values);
      for (ParquetPart part : parts.subList(1, parts.size())) {
        adding = part;
        int known = values.size();
        part.keyValues().forEach(values::putIfAbsent);
        if (values.size() > known) {
          merged = TraceMetadata.of(values);
        }
      }
    } catch (IllegalArgumentException e) {
      throw new TraceFormatException(
          ErrorCode.BAD_METADATA, adding.file(), "footer", TraceMetadata.problem(e), e);
    }
    this.metadata = merged;
    EnumSet<Column> present = EnumSet.noneOf(Column.class);
    for (Column column : Column.values()) {
      if (first.columns()[column.ordinal()] != null) {
        present.add(column);
      }
    }
    this.inFile = present;
    List<Column> read = new ArrayList<>();
    List<Column> missing = new ArrayList<>();
    for (Column column : options.columns()) {
      (present.contains(column) ? read : missing).add(column);
    }
    this.projected = read.toArray(new Column[0]);
    this.absent = missing.toArray(new Column[0]);
    long rows = 0;
    long largestGroup = 0;
    for (ParquetPart p : parts) {
      rows += p.rows();
      for (int i = 0; i < p.rowGroupCount(); i++) {
        largestGroup = Math.max(largestGroup, p.rowGroupRows(i));
      }
    }
    this.totalRows = rows;
    this.batch =
        new TraceBatch(dictionary, options.columns(), (int) Math.min(batchRows, largestGroup));
  }

  /**
   * Opens a Parquet file, or a directory of part files, and checks every footer and schema.
   *
   * @throws TraceFormatException EMPTY, TRUNCATED (no footer), CORRUPT, MISSING_COLUMN or
   *     WRONG_TYPE, naming the file
   */
  public static ParquetTraceReader open(Path path, ReadOptions options) {
    NoHadoopCodecFactory codecs = new NoHadoopCodecFactory();
    ParquetReadOptions readOptions = NoHadoopReadOptions.create(codecs);
    List<Path> files = Files.isDirectory(path) ? partFiles(path) : List.of(path);
    List<ParquetPart> parts = new ArrayList<>(files.size());
    for (Path file : files) {
      ParquetPart part = ParquetPart.open(file, readOptions);
      if (!parts.isEmpty()) {
        checkSameColumns(parts.get(0), part);
      }
      parts.add(part);
    }
    return new ParquetTraceReader(path, List.copyOf(parts), options, readOptions, codecs);
  }

  /** The {@code *.parquet} files of a directory in name order, skipping hidden and _ files. */
  static List<Path> partFiles(Path directory) {
    List<Path> files = new ArrayList<>();
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory)) {
      for (Path file : stream) {
        String name = file.getFileName().toString();
        if (name.endsWith(".parquet")
            && !name.startsWith(".")
            && !name.startsWith("_")
            && Files.isRegularFile(file)) {
          files.add(file);
        }
      }
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR,
          directory,
          null,
          String.format(ROOT, "cannot list directory: %s", e.getMessage()),
          e);
    }
    if (files.isEmpty()) {
      throw new TraceFormatException(
          ErrorCode.EMPTY, directory, null, "directory has no *.parquet part files");
    }
    files.sort(PartFiles.NAME_ORDER);
    return files;
  }

  private static void checkSameColumns(ParquetPart first, ParquetPart part) {
    String firstName = first.file().getFileName().toString();
    for (Column column : Column.values()) {
      PrimitiveType expected = first.columns()[column.ordinal()];
      PrimitiveType actual = part.columns()[column.ordinal()];
      if (expected == null && actual == null) {
        continue;
      }
      if (actual == null) {
        throw new TraceFormatException(
            ErrorCode.MISSING_COLUMN,
            part.file(),
            null,
            String.format(
                ROOT,
                "column '%s' is missing here but present in the first part file %s",
                column.wireName(),
                firstName));
      }
      if (expected == null) {
        throw new TraceFormatException(
            ErrorCode.WRONG_TYPE,
            part.file(),
            null,
            String.format(
                ROOT,
                "column '%s' is present here but missing in the first part file %s:"
                    + " part files must have the same columns",
                column.wireName(),
                firstName));
      }
      if (expected.getPrimitiveTypeName() != actual.getPrimitiveTypeName()) {
        throw new TraceFormatException(
            ErrorCode.WRONG_TYPE,
            part.file(),
            null,
            String.format(
                ROOT,
                "column '%s' is Parquet type %s here but %s in the first part file %s",
                column.wireName(),
                actual.getPrimitiveTypeName(),
                expected.getPrimitiveTypeName(),
                firstName));
      }
    }
  }

  @Override
  public Path path() {
    return path;
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
    return Collections.unmodifiableSet(inFile);
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
    if (closed) {
      throw new IllegalStateException("reader is closed: " + path);
    }
    while (rowsLeftInGroup == 0) {
      if (!nextRowGroup()) {
        batch.reset(0);
        return false;
      }
    }
    int n = (int) Math.min(batchRows, rowsLeftInGroup);
    batch.reset(n);
    decodingRows = n;
    workers.run(decodeOrder, decodeTask);
    for (int i = 0; i < decoders.length; i++) {
      Throwable error = decodeErrors[i];
      if (error != null) {
        Arrays.fill(decodeErrors, null);
        throw decodeError(decoders[i], error);
      }
    }
    for (Column column : absent) {
      fillNulls(column, n);
    }
    if (phaseDecoder != null && phaseDecoder.sawUnknownPhase()) {
      unknownPhases.count(batch.ints(Column.PHASE), n);
    }
    rowsLeftInGroup -= n;
    rowsRead += n;
    if (rowsLeftInGroup == 0) {
      for (ColumnDecoder decoder : decoders) {
        try {
          decoder.checkChunkEnd();
        } catch (TraceFormatException e) {
          throw e;
        } catch (IOException | RuntimeException | LinkageError e) {
          throw corrupt(decoder.column(), e);
        }
      }
    }
    return true;
  }

  /** Decodes this batch's rows of one column; runs on any decode thread, records what it throws. */
  private void decodeColumn(int index) {
    try {
      decoders[index].read(batch, decodingRows);
    } catch (Throwable e) {
      decodeErrors[index] = e;
    }
  }

  /** What a column's decoder threw, as the reader reports it. */
  private RuntimeException decodeError(ColumnDecoder decoder, Throwable error) {
    if (error instanceof TraceFormatException e) {
      return e.at(part().file(), location(decoder.column()));
    }
    if (error instanceof IOException
        || error instanceof RuntimeException
        || error instanceof LinkageError) {
      return corrupt(decoder.column(), error);
    }
    if (error instanceof Error e) {
      throw e;
    }
    return corrupt(decoder.column(), error);
  }

  private boolean nextRowGroup() {
    while (true) {
      if (part != null) {
        while (++rowGroup < part().rowGroupCount()) {
          long rows = part().rowGroupRows(rowGroup);
          if (rows == 0) {
            continue; // parquet-mr's readNextRowGroup skips empty row groups too
          }
          rowGroupFirstRow = nextRowGroupFirstRow;
          nextRowGroupFirstRow += rows;
          if (decoders.length > 0) {
            startRowGroup();
          }
          rowsLeftInGroup = rows;
          return true;
        }
        closeFile();
      }
      if (partIndex + 1 >= parts.size()) {
        return false;
      }
      openPart(parts.get(++partIndex));
    }
  }

  /** The part file being read. */
  private ParquetPart part() {
    return requireNonNull(part, "no part file is open");
  }

  private void startRowGroup() {
    releaseRowGroup();
    long rows = part().rowGroupRows(rowGroup);
    codecs.limitPages(rows, maxValueBytes());
    ParquetMetadata footer = part().footerOf(rowGroup);
    checkPages(footer.getBlocks().get(0));
    orderByChunkSize();
    try {
      fileReader =
          new ParquetFileReader(part().input(), footer, readOptions, part().input().newStream());
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, part().file(), null, "cannot open: " + ReadErrors.describe(e), e);
    }
    fileReader.setRequestedSchema(descriptors);
    PageReadStore store;
    try {
      store = fileReader.readNextRowGroup();
    } catch (IOException | RuntimeException | LinkageError e) {
      throw rowGroupError(e);
    }
    if (store == null) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          part().file(),
          String.format(ROOT, "row group %d", rowGroup),
          "row group is missing");
    }
    rowGroupStore = store;
    for (ColumnDecoder decoder : decoders) {
      try {
        decoder.startChunk(store.getPageReader(decoder.descriptor()), rowGroup, rowGroupFirstRow);
      } catch (TraceFormatException e) {
        throw e.at(part().file(), location(decoder.column()));
      } catch (IOException | RuntimeException | LinkageError e) {
        throw corrupt(decoder.column(), e);
      }
    }
  }

  /** Walks the page headers of the projected column chunks ({@link PageHeaders}). */
  private void checkPages(BlockMetaData block) {
    try {
      if (headerStream == null) {
        headerStream = part().input().newStream();
      }
      SeekableInputStream in = headerStream;
      for (int decoderIndex = 0; decoderIndex < decoders.length; decoderIndex++) {
        ColumnDecoder decoder = decoders[decoderIndex];
        String name = decoder.column().wireName();
        ColumnChunkMetaData chunk = null;
        for (ColumnChunkMetaData candidate : block.getColumns()) {
          if (candidate.getPath().toDotString().equals(name)) {
            chunk = candidate;
          }
        }
        if (chunk == null) {
          throw new TraceFormatException(
              ErrorCode.CORRUPT,
              part().file(),
              location(decoder.column()),
              "the footer lists no column chunk for this column");
        }
        chunkBytes[decoderIndex] = chunk.getTotalSize();
        try {
          PageHeaders.check(
              in,
              chunk,
              NoHadoopCodecFactory.pageLimit(
                  part().rowGroupRows(rowGroup), valueBytes(decoder.column())));
        } catch (IOException | RuntimeException | LinkageError e) {
          throw corrupt(decoder.column(), e);
        }
      }
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, part().file(), null, "cannot read: " + ReadErrors.describe(e), e);
    }
  }

  /**
   * Sorts {@link #decodeOrder} by compressed chunk size, largest first (ties in projection order),
   * so that the threads start on the costly columns and finish a batch at about the same time. The
   * order decides only which thread decodes which column, never what a batch holds.
   */
  private void orderByChunkSize() {
    if (workers.threads() == 1) {
      return;
    }
    Integer[] boxed = new Integer[decoders.length];
    for (int i = 0; i < boxed.length; i++) {
      boxed[i] = i;
    }
    Arrays.sort(
        boxed,
        java.util.Comparator.comparingLong((Integer i) -> -chunkBytes[i]).thenComparingInt(i -> i));
    for (int i = 0; i < boxed.length; i++) {
      decodeOrder[i] = boxed[i];
    }
  }

  /**
   * The error for a row group parquet-mr could not read (page headers and checksums are checked
   * while it reads a row group's column chunks). Its messages do not say which column failed, so
   * the projected chunks are read again one by one to name it.
   */
  private TraceFormatException rowGroupError(Throwable error) {
    ParquetFileReader reader = requireNonNull(fileReader, "no row group is open");
    for (ColumnDecoder decoder : decoders) {
      try {
        reader.setRequestedSchema(List.of(decoder.descriptor()));
        reader.readRowGroup(0).close();
      } catch (IOException | RuntimeException | LinkageError e) {
        return corrupt(decoder.column(), e);
      }
    }
    return new TraceFormatException(
        ErrorCode.CORRUPT,
        part().file(),
        String.format(ROOT, "row group %d", rowGroup),
        "cannot read the row group: " + ReadErrors.describe(error),
        error);
  }

  private void openPart(ParquetPart next) {
    part = next;
    rowGroup = -1;
    nextRowGroupFirstRow = 0;
    MessageType schema = next.schema();
    List<ColumnDescriptor> wanted = new ArrayList<>(projected.length);
    decoders = new ColumnDecoder[projected.length];
    phaseDecoder = null;
    for (int i = 0; i < projected.length; i++) {
      ColumnDescriptor descriptor =
          schema.getColumnDescription(new String[] {projected[i].wireName()});
      wanted.add(descriptor);
      decoders[i] = new ColumnDecoder(next.file(), projected[i], descriptor, dictionary);
      if (projected[i] == Column.PHASE) {
        phaseDecoder = decoders[i];
      }
    }
    descriptors = List.copyOf(wanted);
    decodeOrder = new int[decoders.length];
    for (int i = 0; i < decodeOrder.length; i++) {
      decodeOrder[i] = i;
    }
    chunkBytes = new long[decoders.length];
    decodeErrors = new Throwable[decoders.length];
  }

  /** The most bytes one value of a projected column may take in a page, levels included. */
  private int maxValueBytes() {
    int bytes = 0;
    for (Column column : projected) {
      bytes = Math.max(bytes, valueBytes(column));
    }
    return bytes;
  }

  /**
   * The most bytes one value of a column takes in a page: 8 for a number, a 4-byte length and at
   * most {@link io.dlanalyze.trace.Limits#MAX_NAME_CHARS} characters of UTF-8 for a string, and a
   * byte for its definition level.
   */
  private static int valueBytes(Column column) {
    return column.type() == io.dlanalyze.trace.ColumnType.STRING
        ? 5 + 4 * io.dlanalyze.trace.Limits.MAX_NAME_CHARS
        : 9;
  }

  private void fillNulls(Column column, int n) {
    Arrays.fill(batch.nullMaskForWrite(column), 0, n, true);
    switch (column.type()) {
      case INT32 -> Arrays.fill(batch.ints(column), 0, n, 0);
      case STRING -> Arrays.fill(batch.ints(column), 0, n, -1);
      case INT64 -> Arrays.fill(batch.longs(column), 0, n, 0L);
      case FLOAT64 -> Arrays.fill(batch.doubles(column), 0, n, Double.NaN);
    }
  }

  private String location(Column column) {
    return String.format(ROOT, "row group %d, column '%s'", rowGroup, column.wireName());
  }

  private TraceFormatException corrupt(Column column, Throwable e) {
    return new TraceFormatException(
        ErrorCode.CORRUPT,
        part().file(),
        location(column),
        "corrupt page: " + ReadErrors.describe(e),
        e);
  }

  @Override
  public long rowsRead() {
    return rowsRead;
  }

  @Override
  public long totalRows() {
    return totalRows;
  }

  /** Always false: a Parquet file without its footer cannot be read at all. */
  @Override
  public boolean truncated() {
    return false;
  }

  /** One warning per phase name this version does not know, with its row count so far. */
  @Override
  public List<String> warnings() {
    return unknownPhases.warnings(dictionary);
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      workers.close();
      closeFile();
      codecs.release();
    }
  }

  /** Hands the previous row group's buffers back and closes its file reader. */
  private void releaseRowGroup() {
    PageReadStore store = rowGroupStore;
    rowGroupStore = null;
    if (store != null) {
      store.close();
    }
    ParquetFileReader reader = fileReader;
    fileReader = null;
    if (reader != null) {
      try {
        reader.close();
      } catch (IOException e) {
        // Closing a read-only file: nothing was lost, nothing to report.
      }
    }
  }

  private void closeFile() {
    releaseRowGroup();
    SeekableInputStream stream = headerStream;
    headerStream = null;
    if (stream != null) {
      try {
        stream.close();
      } catch (IOException e) {
        // Closing a read-only file: nothing was lost, nothing to report.
      }
    }
    part = null;
  }
}
