package io.dlanalyze.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InputFilesTest {
  @TempDir Path dir;

  @Test
  void requireReadable_namedPipe_ioErrorWithoutOpeningIt() throws Exception {
    Path fifo = dir.resolve("run.csv");
    Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
    assertThat(p.waitFor()).isZero();

    // opening the pipe would block this test forever: the check must not open it
    assertThatThrownBy(() -> InputFiles.requireReadable(fifo))
        .isInstanceOfSatisfying(
            TraceFormatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.IO_ERROR))
        .hasMessage(
            fifo
                + ": not a regular file but a named pipe (FIFO): a trace must be a regular file"
                + " or a directory of part files");
  }

  @Test
  void requireReadable_device_ioError() {
    assertThatThrownBy(() -> InputFiles.requireReadable(Path.of("/dev/zero")))
        .hasMessage(
            "/dev/zero: not a regular file but a character device: a trace must be a regular"
                + " file or a directory of part files");
  }

  @Test
  void requireReadable_missing_notFound_fileAndDirectory_pass() throws Exception {
    assertThatThrownBy(() -> InputFiles.requireReadable(dir.resolve("gone.parquet")))
        .isInstanceOfSatisfying(
            TraceFormatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    InputFiles.requireReadable(Files.writeString(dir.resolve("a.csv"), "x"));
    InputFiles.requireReadable(dir);
  }
}
