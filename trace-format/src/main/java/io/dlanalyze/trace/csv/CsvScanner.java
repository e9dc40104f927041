package io.dlanalyze.trace.csv;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Splits RFC 4180 CSV bytes into rows of fields without making objects per row: after {@link
 * #nextRow()} the fields of the row are byte ranges of {@link #buffer()}. Quoted fields may hold
 * commas, doubled quotes and line breaks; both LF and CRLF end a row.
 *
 * <p>Implementation notes: the input is read in 1 MiB chunks; a row that runs past the end of the
 * chunk is moved to the front of the buffer and scanned again once more bytes are in (the buffer
 * grows for rows longer than itself). A row is always contiguous in the buffer while it is read.
 */
final class CsvScanner {
  private static final int CHUNK = 1 << 20;

  /** How a row ended. */
  enum End {
    /** With a line break. */
    NEWLINE,
    /** At the end of the input, without a line break: possibly cut by a crash. */
    END_OF_INPUT
  }

  private final InputStream in;
  private byte[] buffer = new byte[CHUNK];
  private int position;
  private int limit;
  private boolean eof;
  private int[] starts = new int[32];
  private int[] ends = new int[32];
  private boolean[] quoted = new boolean[32];
  private boolean[] escaped = new boolean[32];
  private int fieldCount;

  /** How the last row ended; {@code null} before the first row. */
  private @Nullable End end;

  private boolean malformed;
  private long line = 1;
  private long rowLine;
  private boolean unclosed;
  private long unclosedLines;

  /**
   * The longest row the scanner holds (16 MiB): a longer one is an error rather than a buffer that
   * grows with the file (an unclosed quote would otherwise make the rest of the file one field).
   */
  static final int MAX_ROW_BYTES = 16 << 20;

  /** A row longer than {@link #MAX_ROW_BYTES}; {@link #line()} is the line it starts on. */
  static final class RowTooLongException extends IOException {
    private final long line;

    RowTooLongException(long line) {
      super("row longer than " + (MAX_ROW_BYTES >> 20) + " MiB");
      this.line = line;
    }

    long line() {
      return line;
    }
  }

  CsvScanner(InputStream in) {
    this.in = in;
  }

  /** Skips a UTF-8 byte order mark at the very start. */
  void skipByteOrderMark() throws IOException {
    fill();
    if (limit - position >= 3
        && buffer[position] == (byte) 0xEF
        && buffer[position + 1] == (byte) 0xBB
        && buffer[position + 2] == (byte) 0xBF) {
      position += 3;
    }
  }

  /**
   * Scans the next row.
   *
   * @return false at the end of the input
   */
  boolean nextRow() throws IOException {
    while (true) {
      if (position >= limit) {
        if (eof) {
          return false;
        }
        fill();
        continue;
      }
      if (scan()) {
        return true;
      }
      if (eof) {
        // scan() only fails to finish a row when it needs more bytes than there are.
        throw new IllegalStateException("unterminated row at end of input");
      }
      fill();
    }
  }

  /**
   * Scans one row from {@link #position}; false (and nothing consumed) when the buffer ends first
   * and more input may follow.
   */
  private boolean scan() {
    byte[] b = buffer;
    int p = position;
    int lim = limit;
    int fields = 0;
    long lines = 0;
    boolean bad = false;
    unclosed = false;
    unclosedLines = 0;
    while (true) {
      if (fields == starts.length) {
        growFields();
      }
      boolean isQuoted = p < lim && b[p] == '"';
      boolean hasEscapes = false;
      int start;
      int stop;
      if (isQuoted) {
        p++;
        start = p;
        while (true) {
          if (p >= lim) {
            if (!eof) {
              return false;
            }
            stop = p;
            bad = true;
            unclosed = true;
            unclosedLines = lines;
            break;
          }
          byte c = b[p];
          if (c == '"') {
            if (p + 1 < lim && b[p + 1] == '"') {
              hasEscapes = true;
              p += 2;
              continue;
            }
            if (p + 1 >= lim && !eof) {
              return false;
            }
            stop = p;
            p++;
            break;
          }
          if (c == '\n') {
            lines++;
          }
          p++;
        }
        // Anything between the closing quote and the delimiter makes the field malformed.
        while (p < lim && b[p] != ',' && b[p] != '\n' && b[p] != '\r') {
          bad = true;
          p++;
        }
      } else {
        start = p;
        while (p < lim) {
          byte c = b[p];
          if (c == ',' || c == '\n' || c == '\r') {
            break;
          }
          p++;
        }
        stop = p;
      }
      if (p >= lim && !eof) {
        return false;
      }
      starts[fields] = start;
      ends[fields] = stop;
      quoted[fields] = isQuoted;
      escaped[fields] = hasEscapes;
      fields++;
      if (p >= lim) {
        end = End.END_OF_INPUT;
        break;
      }
      byte c = b[p];
      if (c == ',') {
        p++;
        continue;
      }
      if (c == '\r') {
        if (p + 1 >= lim && !eof) {
          return false;
        }
        p++;
        if (p < lim && b[p] == '\n') {
          p++;
        }
      } else {
        p++;
      }
      lines++;
      end = End.NEWLINE;
      break;
    }
    fieldCount = fields;
    malformed = bad;
    rowLine = line;
    line += lines;
    position = p;
    return true;
  }

  private void growFields() {
    int n = starts.length * 2;
    starts = Arrays.copyOf(starts, n);
    ends = Arrays.copyOf(ends, n);
    quoted = Arrays.copyOf(quoted, n);
    escaped = Arrays.copyOf(escaped, n);
  }

  /** Moves the unread bytes to the front and reads more; grows the buffer when it is full. */
  private void fill() throws IOException {
    if (eof) {
      return;
    }
    int unread = limit - position;
    if (position > 0) {
      System.arraycopy(buffer, position, buffer, 0, unread);
      position = 0;
      limit = unread;
    } else if (limit == buffer.length) {
      if (buffer.length >= MAX_ROW_BYTES) {
        throw new RowTooLongException(line);
      }
      buffer = Arrays.copyOf(buffer, Math.min(MAX_ROW_BYTES, buffer.length * 2));
    }
    int n = in.readNBytes(buffer, limit, buffer.length - limit);
    limit += n;
    if (limit < buffer.length) {
      eof = true;
    }
  }

  byte[] buffer() {
    return buffer;
  }

  int fieldCount() {
    return fieldCount;
  }

  int start(int field) {
    return starts[field];
  }

  int end(int field) {
    return ends[field];
  }

  int length(int field) {
    return ends[field] - starts[field];
  }

  boolean quoted(int field) {
    return quoted[field];
  }

  /** True when a quoted field holds doubled quotes that {@link #unescape} must collapse. */
  boolean escaped(int field) {
    return escaped[field];
  }

  /** True when a quoted field has text after its closing quote or no closing quote. */
  boolean malformed() {
    return malformed;
  }

  @Nullable End rowEnd() {
    return end;
  }

  /** The 1-based line the current row starts on. */
  long rowLine() {
    return rowLine;
  }

  /** True when the last row ends inside a quoted field that the input never closes. */
  boolean unclosedQuote() {
    return unclosed;
  }

  /** The line breaks inside the unclosed quoted field of the last row. */
  long unclosedQuoteLines() {
    return unclosedLines;
  }

  /** True when the row is one empty field ending in a line break: a blank line. */
  boolean blank() {
    return fieldCount == 1 && !quoted[0] && starts[0] == ends[0];
  }

  /** Collapses the doubled quotes of a field into {@code out}; returns the length. */
  int unescape(int field, byte[] out) {
    int n = 0;
    for (int i = starts[field]; i < ends[field]; i++) {
      byte c = buffer[i];
      out[n++] = c;
      if (c == '"') {
        i++;
      }
    }
    return n;
  }
}
