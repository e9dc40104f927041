package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Report;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code watch} beside a real PyTorch training run: the run writes NaN into its first layer at step
 * 30, {@code watch --stop-file} sees it and writes the stop file, the recorder stops the run a few
 * steps later with the trace complete, and watch's final report is the offline analysis of the same
 * file.
 */
class WatchEndToEndTest {
  private static final int NAN_AT = 30;

  @TempDir Path dir;

  @BeforeAll
  static void needsTorch() {
    Python.requireFrameworks();
  }

  @Test
  void watchStopFile_stopsARealPyTorchRunWithinAFewStepsOfANaN() throws Exception {
    Path trace = dir.resolve("run.arrows");
    Path stop = dir.resolve("stop");
    Path report = dir.resolve("report.json");
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    // started before the run: the trace does not exist yet
    CompletableFuture<Integer> watch =
        CompletableFuture.supplyAsync(
            () ->
                DlAnalyze.run(
                    new PrintWriter(out),
                    new PrintWriter(err),
                    "watch",
                    trace.toString(),
                    "--stop-file",
                    stop.toString(),
                    "--until",
                    "error",
                    "--format",
                    "json",
                    "--idle",
                    "240",
                    "--report",
                    report.toString()));
    Python.Result run =
        Python.run(
            List.of(
                Python.interpreter(),
                Python.repoRoot().resolve("cli/src/test/resources/e2e/train_watched.py").toString(),
                Python.repoRoot().toString(),
                trace.toString(),
                "--stop-file",
                stop.toString(),
                "--nan-at",
                Integer.toString(NAN_AT),
                "--steps",
                "3000",
                "--step-seconds",
                "0.02"),
            dir,
            300);
    int code = watch.get(300, TimeUnit.SECONDS);
    assertThat(run.exitCode()).as(run.output()).isZero();
    Matcher last = Pattern.compile("last step (\\d+) \\(stopped: ").matcher(run.output());
    assertThat(last.find()).as("the run was stopped: %s", run.output()).isTrue();
    long lastStep = Long.parseLong(last.group(1));
    assertThat(lastStep)
        .as("stopped within a few steps of the NaN")
        .isBetween((long) NAN_AT, NAN_AT + 15L);
    assertThat(run.output()).contains("dltrace: training stopped after step " + lastStep);

    assertThat(code).as("watch exit code; %s %s", out, err).isEqualTo(ExitCodes.FAULT_FOUND);
    String[] events = out.toString().strip().split("\n");
    assertThat(events[0]).contains("\"event\":\"start\"").contains("\"exists\":false");
    assertThat(out.toString())
        .contains("\"event\":\"finding\",\"step\":" + NAN_AT + ",\"detector\":\"numerical-error\"")
        .contains("\"event\":\"stop\"");
    assertThat(events[events.length - 1])
        .contains("\"event\":\"end\",\"reason\":\"end_of_stream\"")
        .contains("\"last_step\":" + lastStep)
        .contains("\"stop_reason\":\"dl-analyze watch: critical numerical-error");
    assertThat(Files.readString(stop, StandardCharsets.UTF_8)).startsWith("dl-analyze watch: ");

    // the trace is complete (end-of-stream marker), holds every step and the reason
    Report offline = new Analyzer().analyze(trace, AnalysisOptions.defaults());
    assertThat(offline.trace().truncated()).isFalse();
    assertThat(offline.trace().lastStep()).isEqualTo(lastStep);
    assertThat(offline.trace().metadata())
        .containsEntry("dltrace.stopped_at_step", Long.toString(lastStep))
        .hasEntrySatisfying("dltrace.stop_reason", r -> assertThat(r).contains("numerical-error"));
    // watch's final report is the offline analysis of the same file
    StringWriter analyzed = new StringWriter();
    assertThat(
            DlAnalyze.run(
                new PrintWriter(analyzed),
                new PrintWriter(new StringWriter()),
                trace.toString(),
                "--format",
                "json"))
        .isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(Files.readString(report, StandardCharsets.UTF_8)).isEqualTo(analyzed.toString());
  }

