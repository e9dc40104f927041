package io.dlanalyze.trace.parquet;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.apache.parquet.io.OutputFile;
import org.apache.parquet.io.PositionOutputStream;
import org.jspecify.annotations.Nullable;

/**
 * A local file for parquet-mr's writer that remembers its stream, so an aborted write can close it:
 * {@code ParquetFileWriter.abort()} only sets a flag and its {@code close()} then leaves the stream
 * open.
 */
final class PathOutputFile implements OutputFile {
  private static final int BUFFER_SIZE = 1 << 16;

  private final Path path;
  private @Nullable Stream stream;

  PathOutputFile(Path path) {
    this.path = path;
  }

  @Override
  public PositionOutputStream create(long blockSizeHint) throws IOException {
    return open(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
  }

  @Override
  public PositionOutputStream createOrOverwrite(long blockSizeHint) throws IOException {
    return open(
        StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
  }

  private PositionOutputStream open(StandardOpenOption... options) throws IOException {
    stream =
        new Stream(new BufferedOutputStream(Files.newOutputStream(path, options), BUFFER_SIZE));
    return stream;
  }

  /** Closes the stream if one is open; errors are ignored (the file is about to be deleted). */
  void closeQuietly() {
    if (stream != null) {
      try {
        stream.close();
      } catch (IOException e) {
        // Nothing to recover: the caller deletes the file.
      }
    }
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
    return path.toString();
  }

  @Override
  public String toString() {
    return path.toString();
  }

  private static final class Stream extends PositionOutputStream {
    private final OutputStream out;
    private long position;
    private boolean closed;

    Stream(OutputStream out) {
      this.out = out;
    }

    @Override
    public long getPos() {
      return position;
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      position++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      position += len;
    }

    @Override
    public void flush() throws IOException {
      out.flush();
    }

    @Override
    public void close() throws IOException {
      if (!closed) {
        closed = true;
        out.close();
      }
    }
  }
}
