package io.dlanalyze.trace.parquet;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.parquet.bytes.HeapByteBufferAllocator;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.ColumnWriteStore;
import org.apache.parquet.column.ColumnWriter;
import org.apache.parquet.column.ParquetProperties;
import org.apache.parquet.column.ParquetProperties.WriterVersion;
import org.apache.parquet.compression.CompressionCodecFactory.BytesInputCompressor;
import org.apache.parquet.hadoop.ColumnChunkPageWriteStore;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;

/**
 * Writes Parquet files of any flat schema for reader tests, the way another writer would: columns
 * declared in Parquet's schema syntax ({@code "optional float"}), values given as Java objects
 * (null = null), V1 or V2 pages, dictionary or not, any codec, a row group size in rows.
 */
final class ParquetTestFile {
  private record Field(String declaration, Object[] values) {}

  private final Map<String, Field> fields = new LinkedHashMap<>();
  private final Map<String, String> keyValues = new LinkedHashMap<>();
  private WriterVersion version = WriterVersion.PARQUET_1_0;
  private CompressionCodecName codec = CompressionCodecName.UNCOMPRESSED;
  private boolean dictionary = true;
  private boolean byteStreamSplit;
  private int rowGroupRows = Integer.MAX_VALUE;
  private int pageRows = 20_000;
  private int dictionaryPageSize = 1 << 20;
  private boolean checksums = true;

  /** A v1 trace of {@code steps} steps x 4 rows (fc0 forward, fc0 activation, loss, accuracy). */
  static ParquetTestFile v1Trace(int steps) {
    int rows = steps * 4;
    Object[] epoch = new Object[rows];
    Object[] batch = new Object[rows];
    Object[] step = new Object[rows];
    Object[] layerIndex = new Object[rows];
    Object[] layerName = new Object[rows];
    Object[] layerType = new Object[rows];
    Object[] phase = new Object[rows];
    Object[][] stats = new Object[6][rows];
    Object[][] counts = new Object[3][rows];
    String[] phases = {"forward", "activation", "loss", "accuracy"};
    for (int r = 0; r < rows; r++) {
      int s = r / 4;
      int k = r % 4;
      epoch[r] = s / 10;
      batch[r] = s % 10;
      step[r] = (long) s;
      layerIndex[r] = k < 2 ? 0 : -1;
      layerName[r] = k < 2 ? "fc0" : "model";
      layerType[r] = k < 2 ? "Linear" : null;
      phase[r] = phases[k];
      for (int j = 0; j < 6; j++) {
        stats[j][r] = value(r, j);
      }
      counts[0][r] = 0L;
      counts[1][r] = 0L;
      counts[2][r] = k < 2 ? 4096L : 1L;
    }
    ParquetTestFile file = new ParquetTestFile();
    file.column("epoch", "required int32", epoch);
    file.column("batch", "required int32", batch);
    file.column("step", "required int64", step);
    file.column("layer_index", "required int32", layerIndex);
    file.column("layer_name", "required binary (STRING)", layerName);
    file.column("layer_type", "optional binary (STRING)", layerType);
    file.column("phase", "required binary (STRING)", phase);
    String[] statNames = {"mean", "std", "min", "max", "l2_norm", "zero_fraction"};
    for (int j = 0; j < 6; j++) {
      file.column(statNames[j], j == 0 ? "required double" : "optional double", stats[j]);
    }
    file.column("nan_count", "optional int64", counts[0]);
    file.column("inf_count", "optional int64", counts[1]);
    file.column("numel", "optional int64", counts[2]);
    return file;
  }

  /** The value of statistic {@code j} in row {@code r} of {@link #v1Trace}. */
  static double value(int r, int j) {
    return (r + 1) * 0.25 + j * 1000;
  }

  /** Adds or replaces a column (replacing keeps its position). */
  ParquetTestFile column(String name, String declaration, Object[] values) {
    fields.put(name, new Field(declaration, values));
    return this;
  }

  ParquetTestFile remove(String name) {
    fields.remove(name);
    return this;
  }

  Object[] values(String name) {
    return fields.get(name).values();
  }

  String declaration(String name) {
    return fields.get(name).declaration();
  }

  ParquetTestFile keyValue(String key, String value) {
    keyValues.put(key, value);
    return this;
  }

  ParquetTestFile v2Pages() {
    version = WriterVersion.PARQUET_2_0;
    return this;
  }

