package io.dlanalyze.trace.arrow;

import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadErrors;
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
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.compression.CommonsCompressionFactory;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.jspecify.annotations.Nullable;

/**
 * Reads an Arrow IPC stream or IPC file record batch by record batch into a reused {@link
 * TraceBatch}; a record batch larger than {@link ReadOptions#batchRows()} is handed out in parts.
 * Bodies compressed with LZ4_FRAME or ZSTD (pyarrow's feather default is LZ4) are decompressed with
 * Arrow Java's compression module.
 *
 * <p>Every message is checked before Arrow Java reads it ({@link CheckedMessages}, {@link
 * BatchLayout}): lengths against the file, framing, and the layout of each batch body; each loaded
 * batch is validated once more ({@code ValueVectorUtility.validateFull}). An IPC file with its
 * footer is read as the stream of messages between its header and its footer, and each message must
 * lie where the footer says ({@link IpcFooter}). The reader's Arrow memory is limited to {@link
 * #memoryLimit(long)}: a batch that needs more is {@link ErrorCode#CORRUPT}.
 *
 * <p>Crash tolerance: a stream that ends without its end-of-stream marker, or inside a message,
 * yields every complete record batch and then reports the truncation in {@link #warnings()}. An IPC
 * file without its footer is read the same way, as the stream that follows its 8-byte header. A
 * file cut inside the schema or the first record batch has nothing to recover: {@link
 * ErrorCode#TRUNCATED}.
 *
 * <p>Memory comes from a child of the caller's allocator (or a private root allocator) that is
 * closed with the reader.
 */
public final class ArrowTraceReader implements TraceReader {
  private static final byte[] FILE_MAGIC = {'A', 'R', 'R', 'O', 'W', '1'};

  /**
   * The rows the batch holds before a record batch is read, when the file does not say how many
   * rows it has (a stream, an IPC file without footer): it grows to the record batches met,
   * doubling.
   */
  static final int FIRST_CAPACITY = 1024;

  /** The least memory a reader may use, whatever the file size: 256 MiB. */
  static final long MIN_MEMORY_LIMIT = 256L << 20;

  /** How many times its file size a reader may hold in Arrow memory (decompressed batches). */
  static final int MEMORY_PER_FILE_BYTE = 32;

  private final Path path;
  private final TraceFormat format;
  private final BufferAllocator allocator;
  private final long memoryLimit;
  private final FileChannel channel;
  private final long fileSize;
  private final ArrowStreamReader arrow;
  private final @Nullable IpcFooter footer;
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
  private final @Nullable Follow follow;
  private CheckedMessages messages;
  private @Nullable TraceMetadata withTrailing;
  private int trailingSeen;
  private int recordRows;
  private int recordOffset;
  private long recordBatches;
  private long rowsRead;
  private boolean truncated;
  private boolean finished;
  private boolean closed;

  /**
   * Waits for a stream that is still being written ({@code dl-analyze watch}): the reader calls it
   * where it needs bytes past the end of the file, on the reading thread.
   */
  public interface Follow {
    /**
     * Blocks until the file is longer than {@code size} bytes and returns true, or returns false to
     * give up: the stream is then read as cut at {@code size} (a truncation warning, as for a
     * crashed writer).
     */
    boolean await(long size) throws IOException;
  }

  private ArrowTraceReader(
      Path path, TraceFormat format, ReadOptions options, @Nullable BufferAllocator parent) {
    this(path, format, options, parent, null);
  }

