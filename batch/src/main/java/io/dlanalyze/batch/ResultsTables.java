package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.parquet.ParquetCodecs;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.parquet.bytes.HeapByteBufferAllocator;
import org.apache.parquet.column.ColumnWriteStore;
import org.apache.parquet.column.ParquetProperties;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.compression.CompressionCodecFactory;
import org.apache.parquet.compression.CompressionCodecFactory.BytesInputCompressor;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ColumnChunkPageWriteStore;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type.Repetition;
import org.apache.parquet.schema.Types;

/**
 * The two results tables, as Parquet files written and read with parquet-mr directly (no Hadoop,
 * the codecs of {@link ParquetCodecs}): {@code runs.parquet}, one row per trace ({@link RunRow}),
 * and {@code findings.parquet}, one row per finding ({@link FindingRow}).
 *
 * <p>The schemas are fixed and versioned: the footer key {@value #SCHEMA_KEY} holds {@code runs/1}
 * or {@code findings/1}. Adding a column at the end is a compatible change that bumps the number;
 * renaming or retyping one is not. Strings are UTF8 byte arrays, times are INT64 timestamps in ms
 * (UTC), columns that may not apply are OPTIONAL. One zstd-compressed row group per file.
 */
public final class ResultsTables {
  public static final String RUNS_FILE = "runs.parquet";
  public static final String FINDINGS_FILE = "findings.parquet";

  /** The footer key that names the table and its schema version. */
  public static final String SCHEMA_KEY = "dlanalyze.results.schema";

  /** The footer key that names the dl-analyze version that wrote the table. */
  public static final String WRITER_KEY = "dlanalyze.version";

  public static final String RUNS_VERSION = "runs/1";
  public static final String FINDINGS_VERSION = "findings/1";

  private enum Kind {
    STRING,
    INT32,
    INT64,
    BOOLEAN,
    TIMESTAMP_MILLIS
  }

  /** A column: its name, type, whether it is required, and how to get it from a row. */
  private record Col<R>(String name, Kind kind, boolean required, Function<R, Object> get) {}

  private static final List<Col<RunRow>> RUN_COLUMNS =
      List.of(
          new Col<>("path", Kind.STRING, true, RunRow::path),
          new Col<>("format", Kind.STRING, false, RunRow::format),
          new Col<>("size_bytes", Kind.INT64, true, r -> r.fingerprint().sizeBytes()),
          new Col<>("modified", Kind.TIMESTAMP_MILLIS, true, r -> r.fingerprint().modifiedMillis()),
          new Col<>("content_hash", Kind.STRING, true, r -> r.fingerprint().contentHash()),
          new Col<>("config", Kind.STRING, true, RunRow::config),
          new Col<>("status", Kind.STRING, true, r -> r.status().wireName()),
          new Col<>("error_code", Kind.STRING, false, RunRow::errorCode),
          new Col<>("error", Kind.STRING, false, RunRow::error),
          new Col<>("verdict", Kind.STRING, false, RunRow::verdict),
          new Col<>("verdict_reason", Kind.STRING, false, RunRow::verdictReason),
          new Col<>("root_scope", Kind.STRING, false, RunRow::rootScope),
          new Col<>("root_layer_index", Kind.INT32, false, RunRow::rootLayerIndex),
          new Col<>("root_layer", Kind.STRING, false, RunRow::rootLayer),
          new Col<>("root_cause", Kind.STRING, false, RunRow::rootCause),
          new Col<>("suggested_fix", Kind.STRING, false, RunRow::suggestedFix),
          new Col<>("top_detector", Kind.STRING, false, RunRow::topDetector),
          new Col<>("top_symptom", Kind.STRING, false, RunRow::topSymptom),
          new Col<>("top_severity", Kind.STRING, false, RunRow::topSeverity),
          new Col<>("top_layer_index", Kind.INT32, false, RunRow::topLayerIndex),
          new Col<>("top_layer", Kind.STRING, false, RunRow::topLayer),
          new Col<>("top_phase", Kind.STRING, false, RunRow::topPhase),
          new Col<>("top_first_step", Kind.INT64, false, RunRow::topFirstStep),
          new Col<>("findings", Kind.INT32, true, RunRow::findings),
          new Col<>("findings_info", Kind.INT32, true, RunRow::findingsInfo),
          new Col<>("findings_warning", Kind.INT32, true, RunRow::findingsWarning),
          new Col<>("findings_error", Kind.INT32, true, RunRow::findingsError),
          new Col<>("findings_critical", Kind.INT32, true, RunRow::findingsCritical),
          new Col<>("rows", Kind.INT64, false, RunRow::rows),
          new Col<>("steps", Kind.INT64, false, RunRow::steps),
          new Col<>("truncated", Kind.BOOLEAN, false, RunRow::truncated),
          new Col<>("warnings", Kind.INT32, false, RunRow::warnings),
          new Col<>("run_id", Kind.STRING, false, RunRow::runId),
          new Col<>("analysis_ms", Kind.INT64, true, RunRow::analysisMillis),
          new Col<>("analyzed_at", Kind.TIMESTAMP_MILLIS, true, RunRow::analyzedAtMillis));

