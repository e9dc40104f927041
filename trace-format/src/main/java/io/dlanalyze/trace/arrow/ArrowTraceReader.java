package io.dlanalyze.trace.arrow;

import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.SchemaErrors;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.UnknownPhases;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ReadChannel;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.ipc.message.MessageMetadataResult;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.ArrowType;

/**
 * Reads an Arrow IPC stream or IPC file record batch by record batch into a reused {@link
 * TraceBatch}; a record batch larger than {@link ReadOptions#batchRows()} is handed out in parts.
 *
 * <p>Crash tolerance: a stream that ends without its end-of-stream marker, or inside a message,
 * yields every complete record batch and then reports the truncation in {@link #warnings()}. An IPC
 * file without its footer is read the same way, as the stream that follows its 8-byte header. A
 * file cut inside the schema or the first record batch has nothing to recover: {@link
 * ErrorCode#TRUNCATED}.
 *
 * <p>Implementation notes: Arrow Java 19's {@code ArrowFileReader} loads one dictionary batch per
 * dictionary and ignores the delta batches that follow; {@link DeltaFileReader} applies them.
 * Memory comes from a child of the caller's allocator (or a private root allocator) that is closed
 * with the reader.
 */
public final class ArrowTraceReader implements TraceReader {
  private static final byte[] FILE_MAGIC = {'A', 'R', 'R', 'O', 'W', '1'};

  /** The IPC file's leading magic plus padding to 8 bytes; the stream starts after it. */
  private static final int FILE_HEADER_BYTES = 8;

  private final Path path;
  private final TraceFormat format;
  private final BufferAllocator allocator;
  private final FileChannel channel;
  private final long fileSize;
  private final ArrowReader arrow;
  private final boolean readAsStream;
  private final boolean footerMissing;
  private final VectorSchemaRoot root;
  private final TraceMetadata metadata;
  private final Set<Column> columnsInFile;
  private final TraceDictionary dictionary = new TraceDictionary();
  private final TraceBatch batch;
  private final int batchRows;
  private final List<ArrowColumn> projected = new ArrayList<>();
  private final List<Column> absent = new ArrayList<>();
  private final long totalRows;
  private final List<String> warnings = new ArrayList<>();
  private final UnknownPhases unknownPhases = new UnknownPhases();
  private int recordRows;
  private int recordOffset;
  private long recordBatches;
  private long rowsRead;
  private boolean truncated;
  private boolean finished;
  private boolean closed;