  private ArrowTraceReader(
      Path path,
      TraceFormat format,
      ReadOptions options,
      @Nullable BufferAllocator parent,
      @Nullable Follow follow) {
    this.path = path;
    this.follow = follow;
    this.format = format;
    this.batchRows = options.batchRows();
    FileChannel opened = null;
    BufferAllocator memory = null;
    ArrowStreamReader reader = null;
    try {
      opened = FileChannel.open(path, StandardOpenOption.READ);
      this.channel = opened;
      this.fileSize = opened.size();
      this.memoryLimit = follow == null ? memoryLimit(fileSize) : 4 * MIN_MEMORY_LIMIT;
      memory =
          parent == null
              ? new RootAllocator(memoryLimit)
              : parent.newChildAllocator("arrow-trace-reader", 0, memoryLimit);
      this.allocator = memory;
      @Nullable IpcFooter fileFooter = null;
      long end = fileSize;
      boolean missingFooter = false;
      if (format == TraceFormat.ARROW_FILE) {
        missingFooter = !endsWithMagic();
        if (!missingFooter) {
          fileFooter = IpcFooter.read(opened, fileSize);
          end = fileFooter.start();
        } else if (follow != null) {
          requireFileMagic(opened, follow);
        }
        opened.position(
            follow != null ? IpcFooter.HEADER_BYTES : Math.min(IpcFooter.HEADER_BYTES, fileSize));
      }
      this.footer = fileFooter;
      this.footerMissing = missingFooter;
      CheckedMessages messages = new CheckedMessages(opened, end, fileFooter, memory, follow);
      this.messages = messages;
      reader = new CheckedStreamReader(messages, memory, CommonsCompressionFactory.INSTANCE);
      this.arrow = reader;
      this.root = readSchema(messages);
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
      this.totalRows = fileFooter == null ? -1 : countRows(fileFooter);
      this.batch =
          new TraceBatch(dictionary, options.columns(), firstCapacity(batchRows, totalRows));
    } catch (TraceFormatException e) {
      closeAfterFailure(reader, opened, memory, e);
      throw e;
    } catch (NoSuchFileException e) {
      closeAfterFailure(reader, opened, memory, e);
      throw new TraceFormatException(ErrorCode.NOT_FOUND, path, null, "no such file");
    } catch (IOException | RuntimeException e) {
      closeAfterFailure(reader, opened, memory, e);
      throw new TraceFormatException(
          e instanceof IOException && !(e instanceof CheckedMessages.Corrupt)
              ? ErrorCode.IO_ERROR
              : ErrorCode.CORRUPT,
          path,
          null,
          String.format(ROOT, "not a valid %s: %s", describe(format), message(e)),
          e);
    }
  }

  /**
   * The most Arrow memory a reader of a file of {@code fileSize} bytes may hold at once: {@value
   * #MEMORY_PER_FILE_BYTE} times the file size (room for decompressed batches), at least 256 MiB.
   */
  public static long memoryLimit(long fileSize) {
    long scaled =
        fileSize > Long.MAX_VALUE / MEMORY_PER_FILE_BYTE
            ? Long.MAX_VALUE
            : fileSize * MEMORY_PER_FILE_BYTE;
    return Math.max(MIN_MEMORY_LIMIT, scaled);
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
      Path path, TraceFormat format, ReadOptions options, @Nullable BufferAllocator parent) {
    if (format != TraceFormat.ARROW_FILE && format != TraceFormat.ARROW_STREAM) {
      throw new IllegalArgumentException("not an Arrow format: " + format);
    }
    return new ArrowTraceReader(path, format, options, parent);
  }

  /**
   * Opens an Arrow IPC stream that is still being written and follows it as it grows, the way
   * {@code tail -f} follows a file: where the next message is not all there yet, {@code follow}
   * waits for more bytes. The trace ends at the writer's end-of-stream marker, or where {@code
   * follow} gives up (read as a truncation). The file must exist; it may still be empty.
   */
  public static ArrowTraceReader follow(Path path, ReadOptions options, Follow follow) {
    return follow(path, TraceFormat.ARROW_STREAM, options, follow);
  }

  /**
   * As {@link #follow(Path, ReadOptions, Follow)}, for an IPC stream or an IPC file. An IPC file
   * that is complete already is read with its footer; one still being written is followed as the
   * stream after its 8-byte header, up to the writer's end-of-stream marker (which the writer puts
   * before the footer).
   */
  public static ArrowTraceReader follow(
      Path path, TraceFormat format, ReadOptions options, Follow follow) {
    if (format != TraceFormat.ARROW_FILE && format != TraceFormat.ARROW_STREAM) {
      throw new IllegalArgumentException("not an Arrow format: " + format);
    }
    return new ArrowTraceReader(
        path, format, options, null, java.util.Objects.requireNonNull(follow));
  }

