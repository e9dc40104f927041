package io.dlanalyze.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicOutputTest {
  @TempDir Path dir;

  @Test
  void create_targetIsADirectory_errorAndNothingWritten() throws IOException {
    Path target = Files.createDirectory(dir.resolve("out"));

    assertThatThrownBy(() -> AtomicOutput.create(target))
        .isInstanceOf(IOException.class)
        .hasMessage("is a directory");
    try (var files = Files.list(dir)) {
      assertThat(files.toList()).containsExactly(target);
    }
  }

  @Test
  void commit_movesContentIntoPlace_withReadableMode() throws IOException {
    Path target = dir.resolve("out.txt");
    AtomicOutput.writeString(target, "hello");
    assertThat(target).hasContent("hello");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(target)))
        .isEqualTo("rw-r--r--");
    try (var files = Files.list(dir)) {
      assertThat(files).containsExactly(target);
    }
  }

  @Test
  void abort_leavesTargetUntouched_andNoTemporaryFile() throws IOException {
    Path target = dir.resolve("out.txt");
    Files.writeString(target, "old");
    AtomicOutput output = AtomicOutput.create(target);
    Files.writeString(output.temporary(), "half-writ");
    output.abort();
    assertThat(target).hasContent("old");
    try (var files = Files.list(dir)) {
      assertThat(files).containsExactly(target);
    }
  }

  private static void mkfifo(Path path) throws Exception {
    Process p = new ProcessBuilder("mkfifo", path.toString()).inheritIO().start();
    assertThat(p.waitFor()).isZero();
  }

  @Test
  void writeString_symlinkToCharacterDevice_writesThroughAndKeepsTheLinkAndTheDevice()
      throws IOException {
    Path link = Files.createSymbolicLink(dir.resolve("sink"), Path.of("/dev/null"));

    AtomicOutput.writeString(link, "report");

    assertThat(Files.isSymbolicLink(link)).isTrue();
    assertThat(Files.readSymbolicLink(link)).isEqualTo(Path.of("/dev/null"));
    assertThat(InputFiles.kind(Path.of("/dev/null"))).isEqualTo("a character device");
    try (var files = Files.list(dir)) {
      assertThat(files).containsExactly(link);
    }
  }

  @Test
  void writeString_namedPipe_theReaderGetsTheContentAndThePipeStays() throws Exception {
    Path fifo = dir.resolve("pipe");
    mkfifo(fifo);
    CompletableFuture<byte[]> read =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return Files.readAllBytes(fifo);
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });

    AtomicOutput output = AtomicOutput.create(fifo);
    assertThat(output.isDirect()).isTrue();
    Files.writeString(output.temporary(), "hello through the pipe");
    output.commit();

    assertThat(new String(read.get(60, TimeUnit.SECONDS), StandardCharsets.UTF_8))
        .isEqualTo("hello through the pipe");
    assertThat(InputFiles.kind(fifo)).isEqualTo("a named pipe (FIFO)");
    try (var files = Files.list(dir)) {
      assertThat(files).containsExactly(fifo);
    }
  }

  @Test
  void writeString_symlinkToRegularFile_replacesThePointedFileAndKeepsTheLink() throws IOException {
    Path real = Files.createDirectory(dir.resolve("real"));
    Path file = Files.writeString(real.resolve("report.txt"), "old");
    Path link = Files.createSymbolicLink(dir.resolve("link.txt"), file);

    AtomicOutput.writeString(link, "new");

    assertThat(Files.isSymbolicLink(link)).isTrue();
    assertThat(file).hasContent("new");
    try (var files = Files.list(real)) {
      assertThat(files).containsExactly(file);
    }
  }

  @Test
  void writeString_danglingSymlink_createsItsTargetAndKeepsTheLink() throws IOException {
    Path real = Files.createDirectory(dir.resolve("real"));
    Path link = Files.createSymbolicLink(dir.resolve("link.txt"), Path.of("real/new.txt"));

    AtomicOutput.writeString(link, "created");

    assertThat(Files.isSymbolicLink(link)).isTrue();
    assertThat(real.resolve("new.txt")).hasContent("created");
  }

  @Test
  void create_staleTemporaryOfADeadProcess_isDeleted_othersAreKept() throws Exception {
    Process ended = new ProcessBuilder("true").start();
    assertThat(ended.waitFor()).isZero();
    String dead =
        StaleTemporaries.prefix(Path.of("run.parquet"))
            .replace("-" + ProcessHandle.current().pid() + "-", "-" + ended.pid() + "-");
    Path stale = Files.writeString(dir.resolve(dead + "123.tmp"), "left by kill -9");
    Path live =
        Files.writeString(
            dir.resolve(StaleTemporaries.prefix(Path.of("other.csv")) + "456.tmp"),
            "being written");
    Path foreign = Files.writeString(dir.resolve(".run.parquet.789.tmp"), "not ours");
    Path otherHost =
        Files.writeString(
            dir.resolve(".run.parquet.dl-analyze-zzzzzzzz-" + ended.pid() + "-1.tmp"), "nfs");

    AtomicOutput.writeString(dir.resolve("out.txt"), "x");

    assertThat(stale).doesNotExist();
    assertThat(live).exists();
    assertThat(foreign).exists();
    assertThat(otherHost).exists();
  }
}
