package io.dlanalyze.trace.parquet;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadErrors;
import io.dlanalyze.trace.TraceFormatException;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.format.ColumnChunk;
import org.apache.parquet.format.ColumnMetaData;
import org.apache.parquet.format.EncryptionAlgorithm;
import org.apache.parquet.format.FileMetaData;
import org.apache.parquet.format.KeyValue;
import org.apache.parquet.format.RowGroup;
import org.apache.parquet.format.SchemaElement;
import org.apache.parquet.format.Util;
import org.apache.parquet.format.converter.ParquetMetadataConverter;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.jspecify.annotations.Nullable;
import shaded.parquet.org.apache.thrift.TException;
import shaded.parquet.org.apache.thrift.protocol.TCompactProtocol;
import shaded.parquet.org.apache.thrift.transport.TIOStreamTransport;

/**
 * One Parquet file of a trace with its footer read and checked. The footer is read here rather than
 * by parquet-mr so that a missing footer is told apart from a file that is not Parquet at all, so
 * that the key-value metadata keeps its file order (parquet-mr puts it in a HashMap), and so that
 * memory does not grow with the number of row groups.
 *
 * <p>parquet-mr turns a footer into objects for every column chunk of every row group at once: a
 * file of 200,000 one-row row groups (a 139 MB footer) needs more than a gigabyte of heap that way.
 * Here the footer is read once as a stream of row groups, each checked and then dropped, keeping
 * only where it ends in the footer's bytes and its row count; {@link #block(int)} decodes one row
 * group again when the reader reaches it. Memory is the footer's bytes plus 16 bytes a row group.
 *
 * <p>Checks: the footer decodes and nothing follows it (a damaged length or list count otherwise
 * makes Thrift skip fields silently, such as a metadata key), every row group's row count is not
 * negative, and every column chunk lies between the magic number and the footer and holds one value
 * a row.
 */
final class ParquetPart {
  private static final byte[] MAGIC = {'P', 'A', 'R', '1'};
  private static final byte[] ENCRYPTED_MAGIC = {'P', 'A', 'R', 'E'};

  /** The largest footer read: 1 GiB (parquet-mr's own limit is lower). */
  static final int MAX_FOOTER_BYTES = 1 << 30;

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

  private final Path file;
  private final PathInputFile input;
  private final ParquetMetadataConverter converter;

  /** The footer's bytes of row groups 1 and on (the only ones {@link #footerOf} decodes again). */
  private final byte[] footerBytes;

  /** Where {@link #footerBytes} start in the footer. */
  private final int footerBase;

  private final FileMetaData header;
  private final ParquetMetadata footer;
  private final Map<String, String> keyValues;
  private final PrimitiveType[] columns;
  private final @Nullable RowGroup firstRowGroup;
  private final int rowGroups;
  private final long[] rowGroupEnds;
  private final long[] rowGroupRows;

  private ParquetPart(
      Path file,
      PathInputFile input,
      ParquetMetadataConverter converter,
      byte[] rowGroupBytes,
      Footer scan,
      ParquetMetadata footer,
      PrimitiveType[] columns) {
    this.file = file;
    this.input = input;
    this.converter = converter;
    this.footerBytes = rowGroupBytes;
    this.footerBase = scan.count > 1 ? (int) scan.ends[0] : 0;
    this.header = scan.header;
    this.footer = footer;
    this.keyValues = Collections.unmodifiableMap(scan.keyValues);
    this.columns = columns;
    this.firstRowGroup = scan.first;
    this.rowGroups = scan.count;
    this.rowGroupEnds = Arrays.copyOf(scan.ends, scan.count);
    this.rowGroupRows = Arrays.copyOf(scan.rows, scan.count);
  }

  Path file() {
    return file;
  }

  PathInputFile input() {
    return input;
  }

  /** The file's schema and key-value metadata; its list of row groups is empty ({@link #block}). */
  ParquetMetadata footer() {
    return footer;
  }

  MessageType schema() {
    return footer.getFileMetaData().getSchema();
  }

  /** The footer's key-value metadata in file order, without the writers' schema copies. */
  Map<String, String> keyValues() {
    return keyValues;
  }

  /** The contract columns' Parquet types by {@code Column.ordinal()}, null when absent. */
  PrimitiveType[] columns() {
    return columns;
  }

  int rowGroupCount() {
    return rowGroups;
  }

  long rowGroupRows(int index) {
    return rowGroupRows[index];
  }

  /** Rows in the file, from the footer. */
  long rows() {
    long rows = 0;
    for (long n : rowGroupRows) {
      rows += n;
    }
    return rows;
  }