  /** Waits for the first bytes of a followed IPC file and checks that they are its magic. */
  private void requireFileMagic(FileChannel opened, Follow follow) throws IOException {
    while (opened.size() < FILE_MAGIC.length) {
      if (!follow.await(opened.size())) {
        throw new TraceFormatException(
            ErrorCode.TRUNCATED,
            path,
            null,
            String.format(
                ROOT,
                "truncated inside the schema (%d bytes): the file holds no complete record batch",
                opened.size()));
      }
    }
    ByteBuffer head = ByteBuffer.allocate(FILE_MAGIC.length);
    readFully(head, 0);
    if (!java.util.Arrays.equals(head.array(), FILE_MAGIC)) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          path,
          null,
          "not a valid Arrow IPC file: its first bytes are not the ARROW1 magic number");
    }
  }

  private VectorSchemaRoot readSchema(CheckedMessages messages) throws IOException {
    VectorSchemaRoot schemaRoot;
    try {
      schemaRoot = arrow.getVectorSchemaRoot();
    } catch (CheckedMessages.Truncated e) {
      if (footer != null) {
        throw corruptFile(e);
      }
      throw new TraceFormatException(
          ErrorCode.TRUNCATED,
          path,
          null,
          String.format(
              ROOT,
              "truncated inside the schema (%d bytes): the file holds no complete record batch",
              fileSize));
    } catch (IOException | RuntimeException e) {
      if (e.getMessage() == null && footer == null && atEndOfFile()) {
        throw new TraceFormatException(
            ErrorCode.TRUNCATED,
            path,
            null,
            String.format(
                ROOT,
                "truncated inside the schema (%d bytes): the file holds no complete record batch",
                fileSize));
      }
      throw corruptFile(e);
    }
    if (footer != null && !footer.schema().getFields().equals(messages.schema().getFields())) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          path,
          null,
          "not a valid Arrow IPC file: the schema in the footer differs from the one at the"
              + " start");
    }
    return schemaRoot;
  }

  private TraceFormatException corruptFile(Exception e) {
    return new TraceFormatException(
        ErrorCode.CORRUPT,
        path,
        null,
        String.format(ROOT, "not a valid %s: %s", describe(format), message(e)),
        e);
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
    if (footer != null) {
      for (Map.Entry<String, String> entry : footer.metadata().entrySet()) {
        values.putIfAbsent(entry.getKey(), entry.getValue());
      }
    }
    try {
      return TraceMetadata.of(ArrowMetadata.ordered(values));
    } catch (IllegalArgumentException e) {
      throw new TraceFormatException(
          ErrorCode.BAD_METADATA, path, null, TraceMetadata.problem(e), e);
    }
  }

  /**
   * The batch's first capacity: the file's rows when its footer gives them, else {@link
   * #FIRST_CAPACITY}, at most {@code batchRows} and 64 Ki. A small trace does not pay for a batch
   * of 64 Ki rows (about 6 MB of arrays with every column loaded, allocated and zeroed for each
   * trace: most of what a batch of many small traces allocated).
   */
  static int firstCapacity(int batchRows, long totalRows) {
    long rows = totalRows >= 0 ? totalRows : FIRST_CAPACITY;
    return (int) Math.min(Math.min(batchRows, 1 << 16), rows);
  }

  /**
   * Rows in an IPC file, from the record batch headers its footer points to (each block lies in the
   * file, {@link IpcFooter} checked it). The channel is left where it was.
   */
  private long countRows(IpcFooter fileFooter) throws IOException {
    long rows = 0;
    for (ArrowBlock block : fileFooter.recordBatches()) {
      ByteBuffer bytes = ByteBuffer.allocate(block.getMetadataLength());
      readFully(bytes, block.getOffset());
      bytes.flip().order(ByteOrder.LITTLE_ENDIAN);
      int skip = bytes.getInt(0) == -1 ? 8 : 4;
      long batchRows;
      try {
        Message message = Message.getRootAsMessage(bytes.position(skip).slice());
        if (message.headerType() != MessageHeader.RecordBatch) {
          throw new CheckedMessages.Corrupt(
              String.format(
                  ROOT,
                  "the footer lists a record batch at byte %d that is not one",
                  block.getOffset()));
        }
        batchRows = ((RecordBatch) message.header(new RecordBatch())).length();
      } catch (IndexOutOfBoundsException | IllegalArgumentException e) {
        throw new CheckedMessages.Corrupt(
            String.format(
                ROOT, "the record batch at byte %d cannot be decoded", block.getOffset()));
      }
      if (batchRows < 0 || batchRows > Integer.MAX_VALUE) {
        throw new CheckedMessages.Corrupt(
            String.format(
                ROOT,
                "the record batch at byte %d declares %d rows",
                block.getOffset(),
                batchRows));
      }
      rows += batchRows;
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

  /**
   * The schema's metadata, plus the custom metadata of the record batches read so far (a writer
   * that stops early adds its reason to its last batch, see docs/trace-format.md); the schema's
   * keys win.
   */
  @Override
  public TraceMetadata metadata() {
    java.util.Map<String, String> trailing =
        messages == null ? Map.of() : messages.trailingMetadata();
    if (trailing.isEmpty()) {
      return metadata;
    }
    if (withTrailing == null || trailingSeen != trailing.size()) {
      trailingSeen = trailing.size();
      Map<String, String> values = new LinkedHashMap<>(metadata.asMap());
      for (Map.Entry<String, String> entry : trailing.entrySet()) {
        values.putIfAbsent(entry.getKey(), entry.getValue());
      }
      try {
        withTrailing = TraceMetadata.of(values);
      } catch (IllegalArgumentException e) {
        throw new TraceFormatException(
            ErrorCode.BAD_METADATA, path, null, TraceMetadata.problem(e), e);
      }
    }
    return withTrailing;
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
    if (n > batch.capacity()) {
      batch.ensureCapacity((int) Math.min(batchRows, Math.max(n, 2L * batch.capacity())));
    }
    batch.reset(n);
    ArrowColumn.ArrowDictionaries dictionaries = arrow::lookup;
    try {
      for (ArrowColumn column : projected) {
        column.copy(batch, recordOffset, n, rowsRead, dictionaries);
      }
    } catch (TraceFormatException e) {
      throw e.at(path, "record batch " + (recordBatches - 1));
    } catch (RuntimeException e) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          path,
          "record batch " + (recordBatches - 1),
          "cannot read: " + message(e),
          e);
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
    String location = "record batch " + recordBatches;
    try {
      loaded = arrow.loadNextBatch();
      if (loaded) {
        for (FieldVector vector : root.getFieldVectors()) {
          VectorChecks.check(vector);
        }
      }
    } catch (CheckedMessages.Truncated e) {
      if (footer == null) {
        markTruncated();
        return false;
      }
      throw new TraceFormatException(ErrorCode.CORRUPT, path, location, message(e), e);
    } catch (OutOfMemoryException e) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          path,
          location,
          String.format(
              ROOT,
              "the batch needs more than %d MiB of memory once decompressed, the limit for a file"
                  + " of %d bytes (%d times its size, at least %d MiB): its sizes are damaged",
              memoryLimit >> 20,
              fileSize,
              MEMORY_PER_FILE_BYTE,
              MIN_MEMORY_LIMIT >> 20),
          e);
    } catch (IOException | RuntimeException e) {
      if (footer == null && e.getMessage() == null && atEndOfFile()) {
        markTruncated();
        return false;
      }
      throw new TraceFormatException(
          e instanceof IOException && !(e instanceof CheckedMessages.Corrupt)
              ? ErrorCode.IO_ERROR
              : ErrorCode.CORRUPT,
          path,
          location,
          String.format(ROOT, "cannot read: %s", message(e)),
          e);
    }
    if (!loaded) {
      boolean endOfStream = footer == null && endsWithEndOfStream();
      // a followed IPC file ends at its end-of-stream marker; its writer adds the footer after it
      if (footerMissing ? !(follow != null && endOfStream) : footer == null && !endOfStream) {
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
    if (fileSize < 2L * FILE_MAGIC.length + IpcFooter.HEADER_BYTES) {
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
      return channel.position() >= (follow == null ? fileSize : channel.size());
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
    closeQuietly(arrow, channel, allocator);
  }

  private static void closeQuietly(
      @Nullable ArrowReader reader,
      @Nullable FileChannel opened,
      @Nullable BufferAllocator memory) {
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
    if (memory != null) {
      memory.close();
    }
  }

  /** Releases everything after a failed open, keeping the open's exception as the one thrown. */
  private static void closeAfterFailure(
      @Nullable ArrowReader reader,
      @Nullable FileChannel opened,
      @Nullable BufferAllocator memory,
      Exception failure) {
    try {
      closeQuietly(reader, opened, memory);
    } catch (RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  private static String describe(TraceFormat format) {
    return format == TraceFormat.ARROW_FILE ? "Arrow IPC file" : "Arrow IPC stream";
  }

  /** The problem in words: the checks' own messages, or the decoders' without Java names. */
  private static String message(Throwable e) {
    String own = e.getMessage();
    if ((e instanceof CheckedMessages.Corrupt || e instanceof CheckedMessages.Truncated)
        && own != null) {
      return own;
    }
    return ReadErrors.describe(e, "its bytes cannot be decoded");
  }
}