  /**
   * The run writes its trace as the first part of a directory that does not exist when watch
   * starts: watch follows the part as it grows, stops the run with the stop file, ends after the
   * last part, and its report is the offline analysis of the directory.
   */
  @Test
  void watchDirectory_stopsARealRunWritingItsFirstPart() throws Exception {
    Path parts = dir.resolve("run");
    Path stop = dir.resolve("stop");
    Path report = dir.resolve("report.json");
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CompletableFuture<Integer> watch =
        CompletableFuture.supplyAsync(
            () ->
                DlAnalyze.run(
                    new PrintWriter(out),
                    new PrintWriter(err),
                    "watch",
                    parts.toString(),
                    "--stop-file",
                    stop.toString(),
                    "--part-wait",
                    "1",
                    "--idle",
                    "240",
                    "--report",
                    report.toString()));
    Python.Result run =
        Python.run(
            List.of(
                Python.interpreter(),
                Python.repoRoot().resolve("cli/src/test/resources/e2e/train_watched.py").toString(),
                Python.repoRoot().toString(),
                parts.resolve("part-00000.arrows").toString(),
                "--stop-file",
                stop.toString(),
                "--nan-at",
                Integer.toString(NAN_AT),
                "--steps",
                "3000",
                "--step-seconds",
                "0.02"),
            dir,
            300);
    int code = watch.get(300, TimeUnit.SECONDS);
    assertThat(run.exitCode()).as(run.output()).isZero();
    Matcher last = Pattern.compile("last step (\\d+) \\(stopped: ").matcher(run.output());
    assertThat(last.find()).as("the run was stopped: %s", run.output()).isTrue();
    long lastStep = Long.parseLong(last.group(1));
    assertThat(lastStep).isBetween((long) NAN_AT, NAN_AT + 15L);
    assertThat(code).as("watch exit code; %s %s", out, err).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(out.toString())
        .startsWith("watching " + parts + " (waiting for it to appear)\n")
        .contains("step " + NAN_AT + ": critical numerical-error in sequential.0 forward")
        .contains("stopping the run: wrote " + stop)
        .contains("watch ended (end of stream) after " + (lastStep + 1) + " steps: buggy");
    StringWriter analyzed = new StringWriter();
    assertThat(
            DlAnalyze.run(
                new PrintWriter(analyzed),
                new PrintWriter(new StringWriter()),
                parts.toString(),
                "--format",
                "json"))
        .isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(Files.readString(report, StandardCharsets.UTF_8)).isEqualTo(analyzed.toString());
    assertThat(analyzed.toString()).contains("\"dltrace.stop_reason\"");
  }

  /**
   * {@code --signal PID} (SIGINT): a real PyTorch run gets KeyboardInterrupt a few steps after its
   * NaN, its handler closes the trace and exits with 130; the trace is complete.
   */
  @Test
  void watchSignal_interruptsARealPyTorchRun() throws Exception {
    Path trace = dir.resolve("signalled.arrows");
    Path report = dir.resolve("signalled.json");
    ProcessBuilder builder =
        new ProcessBuilder(
                Python.interpreter(),
                Python.repoRoot().resolve("cli/src/test/resources/e2e/train_watched.py").toString(),
                Python.repoRoot().toString(),
                trace.toString(),
                "--nan-at",
                Integer.toString(NAN_AT),
                "--steps",
                "3000",
                "--step-seconds",
                "0.02")
            .directory(dir.toFile())
            .redirectErrorStream(true);
    builder.environment().put("OMP_NUM_THREADS", "1");
    builder.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    Process training = builder.start();
    CompletableFuture<String> output =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return new String(training.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    try {
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      int code =
          DlAnalyze.run(
              new PrintWriter(out),
              new PrintWriter(err),
              "watch",
              trace.toString(),
              "--signal",
              Long.toString(training.pid()),
              "--format",
              "json",
              "--idle",
              "240",
              "--report",
              report.toString());
      assertThat(training.waitFor(120, TimeUnit.SECONDS)).isTrue();
      String printed = output.get(30, TimeUnit.SECONDS);
      assertThat(training.exitValue()).as(printed).isEqualTo(130);
      Matcher last = Pattern.compile("interrupted after step (\\d+)").matcher(printed);
      assertThat(last.find()).as("the run got SIGINT: %s", printed).isTrue();
      long lastStep = Long.parseLong(last.group(1));
      assertThat(lastStep).isBetween((long) NAN_AT, NAN_AT + 15L);
      assertThat(code).as("watch exit code; %s %s", out, err).isEqualTo(ExitCodes.FAULT_FOUND);
      assertThat(out.toString())
          .contains("\"event\":\"stop\"")
          .contains("\"signal\":\"sent SIGINT to " + training.pid() + "\"");
      String[] events = out.toString().strip().split("\n");
      assertThat(events[events.length - 1]).contains("\"reason\":\"end_of_stream\"");
      // the handler closed the trace: complete, every step up to the interrupted one
      Report offline = new Analyzer().analyze(trace, AnalysisOptions.defaults());
      assertThat(offline.trace().truncated()).isFalse();
      assertThat(offline.trace().lastStep()).isBetween(lastStep - 1, lastStep);
    } finally {
      training.destroyForcibly();
    }
  }

  /** A finished stream is read to its end; without --until the exit code is 0. */
  @Test
  void watch_ofAFinishedStream_printsItsFindingsAndEnds() throws IOException {
    Path trace = dir.resolve("done.arrows");
    assertThat(
            CliRun.of(
                    "convert",
                    Python.repoRoot()
                        .resolve("sample-traces/traces/so-48385830-buggy.parquet")
                        .toString(),
                    trace.toString())
                .code())
        .isZero();
    CliRun watch = CliRun.of("watch", trace.toString());
    assertThat(watch.code()).as(watch.err()).isZero();
    assertThat(watch.out())
        .contains("step 5: critical numerical-error in model loss from step 5")
        .contains("error exploding-gradient in fc1 gradient from step 3")
        .contains("step 5: info effective-learning-rate in fc1 gradient from step 4")
        .contains("warning loss-divergence in model loss from step 4")
        .contains("watch ended (end of stream) after 360 steps: buggy, 5 findings");
    CliRun missing = CliRun.of("watch", dir.resolve("never.arrows").toString(), "--idle", "0.2");
    assertThat(missing.code()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(missing.err().strip())
        .isEqualTo(
            "dl-analyze: error: "
                + dir.resolve("never.arrows")
                + ": no such file after waiting 0.2 s (--idle)");
  }
}
