package io.dlanalyze.batch;

import static io.dlanalyze.trace.TestTraces.small;
import static io.dlanalyze.trace.TestTraces.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalDiscoveryTest {
  @TempDir Path dir;
  Path root;

  @BeforeEach
  void layout() throws IOException {
    root = dir.toAbsolutePath().resolve("runs");
    write(root.resolve("a.arrows"), small(1));
    write(root.resolve("nested/deeper/b.arrow"), small(2));
    write(root.resolve("nested/c.parquet"), small(3));
    write(root.resolve("dataset.parquet/part-00000.parquet"), small(4));
    write(root.resolve("dataset.parquet/part-00001.parquet"), small(5));
    Files.writeString(root.resolve("dataset.parquet/_SUCCESS"), "");
    Files.writeString(root.resolve("d.csv"), "step\n");
    Files.writeString(root.resolve("d.csv.meta.json"), "{}");
    Files.writeString(root.resolve("notes.txt"), "not a trace");
    Files.writeString(root.resolve(".e.arrows.123.tmp"), "temporary");
    Files.createDirectories(root.resolve(".cache"));
    Files.writeString(root.resolve(".cache/f.arrows"), "hidden");
  }

  @Test
  void find_directory_walksRecursivelyByTraceNames() {
    LocalDiscovery.Found found = LocalDiscovery.find(List.of(root.toString()), null);

    assertThat(found.traces())
        .containsExactly(
            root.resolve("a.arrows"),
            root.resolve("d.csv"),
            root.resolve("dataset.parquet"),
            root.resolve("nested/c.parquet"),
            root.resolve("nested/deeper/b.arrow"));
    assertThat(found.notes()).isEmpty();
  }

  @Test
  void find_outputDirectoryInsideInput_isNotSearched() throws IOException {
    Path out = root.resolve("results");
    Files.createDirectories(out);
    Files.write(out.resolve(ResultsTables.RUNS_FILE), ResultsTables.writeRuns(List.of()));

    LocalDiscovery.Found found = LocalDiscovery.find(List.of(root.toString()), out);

    assertThat(found.traces()).noneMatch(p -> p.startsWith(out)).hasSize(5);
  }

  @Test
  void find_fileArgument_isATraceWhateverItsName() throws IOException {
    Path odd = root.resolve("notes.txt");

    assertThat(LocalDiscovery.find(List.of(odd.toString()), null).traces()).containsExactly(odd);
  }

  @Test
  void find_partDirectoryArgument_isOneTrace() {
    Path dataset = root.resolve("dataset.parquet");

    assertThat(LocalDiscovery.find(List.of(dataset.toString()), null).traces())
        .containsExactly(dataset);
  }

  @Test
  void find_glob_matchesFilesAndTakesMatchingDirectoriesWhole() {
    LocalDiscovery.Found found =
        LocalDiscovery.find(List.of(root + "/**.parquet", root + "/*.arrows"), null);

    assertThat(found.traces())
        .containsExactly(
            root.resolve("a.arrows"),
            root.resolve("dataset.parquet"),
            root.resolve("nested/c.parquet"));
  }

  @Test
  void find_globMatchingNothing_notesItAndGoesOn() {
    LocalDiscovery.Found found =
        LocalDiscovery.find(
            List.of(root + "/*.feather", root.resolve("a.arrows").toString()), null);

    assertThat(found.traces()).containsExactly(root.resolve("a.arrows"));
    assertThat(found.notes())
        .singleElement()
        .asString()
        .contains("*.feather")
        .contains("no trace matches");
  }

  @Test
  void find_sameTraceTwice_listedOnce() {
    LocalDiscovery.Found found =
        LocalDiscovery.find(
            List.of(root.toString(), root.resolve("a.arrows").toString(), root + "/*.arrows"),
            null);

    assertThat(found.traces()).hasSize(5).doesNotHaveDuplicates();
  }

  @Test
  void find_missingPath_throwsNotFound() {
    Path missing = root.resolve("missing");

    assertThatThrownBy(() -> LocalDiscovery.find(List.of(missing.toString()), null))
        .isInstanceOfSatisfying(
            TraceFormatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND))
        .hasMessageContaining(missing.toString());
  }
}