  private static final List<Col<FindingRow>> FINDING_COLUMNS =
      List.of(
          new Col<>("path", Kind.STRING, true, FindingRow::path),
          new Col<>("rank", Kind.INT32, true, FindingRow::rank),
          new Col<>("detector", Kind.STRING, true, FindingRow::detector),
          new Col<>("symptom", Kind.STRING, true, FindingRow::symptom),
          new Col<>("severity", Kind.STRING, true, FindingRow::severity),
          new Col<>("layer_index", Kind.INT32, true, FindingRow::layerIndex),
          new Col<>("layer", Kind.STRING, false, FindingRow::layer),
          new Col<>("layer_type", Kind.STRING, false, FindingRow::layerType),
          new Col<>("phase", Kind.STRING, true, FindingRow::phase),
          new Col<>("first_step", Kind.INT64, true, FindingRow::firstStep),
          new Col<>("last_step", Kind.INT64, true, FindingRow::lastStep),
          new Col<>("epoch", Kind.INT32, true, FindingRow::epoch),
          new Col<>("batch", Kind.INT32, true, FindingRow::batch),
          new Col<>("occurrences", Kind.INT64, true, FindingRow::occurrences),
          new Col<>("consequences", Kind.INT32, true, FindingRow::consequences),
          new Col<>("message", Kind.STRING, true, FindingRow::message),
          new Col<>("suggested_fix", Kind.STRING, false, FindingRow::suggestedFix),
          new Col<>("evidence", Kind.STRING, true, FindingRow::evidence));

  /** The runs table's schema. */
  public static final MessageType RUNS = schema("runs", RUN_COLUMNS);

  /** The findings table's schema. */
  public static final MessageType FINDINGS = schema("findings", FINDING_COLUMNS);

  private ResultsTables() {}

  /** The runs table as the bytes of a Parquet file. */
  public static byte[] writeRuns(List<RunRow> rows) {
    return write(RUNS, RUN_COLUMNS, RUNS_VERSION, rows);
  }

  /** The findings table as the bytes of a Parquet file. */
  public static byte[] writeFindings(List<FindingRow> rows) {
    return write(FINDINGS, FINDING_COLUMNS, FINDINGS_VERSION, rows);
  }

