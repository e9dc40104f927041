package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dl-analyze TRACE --format html}: the HTML report with its charts, to a file or stdout. */
class AnalyzeHtmlTest {
  @TempDir Path dir;

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    return DlAnalyze.run(new PrintWriter(out), new PrintWriter(err), args);
  }

  private Path write(String name, Fault... faults) {
    SyntheticTrace.Builder builder =
        SyntheticTrace.builder().steps(1_000).stepsPerEpoch(100).seed(1);
    for (Fault fault : faults) {
      builder.fault(fault);
    }
    return TestTraces.write(dir.resolve(name), builder.build(), WriteOptions.defaults());
  }

  private List<String> files() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void analyze_formatHtmlWithOutput_writesPageWithChartsAndNothingElse() throws IOException {
    Path trace = write("nan.parquet", Fault.nan(3, 420));
    Path report = dir.resolve("report.html");

    int code = run(trace.toString(), "--format", "html", "--output", report.toString());

    assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(out.toString()).isEmpty();
    assertThat(err.toString()).isEmpty();
    assertThat(files()).containsExactly("nan.parquet", "report.html");
    String html = Files.readString(report, StandardCharsets.UTF_8);
    assertThat(html).startsWith("<!DOCTYPE html>").contains("<header class=\"banner buggy\">");
    assertThat(html)
        .contains(
            "<svg class=\"chart heatmap\"",
            "starts: step 420",
            "Sampling: steps 0 to 999 in 200 buckets of 5 steps");
    assertThat(html).doesNotContain("Charts need the trace's series");
  }

  @Test
  void analyze_formatHtmlWithoutOutput_printsPageToStdout() {
    int code = run("analyze", write("healthy.arrows").toString(), "--format", "HTML");

    assertThat(code).isEqualTo(ExitCodes.OK);
    assertThat(out.toString())
        .startsWith("<!DOCTYPE html>")
        .endsWith("</html>\n")
        .contains("<header class=\"banner healthy\">", "<svg class=\"chart");
  }

  @Test
  void analyze_formatHtmlFirstFault_chartsStopAtTheStopStep() {
    int code =
        run(
            "analyze",
            write("nan.arrow", Fault.nan(2, 300)).toString(),
            "--format",
            "html",
            "--first-fault");

    assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(out.toString()).contains("Sampling: steps 0 to 300 in 151 buckets of 2 steps");
  }

  @Test
  void analyze_formatHtmlOutputDirectoryMissing_exitFiveAndNoFile() throws IOException {
    Path trace = write("nan.parquet", Fault.nan(3, 420));

    int code =
        run(
            trace.toString(),
            "--format",
            "html",
            "--output",
            dir.resolve("missing/report.html").toString());

    assertThat(code).isEqualTo(ExitCodes.OUTPUT_ERROR);
    assertThat(err.toString())
        .startsWith("dl-analyze: error: ")
        .contains("cannot write the report");
    assertThat(files()).containsExactly("nan.parquet");
  }
}
