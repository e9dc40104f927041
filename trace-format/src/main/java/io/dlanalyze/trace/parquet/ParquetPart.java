package io.dlanalyze.trace.parquet;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.format.FileMetaData;
import org.apache.parquet.format.KeyValue;
import org.apache.parquet.format.Util;
import org.apache.parquet.format.converter.ParquetMetadataConverter;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;
import org.apache.parquet.schema.PrimitiveType;

/**
 * One Parquet file of a trace with its footer read and checked. The footer is read here rather than
 * by parquet-mr so that a missing footer is told apart from a file that is not Parquet at all, and
 * so that the key-value metadata keeps its file order (parquet-mr puts it in a HashMap).
 *
 * @param file the file
 * @param input the file for parquet-mr
 * @param footer the decoded footer
 * @param keyValues the footer's key-value metadata in file order
 * @param columns the contract columns' Parquet types by {@code Column.ordinal()}, null when absent
 */
record ParquetPart(
    Path file,
    PathInputFile input,
    ParquetMetadata footer,
    Map<String, String> keyValues,
    PrimitiveType[] columns) {

  private static final byte[] MAGIC = {'P', 'A', 'R', '1'};
  private static final byte[] ENCRYPTED_MAGIC = {'P', 'A', 'R', 'E'};

  /**
   * Footer keys in which other writers keep their own copy of the schema (pyarrow, pandas, Spark,
   * parquet-mr's object model). They are not trace metadata, and copied into a converted trace they
   * would describe a schema that is no longer there, so the reader drops them.
   */
  static final Set<String> WRITER_SCHEMA_KEYS =
      Set.of(
          "ARROW:schema",
          "pandas",
          "org.apache.spark.sql.parquet.row.metadata",
          "writer.model.name");

  /** The message for a file whose footer is missing; tests and docs quote it. */
  static final String MISSING_FOOTER =
      "the Parquet footer is missing: the file was probably cut off while being written (did the"
          + " training run crash?), and without the footer no row group can be recovered; record"
          + " traces to the Arrow IPC stream format (.arrows), which keeps every complete batch"
          + " of a crashed run";

  /** Reads and checks the footer of {@code file}. */
  static ParquetPart open(Path file, ParquetReadOptions options) {
    long size;
    byte[] head = new byte[4];
    byte[] tail = new byte[8];
    byte[] footerBytes;
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      size = channel.size();
      if (size == 0) {
        throw new TraceFormatException(ErrorCode.EMPTY, file, null, "file is empty (0 bytes)");
      }
      readFully(channel, head, 0, Math.min(4, size));
      if (size < 4 || !startsWith(head, MAGIC)) {
        throw new TraceFormatException(
            ErrorCode.CORRUPT,
            file,
            null,
            "not a Parquet file: it does not start with the magic number PAR1");
      }
      if (size < 12) {
        throw new TraceFormatException(ErrorCode.TRUNCATED, file, null, MISSING_FOOTER);
      }
      readFully(channel, tail, size - 8, 8);
      byte[] tailMagic = {tail[4], tail[5], tail[6], tail[7]};
      if (startsWith(tailMagic, ENCRYPTED_MAGIC)) {
        throw new TraceFormatException(
            ErrorCode.CORRUPT, file, null, "encrypted Parquet files are not supported");
      }
      if (!startsWith(tailMagic, MAGIC)) {
        throw new TraceFormatException(ErrorCode.TRUNCATED, file, null, MISSING_FOOTER);
      }
      int footerLength = ByteBuffer.wrap(tail, 0, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
      if (footerLength <= 0 || footerLength > size - 12) {
        throw new TraceFormatException(
            ErrorCode.CORRUPT,
            file,
            "footer",
            format(
                ROOT, "footer length %d does not fit in a file of %d bytes", footerLength, size));
      }
      footerBytes = new byte[footerLength];
      readFully(channel, footerBytes, size - 8 - footerLength, footerLength);
    } catch (NoSuchFileException e) {
      throw new TraceFormatException(ErrorCode.NOT_FOUND, file, null, "no such file");
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, file, null, format(ROOT, "cannot read: %s", e.getMessage()), e);
    }
    FileMetaData thrift;
    ParquetMetadata footer;
    try {
      thrift = Util.readFileMetaData(new ByteArrayInputStream(footerBytes));
      footer = new ParquetMetadataConverter(options).fromParquetMetadata(thrift);
    } catch (IOException | RuntimeException e) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          file,
          "footer",
          "the footer cannot be decoded: " + ParquetTraceReader.describe(e),
          e);
    }
    Map<String, String> keyValues = new LinkedHashMap<>();
    if (thrift.getKey_value_metadata() != null) {
      for (KeyValue keyValue : thrift.getKey_value_metadata()) {
        if (!WRITER_SCHEMA_KEYS.contains(keyValue.getKey())) {
          keyValues.put(keyValue.getKey(), keyValue.getValue() == null ? "" : keyValue.getValue());
        }
      }
    }
    PrimitiveType[] columns =
        TraceParquetSchema.resolve(file, footer.getFileMetaData().getSchema());
    return new ParquetPart(
        file,
        new PathInputFile(file, size),
        footer,
        Collections.unmodifiableMap(keyValues),
        columns);
  }

  /** Rows in the file, from the footer. */
  long rows() {
    long rows = 0;
    for (var block : footer.getBlocks()) {
      rows += block.getRowCount();
    }
    return rows;
  }

  private static boolean startsWith(byte[] bytes, byte[] magic) {
    for (int i = 0; i < magic.length; i++) {
      if (bytes[i] != magic[i]) {
        return false;
      }
    }
    return true;
  }

  private static void readFully(FileChannel channel, byte[] dst, long position, long length)
      throws IOException {
    ByteBuffer buffer = ByteBuffer.wrap(dst, 0, (int) length);
    long at = position;
    while (buffer.hasRemaining()) {
      int n = channel.read(buffer, at);
      if (n < 0) {
        throw new IOException("unexpected end of file");
      }
      at += n;
    }
  }
}
