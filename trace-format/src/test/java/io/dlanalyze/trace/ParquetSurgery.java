package io.dlanalyze.trace;

import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.parquet.format.ColumnChunk;
import org.apache.parquet.format.ColumnMetaData;
import org.apache.parquet.format.FileMetaData;
import org.apache.parquet.format.PageHeader;
import org.apache.parquet.format.RowGroup;
import org.apache.parquet.format.Util;

/**
 * Rewrites a Parquet file page by page for tests: an editor may change each page's bytes, its
 * header and its chunk's metadata (codec, sizes); offsets and chunk sizes follow, and the footer is
 * written anew. Files of other writers become files no Python library writes any more (Hadoop LZ4)
 * or damaged ones (a page that expands beyond its row group).
 */
public final class ParquetSurgery {
  private ParquetSurgery() {}

  /** Changes one page; returns its new (compressed) bytes. */
  public interface PageEditor {
    byte[] edit(ColumnMetaData chunk, PageHeader header, byte[] data) throws IOException;
  }

  /** The footer of a Parquet file, decoded. */
  public static FileMetaData footer(byte[] bytes) throws IOException {
    int length =
        ByteBuffer.wrap(bytes, bytes.length - 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    return Util.readFileMetaData(
        new ByteArrayInputStream(bytes, bytes.length - 8 - length, length));
  }

  /** Writes {@code bytes} up to the footer, then {@code footer} in place of the old one. */
  public static byte[] withFooter(byte[] bytes, FileMetaData footer) throws IOException {
    int length =
        ByteBuffer.wrap(bytes, bytes.length - 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(bytes, 0, bytes.length - 8 - length);
    writeFooter(footer, out);
    return out.toByteArray();
  }

  /**
   * Writes {@code bytes} up to the footer, then {@code footer} in place of the old one, straight to
   * {@code target} (a footer of tens of megabytes is not held in memory twice).
   */
  public static void writeWithFooter(byte[] bytes, FileMetaData footer, Path target)
      throws IOException {
    int length =
        ByteBuffer.wrap(bytes, bytes.length - 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    try (OutputStream file = new BufferedOutputStream(Files.newOutputStream(target))) {
      file.write(bytes, 0, bytes.length - 8 - length);
      long[] written = {0};
      OutputStream counting =
          new FilterOutputStream(file) {
            @Override
            public void write(int b) throws IOException {
              out.write(b);
              written[0]++;
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
              out.write(b, off, len);
              written[0] += len;
            }
          };
      Util.writeFileMetaData(footer, counting);
      file.write(
          ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) written[0]).array());
      file.write(new byte[] {'P', 'A', 'R', '1'});
    }
  }

  public static void rewrite(Path source, Path target, PageEditor editor) throws IOException {
    byte[] bytes = Files.readAllBytes(source);
    FileMetaData footer = footer(bytes);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(new byte[] {'P', 'A', 'R', '1'});
    for (RowGroup rowGroup : footer.getRow_groups()) {
      long groupBytes = 0;
      for (ColumnChunk chunk : rowGroup.getColumns()) {
        ColumnMetaData meta = chunk.getMeta_data();
        long start =
            meta.isSetDictionary_page_offset()
                ? Math.min(meta.getDictionary_page_offset(), meta.getData_page_offset())
                : meta.getData_page_offset();
        long newStart = out.size();
        ByteArrayInputStream in =
            new ByteArrayInputStream(bytes, (int) start, (int) meta.getTotal_compressed_size());
        long firstData = -1;
        while (in.available() > 0) {
          long pageStart = out.size();
          PageHeader header = Util.readPageHeader(in);
          byte[] data = in.readNBytes(header.getCompressed_page_size());
          data = editor.edit(meta, header, data);
          header.setCompressed_page_size(data.length);
          if (header.isSetDictionary_page_header()) {
            meta.setDictionary_page_offset(pageStart);
          } else if (firstData < 0) {
            firstData = pageStart;
          }
          Util.writePageHeader(header, out);
          out.write(data);
        }
        meta.setData_page_offset(firstData);
        meta.setTotal_compressed_size(out.size() - newStart);
        chunk.setFile_offset(newStart);
        groupBytes += out.size() - newStart;
      }
      rowGroup.setTotal_compressed_size(groupBytes);
      rowGroup.setFile_offset(rowGroup.getColumns().get(0).getFile_offset());
    }
    writeFooter(footer, out);
    Files.write(target, out.toByteArray());
  }

  private static void writeFooter(FileMetaData footer, ByteArrayOutputStream out)
      throws IOException {
    ByteArrayOutputStream footerBytes = new ByteArrayOutputStream();
    Util.writeFileMetaData(footer, footerBytes);
    out.write(footerBytes.toByteArray());
    out.write(
        ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(footerBytes.size()).array());
    out.write(new byte[] {'P', 'A', 'R', '1'});
  }
}