  /**
   * Reads a runs table.
   *
   * @param name the file's name, for messages
   * @throws IOException when the file is not a runs table of this schema version
   */
  public static List<RunRow> readRuns(byte[] file, String name) throws IOException {
    List<RunRow> rows = new ArrayList<>();
    for (Object[] v : read(file, name, RUNS, RUNS_VERSION, RUN_COLUMNS)) {
      int i = 0;
      rows.add(
          new RunRow(
              (String) v[i++],
              (String) v[i++],
              new Fingerprint((Long) v[i++], (Long) v[i++], (String) v[i++]),
              (String) v[i++],
              RunStatus.fromWireName((String) v[i++]),
              (String) v[i++],
              (String) v[i++],
              (String) v[i++],
              (String) v[i++],
              (String) v[i++],
              (Integer) v[i++],
              (String) v[i++],
              (String) v[i++],
              (String) v[i++],
              (String) v[i++],
              (String) v[i++],
              (String) v[i++],
              (Integer) v[i++],
              (String) v[i++],
              (String) v[i++],
              (Long) v[i++],
              (Integer) v[i++],
              (Integer) v[i++],
              (Integer) v[i++],
              (Integer) v[i++],
              (Integer) v[i++],
              (Long) v[i++],
              (Long) v[i++],
              (Boolean) v[i++],
              (Integer) v[i++],
              (String) v[i++],
              (Long) v[i++],
              (Long) v[i++]));
    }
    return rows;
  }

  /**
   * Reads a findings table.
   *
   * @throws IOException when the file is not a findings table of this schema version
   */
  public static List<FindingRow> readFindings(byte[] file, String name) throws IOException {
    List<FindingRow> rows = new ArrayList<>();
    for (Object[] v : read(file, name, FINDINGS, FINDINGS_VERSION, FINDING_COLUMNS)) {
      int i = 0;
      rows.add(
          new FindingRow(
              (String) v[i++],
              (Integer) v[i++],
              (String) v[i++],
              (String) v[i++],
              (String) v[i++],
              (Integer) v[i++],
              (String) v[i++],
              (String) v[i++],
              (String) v[i++],
              (Long) v[i++],
              (Long) v[i++],
              (Integer) v[i++],
              (Integer) v[i++],
              (Long) v[i++],
              (Integer) v[i++],
              (String) v[i++],
              (String) v[i++],
              (String) v[i++]));
    }
    return rows;
  }

  private static <R> MessageType schema(String name, List<Col<R>> columns) {
    Types.MessageTypeBuilder builder = Types.buildMessage();
    for (Col<R> column : columns) {
      Repetition repetition = column.required() ? Repetition.REQUIRED : Repetition.OPTIONAL;
      switch (column.kind()) {
        case STRING ->
            builder
                .primitive(PrimitiveTypeName.BINARY, repetition)
                .as(LogicalTypeAnnotation.stringType())
                .named(column.name());
        case INT32 -> builder.primitive(PrimitiveTypeName.INT32, repetition).named(column.name());
        case INT64 -> builder.primitive(PrimitiveTypeName.INT64, repetition).named(column.name());
        case BOOLEAN ->
            builder.primitive(PrimitiveTypeName.BOOLEAN, repetition).named(column.name());
        case TIMESTAMP_MILLIS ->
            builder
                .primitive(PrimitiveTypeName.INT64, repetition)
                .as(
                    LogicalTypeAnnotation.timestampType(
                        true, LogicalTypeAnnotation.TimeUnit.MILLIS))
                .named(column.name());
      }
    }
    return builder.named(name);
  }

