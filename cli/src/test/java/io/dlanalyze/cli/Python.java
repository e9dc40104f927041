package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the test Python environment's interpreter (torch, TensorFlow, Keras, Lightning, pyarrow,
 * scikit-learn, pytest), which build/test-env.sh sets up and the build passes as the system
 * property {@code test.python}.
 */
final class Python {
  private Python() {}

  /** The repository root (surefire sets {@code repo.root}). */
  static Path repoRoot() {
    String root = System.getProperty("repo.root");
    Path path = root != null ? Path.of(root) : Path.of("").toAbsolutePath().getParent();
    if (!Files.isDirectory(path.resolve("recorders/dltrace"))) {
      fail("cannot find the repository root (recorders/dltrace) from " + path);
    }
    return path;
  }

  /** The interpreter; fails with the command that sets it up when it is missing. */
  static String interpreter() {
    String configured = System.getProperty("test.python");
    Path python =
        configured != null
            ? Path.of(configured)
            : repoRoot().resolve("target/test-env/python/bin/python");
    if (!Files.isExecutable(python)) {
      fail(
          "the test Python environment is missing ("
              + python
              + "): run build/test-env.sh,"
              + " or the whole build from the repository root (mvn -B verify runs it)");
    }
    return python.toString();
  }

  /** Fails with the set-up command unless the interpreter imports the recorders' frameworks. */
  static void requireFrameworks() {
    Result result =
        run(
            List.of(interpreter(), "-c", "import torch, sklearn, numpy, keras, lightning, pyarrow"),
            repoRoot(),
            300);
    if (result.exitCode() != 0) {
      fail(
          "the test Python environment cannot import the frameworks: delete it and run"
              + " build/test-env.sh again\n"
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
    builder.environment().put("TF_CPP_MIN_LOG_LEVEL", "3");
    builder.environment().put("TF_ENABLE_ONEDNN_OPTS", "0");
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
                + "): run build/test-env.sh (mvn -B verify runs it)");
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
