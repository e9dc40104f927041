package io.dlanalyze.trace.parquet;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.AtomicOutput;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ColumnType;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceWriter;
import io.dlanalyze.trace.WriteOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.parquet.bytes.HeapByteBufferAllocator;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.ColumnWriteStore;
import org.apache.parquet.column.ColumnWriter;
import org.apache.parquet.column.ParquetProperties;
import org.apache.parquet.compression.CompressionCodecFactory.BytesInputCompressor;
import org.apache.parquet.hadoop.ColumnChunkPageWriteStore;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.MessageType;
import org.jspecify.annotations.Nullable;

/**
 * Writes a trace as one Parquet file in the v1 schema ({@link TraceParquetSchema#v1()}): contract
 * column order, nullable columns OPTIONAL, strings and small integers dictionary-encoded, float64
 * statistics and the step PLAIN (their dictionaries rarely pay off, the writer pays a hash lookup
 * per value for them, and PLAIN numbers decode with one bulk copy), V1 data pages, zstd by default.
 * A row group is flushed every {@link WriteOptions#rowGroupRows()} rows; the trace metadata goes
 * into the footer in its own order.
 *
 * <p>Values go straight to parquet-mr's column writers, column by column in chunks of {@link
 * #CHUNK_ROWS} rows, the way parquet-mr's own record writer drives them (a column store per row
 * group, flushed into {@link ParquetFileWriter}), but without a per-value record-consumer call
 * chain and without Hadoop. The file is written to a temporary file beside the target and renamed
 * by {@link #close()}.
 */
public final class ParquetTraceWriter implements TraceWriter {
  /** Rows written per column before the store's per-record bookkeeping catches up. */
  static final int CHUNK_ROWS = 1024;

  private static final MessageType SCHEMA = TraceParquetSchema.v1();

  private final Path path;
  private final AtomicOutput output;
  private final Map<String, String> keyValues;
  private final int rowGroupRows;
  private final ParquetProperties properties;
  private final BytesInputCompressor compressor;
  private final PathOutputFile outputFile;
  private final ParquetFileWriter fileWriter;
  private final ColumnDescriptor[] descriptors = new ColumnDescriptor[Column.COUNT];
  private final ColumnWriter[] writers = new ColumnWriter[Column.COUNT];
  private final StringCache strings = new StringCache();
  private @Nullable ColumnWriteStore columnStore;
  private @Nullable ColumnChunkPageWriteStore pageStore;
  private int rowGroupOrdinal;
  private long rowsInGroup;
  private boolean done;

  private ParquetTraceWriter(
      Path path, AtomicOutput output, TraceMetadata metadata, WriteOptions options)
      throws IOException {
    this.path = path;
    this.output = output;
    this.keyValues = new LinkedHashMap<>(metadata.asMap());
    this.rowGroupRows = options.rowGroupRows();
    ParquetProperties.Builder builder =
        ParquetProperties.builder()
            .withWriterVersion(ParquetProperties.WriterVersion.PARQUET_1_0)
            .withAllocator(new HeapByteBufferAllocator())
            .withDictionaryEncoding(true);
    for (Column column : Column.values()) {
      if (column.type() == ColumnType.FLOAT64 || column == Column.STEP) {
        builder.withDictionaryEncoding(column.wireName(), false);
      }
    }
    this.properties = builder.build();
    this.compressor = new NoHadoopCodecFactory().getCompressor(codec(options.compression()));
    List<ColumnDescriptor> columns = SCHEMA.getColumns();
    for (Column column : Column.values()) {
      descriptors[column.ordinal()] = columns.get(column.ordinal());
    }
    this.outputFile = new PathOutputFile(output.temporary());
    this.fileWriter =
        new ParquetFileWriter(
            outputFile,
            SCHEMA,
            ParquetFileWriter.Mode.OVERWRITE,
            Long.MAX_VALUE,
            0,
            null,
            properties);
    fileWriter.start();
  }

