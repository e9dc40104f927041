package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Runs the recorders' own pytest suite (recorders/tests) with the test Python environment, so that
 * {@code mvn -B verify} covers it.
 */
class RecorderPythonTestsTest {
  @Test
  void recorderUnitTests_systemPython_allPass() {
    Python.requireFrameworks();

    Python.Result result =
        Python.run(
            List.of(
                Python.interpreter(),
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "recorders/tests"),
            Python.repoRoot(),
            600);

    assertThat(result.exitCode()).as(result.output()).isZero();
    assertThat(result.output()).containsPattern("[1-9][0-9]* passed").doesNotContain("failed");
  }
}