  ParquetTestFile codec(CompressionCodecName codec) {
    this.codec = codec;
    return this;
  }

  ParquetTestFile noDictionary() {
    dictionary = false;
    return this;
  }

  ParquetTestFile byteStreamSplit() {
    byteStreamSplit = true;
    return this;
  }

  ParquetTestFile rowGroupRows(int rows) {
    rowGroupRows = rows;
    return this;
  }

  /** Pages without CRC checksums, as DuckDB and pyarrow write them by default. */
  ParquetTestFile noChecksums() {
    checksums = false;
    return this;
  }

  /** A small dictionary page size makes parquet-mr fall back to PLAIN pages mid-chunk. */
  ParquetTestFile dictionaryPageSize(int bytes) {
    dictionaryPageSize = bytes;
    return this;
  }

  ParquetTestFile pageRows(int rows) {
    pageRows = rows;
    return this;
  }

  MessageType schema() {
    StringBuilder text = new StringBuilder("message test {\n");
    fields.forEach(
        (name, field) -> {
          String declaration = field.declaration();
          int annotation = declaration.indexOf(" (");
          String head = annotation < 0 ? declaration : declaration.substring(0, annotation);
          String tail = annotation < 0 ? "" : declaration.substring(annotation);
          text.append("  ").append(head).append(' ').append(name).append(tail).append(";\n");
        });
    return MessageTypeParser.parseMessageType(text.append("}").toString());
  }

  void write(Path path) throws IOException {
    MessageType schema = schema();
    ParquetProperties properties =
        ParquetProperties.builder()
            .withWriterVersion(version)
            .withDictionaryEncoding(dictionary)
            .withByteStreamSplitEncoding(byteStreamSplit)
            .withPageRowCountLimit(pageRows)
            .withDictionaryPageSize(dictionaryPageSize)
            .withMinRowCountForPageSizeCheck(1)
            .withAllocator(new HeapByteBufferAllocator())
            .build();
    BytesInputCompressor compressor = new NoHadoopCodecFactory().getCompressor(codec);
    ParquetFileWriter writer =
        new ParquetFileWriter(
            new PathOutputFile(path),
            schema,
            ParquetFileWriter.Mode.OVERWRITE,
            Long.MAX_VALUE,
            0,
            null,
            properties);
    writer.start();
    List<ColumnDescriptor> columns = schema.getColumns();
    Object[][] values = fields.values().stream().map(Field::values).toArray(Object[][]::new);
    int rows = values.length == 0 ? 0 : values[0].length;
    for (int start = 0; start < rows; start += rowGroupRows) {
      int end = (int) Math.min(rows, (long) start + rowGroupRows);
      ColumnChunkPageWriteStore pages =
          ColumnChunkPageWriteStore.builder()
              .withCompressorProvider(descriptor -> compressor)
              .withSchema(schema)
              .withAllocator(properties.getAllocator())
              .withColumnIndexTruncateLength(properties.getColumnIndexTruncateLength())
              .withPageWriteChecksumEnabled(checksums)
              .build();
      ColumnWriteStore store = properties.newColumnWriteStore(schema, pages, pages);
      for (int r = start; r < end; r++) {
        for (int c = 0; c < columns.size(); c++) {
          write(store.getColumnWriter(columns.get(c)), columns.get(c), values[c][r]);
        }
        store.endRecord();
      }
      writer.startBlock(end - start);
      store.flush();
      pages.flushToFileWriter(writer);
      writer.endBlock();
      store.close();
      pages.close();
    }
    writer.end(keyValues);
  }

  private static void write(ColumnWriter writer, ColumnDescriptor column, Object value) {
    int def = column.getMaxDefinitionLevel();
    if (value == null) {
      writer.writeNull(0, 0);
      return;
    }
    PrimitiveTypeName type = column.getPrimitiveType().getPrimitiveTypeName();
    switch (type) {
      case INT32 -> writer.write(((Number) value).intValue(), 0, def);
      case INT64 -> writer.write(((Number) value).longValue(), 0, def);
      case FLOAT -> writer.write(((Number) value).floatValue(), 0, def);
      case DOUBLE -> writer.write(((Number) value).doubleValue(), 0, def);
      case BINARY ->
          writer.write(
              Binary.fromConstantByteArray(value.toString().getBytes(StandardCharsets.UTF_8)),
              0,
              def);
      default -> throw new IllegalArgumentException("unsupported test type " + type);
    }
  }
}
