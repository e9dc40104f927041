package io.dlanalyze.batch;

import static io.dlanalyze.trace.TestTraces.small;
import static io.dlanalyze.trace.TestTraces.write;
import static io.dlanalyze.trace.TestTraces.writeParts;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.synthetic.Fault;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Directories of Arrow IPC parts (a recorder's {@code runs/7/part-00000.arrows}, pyarrow's {@code
 * part-0.arrow}) in an archive: one trace each, like a {@code *.parquet} directory.
 */
class ArrowPartsBatchTest {
  @TempDir Path dir;
  Path root;
  Path run;
  Path heldBack;

  @BeforeEach
  void archive() throws IOException {
    root = dir.toAbsolutePath().resolve("runs");
    run = root.resolve("7");
    // 200 steps in 3 stream parts; the NaN at step 150 is in the third, held back at first
    List<Path> parts = writeParts(run, small(5, Fault.nan(1, 150)), ".arrows", 70, 140);
    heldBack = Files.move(parts.get(2), dir.resolve("part-00002.arrows"));
    Files.writeString(run.resolve("notes.txt"), "not a trace");
    write(run.resolve("extra/e.arrows"), small(6));
    writeParts(root.resolve("ipc"), small(7), ".arrow", 100);
    // independent traces side by side, and a part beside a file that is not one: no part directory
    write(root.resolve("flat/a.arrows"), small(1));
    write(root.resolve("flat/b.arrows"), small(2));
    write(root.resolve("mixed/part-00000.arrows"), small(3));
    write(root.resolve("mixed/other.arrows"), small(4));
  }

  List<Path> find(String... arguments) {
    return LocalDiscovery.find(List.of(arguments), dir.resolve("out")).traces();
  }

  @Test
  void find_directoryOfArrowParts_isOneTraceItsPartsAreNotAndItsOtherTracesAre() {
    assertThat(find(root.toString()))
        .containsExactly(
            run,
            run.resolve("extra/e.arrows"),
            root.resolve("flat/a.arrows"),
            root.resolve("flat/b.arrows"),
            root.resolve("ipc"),
            root.resolve("mixed/other.arrows"),
            root.resolve("mixed/part-00000.arrows"));
  }

  @Test
  void find_partDirectoryNamedOrMatchedByAGlob_isOneTrace() {
    assertThat(find(run.toString())).containsExactly(run, run.resolve("extra/e.arrows"));
    assertThat(find(root + "/{7,ipc}"))
        .containsExactly(run, run.resolve("extra/e.arrows"), root.resolve("ipc"));
    // a glob that matches the part files themselves takes each as it says
    assertThat(find(run + "/part-*.arrows"))
        .containsExactly(run.resolve("part-00000.arrows"), run.resolve("part-00001.arrows"));
  }

  @Test
  void fingerprint_coversEveryPartAndChangesWhenAPartIsAdded() throws IOException {
    Fingerprint before = Fingerprints.ofLocal(run);
    assertThat(before.sizeBytes())
        .isEqualTo(
            Files.size(run.resolve("part-00000.arrows"))
                + Files.size(run.resolve("part-00001.arrows")));
    assertThat(Fingerprints.ofLocal(run)).isEqualTo(before);

    Files.move(heldBack, run.resolve("part-00002.arrows"));

    Fingerprint after = Fingerprints.ofLocal(run);
    assertThat(after.sameAs(before)).isFalse();
    assertThat(after.sizeBytes()).isGreaterThan(before.sizeBytes());
  }

  @Test
  void batch_rowNamesTheDirectoryAndANewPartReanalysesIt() throws Exception {
    Path out = dir.resolve("out");
    BatchResults first = batch(out);

    RunRow row = row(first, run);
    assertThat(row.status()).isEqualTo(RunStatus.OK);
    assertThat(row.format()).isEqualTo("arrow-stream");
    assertThat(row.verdict()).isEqualTo("healthy");
    assertThat(row(first, root.resolve("ipc")).format()).isEqualTo("arrow-file");
    assertThat(first.runs()).hasSize(7);

    Files.move(heldBack, run.resolve("part-00002.arrows"));
    BatchResults second = batch(out);

    assertThat(second.counts().analyzed()).isEqualTo(1);
    assertThat(second.counts().skipped()).isEqualTo(6);
    RunRow grown = row(second, run);
    assertThat(grown.verdict()).isEqualTo("buggy");
    assertThat(grown.topDetector()).isEqualTo("numerical-error");
    assertThat(grown.steps()).isEqualTo(200L);
    assertThat(grown.steps()).isGreaterThan(row.steps());
    assertThat(second.findings()).filteredOn(f -> f.path().equals(run.toString())).isNotEmpty();
  }

  BatchResults batch(Path out) throws Exception {
    List<Path> traces = LocalDiscovery.find(List.of(root.toString()), out).traces();
    BatchResults results =
        new BatchRunner(AnalysisSettings.defaults(), 2, false)
            .run(traces, PreviousResults.readLocal(out), BatchListener.none());
    ResultsOutput.writeLocal(out, results);
    return results;
  }

  static RunRow row(BatchResults results, Path trace) {
    List<RunRow> rows = new ArrayList<>();
    for (RunRow row : results.runs()) {
      if (row.path().equals(trace.toString())) {
        rows.add(row);
      }
    }
    assertThat(rows).as(trace.toString()).hasSize(1);
    return rows.get(0);
  }
}
