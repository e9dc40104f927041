package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs Debian's system Python 3 (which carries python3-torch) from tests. */
final class Python {
  static final String INTERPRETER = "/usr/bin/python3";

  private Python() {}

  /** The repository root (surefire sets {@code repo.root}). */
  static Path repoRoot() {
    String root = System.getProperty("repo.root");
    Path path = root != null ? Path.of(root) : Path.of("").toAbsolutePath().getParent();
    if (!Files.isDirectory(path.resolve("recorders/pytorch"))) {
      fail("cannot find the repository root (recorders/pytorch) from " + path);
    }
    return path;
  }

  /** Fails with install instructions unless /usr/bin/python3 can import torch and sklearn. */
  static void requireTorch() {
    Result result =
        run(List.of(INTERPRETER, "-c", "import torch, sklearn, numpy"), repoRoot(), 120);
    if (result.exitCode() != 0) {
      fail(
          "these tests need PyTorch and scikit-learn for "
              + INTERPRETER
              + ": run .ci/run, or apt-get install python3-torch python3-sklearn\n"
              + result.output());
    }
  }

  record Result(int exitCode, String output) {}

  /** Runs a command, stdout and stderr merged, and returns its exit code and output. */
  static Result run(List<String> command, Path workDir, long timeoutSeconds) {
    ProcessBuilder builder =
        new ProcessBuilder(new ArrayList<>(command)).directory(workDir.toFile());
    builder.redirectErrorStream(true);
    builder.environment().put("OMP_NUM_THREADS", "1");
    builder.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    try {
      Process process;
      try {
        process = builder.start();
      } catch (IOException e) {
        fail(
            "cannot start "
                + command.get(0)
                + " ("
                + e.getMessage()
                + "): run .ci/run, or apt-get install python3 python3-torch python3-sklearn");
        throw new AssertionError(e);
      }
      process.getOutputStream().close();
      byte[] output = process.getInputStream().readAllBytes();
      if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        fail(String.join(" ", command) + " did not finish in " + timeoutSeconds + " s");
      }
      return new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new AssertionError(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