  private static <R> byte[] write(
      MessageType schema, List<Col<R>> columns, String version, List<R> rows) {
    ParquetProperties properties =
        ParquetProperties.builder()
            .withWriterVersion(ParquetProperties.WriterVersion.PARQUET_1_0)
            .withAllocator(new HeapByteBufferAllocator())
            .withDictionaryEncoding(true)
            .build();
    CompressionCodecFactory codecs = ParquetCodecs.withoutHadoop();
    BytesInputCompressor compressor = codecs.getCompressor(CompressionCodecName.ZSTD);
    InMemoryFiles.Output output = new InMemoryFiles.Output();
    try {
      ParquetFileWriter fileWriter =
          new ParquetFileWriter(
              output,
              schema,
              ParquetFileWriter.Mode.OVERWRITE,
              Long.MAX_VALUE,
              0,
              null,
              properties);
      fileWriter.start();
      if (!rows.isEmpty()) {
        ColumnChunkPageWriteStore pages =
            ColumnChunkPageWriteStore.builder()
                .withCompressorProvider(descriptor -> compressor)
                .withSchema(schema)
                .withAllocator(properties.getAllocator())
                .withColumnIndexTruncateLength(properties.getColumnIndexTruncateLength())
                .withPageWriteChecksumEnabled(properties.getPageWriteChecksumEnabled())
                .withRowGroupOrdinal(0)
                .build();
        ColumnWriteStore store = properties.newColumnWriteStore(schema, pages, pages);
        MessageColumnIO io = new ColumnIOFactory().getColumnIO(schema);
        RecordConsumer consumer = io.getRecordWriter(store);
        for (R row : rows) {
          writeRecord(consumer, columns, row);
        }
        fileWriter.startBlock(rows.size());
        store.flush();
        pages.flushToFileWriter(fileWriter);
        fileWriter.endBlock();
        store.close();
        pages.close();
      }
      Map<String, String> keyValues = new LinkedHashMap<>();
      keyValues.put(SCHEMA_KEY, version);
      keyValues.put(WRITER_KEY, BatchVersion.get());
      fileWriter.end(keyValues);
    } catch (IOException e) {
      // Only memory is written to; an I/O error here is a bug.
      throw new IllegalStateException(
          "cannot encode the " + schema.getName() + " table: " + e.getMessage(), e);
    } finally {
      compressor.release();
      codecs.release();
    }
    return output.toByteArray();
  }

  private static <R> void writeRecord(RecordConsumer consumer, List<Col<R>> columns, R row) {
    consumer.startMessage();
    for (int i = 0; i < columns.size(); i++) {
      Col<R> column = columns.get(i);
      Object value = column.get().apply(row);
      if (value == null) {
        if (column.required()) {
          throw new IllegalArgumentException(
              format(ROOT, "column %s is required: %s", column.name(), row));
        }
        continue;
      }
      consumer.startField(column.name(), i);
      switch (column.kind()) {
        case STRING -> consumer.addBinary(Binary.fromString((String) value));
        case INT32 -> consumer.addInteger((Integer) value);
        case INT64, TIMESTAMP_MILLIS -> consumer.addLong((Long) value);
        case BOOLEAN -> consumer.addBoolean((Boolean) value);
      }
      consumer.endField(column.name(), i);
    }
    consumer.endMessage();
  }

  private static <R> List<Object[]> read(
      byte[] file, String name, MessageType expected, String version, List<Col<R>> columns)
      throws IOException {
    List<Object[]> rows = new ArrayList<>();
    try (ParquetFileReader reader =
        new ParquetFileReader(new InMemoryFiles.Input(file, name), ParquetCodecs.readOptions())) {
      String found = reader.getFooter().getFileMetaData().getKeyValueMetaData().get(SCHEMA_KEY);
      if (!version.equals(found)) {
        throw new IOException(
            format(
                ROOT, "%s: not a %s results table (%s is %s)", name, version, SCHEMA_KEY, found));
      }
      MessageType schema = reader.getFooter().getFileMetaData().getSchema();
      if (!schema.equals(expected)) {
        throw new IOException(format(ROOT, "%s: the schema differs from %s", name, version));
      }
      MessageColumnIO io = new ColumnIOFactory().getColumnIO(schema);
      PageReadStore pages;
      while ((pages = reader.readNextRowGroup()) != null) {
        RecordReader<Group> records = io.getRecordReader(pages, new GroupRecordConverter(schema));
        for (long r = 0; r < pages.getRowCount(); r++) {
          Group group = records.read();
          Object[] values = new Object[columns.size()];
          for (int c = 0; c < columns.size(); c++) {
            if (group.getFieldRepetitionCount(c) == 0) {
              continue;
            }
            values[c] =
                switch (columns.get(c).kind()) {
                  case STRING -> group.getString(c, 0);
                  case INT32 -> group.getInteger(c, 0);
                  case INT64, TIMESTAMP_MILLIS -> group.getLong(c, 0);
                  case BOOLEAN -> group.getBoolean(c, 0);
                };
          }
          rows.add(values);
        }
      }
    } catch (RuntimeException e) {
      throw new IOException(format(ROOT, "%s: cannot read: %s", name, e.getMessage()), e);
    }
    return rows;
  }
}