  /**
   * The footer with row group {@code index} as its only block, for a {@code ParquetFileReader} that
   * reads that row group.
   */
  ParquetMetadata footerOf(int index) {
    RowGroup rowGroup;
    if (index == 0) {
      rowGroup = requireNonNull(firstRowGroup, "the file has no row group");
    } else {
      int start = (int) rowGroupEnds[index - 1] - footerBase;
      int length = (int) (rowGroupEnds[index] - rowGroupEnds[index - 1]);
      rowGroup = new RowGroup();
      try {
        rowGroup.read(
            new TCompactProtocol(
                new TIOStreamTransport(new ByteArrayInputStream(footerBytes, start, length))));
      } catch (TException e) {
        throw new IllegalStateException("row group " + index + " was read before", e);
      }
    }
    FileMetaData one = new FileMetaData();
    one.setVersion(header.getVersion());
    one.setSchema(header.getSchema());
    one.setCreated_by(header.getCreated_by());
    one.setRow_groups(List.of(rowGroup));
    one.setNum_rows(rowGroup.getNum_rows());
    try {
      return converter.fromParquetMetadata(one);
    } catch (IOException | RuntimeException e) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          file,
          format(ROOT, "row group %d", index),
          "its description in the footer cannot be decoded: " + ReadErrors.describe(e),
          e);
    }
  }

  /** Row group {@code index} as parquet-mr describes it. */
  BlockMetaData block(int index) {
    return footerOf(index).getBlocks().get(0);
  }

  /**
   * Reads and checks the footer of {@code file}. The footer is decoded as it is read from the file,
   * not from a copy of it in memory: its key-value metadata can be most of it (pyarrow keeps a
   * second copy of every key in {@code ARROW:schema}), and only the row groups are kept.
   */
  static ParquetPart open(Path file, ParquetReadOptions options) {
    long size;
    int footerLength;
    Footer scan;
    ParquetMetadataConverter converter = new ParquetMetadataConverter(options);
    ParquetMetadata footer;
    byte[] rowGroupBytes;
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      size = channel.size();
      footerLength = readFooterLength(file, channel, size);
      long footerStart = size - 8 - footerLength;
      CountingInput in =
          new CountingInput(
              new BufferedInputStream(Channels.newInputStream(channel.position(footerStart))),
              footerLength);
      scan = new Footer(file, footerStart, in);
      try {
        // One pass: the file's fields, and the row groups one at a time (column orders are not
        // kept: the reader uses no statistics).
        Util.readFileMetaData(in, scan, false);
        if (in.failure != null) {
          throw in.failure;
        }
        if (in.position() != footerLength) {
          throw new TraceFormatException(
              ErrorCode.CORRUPT,
              file,
              "footer",
              format(
                  ROOT,
                  "the footer's metadata ends after %d of its %d bytes: the footer is damaged",
                  in.position(),
                  footerLength));
        }
        scan.header.setRow_groups(List.of());
        footer = converter.fromParquetMetadata(scan.header);
      } catch (TraceFormatException e) {
        throw e;
      } catch (IOException | RuntimeException e) {
        if (in.failure != null) {
          throw in.failure;
        }
        throw new TraceFormatException(
            ErrorCode.CORRUPT,
            file,
            "footer",
            "the footer cannot be decoded: " + ReadErrors.describe(e, "its bytes are damaged"),
            e);
      }
      int from = scan.count > 1 ? (int) scan.ends[0] : 0;
      int to = scan.count > 1 ? (int) scan.ends[scan.count - 1] : 0;
      rowGroupBytes = new byte[to - from];
      readFully(channel, rowGroupBytes, footerStart + from, to - from);
    } catch (NoSuchFileException e) {
      throw new TraceFormatException(ErrorCode.NOT_FOUND, file, null, "no such file");
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, file, null, format(ROOT, "cannot read: %s", e.getMessage()), e);
    }
    PrimitiveType[] columns =
        TraceParquetSchema.resolve(file, footer.getFileMetaData().getSchema());
    return new ParquetPart(
        file, new PathInputFile(file, size), converter, rowGroupBytes, scan, footer, columns);
  }

  /** Checks the magic numbers and returns the footer's length. */
  private static int readFooterLength(Path file, FileChannel channel, long size)
      throws IOException {
    if (size == 0) {
      throw new TraceFormatException(ErrorCode.EMPTY, file, null, "file is empty (0 bytes)");
    }
    byte[] head = new byte[4];
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
    byte[] tail = new byte[8];
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
    if (footerLength <= 0 || footerLength > size - 12 || footerLength > MAX_FOOTER_BYTES) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT,
          file,
          "footer",
          format(ROOT, "footer length %d does not fit in a file of %d bytes", footerLength, size));
    }
    return footerLength;
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

  /**
   * The footer's bytes as a stream that knows how many have been read and ends with the footer. An
   * I/O error is kept (Thrift would report it as damaged bytes) and reported as such.
   */
  private static final class CountingInput extends InputStream {
    private final InputStream in;
    private final int length;
    private int position;
    private @Nullable IOException failure;

    CountingInput(InputStream in, int length) {
      this.in = in;
      this.length = length;
    }

    int position() {
      return position;
    }

    @Override
    public int read() throws IOException {
      if (position >= length) {
        return -1;
      }
      int b;
      try {
        b = guard(in.read());
      } catch (IOException e) {
        failure = failure == null ? e : failure;
        throw e;
      }
      if (b >= 0) {
        position++;
      }
      return b;
    }

    @Override
    public int read(byte[] dst, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      if (position >= length) {
        return -1;
      }
      int n;
      try {
        n = guard(in.read(dst, off, Math.min(len, length - position)));
      } catch (IOException e) {
        failure = failure == null ? e : failure;
        throw e;
      }
      if (n > 0) {
        position += n;
      }
      return n;
    }

    private int guard(int n) throws IOException {
      if (n < 0 && position < length) {
        failure = new IOException("the file ended inside its footer (was it cut while read?)");
        throw failure;
      }
      return n;
    }
  }

  /**
   * Receives the footer from parquet-format's streaming reader: the file's fields, and each row
   * group in turn, checked and reduced to its end in the footer and its row count.
   */
  private static final class Footer extends Util.FileMetaDataConsumer {
    private final Path file;
    private final long dataEnd;
    private final FileMetaData header = new FileMetaData();
    private final Map<String, String> keyValues = new LinkedHashMap<>();
    private final CountingInput counter;
    private @Nullable RowGroup first;
    private int count;
    private long[] ends = new long[16];
    private long[] rows = new long[16];

    Footer(Path file, long dataEnd, CountingInput counter) {
      this.file = file;
      this.dataEnd = dataEnd;
      this.counter = counter;
    }

    @Override
    public void setVersion(int version) {
      header.setVersion(version);
    }

    @Override
    public void setSchema(List<SchemaElement> schema) {
      header.setSchema(schema);
    }

    @Override
    public void setNumRows(long numRows) {
      header.setNum_rows(numRows);
    }

    @Override
    public void addRowGroup(RowGroup rowGroup) {
      check(rowGroup);
      if (count == 0) {
        first = rowGroup;
      }
      if (count == ends.length) {
        ends = Arrays.copyOf(ends, count * 2);
        rows = Arrays.copyOf(rows, count * 2);
      }
      ends[count] = counter.position();
      rows[count] = rowGroup.getNum_rows();
      count++;
    }

    private void check(RowGroup rowGroup) {
      String location = format(ROOT, "row group %d", count);
      long n = rowGroup.getNum_rows();
      if (n < 0) {
        throw corrupt(location, format(ROOT, "the footer gives it %d rows", n));
      }
      if (rowGroup.getColumns() == null) {
        throw corrupt(location, "the footer lists no column chunks for it");
      }
      for (ColumnChunk chunk : rowGroup.getColumns()) {
        ColumnMetaData meta = chunk.getMeta_data();
        if (meta == null) {
          throw corrupt(location, "a column chunk without metadata (encrypted columns?)");
        }
        List<String> path = meta.getPath_in_schema();
        String column = path == null ? "?" : String.join(".", path);
        long start =
            meta.isSetDictionary_page_offset() && meta.getDictionary_page_offset() > 0
                ? Math.min(meta.getDictionary_page_offset(), meta.getData_page_offset())
                : meta.getData_page_offset();
        long length = meta.getTotal_compressed_size();
        if (start < MAGIC.length || length < 0 || start > dataEnd || length > dataEnd - start) {
          throw corrupt(
              location + format(ROOT, ", column '%s'", column),
              format(
                  ROOT,
                  "the footer puts its %d bytes at byte %d, outside the %d bytes of data",
                  length,
                  start,
                  dataEnd));
        }
        if (path != null
            && path.size() == 1
            && io.dlanalyze.trace.Column.fromWireName(path.get(0)).isPresent()
            && meta.getCodec() != null) {
          CompressionCodecName codec = CompressionCodecName.fromParquet(meta.getCodec());
          if (!NoHadoopCodecFactory.isSupported(codec)) {
            throw new TraceFormatException(
                ErrorCode.UNKNOWN_FORMAT,
                file,
                location + format(ROOT, ", column '%s'", column),
                NoHadoopCodecFactory.unsupported(codec));
          }
        }
        boolean flat = path != null && path.size() == 1;
        if (meta.getNum_values() < 0 || flat && meta.getNum_values() != n) {
          throw corrupt(
              location + format(ROOT, ", column '%s'", column),
              format(
                  ROOT,
                  "the footer gives the column chunk %d values for the row group's %d rows",
                  meta.getNum_values(),
                  n));
        }
      }
    }

    private TraceFormatException corrupt(String location, String detail) {
      return new TraceFormatException(ErrorCode.CORRUPT, file, location, detail);
    }

    @Override
    public void addKeyValueMetaData(KeyValue keyValue) {
      if (!WRITER_SCHEMA_KEYS.contains(keyValue.getKey())) {
        keyValues.put(keyValue.getKey(), keyValue.getValue() == null ? "" : keyValue.getValue());
      }
    }

    @Override
    public void setCreatedBy(String createdBy) {
      header.setCreated_by(createdBy);
    }

    @Override
    public void setEncryptionAlgorithm(EncryptionAlgorithm encryptionAlgorithm) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT, file, null, "encrypted Parquet files are not supported");
    }

    @Override
    public void setFooterSigningKeyMetadata(byte[] footerSigningKeyMetadata) {
      throw new TraceFormatException(
          ErrorCode.CORRUPT, file, null, "encrypted Parquet files are not supported");
    }
  }
}
