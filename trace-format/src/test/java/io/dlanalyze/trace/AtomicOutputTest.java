package io.dlanalyze.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
}
