package io.dlanalyze.trace.parquet;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.io.IOException;
import java.io.InputStream;
import org.apache.parquet.format.DataPageHeader;
import org.apache.parquet.format.DataPageHeaderV2;
import org.apache.parquet.format.PageHeader;
import org.apache.parquet.hadoop.metadata.ColumnChunkMetaData;
import org.apache.parquet.io.ParquetDecodingException;
import org.apache.parquet.io.SeekableInputStream;
import shaded.parquet.org.apache.thrift.TConfiguration;
import shaded.parquet.org.apache.thrift.TException;
import shaded.parquet.org.apache.thrift.protocol.TCompactProtocol;
import shaded.parquet.org.apache.thrift.transport.TIOStreamTransport;

/**
 * Walks the page headers of a column chunk before parquet-mr reads it. parquet-mr trusts each
 * header's sizes: a page that claims more bytes than its chunk has makes it read on past the chunk
 * (a workaround for files of old writers) into a buffer of the claimed size, so one damaged header
 * can allocate gigabytes. Here every header must decode within the chunk (a header's own fields are
 * capped at {@link #MAX_HEADER_BYTES}), every page must fit in the chunk and stay within the page
 * limit once uncompressed, and the data pages must hold the chunk's values before it ends.
 */
final class PageHeaders {
  /** The largest page header read: 16 MiB (statistics can make headers large, not larger). */
  static final int MAX_HEADER_BYTES = 16 << 20;

  private PageHeaders() {}

  /**
   * Checks the pages of one chunk.
   *
   * @param pageLimit the most bytes a page may have uncompressed
   * @throws ParquetDecodingException naming the problem
   */
  static void check(SeekableInputStream in, ColumnChunkMetaData chunk, long pageLimit)
      throws IOException {
    long start = chunk.getStartingPos();
    long end = start + chunk.getTotalSize();
    long values = chunk.getValueCount();
    long seen = 0;
    long at = start;
    while (seen < values) {
      if (at >= end) {
        throw new ParquetDecodingException(
            format(
                ROOT,
                "the column chunk ends after %d of its %d values (its pages are damaged)",
                seen,
                values));
      }
      PageHeader header = new PageHeader();
      long headerBytes = readHeader(in, at, end, header);
      at += headerBytes;
      int compressed = header.getCompressed_page_size();
      int uncompressed = header.getUncompressed_page_size();
      if (compressed < 0 || compressed > end - at) {
        throw new ParquetDecodingException(
            format(
                ROOT,
                "the page at byte %d claims %d bytes, but its column chunk has %d left",
                at,
                compressed,
                end - at));
      }
      if (uncompressed < 0 || uncompressed > pageLimit) {
        throw new ParquetDecodingException(
            format(
                ROOT,
                "the page at byte %d claims %d bytes uncompressed, more than the %d its rows can"
                    + " need",
                at,
                uncompressed,
                pageLimit));
      }
      DataPageHeader v1 = header.getData_page_header();
      DataPageHeaderV2 v2 = header.getData_page_header_v2();
      int n = v1 != null ? v1.getNum_values() : v2 != null ? v2.getNum_values() : 0;
      if (n < 0) {
        throw new ParquetDecodingException(
            format(ROOT, "the page at byte %d claims %d values", at, n));
      }
      seen += n;
      at += compressed;
    }
    if (seen != values) {
      throw new ParquetDecodingException(
          format(
              ROOT,
              "the column chunk's pages hold %d values, but the footer gives it %d",
              seen,
              values));
    }
  }

  /**
   * Decodes the page header at {@code at} from one read of the bytes that follow it (64 KiB, more
   * for a larger header, at most {@link #MAX_HEADER_BYTES}), not byte by byte from the file.
   *
   * @return the header's length in bytes
   */
  private static long readHeader(SeekableInputStream in, long at, long end, PageHeader header)
      throws IOException {
    int window = (int) Math.min(end - at, 64 << 10);
    while (true) {
      byte[] bytes = new byte[window];
      in.seek(at);
      in.readFully(bytes);
      Bounded bounded = new Bounded(new java.io.ByteArrayInputStream(bytes), window);
      try {
        header.clear();
        header.read(
            new TCompactProtocol(
                new TIOStreamTransport(
                    new TConfiguration(MAX_HEADER_BYTES, MAX_HEADER_BYTES, 64), bounded)));
        return bounded.read;
      } catch (TException | RuntimeException e) {
        boolean cut = bounded.read >= window;
        if (cut && window < Math.min(end - at, MAX_HEADER_BYTES)) {
          window = (int) Math.min(Math.min(end - at, MAX_HEADER_BYTES), 4L * window);
          continue;
        }
        throw new ParquetDecodingException(
            format(ROOT, "the page header at byte %d cannot be decoded", at));
      }
    }
  }

  /** At most {@code limit} bytes of a stream, counting what was read. */
  private static final class Bounded extends InputStream {
    private final InputStream in;
    private final long limit;
    private long read;

    Bounded(InputStream in, long limit) {
      this.in = in;
      this.limit = limit;
    }

    @Override
    public int read() throws IOException {
      if (read >= limit) {
        return -1;
      }
      int b = in.read();
      if (b >= 0) {
        read++;
      }
      return b;
    }

    @Override
    public int read(byte[] dst, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      if (read >= limit) {
        return -1;
      }
      int n = in.read(dst, off, (int) Math.min(len, limit - read));
      if (n > 0) {
        read += n;
      }
      return n;
    }
  }
}
