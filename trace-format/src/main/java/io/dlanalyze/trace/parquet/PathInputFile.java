package io.dlanalyze.trace.parquet;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.apache.parquet.io.InputFile;
import org.apache.parquet.io.SeekableInputStream;

/**
 * A local file for parquet-mr, read through a {@link FileChannel} straight into parquet-mr's heap
 * buffers. Unlike parquet-mr's {@code LocalInputFile} it does not copy every read through a
 * temporary array, and its {@link #toString()} is the path, so parquet-mr's messages name the file
 * instead of {@code LocalInputFile@6a6824be}.
 */
final class PathInputFile implements InputFile {
  private final Path path;
  private final long length;

  PathInputFile(Path path, long length) {
    this.path = path;
    this.length = length;
  }

  @Override
  public long getLength() {
    return length;
  }

  @Override
  public SeekableInputStream newStream() throws IOException {
    return new ChannelStream(FileChannel.open(path, StandardOpenOption.READ));
  }

  @Override
  public String toString() {
    return path.toString();
  }

  private static final class ChannelStream extends SeekableInputStream {
    private final FileChannel channel;
    private long position;

    ChannelStream(FileChannel channel) {
      this.channel = channel;
    }

    @Override
    public long getPos() {
      return position;
    }

    @Override
    public void seek(long newPos) {
      position = newPos;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public int read(byte[] bytes, int start, int len) throws IOException {
      return read(ByteBuffer.wrap(bytes, start, len));
    }

    @Override
    public void readFully(byte[] bytes) throws IOException {
      readFully(ByteBuffer.wrap(bytes));
    }

    @Override
    public void readFully(byte[] bytes, int start, int len) throws IOException {
      readFully(ByteBuffer.wrap(bytes, start, len));
    }

    @Override
    public int read(ByteBuffer buf) throws IOException {
      if (!buf.hasRemaining()) {
        return 0;
      }
      int n = channel.read(buf, position);
      if (n > 0) {
        position += n;
      }
      return n;
    }

    @Override
    public void readFully(ByteBuffer buf) throws IOException {
      while (buf.hasRemaining()) {
        int n = channel.read(buf, position);
        if (n < 0) {
          throw new EOFException("unexpected end of file at byte " + position);
        }
        position += n;
      }
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }
}
