package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Unreadable traces and directories, and an out-of-memory inside a batch, through {@code
 * ./dl-analyze} (the packaged jar). Root reads any file whatever its mode, so when the tests run as
 * root the tool runs under {@code setpriv} without the two capabilities that let root ignore file
 * modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH): a mode-000 file is then unreadable as for any
 * user. Nothing is skipped.
 */
class PermissionsIT {
  private static final Path ROOT = Python.repoRoot();
  private Path dir;

  record Run(int exitCode, String out, String err) {}

  @BeforeEach
  void makeDir() throws IOException {
    dir = Files.createTempDirectory("dl-analyze-permissions");
  }

  @AfterEach
  void removeDir() throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        if (!Files.isSymbolicLink(path)) {
          path.toFile().setReadable(true);
          path.toFile().setExecutable(true);
        }
        Files.deleteIfExists(path);
      }
    }
  }

  private static boolean root() {
    return "root".equals(System.getProperty("user.name"));
  }

  private static Run run(Map<String, String> env, String... args) throws Exception {
    List<String> command = new ArrayList<>();
    if (root()) {
      command.addAll(List.of("setpriv", "--bounding-set=-dac_override,-dac_read_search"));
    }
    command.add(ROOT.resolve("dl-analyze").toString());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).directory(ROOT.toFile());
    builder.environment().put("DL_ANALYZE_NO_BUILD", "1");
    builder.environment().remove("DL_ANALYZE_JAVA_OPTS");
    builder.environment().putAll(env);
    Path out = Files.createTempFile("permissions", ".out");
    Path err = Files.createTempFile("permissions", ".err");
    try {
      Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      if (!process.waitFor(180, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new AssertionError("dl-analyze " + String.join(" ", args) + " did not finish");
      }
      return new Run(
          process.exitValue(),
          Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  private Path trace(String name) throws Exception {
    Path trace = dir.resolve(name);
    Files.createDirectories(trace.getParent());
    Run run = run(Map.of(), "generate", trace.toString(), "--layers", "2", "--steps", "60");
    assertThat(run.exitCode()).as(run.err()).isZero();
    return trace;
  }

  @Test
  void unreadableTrace_analyzeIoErrorExitFour_batchRowIoError() throws Exception {
    Path secret = trace("in/secret.arrows");
    trace("in/open.arrows");
    Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("---------"));

    Run analyze = run(Map.of(), "analyze", secret.toString());
    Run batch =
        run(
            Map.of(),
            "batch",
            dir.resolve("in").toString(),
            "--out",
            dir.resolve("out").toString());

    assertThat(analyze.exitCode()).as(analyze.err()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(analyze.err())
        .isEqualTo(
            "dl-analyze: error: " + secret + ": permission denied: the file cannot be read\n");
    assertThat(batch.exitCode()).as(batch.err()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(batch.out())
        .contains("1 healthy, 0 buggy, 0 inconclusive, 1 unreadable")
        .contains("io_error")
        .doesNotContain("not_found");
  }

  @Test
  void unlistableDirectory_countsAsUnreadable_exitFour() throws Exception {
    trace("in/open.arrows");
    trace("in/locked/hidden.arrows");
    Path locked = dir.resolve("in/locked");
    Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("---------"));

    Run batch =
        run(
            Map.of(),
            "batch",
            dir.resolve("in").toString(),
            "--out",
            dir.resolve("out").toString());

    assertThat(batch.exitCode()).as(batch.err()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(batch.out())
        .contains("1 healthy, 0 buggy, 0 inconclusive, 1 unreadable")
        .contains(locked + ": cannot be listed: permission denied");
  }

  @Test
  void outOfMemoryInABatch_isAnOutOfMemoryRowInWords() throws Exception {
    // 100,000 layers, one row each: the detectors' per-layer state does not fit in 64 MB
    Path in = Files.createDirectories(dir.resolve("in"));
    StringBuilder csv =
        new StringBuilder(
            "epoch,batch,step,layer_index,layer_name,layer_type,phase,mean,std,min,max,l2_norm,"
                + "zero_fraction,nan_count,inf_count,numel\n");
    for (int step = 0; step < 100_000; step++) {
      csv.append("0,").append(step).append(',').append(step).append(',').append(step);
      csv.append(",l").append(step).append(",Linear,forward,0.5,0.1,0,1,1.0,0.0,0,0,10\n");
    }
    Files.writeString(in.resolve("wide.csv"), csv);

    Run batch =
        run(
            Map.of("DL_ANALYZE_JAVA_OPTS", "-Xmx64m"),
            "batch",
            in.toString(),
            "--out",
            dir.resolve("out").toString(),
            "--format",
            "json",
            "--jobs",
            "1");

    assertThat(batch.exitCode()).as(batch.err()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(batch.out())
        .contains("\"error_code\" : \"out_of_memory\"")
        .contains("out of memory with a heap of ")
        .doesNotContain("java.lang")
        .doesNotContain("OutOfMemoryError");
  }
}
