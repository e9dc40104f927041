package io.dlanalyze.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * Standard output as a {@link PrintWriter} that remembers why a write failed: a PrintWriter only
 * keeps a flag ({@link #checkError()}), and {@link System#out} swallows the error a level below.
 * {@link DlAnalyze#run} checks it after every command: a report that could not be written (a full
 * disk, a closed pipe) is exit 5 with one line, not a silent success.
 */
final class StandardOutput extends PrintWriter {
  private final Recorder recorder;

  private StandardOutput(Recorder recorder) {
    super(new OutputStreamWriter(recorder, StandardCharsets.UTF_8), true);
    this.recorder = recorder;
  }

  /** The process's standard output (file descriptor 1), below {@link System#out}. */
  static StandardOutput stdout() {
    return of(new FileOutputStream(FileDescriptor.out));
  }

  /** Writes to {@code stream}. */
  static StandardOutput of(OutputStream stream) {
    return new StandardOutput(new Recorder(stream));
  }

  /** The first write error's message, or null when none was met. */
  @Nullable String failure() {
    IOException e = recorder.failure;
    if (e == null) {
      return null;
    }
    return e.getMessage() == null ? "write error" : e.getMessage();
  }

  /** Passes bytes through and keeps the first exception. */
  private static final class Recorder extends OutputStream {
    private final OutputStream sink;
    private @Nullable IOException failure;

    Recorder(OutputStream sink) {
      this.sink = sink;
    }

    @Override
    public void write(int b) throws IOException {
      try {
        sink.write(b);
      } catch (IOException e) {
        throw remember(e);
      }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      try {
        sink.write(b, off, len);
      } catch (IOException e) {
        throw remember(e);
      }
    }

    @Override
    public void flush() throws IOException {
      try {
        sink.flush();
      } catch (IOException e) {
        throw remember(e);
      }
    }

    @Override
    public void close() throws IOException {
      sink.close();
    }

    private IOException remember(IOException e) {
      if (failure == null) {
        failure = e;
      }
      return e;
    }
  }
}