  /**
   * Starts writing {@code path} (the file appears on {@link #close()}).
   *
   * @throws TraceFormatException IO_ERROR when the temporary file cannot be created
   */
  public static ParquetTraceWriter create(Path path, TraceMetadata metadata, WriteOptions options) {
    options.checkFor(io.dlanalyze.trace.TraceFormat.PARQUET);
    AtomicOutput output;
    try {
      output = AtomicOutput.create(path);
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, path, null, format(ROOT, "cannot create: %s", e.getMessage()), e);
    }
    try {
      return new ParquetTraceWriter(path, output, metadata, options);
    } catch (IOException | RuntimeException e) {
      output.abort();
      throw new TraceFormatException(
          ErrorCode.IO_ERROR,
          path,
          null,
          "cannot start writing: " + io.dlanalyze.trace.ReadErrors.describe(e),
          e);
    }
  }

  /** The Parquet codec of a {@link WriteOptions#compression()} name; "lz4" is LZ4_RAW. */
  static CompressionCodecName codec(String compression) {
    return switch (compression) {
      case "default", "zstd" -> CompressionCodecName.ZSTD;
      case "snappy" -> CompressionCodecName.SNAPPY;
      case "gzip" -> CompressionCodecName.GZIP;
      case "lz4", "lz4_raw" -> CompressionCodecName.LZ4_RAW;
      case "uncompressed" -> CompressionCodecName.UNCOMPRESSED;
      default ->
          throw new IllegalArgumentException(format(ROOT, "not a Parquet codec: %s", compression));
    };
  }

  @Override
  public Path path() {
    return path;
  }

  /**
   * Appends the batch's rows.
   *
   * @throws IllegalArgumentException when the batch does not load a required column
   * @throws TraceFormatException INVALID_VALUE when a required column holds a null
   */
  @Override
  public void write(TraceBatch batch) {
    if (done) {
      throw new IllegalStateException("writer is closed: " + path);
    }
    check(batch);
    strings.bind(batch.dictionary());
    try {
      int size = batch.size();
      int row = 0;
      while (row < size) {
        if (columnStore == null) {
          startRowGroup();
        }
        int n = (int) Math.min(Math.min(CHUNK_ROWS, size - row), rowGroupRows - rowsInGroup);
        writeChunk(batch, row, n);
        row += n;
        rowsInGroup += n;
        if (rowsInGroup == rowGroupRows) {
          flushRowGroup();
        }
      }
    } catch (IOException | RuntimeException e) {
      abort();
      throw new TraceFormatException(
          ErrorCode.IO_ERROR,
          path,
          null,
          "cannot write: " + io.dlanalyze.trace.ReadErrors.describe(e),
          e);
    }
  }

  private void check(TraceBatch batch) {
    for (Column column : Column.values()) {
      if (column.isNullable()) {
        continue;
      }
      if (!batch.has(column)) {
        throw new IllegalArgumentException(
            format(ROOT, "the batch does not load required column %s", column.wireName()));
      }
      boolean[] nulls = batch.nullMask(column);
      if (nulls != null) {
        for (int i = 0; i < batch.size(); i++) {
          if (nulls[i]) {
            throw new TraceFormatException(
                ErrorCode.INVALID_VALUE,
                path,
                format(ROOT, "batch row %d", i),
                format(
                    ROOT,
                    "column '%s' is null, but trace format v1 requires a value",
                    column.wireName()));
          }
        }
      }
    }
  }

  private void writeChunk(TraceBatch batch, int from, int n) {
    int to = from + n;
    for (Column column : Column.values()) {
      ColumnWriter writer = writers[column.ordinal()];
      if (!batch.has(column)) {
        for (int i = from; i < to; i++) {
          writer.writeNull(0, 0);
        }
        continue;
      }
      boolean[] nulls = batch.nullMask(column);
      int def = column.isNullable() ? 1 : 0;
      switch (column.type()) {
        case INT32 -> {
          int[] values = batch.ints(column);
          for (int i = from; i < to; i++) {
            if (nulls != null && nulls[i]) {
              writer.writeNull(0, 0);
            } else {
              writer.write(values[i], 0, def);
            }
          }
        }
        case INT64 -> {
          long[] values = batch.longs(column);
          for (int i = from; i < to; i++) {
            if (nulls != null && nulls[i]) {
              writer.writeNull(0, 0);
            } else {
              writer.write(values[i], 0, def);
            }
          }
        }
        case FLOAT64 -> {
          double[] values = batch.doubles(column);
          for (int i = from; i < to; i++) {
            if (nulls != null && nulls[i]) {
              writer.writeNull(0, 0);
            } else {
              writer.write(values[i], 0, def);
            }
          }
        }
        case STRING -> {
          int[] ids = batch.ints(column);
          for (int i = from; i < to; i++) {
            Binary value = nulls != null && nulls[i] ? null : strings.get(column, ids[i]);
            if (value == null) {
              if (def == 0) {
                throw new IllegalArgumentException(
                    format(ROOT, "column %s has no string for id %d", column.wireName(), ids[i]));
              }
              writer.writeNull(0, 0);
            } else {
              writer.write(value, 0, def);
            }
          }
        }
      }
    }
    ColumnWriteStore store = requireNonNull(columnStore, "no row group started");
    for (int i = 0; i < n; i++) {
      store.endRecord();
    }
  }

  private void startRowGroup() {
    pageStore =
        ColumnChunkPageWriteStore.builder()
            .withCompressorProvider(descriptor -> compressor)
            .withSchema(SCHEMA)
            .withAllocator(properties.getAllocator())
            .withColumnIndexTruncateLength(properties.getColumnIndexTruncateLength())
            .withPageWriteChecksumEnabled(properties.getPageWriteChecksumEnabled())
            .withRowGroupOrdinal(rowGroupOrdinal)
            .build();
    columnStore = properties.newColumnWriteStore(SCHEMA, pageStore, pageStore);
    for (int c = 0; c < Column.COUNT; c++) {
      writers[c] = columnStore.getColumnWriter(descriptors[c]);
    }
    rowsInGroup = 0;
  }

  private void flushRowGroup() throws IOException {
    try {
      if (rowsInGroup > 0) {
        fileWriter.startBlock(rowsInGroup);
        requireNonNull(columnStore, "no row group started").flush();
        requireNonNull(pageStore, "no row group started").flushToFileWriter(fileWriter);
        fileWriter.endBlock();
        rowGroupOrdinal++;
      }
    } finally {
      closeStores();
    }
  }

  private void closeStores() {
    if (columnStore != null) {
      columnStore.close();
    }
    if (pageStore != null) {
      pageStore.close();
    }
    columnStore = null;
    pageStore = null;
    Arrays.fill(writers, null);
    rowsInGroup = 0;
  }

  /** Flushes the last row group, writes the footer and renames the file onto the target. */
  @Override
  public void close() {
    if (done) {
      return;
    }
    try {
      if (columnStore != null) {
        flushRowGroup();
      }
      fileWriter.end(keyValues);
      done = true;
      compressor.release();
      output.commit();
    } catch (IOException | RuntimeException e) {
      abort();
      throw new TraceFormatException(
          ErrorCode.IO_ERROR,
          path,
          null,
          "cannot finish writing: " + io.dlanalyze.trace.ReadErrors.describe(e),
          e);
    }
  }

  /** Drops the temporary file; the target is left as it was. */
  @Override
  public void abort() {
    if (done) {
      output.abort();
      return;
    }
    done = true;
    try {
      closeStores();
      fileWriter.abort();
    } catch (RuntimeException e) {
      // The temporary file is deleted below whatever state the writer is in.
    } finally {
      outputFile.closeQuietly();
      compressor.release();
      output.abort();
    }
  }

  /**
   * UTF-8 bytes of the strings of one {@link TraceDictionary}, made once per id, so writing a
   * string value allocates nothing.
   */
  private static final class StringCache {
    private @Nullable TraceDictionary dictionary;
    private Binary[] layerNames = new Binary[16];
    private Binary[] layerTypes = new Binary[16];
    private Binary[] phases = new Binary[Phase.COUNT + 4];

    void bind(TraceDictionary dictionary) {
      if (this.dictionary != dictionary) {
        this.dictionary = dictionary;
        Arrays.fill(layerNames, null);
        Arrays.fill(layerTypes, null);
        Arrays.fill(phases, null);
      }
    }

    /** The bytes of a string id, or null for a null layer type (id -1). */
    @Nullable Binary get(Column column, int id) {
      if (id < 0) {
        return null;
      }
      Binary[] cache =
          switch (column) {
            case LAYER_NAME -> layerNames = grow(layerNames, id);
            case LAYER_TYPE -> layerTypes = grow(layerTypes, id);
            default -> phases = grow(phases, id);
          };
      Binary value = cache[id];
      if (value == null) {
        TraceDictionary source = requireNonNull(dictionary, "no dictionary bound");
        String text =
            switch (column) {
              case LAYER_NAME -> source.layerName(id);
              case LAYER_TYPE -> requireNonNull(source.layerType(id), "a type id is -1 or known");
              default -> source.phaseName(id);
            };
        value = Binary.fromConstantByteArray(text.getBytes(StandardCharsets.UTF_8));
        cache[id] = value;
      }
      return value;
    }

    private static Binary[] grow(Binary[] cache, int id) {
      return id < cache.length ? cache : Arrays.copyOf(cache, Math.max(id + 1, cache.length * 2));
    }
  }
}
