package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.WriteOptions;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code watch DIR} beside a writer that fills a directory with part files: a real run (the sample
 * trace of Stack Overflow post 48385830) cut into three parts by the project's writers, their bytes
 * written in small pieces into a directory that does not exist when watch starts. Watch reads each
 * part as it grows, moves on to the next, ends after the last one, and its final report is the
 * offline analysis of the directory.
 */
class WatchDirectoryTest {
  @TempDir Path dir;

  private static List<Path> parts(Path into, String extension) throws IOException {
    Path sample = Python.repoRoot().resolve("sample-traces/traces/so-48385830-buggy.parquet");
    MemoryTrace run;
    try (TraceReader reader = TraceReaders.open(sample, ReadOptions.all())) {
      run = MemoryTrace.copyOf(reader);
    }
    return TestTraces.writeParts(
        into,
        "part-%05d" + extension,
        WriteOptions.defaults().withRowGroupRows(300),
        run.split(120, 240));
  }

  /** Writes the parts' bytes into {@code to} (created first) in pieces of 3,000 bytes. */
  private static CompletableFuture<Void> writeSlowly(List<Path> parts, Path to) {
    return CompletableFuture.runAsync(
        () -> {
          try {
            Thread.sleep(300);
            Files.createDirectories(to);
            for (Path part : parts) {
              byte[] bytes = Files.readAllBytes(part);
              try (OutputStream out = Files.newOutputStream(to.resolve(part.getFileName()))) {
                for (int at = 0; at < bytes.length; at += 3_000) {
                  out.write(bytes, at, Math.min(3_000, bytes.length - at));
                  out.flush();
                  Thread.sleep(3);
                }
              }
              Thread.sleep(100);
            }
          } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
          }
        });
  }

  @Test
  void watchDirectory_followsPartsAsTheyAreWritten_andReportsAsAnalyze() throws Exception {
    for (String extension : new String[] {".arrows", ".parquet", ".arrow"}) {
      String name = extension.substring(1);
      List<Path> parts = parts(dir.resolve("written-" + name), extension);
      Path live = dir.resolve("live-" + name);
      Path report = dir.resolve("report-" + name + ".json");
      CompletableFuture<Void> writer = writeSlowly(parts, live);
      CliRun watch =
          CliRun.of(
              "watch",
              live.toString(),
              "--part-wait",
              "1",
              "--idle",
              "60",
              "--poll",
              "5",
              "--report",
              report.toString());
      writer.get(60, TimeUnit.SECONDS);
      assertThat(watch.code()).as("%s: %s", name, watch.err()).isZero();
      assertThat(watch.out())
          .startsWith("watching " + live + " (waiting for it to appear)\n")
          .contains("step 0: warning missing-activation in model loss from step 0")
          .contains("step 5: error exploding-gradient in fc1 gradient from step 3")
          .contains("step 5: info effective-learning-rate in fc1 gradient from step 4")
          .contains("step 5: critical numerical-error in model loss from step 5")
          .contains("step 359: warning loss-divergence in model loss from step 4")
          .endsWith("watch ended (end of stream) after 360 steps: buggy, 5 findings\n");
      CliRun offline = CliRun.of(live.toString(), "--format", "json");
      assertThat(offline.code()).isEqualTo(ExitCodes.FAULT_FOUND);
      assertThat(Files.readString(report, StandardCharsets.UTF_8))
          .as("%s: watch's report is analyze's", name)
          .isEqualTo(offline.out());
    }
  }

  @Test
  void watchDirectory_thatNeverGetsAPart_endsAfterIdle() throws IOException {
    Path empty = Files.createDirectories(dir.resolve("empty"));
    Files.writeString(empty.resolve("_SUCCESS"), "");
    CliRun watch = CliRun.of("watch", empty.toString(), "--idle", "0.2", "--format", "json");
    assertThat(watch.code()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(watch.out())
        .startsWith("{\"event\":\"start\",\"trace\":\"" + empty + "\",\"exists\":false}");
    assertThat(watch.err().strip())
        .isEqualTo("dl-analyze: error: " + empty + ": no part file after waiting 0.2 s (--idle)");
    CliRun missing = CliRun.of("watch", dir.resolve("runs/7").toString(), "--idle", "0.2");
    assertThat(missing.errorLine())
        .isEqualTo(
            "dl-analyze: error: "
                + dir.resolve("runs/7")
                + ": no part file after waiting 0.2 s (--idle)");
  }

  /**
   * {@code --signal PID:TERM} at the first error: a real process gets the signal (a shell's {@code
   * sleep}, killed by it: exit status 128 + 15).
   */
  @Test
  void watchSignal_sendsTheSignalToTheProcess() throws Exception {
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
    Process sleeper = new ProcessBuilder("sleep", "120").start();
    try {
      CliRun watch =
          CliRun.of("watch", trace.toString(), "--signal", sleeper.pid() + ":TERM", "--drain", "0");
      assertThat(watch.code()).as(watch.err()).isEqualTo(ExitCodes.FAULT_FOUND);
      assertThat(watch.out())
          .contains("step 5: error exploding-gradient in fc1 gradient from step 3")
          .contains("stopping the run: sent SIGTERM to " + sleeper.pid());
      assertThat(sleeper.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(sleeper.exitValue()).as("killed by SIGTERM").isEqualTo(128 + 15);
    } finally {
      sleeper.destroyForcibly();
    }
    CliRun badSignal = CliRun.of("watch", trace.toString(), "--signal", "1:NOPE!");
    assertThat(badSignal.code()).isEqualTo(ExitCodes.USAGE);
    assertThat(badSignal.err()).contains("--signal: not a signal name or number: NOPE!");
  }
}
