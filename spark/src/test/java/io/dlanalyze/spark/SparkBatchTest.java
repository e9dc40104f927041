package io.dlanalyze.spark;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.batch.AnalysisSettings;
import io.dlanalyze.batch.BatchListener;
import io.dlanalyze.batch.BatchResults;
import io.dlanalyze.batch.BatchRunner;
import io.dlanalyze.batch.FindingRow;
import io.dlanalyze.batch.LocalDiscovery;
import io.dlanalyze.batch.PreviousResults;
import io.dlanalyze.batch.ResultsOutput;
import io.dlanalyze.batch.ResultsTables;
import io.dlanalyze.batch.RunRow;
import io.dlanalyze.batch.RunStatus;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.synthetic.Fault;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Spark job in local[2] on loopback, compared with {@code dl-analyze batch}'s engine. */
class SparkBatchTest {
  static SparkSession spark;

  @TempDir Path dir;
  final ByteArrayOutputStream out = new ByteArrayOutputStream();
  final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @BeforeAll
  static void startSpark() {
    spark =
        SparkSession.builder()
            .master("local[2]")
            .appName("dl-analyze-spark-test")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  int sparkJob(String... args) {
    out.reset();
    err.reset();
    return SparkBatchJob.run(
        spark,
        JobArguments.parse(args),
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  static BatchResults localBatch(Path input, Path results) throws Exception {
    List<Path> traces = LocalDiscovery.find(List.of(input.toString()), results).traces();
    BatchResults batch =
        new BatchRunner(AnalysisSettings.defaults(), 2, false)
            .run(traces, PreviousResults.readLocal(results), BatchListener.none());
    ResultsOutput.writeLocal(results, batch);
    return batch;
  }

  static List<RunRow> runs(Path results) throws IOException {
    List<RunRow> rows = new ArrayList<>();
    for (RunRow row :
        ResultsTables.readRuns(
            Files.readAllBytes(results.resolve(ResultsTables.RUNS_FILE)), "runs")) {
      rows.add(row.withoutTiming());
    }
    return rows;
  }

  static List<FindingRow> findings(Path results) throws IOException {
    return ResultsTables.readFindings(
        Files.readAllBytes(results.resolve(ResultsTables.FINDINGS_FILE)), "findings");
  }

  @Test
  void sparkJob_sameInputAsBatch_sameTablesExceptTimings() throws Exception {
    Path input = dir.resolve("in");
    TestTraces.mixed(input);
    Path local = dir.resolve("local");
    Path distributed = dir.resolve("spark");
    localBatch(input, local);

    int code = sparkJob(input.toString(), "--out", distributed.toString());

    assertThat(code).isEqualTo(SparkBatchJob.BAD_INPUT);
    List<RunRow> expected = runs(local);
    assertThat(expected).hasSize(10);
    assertThat(expected)
        .filteredOn(r -> r.status() == RunStatus.ERROR)
        .extracting(RunRow::errorCode)
        .containsExactlyInAnyOrder("corrupt", "truncated", "empty");
    assertThat(expected).filteredOn(RunRow::isBuggy).hasSizeGreaterThanOrEqualTo(5);
    assertThat(expected)
        .extracting(RunRow::format)
        .contains("parquet", "arrow-file", "arrow-stream", "csv");
    assertThat(runs(distributed)).isEqualTo(expected);
    assertThat(findings(distributed)).isEqualTo(findings(local)).isNotEmpty();
    String summary = out.toString(StandardCharsets.UTF_8);
    assertThat(summary).contains("dl-analyze batch: 10 traces").contains("3 unreadable");
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("wrote findings.parquet, runs.parquet");
  }

  @Test
  void sparkJob_secondRun_skipsUnchangedThenPicksUpChangedAndAdded() throws Exception {
    Path input = dir.resolve("in");
    TestTraces.write(input.resolve("a.arrows"), TestTraces.small(1));
    TestTraces.write(
        input.resolve("b.parquet"),
        TestTraces.small(2, io.dlanalyze.trace.synthetic.Fault.nan(1, 40)));
    Path results = dir.resolve("results");
    assertThat(sparkJob(input.toString(), "--out", results.toString()))
        .isEqualTo(SparkBatchJob.FAULT_FOUND);
    List<RunRow> first = runs(results);

    sparkJob(input.toString(), "--out", results.toString());

    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("this run: 0 analyzed, 2 unchanged and skipped");
    assertThat(runs(results)).isEqualTo(first);

    TestTraces.write(
        input.resolve("a.arrows"),
        TestTraces.small(1, io.dlanalyze.trace.synthetic.Fault.inf(0, 10)));
    TestTraces.write(input.resolve("c.arrow"), TestTraces.small(3));
    sparkJob(input.toString(), "--out", results.toString());

    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("this run: 2 analyzed, 1 unchanged and skipped");
    assertThat(runs(results))
        .extracting(RunRow::verdict)
        .containsExactly("buggy", "buggy", "healthy");
  }

  @Test
  void sparkJob_tensorBoardRunAndArrowPartDirectory_oneTraceEachAsInTheLocalBatch()
      throws Exception {
    Path input = dir.resolve("in");
    Path tensorBoard = TestTraces.kerasBuggyRun(input.resolve("logs/fit-1"));
    Path parts = input.resolve("runs/7");
    // 200 steps in 3 stream parts, the NaN at step 150 in the third, held back at first
    TestTraces.writeParts(parts, TestTraces.small(2, Fault.nan(1, 150)), ".arrows", 70, 140);
    Path held = Files.move(parts.resolve("part-00002.arrows"), dir.resolve("part-00002.arrows"));
    Path results = dir.resolve("spark");
    Path local = dir.resolve("local");
    localBatch(input, local);

    assertThat(sparkJob(input.toString(), "--out", results.toString()))
        .isEqualTo(SparkBatchJob.FAULT_FOUND);

    assertThat(runs(results))
        .isEqualTo(runs(local))
        .extracting(RunRow::path, RunRow::format, RunRow::verdict)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(tensorBoard.toString(), "tensorboard", "buggy"),
            org.assertj.core.groups.Tuple.tuple(parts.toString(), "arrow-stream", "healthy"));
    assertThat(findings(results))
        .isEqualTo(findings(local))
        .extracting(FindingRow::detector)
        .contains("not-converging");

    // the next part of the run appears: only that trace is analysed again
    Files.move(held, parts.resolve("part-00002.arrows"));
    sparkJob(input.toString(), "--out", results.toString());
    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("this run: 1 analyzed, 1 unchanged and skipped");
    assertThat(runs(results))
        .extracting(RunRow::path, RunRow::verdict, RunRow::steps)
        .contains(org.assertj.core.groups.Tuple.tuple(parts.toString(), "buggy", 200L));
  }

  @Test
  void sparkJob_configFile_appliedInTheTasksAndAChangedFileReanalyses() throws Exception {
    Path input = dir.resolve("in");
    TestTraces.write(
        input.resolve("a.arrows"),
        TestTraces.small(1, io.dlanalyze.trace.synthetic.Fault.deadLayer(1, 20)));
    TestTraces.write(
        input.resolve("b.parquet"),
        TestTraces.small(2, io.dlanalyze.trace.synthetic.Fault.deadLayer(1, 40)));
    Path config = Files.writeString(dir.resolve("nightly.yaml"), "exclude-layers: [fc1]\n");
    Path results = dir.resolve("results");
    Path local = dir.resolve("local");

    int code =
        sparkJob(input.toString(), "--out", results.toString(), "--config", config.toString());

    assertThat(code).isEqualTo(SparkBatchJob.OK);
    List<Path> traces = LocalDiscovery.find(List.of(input.toString()), local).traces();
    BatchResults batch =
        new BatchRunner(
                new AnalysisSettings(
                    null,
                    java.util.Map.of(),
                    null,
                    List.of(),
                    AnalysisSettings.ConfigFile.read(config)),
                2,
                false)
            .run(traces, PreviousResults.none(), BatchListener.none());
    ResultsOutput.writeLocal(local, batch);
    assertThat(runs(results))
        .isEqualTo(runs(local))
        .extracting(RunRow::verdict)
        .containsExactly("healthy", "healthy");

    Files.writeString(config, "exclude-layers: [fc2]\n");

    assertThat(
            sparkJob(input.toString(), "--out", results.toString(), "--config", config.toString()))
        .isEqualTo(SparkBatchJob.FAULT_FOUND);
    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("this run: 2 analyzed, 0 unchanged and skipped");
  }

  @Test
  void jobArguments_badConfig_namesTheFileAndTheKey() throws IOException {
    Path bad =
        Files.writeString(
            dir.resolve("bad.json"), "{\"detectors\": {\"no-such-detector\": false}}");

    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                JobArguments.parse(
                    dir.toString(),
                    "--out",
                    dir.resolve("o").toString(),
                    "--config",
                    bad.toString()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(bad + ": detectors.no-such-detector: unknown detector");
  }

  @Test
  void sparkJob_missingPathOrBadArguments_exitCodes() {
    assertThat(sparkJob(dir.resolve("missing").toString(), "--out", dir.resolve("o").toString()))
        .isEqualTo(SparkBatchJob.BAD_INPUT);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("missing: no such file or directory");
  }
}
