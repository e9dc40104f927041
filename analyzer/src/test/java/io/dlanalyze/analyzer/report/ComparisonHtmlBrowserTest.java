package io.dlanalyze.analyzer.report;

import static io.dlanalyze.analyzer.report.HtmlReports.count;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.compare.Comparison;
import io.dlanalyze.analyzer.compare.TraceComparison;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Opens the comparison page of a sample buggy/fixed pair in headless Chromium (as {@link
 * HtmlReportBrowserTest} does for reports): no console message, every chart in the DOM, both runs
 * drawn in each.
 */
class ComparisonHtmlBrowserTest {
  @TempDir Path dir;

  @Test
  void comparisonPage_inHeadlessChromium_rendersWithoutConsoleMessages() throws Exception {
    Path traces = HtmlReportBrowserTest.repoRoot().resolve("sample-traces/traces");
    Comparison c =
        TraceComparison.compare(
            traces.resolve("exploding-gradient-buggy.parquet"),
            traces.resolve("exploding-gradient-fixed.parquet"),
            3,
            AnalysisOptions.defaults());
    String html = ComparisonHtmlRenderer.render(c);
    int charts = count(html, "<svg class=\"chart");
    assertThat(charts).as("loss, accuracy and three statistics of three layers").isGreaterThan(4);
    assertThat(html).contains("first divergence: step " + c.firstDivergence().step());

    Path file = dir.resolve("compare.html");
    Files.writeString(file, html, StandardCharsets.UTF_8);
    Path out = dir.resolve("dom.html");
    Path err = dir.resolve("chromium.log");
    Process process =
        new ProcessBuilder(
                HtmlReportBrowserTest.chromium().toString(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--user-data-dir=" + Files.createDirectory(dir.resolve("profile")),
                "--enable-logging=stderr",
                "--v=1",
                "--dump-dom",
                file.toUri().toString())
            .redirectOutput(out.toFile())
            .redirectError(err.toFile())
            .start();
    assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("chromium finished").isTrue();
    String log = Files.readString(err, StandardCharsets.UTF_8);
    assertThat(process.exitValue()).as("chromium exit code; log: %s", log).isZero();
    List<String> console = new ArrayList<>();
    for (String line : log.split("\n")) {
      if (line.contains(":CONSOLE")
          || line.contains("Content Security Policy")
          || line.contains("Uncaught")) {
        console.add(line);
      }
    }
    assertThat(console).as("console messages").isEmpty();
    String dom = Files.readString(out, StandardCharsets.UTF_8);
    assertThat(count(dom, "<svg class=\"chart")).isEqualTo(charts);
    assertThat(count(dom, "stroke=\"#1f77b4\"")).as("run a drawn").isPositive();
    assertThat(count(dom, "stroke=\"#d62728\"")).as("run b drawn").isPositive();
  }
}
