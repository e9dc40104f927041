package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BatchCommandTest {
  @TempDir Path dir;

  private StringWriter out = new StringWriter();
  private StringWriter err = new StringWriter();

  private int run(String... args) {
    out = new StringWriter();
    err = new StringWriter();
    return DlAnalyze.run(new PrintWriter(out), new PrintWriter(err), args);
  }

  private Path in() {
    return dir.resolve("in");
  }

  private Path results() {
    return dir.resolve("results");
  }

  private Path write(String name, Fault... faults) throws IOException {
    SyntheticTrace.Builder builder =
        SyntheticTrace.builder().layers(4).steps(200).stepsPerEpoch(50).seed(name.length());
    for (Fault fault : faults) {
      builder.fault(fault);
    }
    return TestTraces.write(in().resolve(name), builder.build(), WriteOptions.defaults());
  }

  @Test
  void batch_buggyTrace_exitsThreeWritesResultsAndPrintsProgressLines() throws IOException {
    write("healthy.arrows");
    write("runs/nan.parquet", Fault.nan(1, 60));

    int code = run("batch", in().toString(), "--out", results().toString(), "--jobs", "2");

    assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(out.toString())
        .contains("dl-analyze batch: 2 traces")
        .contains("this run: 2 analyzed, 0 unchanged and skipped")
        .contains("1 healthy, 1 buggy, 0 inconclusive, 0 unreadable")
        .contains("nan.parquet");
    assertThat(err.toString())
        .contains("dl-analyze: batch of 2 traces")
        .contains("[1/2] ")
        .contains("[2/2] ")
        .containsPattern("buggy .*nan\\.parquet \\(\\d+ ms\\)")
        .contains(
            "wrote findings.parquet, runs.parquet, summary.txt, summary.json, summary.md,"
                + " summary.html to "
                + results().toAbsolutePath());
    for (String name :
        new String[] {
          "runs.parquet",
          "findings.parquet",
          "summary.txt",
          "summary.json",
          "summary.md",
          "summary.html"
        }) {
      assertThat(results().resolve(name)).isNotEmptyFile();
    }
  }

  @Test
  void batch_secondRunUnchanged_skipsEverythingSameExitCode() throws IOException {
    write("healthy.arrows");
    write("nan.arrows", Fault.nan(1, 60));
    run("batch", in().toString(), "--out", results().toString());

    int code = run("batch", in().toString(), "--out", results().toString());

    assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(out.toString()).contains("this run: 0 analyzed, 2 unchanged and skipped");
    assertThat(err.toString()).contains("[2/2] unchanged ");
  }

  @Test
  void batch_unreadableTraces_exitsFourAndListsThem() throws IOException {
    write("nan.arrows", Fault.nan(1, 60));
    Files.writeString(in().resolve("corrupt.arrow"), "garbage, not arrow");
    Path cut = write("cut.arrows");
    try (FileChannel channel = FileChannel.open(cut, StandardOpenOption.WRITE)) {
      channel.truncate(20);
    }
    Files.createFile(in().resolve("empty.parquet"));

    int code = run("batch", in().toString(), "--out", results().toString(), "--progress", "none");

    assertThat(code).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(out.toString())
        .contains("0 healthy, 1 buggy, 0 inconclusive, 3 unreadable")
        .contains("unreadable (3):")
        .contains("corrupt.arrow")
        .contains("cut.arrows")
        .contains("empty.parquet");
    assertThat(err.toString()).doesNotContain("[1/4]");
  }

  @Test
  void batch_jsonFormat_printsTheJsonSummary() throws Exception {
    write("healthy.arrows");

    int code =
        run(
            "batch",
            in().toString(),
            "--out",
            results().toString(),
            "--format",
            "json",
            "--progress",
            "none");

    assertThat(code).isEqualTo(ExitCodes.OK);
    JsonNode json = new ObjectMapper().readTree(out.toString());
    assertThat(json.get("health").asText()).isEqualTo("healthy");
    assertThat(json.get("results").get("healthy").asInt()).isEqualTo(1);
  }

  @Test
  void batch_missingPath_exitsFourNamingIt() {
    Path missing = dir.resolve("nowhere");

    int code = run("batch", missing.toString(), "--out", results().toString());

    assertThat(code).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(err.toString()).contains(missing.toAbsolutePath() + ": no such file or directory");
  }

  @Test
  void batch_badOptions_exitTwo() throws IOException {
    write("healthy.arrows");

    assertThat(run("batch", in().toString(), "--out", results().toString(), "--jobs", "0"))
        .isEqualTo(ExitCodes.USAGE);
    assertThat(err.toString()).contains("--jobs must be positive: 0");
    assertThat(run("batch", in().toString())).isEqualTo(ExitCodes.USAGE);
    assertThat(
            run("batch", in().toString(), "--out", results().toString(), "--set", "no-such-key=1"))
        .isEqualTo(ExitCodes.USAGE);
  }

  @Test
  void batch_config_appliedToEveryTraceAndAChangedFileReanalysesThem() throws IOException {
    write("dead1.arrows", Fault.deadLayer(1, 20));
    write("dead2.parquet", Fault.deadLayer(1, 40));
    Path config = Files.writeString(dir.resolve("nightly.yaml"), "exclude-layers: [fc1]\n");

    int code =
        run("batch", in().toString(), "--out", results().toString(), "--config", config.toString());

    assertThat(code).isEqualTo(ExitCodes.OK);
    assertThat(out.toString()).contains("2 healthy, 0 buggy");
    assertThat(
            run(
                "batch",
                in().toString(),
                "--out",
                results().toString(),
                "--config",
                config.toString()))
        .isEqualTo(ExitCodes.OK);
    assertThat(out.toString()).contains("this run: 0 analyzed, 2 unchanged and skipped");

    Files.writeString(config, "exclude-layers: [fc2]\n");

    assertThat(
            run(
                "batch",
                in().toString(),
                "--out",
                results().toString(),
                "--config",
                config.toString()))
        .isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(out.toString())
        .contains("this run: 2 analyzed, 0 unchanged and skipped")
        .contains("0 healthy, 2 buggy");
  }

  @Test
  void batch_badConfig_exitsTwoWithOneLineNamingTheFileAndKey() throws IOException {
    write("healthy.arrows");
    Path bad = Files.writeString(dir.resolve("bad.json"), "{\"thresholds\": {\"windoww\": 3}}");
    Path missing = dir.resolve("missing.yaml");

    assertThat(
            run(
                "batch",
                in().toString(),
                "--out",
                results().toString(),
                "--config",
                bad.toString()))
        .isEqualTo(ExitCodes.USAGE);
    assertThat(err.toString().lines().findFirst().orElseThrow())
        .startsWith("dl-analyze: error: " + bad + ": thresholds.windoww: unknown threshold");
    assertThat(
            run(
                "batch",
                in().toString(),
                "--out",
                results().toString(),
                "--config",
                missing.toString()))
        .isEqualTo(ExitCodes.USAGE);
    assertThat(err.toString())
        .startsWith("dl-analyze: error: " + missing + ": config file not found");
    assertThat(results()).doesNotExist();
  }

  @Test
  void batch_outIsAFile_exitsFive() throws IOException {
    write("healthy.arrows");
    Path file = Files.writeString(dir.resolve("file"), "x");

    assertThat(run("batch", in().toString(), "--out", file.toString()))
        .isEqualTo(ExitCodes.OUTPUT_ERROR);
  }

  @Test
  void help_documentsTheBatchExitCodes() {
    assertThat(run("batch", "--help")).isEqualTo(ExitCodes.OK);

    assertThat(out.toString().replaceAll("\\s+", " "))
        .contains("--out=DIR")
        .contains("--jobs=N")
        .contains("some trace unreadable (wins over 3)")
        .contains("4 if some trace could not be read, else 3 if some trace is buggy, else 0");
  }

  @Test
  void batch_namedPipeNamedCsv_errorRowNoHang_exitFour() throws Exception {
    write("healthy.arrows");
    Path fifo = in().resolve("stuck.csv");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();

    int code = run("batch", in().toString(), "--out", results().toString(), "--progress", "none");

    assertThat(code).as(err.toString()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(out.toString())
        .contains("1 healthy, 0 buggy, 0 inconclusive, 1 unreadable")
        .contains("not a regular file but a named pipe (FIFO)");
  }

  @Test
  void batch_changedCsvSidecar_reanalysesTheTrace() throws IOException {
    Path trace = write("run.csv");
    Path sidecar = in().resolve("run.csv.meta.json");
    assertThat(run("batch", in().toString(), "--out", results().toString(), "--format", "json"))
        .isZero();
    assertThat(out.toString()).contains("\"analyzed\" : 1");

    Files.writeString(
        sidecar,
        Files.readString(sidecar)
            .replaceAll("\"dltrace.run_id\" : \"[^\"]*\"", "\"dltrace.run_id\" : \"renamed\""));
    assertThat(run("batch", in().toString(), "--out", results().toString(), "--format", "json"))
        .isZero();

    assertThat(out.toString()).contains("\"analyzed\" : 1").contains("\"skipped\" : 0");
    assertThat(
            io.dlanalyze.batch.PreviousResults.readLocal(results()).run(trace.toString()).runId())
        .isEqualTo("renamed");
  }

  @Test
  void batch_outputDirectoryLockedByAnotherBatch_refusedExitFive() throws IOException {
    write("healthy.arrows");
    try (io.dlanalyze.batch.OutputLock held = io.dlanalyze.batch.OutputLock.acquire(results())) {
      int code = run("batch", in().toString(), "--out", results().toString());

      assertThat(code).isEqualTo(ExitCodes.OUTPUT_ERROR);
      assertThat(err.toString().lines().toList())
          .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
          .startsWith(
              "dl-analyze: error: "
                  + results().toAbsolutePath()
                  + ": another dl-analyze batch is writing to this directory (pid ");
    }
    assertThat(results().resolve("runs.parquet")).doesNotExist();
  }
}
