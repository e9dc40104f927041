package io.dlanalyze.batch;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.apache.parquet.io.InputFile;
import org.apache.parquet.io.OutputFile;
import org.apache.parquet.io.PositionOutputStream;
import org.apache.parquet.io.SeekableInputStream;

/**
 * Parquet files held in a byte array. The results tables are small (about 1 KB per trace), and
 * holding them in memory lets the same bytes go to a local file (renamed into place) or to any
 * Hadoop file system from the Spark driver.
 */
final class InMemoryFiles {
  private InMemoryFiles() {}

  /** An output file that collects the bytes written. */
  static final class Output implements OutputFile {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(1 << 16);

    byte[] toByteArray() {
      return bytes.toByteArray();
    }

    @Override
    public PositionOutputStream create(long blockSizeHint) {
      return createOrOverwrite(blockSizeHint);
    }

    @Override
    public PositionOutputStream createOrOverwrite(long blockSizeHint) {
      bytes.reset();
      return new PositionOutputStream() {
        @Override
        public long getPos() {
          return bytes.size();
        }

        @Override
        public void write(int b) {
          bytes.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
          bytes.write(b, off, len);
        }
      };
    }

    @Override
    public boolean supportsBlockSize() {
      return false;
    }

    @Override
    public long defaultBlockSize() {
      return 0;
    }

    @Override
    public String getPath() {
      return "memory";
    }
  }

  /** An input file over a byte array. */
  static final class Input implements InputFile {
    private final byte[] data;
    private final String name;

    Input(byte[] data, String name) {
      this.data = data;
      this.name = name;
    }

    @Override
    public long getLength() {
      return data.length;
    }

    @Override
    public SeekableInputStream newStream() {
      return new SeekableInputStream() {
        private int position;

        @Override
        public long getPos() {
          return position;
        }

        @Override
        public void seek(long newPos) throws IOException {
          if (newPos < 0 || newPos > data.length) {
            throw new EOFException(
                name + ": seek to " + newPos + " past the end (" + data.length + " bytes)");
          }
          position = (int) newPos;
        }

        @Override
        public int read() {
          return position < data.length ? data[position++] & 0xFF : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
          if (len == 0) {
            return 0;
          }
          if (position >= data.length) {
            return -1;
          }
          int n = Math.min(len, data.length - position);
          System.arraycopy(data, position, b, off, n);
          position += n;
          return n;
        }

        @Override
        public void readFully(byte[] bytes) throws IOException {
          readFully(bytes, 0, bytes.length);
        }

        @Override
        public void readFully(byte[] bytes, int start, int len) throws IOException {
          if (len > data.length - position) {
            throw new EOFException(name + ": unexpected end of file at byte " + data.length);
          }
          System.arraycopy(data, position, bytes, start, len);
          position += len;
        }

        @Override
        public int read(ByteBuffer buf) {
          if (!buf.hasRemaining()) {
            return 0;
          }
          if (position >= data.length) {
            return -1;
          }
          int n = Math.min(buf.remaining(), data.length - position);
          buf.put(data, position, n);
          position += n;
          return n;
        }

        @Override
        public void readFully(ByteBuffer buf) throws IOException {
          if (buf.remaining() > data.length - position) {
            throw new EOFException(name + ": unexpected end of file at byte " + data.length);
          }
          read(buf);
        }
      };
    }

    @Override
    public String toString() {
      return name;
    }
  }
}
