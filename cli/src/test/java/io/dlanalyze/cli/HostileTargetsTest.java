package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Special files as inputs and outputs, standard output that cannot be written, and the exit-code
 * convention: each ends with its documented exit code and one line, never a hang, a replaced device
 * or a silent success.
 */
class HostileTargetsTest {
  @TempDir Path dir;
  private Path trace;

  @BeforeEach
  void writeTrace() {
    trace = dir.resolve("run.csv");
    CliRun run =
        CliRun.of(
            "generate", trace.toString(), "--layers", "3", "--steps", "100", "--fault", "nan:1:60");
    assertThat(run.code()).as(run.err()).isZero();
  }

  private Path fifo(String name) throws Exception {
    Path fifo = dir.resolve(name);
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
    return fifo;
  }

  /** Runs the command line with standard output on {@code /dev/full}. */
  private static CliRun toDevFull(String... args) throws IOException {
    StringWriter err = new StringWriter();
    try (FileOutputStream full = new FileOutputStream("/dev/full")) {
      int code = DlAnalyze.run(StandardOutput.of(full), new PrintWriter(err), args);
      return new CliRun(code, "", err.toString());
    }
  }

  @Test
  void standardOutputFull_analyzeInspectDetectorsHelp_exitFiveWithOneLine() throws IOException {
    String line = "dl-analyze: error: cannot write to standard output: No space left on device";
    for (String[] args :
        new String[][] {
          {"analyze", trace.toString()},
          {"inspect", trace.toString()},
          {"detectors"},
          {"detectors", "--format", "json"},
          {"--help"},
        }) {
      CliRun run = toDevFull(args);
      assertThat(run.code()).as(String.join(" ", args)).isEqualTo(ExitCodes.OUTPUT_ERROR);
      assertThat(run.err().lines().toList()).as(String.join(" ", args)).containsExactly(line);
    }
  }

  @Test
  void namedPipeAsTrace_analyzeInspectConvertEval_refusedWithOneLine() throws Exception {
    Path pipe = fifo("pipe.csv");
    String line =
        "dl-analyze: error: "
            + pipe
            + ": not a regular file but a named pipe (FIFO): a trace must be a regular file or"
            + " a directory of part files";

    CliRun.of("analyze", pipe.toString()).failsWith(ExitCodes.BAD_INPUT, line);
    CliRun.of("inspect", pipe.toString()).failsWith(ExitCodes.BAD_INPUT, line);
    CliRun.of("convert", pipe.toString(), dir.resolve("out.parquet").toString())
        .failsWith(ExitCodes.BAD_INPUT, line);
    assertThat(dir.resolve("out.parquet")).doesNotExist();
  }

  @Test
  void outputToNamedPipe_theReaderGetsTheReport_andThePipeStays() throws Exception {
    Path pipe = fifo("report.fifo");
    CompletableFuture<String> reader =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return Files.readString(pipe, StandardCharsets.UTF_8);
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            });

    CliRun run = CliRun.of("analyze", trace.toString(), "--format", "json", "-o", pipe.toString());

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(reader.get(60, TimeUnit.SECONDS)).startsWith("{").contains("\"verdict\"");
    assertThat(Files.isRegularFile(pipe)).isFalse();
  }

  @Test
  void outputThroughLinks_deviceKept_danglingLinkCreatesItsTarget() throws Exception {
    Path toNull = Files.createSymbolicLink(dir.resolve("null.txt"), Path.of("/dev/null"));
    Path dangling = Files.createSymbolicLink(dir.resolve("later.txt"), Path.of("made/report.txt"));
    Files.createDirectory(dir.resolve("made"));

    assertThat(CliRun.of("analyze", trace.toString(), "-o", toNull.toString()).code())
        .isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(CliRun.of("analyze", trace.toString(), "-o", dangling.toString()).code())
        .isEqualTo(ExitCodes.FAULT_FOUND);

    assertThat(Files.isSymbolicLink(toNull)).isTrue();
    assertThat(Files.isSymbolicLink(dangling)).isTrue();
    assertThat(Files.readString(dir.resolve("made/report.txt"))).contains("Verdict: BUGGY");
  }

  @Test
  void staleTemporaryOfAKilledConvert_isCleanedByTheNextConvert() throws Exception {
    Process ended = new ProcessBuilder("true").start();
    assertThat(ended.waitFor()).isZero();
    // what kill -9 during "convert run.csv out.parquet" leaves beside out.parquet
    String host = hostTagOfThisMachine();
    Path stale =
        Files.writeString(
            dir.resolve(".out.parquet.dl-analyze-" + host + "-" + ended.pid() + "-42.tmp"), "PAR1");

    CliRun run = CliRun.of("convert", trace.toString(), dir.resolve("out.parquet").toString());

    assertThat(run.code()).as(run.err()).isZero();
    assertThat(stale).doesNotExist();
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp")))
          .isEmpty();
    }
  }

  /** The host part of this machine's temporary names, read off a temporary file being written. */
  private String hostTagOfThisMachine() throws Exception {
    Path regular = dir.resolve("probe.txt");
    io.dlanalyze.trace.AtomicOutput output = io.dlanalyze.trace.AtomicOutput.create(regular);
    String name = output.temporary().getFileName().toString();
    output.abort();
    return name.replaceFirst("^\\.probe\\.txt\\.dl-analyze-([0-9a-f]{8})-.*$", "$1");
  }

  @Test
  void exitCodes_comeFromWhereTheErrorHappened_notFromTheExceptionClass() {
    assertThat(DlAnalyze.exitCode(new UncheckedIOException(new IOException("no such resource"))))
        .isEqualTo(ExitCodes.SOFTWARE);
    assertThat(DlAnalyze.exitCode(new CliException(ExitCodes.OUTPUT_ERROR, "x: cannot write")))
        .isEqualTo(ExitCodes.OUTPUT_ERROR);
    for (ErrorCode code : ErrorCode.values()) {
      assertThat(DlAnalyze.exitCode(new TraceFormatException(code, dir, null, "bad")))
          .isEqualTo(ExitCodes.BAD_INPUT);
    }
  }

  @Test
  void config_tooLargeOrSeveralDocuments_usageErrorNamingTheFile() throws IOException {
    Path big = Files.writeString(dir.resolve("big.yaml"), "mode: " + "x".repeat(3_000_000));
    Path two =
        Files.writeString(dir.resolve("two.yaml"), "mode: default\n---\nmode: deeplocalize\n");

    CliRun.of("analyze", trace.toString(), "--config", big.toString())
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: "
                + big
                + ": the config file is larger than 256 KiB: it holds thresholds, detectors and"
                + " layer exclusions, not data");
    CliRun.of(
            "batch",
            trace.toString(),
            "--out",
            dir.resolve("r").toString(),
            "--config",
            two.toString())
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: "
                + two
                + ": more than one YAML document (a second '---'): put every setting in one");
  }
}
