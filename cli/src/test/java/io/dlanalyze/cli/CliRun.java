package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;

/** One run of the command line with its captured output. */
record CliRun(int code, String out, String err) {
  static CliRun of(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = DlAnalyze.run(new PrintWriter(out), new PrintWriter(err), args);
    return new CliRun(code, out.toString(), err.toString());
  }

  /** The first line of standard error. */
  String errorLine() {
    return err.lines().findFirst().orElse("");
  }

  /** Asserts a user error: the exit code, the exact first error line and no stack trace. */
  CliRun failsWith(int expectedCode, String firstLine) {
    assertThat(code).as("exit code; stderr: %s", err).isEqualTo(expectedCode);
    assertThat(errorLine()).isEqualTo(firstLine);
    assertNoStackTrace();
    return this;
  }

  void assertNoStackTrace() {
    assertThat(err).doesNotContain("\tat ").doesNotContain("Exception");
  }
}