  private ArrowTraceReader(
      Path path, TraceFormat format, ReadOptions options, BufferAllocator parent) {
    this.path = path;
    this.format = format;
    this.batchRows = options.batchRows();
    this.allocator =
        parent == null
            ? new RootAllocator()
            : parent.newChildAllocator("arrow-trace-reader", 0, Long.MAX_VALUE);
    FileChannel opened = null;
    ArrowReader reader = null;
    try {
      opened = FileChannel.open(path, StandardOpenOption.READ);
      this.channel = opened;
      this.fileSize = opened.size();
      boolean missingFooter = false;
      if (format == TraceFormat.ARROW_FILE) {
        missingFooter = !endsWithMagic();
        if (missingFooter) {
          opened.position(Math.min(FILE_HEADER_BYTES, fileSize));
          reader = new ArrowStreamReader(opened, allocator);
        } else {
          reader = new DeltaFileReader(opened, allocator);
        }
      } else {
        reader = new ArrowStreamReader(opened, allocator);
      }
      this.arrow = reader;
      this.footerMissing = missingFooter;
      this.readAsStream = reader instanceof ArrowStreamReader;
      this.root = readSchema();
      Map<Column, ArrowColumn> bound = bindColumns();
      this.columnsInFile =
          bound.isEmpty() ? EnumSet.noneOf(Column.class) : EnumSet.copyOf(bound.keySet());
      SchemaErrors.requireColumns(path, columnsInFile, ArrowColumn::expected);
      this.metadata = readMetadata();
      for (Column column : options.columns()) {
        ArrowColumn source = bound.get(column);
        if (source == null) {
          absent.add(column);
        } else {
          projected.add(source);
        }
      }
      this.totalRows = readAsStream ? -1 : countRows((DeltaFileReader) reader);
      this.batch = new TraceBatch(dictionary, options.columns(), Math.min(batchRows, 1 << 16));
    } catch (TraceFormatException e) {
      closeAfterFailure(reader, opened, e);
      throw e;
    } catch (NoSuchFileException e) {
      closeAfterFailure(reader, opened, e);
      throw new TraceFormatException(ErrorCode.NOT_FOUND, path, null, "no such file");
    } catch (IOException | RuntimeException e) {
      closeAfterFailure(reader, opened, e);
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          path,
          null,
          String.format(ROOT, "not a valid %s: %s", describe(format), message(e)),
          e);
    }
  }

  /**
   * Opens an IPC file ({@link TraceFormat#ARROW_FILE}) or stream ({@link
   * TraceFormat#ARROW_STREAM}).
   */
  public static ArrowTraceReader open(Path path, TraceFormat format, ReadOptions options) {
    return open(path, format, options, null);
  }

  /**
   * Opens a trace, taking Arrow memory from a child of {@code parent} (closed with the reader); a
   * {@code null} parent means a private root allocator.
   */
  public static ArrowTraceReader open(
      Path path, TraceFormat format, ReadOptions options, BufferAllocator parent) {
    if (format != TraceFormat.ARROW_FILE && format != TraceFormat.ARROW_STREAM) {
      throw new IllegalArgumentException("not an Arrow format: " + format);
    }
    return new ArrowTraceReader(path, format, options, parent);
  }

  private VectorSchemaRoot readSchema() throws IOException {
    try {
      VectorSchemaRoot schemaRoot = arrow.getVectorSchemaRoot();
      if (arrow instanceof DeltaFileReader file) {
        file.applyDeltaDictionaries();
      }
      return schemaRoot;
    } catch (IOException | RuntimeException e) {
      if (readAsStream && atEndOfFile()) {
        throw new TraceFormatException(
            ErrorCode.TRUNCATED,
            path,
            null,
            String.format(
                ROOT,
                "truncated inside the schema (%d bytes): the file holds no complete record batch",
                fileSize));
      }
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          path,
          null,
          String.format(ROOT, "not a valid %s: %s", describe(format), message(e)),
          e);
    }
  }

  private Map<Column, ArrowColumn> bindColumns() {
    Map<Column, ArrowColumn> bound = new LinkedHashMap<>();
    for (FieldVector vector : root.getFieldVectors()) {
      var column = Column.fromWireName(vector.getField().getName());
      if (column.isEmpty()) {
        continue;
      }
      if (bound.containsKey(column.get())) {
        throw SchemaErrors.duplicateColumn(path, column.get());
      }
      ArrowType valueType = vector.getField().getType();
      if (vector.getField().getDictionary() != null) {
        Dictionary values = arrow.lookup(vector.getField().getDictionary().getId());
        if (values == null) {
          throw new TraceFormatException(
              ErrorCode.CORRUPT,
              path,
              null,
              String.format(
                  ROOT,
                  "column '%s' names a dictionary the file does not hold",
                  column.get().wireName()));
        }
        valueType = values.getVectorType();
      }
      bound.put(column.get(), ArrowColumn.bind(path, column.get(), vector, valueType, dictionary));
    }
    return bound;
  }

  private TraceMetadata readMetadata() {
    Map<String, String> values = new LinkedHashMap<>();
    Map<String, String> schemaMetadata = root.getSchema().getCustomMetadata();
    if (schemaMetadata != null) {
      values.putAll(schemaMetadata);
    }
    if (arrow instanceof ArrowFileReader file && file.getMetaData() != null) {
      for (Map.Entry<String, String> entry : file.getMetaData().entrySet()) {
        values.putIfAbsent(entry.getKey(), entry.getValue());
      }
    }
    try {
      return TraceMetadata.of(ArrowMetadata.ordered(values));
    } catch (IllegalArgumentException e) {
      throw new TraceFormatException(ErrorCode.BAD_METADATA, path, null, e.getMessage(), e);
    }
  }

  /** Rows in an IPC file, from the record batch headers its footer points to. */
  private long countRows(DeltaFileReader reader) throws IOException {
    long rows = 0;
    for (ArrowBlock block : reader.getRecordBlocks()) {
      channel.position(block.getOffset());
      MessageMetadataResult message = MessageSerializer.readMessage(new ReadChannel(channel));
      if (message == null) {
        throw new IOException("a record batch listed in the footer is missing");
      }
      RecordBatch header = (RecordBatch) message.getMessage().header(new RecordBatch());
      rows += header.length();
    }
    return rows;
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public TraceFormat format() {
    return format;
  }

  @Override
  public TraceMetadata metadata() {
    return metadata;
  }

  @Override
  public Set<Column> columnsInFile() {
    return columnsInFile.isEmpty() ? EnumSet.noneOf(Column.class) : EnumSet.copyOf(columnsInFile);
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
      throw new IllegalStateException("reader is closed");
    }
    while (!finished && recordOffset >= recordRows) {
      if (!loadRecordBatch()) {
        finished = true;
      }
    }
    if (finished) {
      batch.reset(0);
      return false;
    }
    int n = Math.min(batchRows, recordRows - recordOffset);
    batch.reset(n);
    ArrowColumn.ArrowDictionaries dictionaries = arrow::lookup;
    for (ArrowColumn column : projected) {
      column.copy(batch, recordOffset, n, rowsRead, dictionaries);
    }
    for (Column column : absent) {
      ArrowColumn.fillAbsent(batch, column, n);
    }
    if (batch.has(Column.PHASE)) {
      unknownPhases.count(batch.ints(Column.PHASE), n);
    }
    recordOffset += n;
    rowsRead += n;
    return true;
  }

  /**
   * Loads the next record batch; false at the end of the data, including a tolerated truncation.
   */
  private boolean loadRecordBatch() {
    boolean loaded;
    try {
      loaded = arrow.loadNextBatch();
    } catch (IOException | RuntimeException e) {
      if (readAsStream && atEndOfFile()) {
        markTruncated();
        return false;
      }
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          path,
          "record batch " + recordBatches,
          String.format(ROOT, "cannot read: %s", message(e)),
          e);
    }
    if (!loaded) {
      if (footerMissing || (readAsStream && !endsWithEndOfStream())) {
        markTruncated();
      }
      return false;
    }
    recordBatches++;
    recordRows = root.getRowCount();
    recordOffset = 0;
    for (ArrowColumn column : projected) {
      column.onRecordBatch();
    }
    return true;
  }

  private void markTruncated() {
    if (recordBatches == 0) {
      // nothing to recover: the same error as a cut inside the schema
      throw new TraceFormatException(
          ErrorCode.TRUNCATED,
          path,
          null,
          String.format(
              ROOT,
              "truncated before the end of the first record batch (%d bytes): the file holds no"
                  + " complete record batch",
              fileSize));
    }
    truncated = true;
    String what =
        footerMissing
            ? "truncated: the IPC file has no footer (the writer did not finish); read as a stream,"
            : "truncated:";
    warnings.add(
        String.format(
            ROOT,
            "%s recovered %d rows in %d complete record batches; the rest of the file is lost",
            what,
            rowsRead,
            recordBatches));
  }

  private boolean endsWithMagic() throws IOException {
    if (fileSize < 2L * FILE_MAGIC.length + FILE_HEADER_BYTES) {
      return false;
    }
    ByteBuffer tail = ByteBuffer.allocate(FILE_MAGIC.length);
    readFully(tail, fileSize - FILE_MAGIC.length);
    return java.util.Arrays.equals(tail.array(), FILE_MAGIC);
  }

  /** True when the bytes just read were the end-of-stream marker (0xFFFFFFFF then length 0). */
  private boolean endsWithEndOfStream() {
    try {
      long position = channel.position();
      if (position < 8) {
        return false;
      }
      ByteBuffer marker = ByteBuffer.allocate(8);
      readFully(marker, position - 8);
      byte[] b = marker.array();
      return b[0] == -1
          && b[1] == -1
          && b[2] == -1
          && b[3] == -1
          && b[4] == 0
          && b[5] == 0
          && b[6] == 0
          && b[7] == 0;
    } catch (IOException e) {
      return false;
    }
  }

  private void readFully(ByteBuffer buffer, long position) throws IOException {
    long at = position;
    while (buffer.hasRemaining()) {
      int n = channel.read(buffer, at);
      if (n < 0) {
        throw new IOException("unexpected end of file");
      }
      at += n;
    }
  }

  private boolean atEndOfFile() {
    try {
      return channel.position() >= fileSize;
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public long rowsRead() {
    return rowsRead;
  }

  @Override
  public long totalRows() {
    return totalRows;
  }

  @Override
  public boolean truncated() {
    return truncated;
  }

  /** The truncation, if any, then one line per phase this version does not know. */
  @Override
  public List<String> warnings() {
    List<String> all = new ArrayList<>(warnings);
    all.addAll(unknownPhases.warnings(dictionary));
    return all;
  }

  /** Record batches loaded so far (complete ones only). */
  public long recordBatchesRead() {
    return recordBatches;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    closeQuietly(arrow, channel);
  }

  private void closeQuietly(ArrowReader reader, FileChannel opened) {
    try {
      if (reader != null) {
        reader.close();
      }
    } catch (IOException | RuntimeException e) {
      // The file was only read; nothing is lost if closing it fails.
    }
    try {
      if (opened != null) {
        opened.close();
      }
    } catch (IOException e) {
      // Same as above.
    }
    allocator.close();
  }

  /** Releases everything after a failed open, keeping the open's exception as the one thrown. */
  private void closeAfterFailure(ArrowReader reader, FileChannel opened, Exception failure) {
    try {
      closeQuietly(reader, opened);
    } catch (RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  private static String describe(TraceFormat format) {
    return format == TraceFormat.ARROW_FILE ? "Arrow IPC file" : "Arrow IPC stream";
  }

  private static String message(Throwable e) {
    String message = e.getMessage();
    return message == null ? e.getClass().getSimpleName() : message.strip();
  }

  /** An {@link ArrowFileReader} that also applies the delta dictionary batches of the footer. */
  private static final class DeltaFileReader extends ArrowFileReader {
    DeltaFileReader(SeekableByteChannel in, BufferAllocator allocator) {
      super(in, allocator);
    }

    /**
     * Loads the dictionary batches {@code initialize()} skipped: it reads one per dictionary, so
     * the delta batches after them are left out.
     */
    void applyDeltaDictionaries() throws IOException {
      if (getRecordBlocks().isEmpty()) {
        return;
      }
      for (int i = dictionaries.size(); i < getDictionaryBlocks().size(); i++) {
        loadDictionary(readDictionary());
      }
    }
  }
}
