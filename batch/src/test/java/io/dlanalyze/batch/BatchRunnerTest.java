package io.dlanalyze.batch;

import static io.dlanalyze.trace.TestTraces.small;
import static io.dlanalyze.trace.TestTraces.write;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.synthetic.Fault;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BatchRunnerTest {
  @TempDir Path dir;

  Path input() {
    return dir.toAbsolutePath().resolve("in");
  }

  Path out() {
    return dir.toAbsolutePath().resolve("out");
  }

  void writeInputs() {
    write(input().resolve("healthy.arrows"), small(1));
    write(input().resolve("nan.arrow"), small(2, Fault.nan(1, 50)));
    write(input().resolve("deep/inf.parquet"), small(3, Fault.inf(3, 80)));
    write(input().resolve("dataset.parquet/part-0.parquet"), small(4));
  }

  /** One batch run the way the CLI does it: discover, read the previous tables, run, write. */
  BatchResults batch(AnalysisSettings settings, boolean force, List<String> progress)
      throws Exception {
    LocalDiscovery.Found found = LocalDiscovery.find(List.of(input().toString()), out());
    PreviousResults previous = PreviousResults.readLocal(out());
    BatchListener listener =
        new BatchListener() {
          @Override
          public void traceDone(TraceOutcome outcome, int done, int total) {
            progress.add(done + "/" + total + " " + (outcome.skipped() ? "skipped" : "analyzed"));
          }
        };
    BatchResults results =
        new BatchRunner(settings, 2, force).run(found.traces(), previous, listener);
    ResultsOutput.writeLocal(out(), results);
    return results;
  }

  BatchResults batch() throws Exception {
    return batch(AnalysisSettings.defaults(), false, new ArrayList<>());
  }

  List<RunRow> runsTable() throws IOException {
    return ResultsTables.readRuns(
        Files.readAllBytes(out().resolve(ResultsTables.RUNS_FILE)), "runs");
  }

  @Test
  void run_firstRun_analysesEveryTraceAndWritesTablesAndSummaries() throws Exception {
    writeInputs();
    List<String> progress = new ArrayList<>();

    BatchResults results = batch(AnalysisSettings.defaults(), false, progress);

    assertThat(results.counts().traces()).isEqualTo(4);
    assertThat(results.counts().analyzed()).isEqualTo(4);
    assertThat(results.counts().skipped()).isZero();
    assertThat(results.counts().buggy()).isEqualTo(2);
    assertThat(results.counts().healthy()).isEqualTo(2);
    assertThat(results.health()).isEqualTo(BatchHealth.BUGGY);
    assertThat(progress).hasSize(4).last().isEqualTo("4/4 analyzed");
    assertThat(runsTable())
        .extracting(RunRow::path)
        .containsExactly(
            input().resolve("dataset.parquet").toString(),
            input().resolve("deep/inf.parquet").toString(),
            input().resolve("healthy.arrows").toString(),
            input().resolve("nan.arrow").toString());
    assertThat(runsTable()).isEqualTo(results.runs());
    List<FindingRow> findings =
        ResultsTables.readFindings(
            Files.readAllBytes(out().resolve(ResultsTables.FINDINGS_FILE)), "findings");
    assertThat(findings).isEqualTo(results.findings()).isNotEmpty();
    for (SummaryFormat format : SummaryFormat.values()) {
      assertThat(out().resolve(format.fileName())).isNotEmptyFile();
    }
    try (var listing = Files.list(out())) {
      assertThat(listing.filter(p -> p.getFileName().toString().endsWith(".tmp"))).isEmpty();
    }
  }

  @Test
  void run_secondRunUnchanged_analysesNothingAndKeepsTheTables() throws Exception {
    writeInputs();
    BatchResults first = batch();
    List<String> progress = new ArrayList<>();

    BatchResults second = batch(AnalysisSettings.defaults(), false, progress);

    assertThat(second.counts().analyzed()).isZero();
    assertThat(second.counts().skipped()).isEqualTo(4);
    assertThat(progress).allMatch(line -> line.endsWith("skipped"));
    assertThat(second.runs()).isEqualTo(first.runs());
    assertThat(second.findings()).isEqualTo(first.findings());
    assertThat(runsTable()).isEqualTo(first.runs());
  }

  @Test
  void run_changedAddedAndRemovedTraces_pickedUp() throws Exception {
    writeInputs();
    BatchResults first = batch();
    write(input().resolve("healthy.arrows"), small(1, Fault.nan(0, 30)));
    write(input().resolve("added.arrows"), small(9));
    Files.delete(input().resolve("deep/inf.parquet"));

    BatchResults second = batch();

    assertThat(second.counts().analyzed()).isEqualTo(2);
    assertThat(second.counts().skipped()).isEqualTo(2);
    assertThat(second.counts().removed()).isEqualTo(1);
    assertThat(second.runs())
        .extracting(RunRow::path)
        .contains(input().resolve("added.arrows").toString())
        .doesNotContain(input().resolve("deep/inf.parquet").toString());
    RunRow changed = row(second, "healthy.arrows");
    assertThat(changed.verdict()).isEqualTo("buggy");
    assertThat(changed.fingerprint()).isNotEqualTo(row(first, "healthy.arrows").fingerprint());
    assertThat(second.findings())
        .extracting(FindingRow::path)
        .doesNotContain(input().resolve("deep/inf.parquet").toString())
        .contains(input().resolve("healthy.arrows").toString());
    assertThat(row(second, "nan.arrow")).isEqualTo(row(first, "nan.arrow"));
  }

  @Test
  void run_forceOrOtherMode_analysesEverythingAgain() throws Exception {
    writeInputs();
    batch();

    assertThat(batch(AnalysisSettings.defaults(), true, new ArrayList<>()).counts().analyzed())
        .isEqualTo(4);
    assertThat(
            batch(new AnalysisSettings(AnalysisMode.DEEPLOCALIZE), false, new ArrayList<>())
                .counts()
                .analyzed())
        .isEqualTo(4);
  }

  AnalysisSettings withConfig(String name, String text) throws IOException {
    Path file = dir.resolve(name);
    Files.writeString(file, text, StandardCharsets.UTF_8);
    return new AnalysisSettings(
        null, java.util.Map.of(), null, List.of(), AnalysisSettings.ConfigFile.read(file));
  }

  @Test
  void run_configFile_appliedToEveryTrace() throws Exception {
    write(input().resolve("dead1.arrows"), small(1, Fault.deadLayer(1, 20)));
    write(input().resolve("dead2.parquet"), small(2, Fault.deadLayer(1, 40)));
    assertThat(batch().counts().buggy()).isEqualTo(2);

    BatchResults results =
        batch(withConfig("quiet.yaml", "exclude-layers: [fc1]\n"), false, new ArrayList<>());

    assertThat(results.counts().analyzed()).isEqualTo(2);
    assertThat(results.runs()).extracting(RunRow::verdict).containsExactly("healthy", "healthy");
    assertThat(results.runs())
        .extracting(RunRow::config)
        .allMatch(c -> c.contains("; config=sha256:"));
  }

  @Test
  void run_changedConfigFile_analysesEveryUnchangedTraceAgain() throws Exception {
    writeInputs();
    AnalysisSettings config = withConfig("c.yaml", "thresholds:\n  window: 40\n");
    assertThat(batch(config, false, new ArrayList<>()).counts().analyzed()).isEqualTo(4);
    assertThat(batch(config, false, new ArrayList<>()).counts().skipped()).isEqualTo(4);

    // the same settings, other text: re-analysed; then no config at all: re-analysed again
    AnalysisSettings edited = withConfig("c.yaml", "thresholds:\n  window: 40   # steps\n");

    assertThat(batch(edited, false, new ArrayList<>()).counts().analyzed()).isEqualTo(4);
    assertThat(batch(edited, false, new ArrayList<>()).counts().analyzed()).isZero();
    assertThat(batch().counts().analyzed()).isEqualTo(4);
  }

  @Test
  void run_corruptTruncatedAndEmptyFiles_completeWithThreeErrorRows() throws Exception {
    write(input().resolve("healthy.arrows"), small(1));
    Files.writeString(
        input().resolve("corrupt.parquet"), "this is not a parquet file", StandardCharsets.UTF_8);
    Path truncated = write(input().resolve("truncated.arrows"), small(5));
    TestTraces.truncate(truncated, 40);
    Files.createFile(input().resolve("empty.arrow"));

    BatchResults results = batch();

    assertThat(results.counts().traces()).isEqualTo(4);
    assertThat(results.counts().errors()).isEqualTo(3);
    assertThat(results.counts().newErrors()).isEqualTo(3);
    assertThat(results.counts().healthy()).isEqualTo(1);
    assertThat(results.health()).isEqualTo(BatchHealth.UNREADABLE);
    assertThat(row(results, "corrupt.parquet").errorCode()).isEqualTo("corrupt");
    assertThat(row(results, "truncated.arrows").errorCode()).isEqualTo("truncated");
    assertThat(row(results, "empty.arrow").errorCode()).isEqualTo("empty");
    for (String name : List.of("corrupt.parquet", "truncated.arrows", "empty.arrow")) {
      RunRow row = row(results, name);
      assertThat(row.status()).as(name).isEqualTo(RunStatus.ERROR);
      assertThat(row.error())
          .as(name)
          .startsWith(input().resolve(name) + ": ")
          .doesNotContain("\n");
    }
    String text = Files.readString(out().resolve(SummaryFormat.TEXT.fileName()));
    assertThat(text)
        .contains("3 unreadable")
        .contains("corrupt.parquet")
        .contains("truncated.arrows")
        .contains("empty.arrow");
  }

  @Test
  void run_crashTruncatedStream_analysedWithTheRowsBeforeTheCut() throws Exception {
    Path cut = write(input().resolve("cut.arrows"), small(5));
    TestTraces.truncate(cut, Files.size(cut) * 2 / 3);

    RunRow row = row(batch(), "cut.arrows");

    assertThat(row.status()).isEqualTo(RunStatus.OK);
    assertThat(row.truncated()).isTrue();
    assertThat(row.warnings()).isPositive();
    assertThat(row.rows()).isPositive().isLessThan(small(5).totalRows());
  }

  @Test
  void run_noTraces_emptyTablesHealthy() throws Exception {
    Files.createDirectories(input());

    BatchResults results = batch();

    assertThat(results.counts().traces()).isZero();
    assertThat(results.health()).isEqualTo(BatchHealth.HEALTHY);
    assertThat(runsTable()).isEmpty();
  }

  RunRow row(BatchResults results, String name) {
    String path = input().resolve(name).toString();
    return results.runs().stream().filter(r -> r.path().equals(path)).findFirst().orElseThrow();
  }
}
