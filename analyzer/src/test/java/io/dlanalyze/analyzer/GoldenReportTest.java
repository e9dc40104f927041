package io.dlanalyze.analyzer;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.report.RenderOptions;
import io.dlanalyze.analyzer.report.ReportFormat;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Byte-for-byte golden reports (text, JSON, markdown) of a handful of synthetic traces, under
 * {@code src/test/resources/golden/<case>/}. Each case's trace is the deterministic synthetic trace
 * named below. After an intended change, rewrite the files with {@code mvn -pl analyzer -am test
 * -Dtest=GoldenReportTest -Dgolden.update=true} and review the diff.
 */
class GoldenReportTest {
  private static final Path ROOT = Path.of("src", "test", "resources", "golden");
  private static final boolean UPDATE = Boolean.getBoolean("golden.update");

  static Stream<Arguments> cases() {
    AnalysisOptions defaults = AnalysisOptions.defaults();
    AnalysisOptions deeplocalize =
        AnalysisOptions.builder().mode(AnalysisMode.DEEPLOCALIZE).build();
    return Stream.of(
        Arguments.of("healthy", Analyses.trace(), defaults),
        Arguments.of("nan-layer3", Analyses.trace(Fault.nan(3, 420)), defaults),
        Arguments.of("dead-layer", Analyses.trace(Fault.deadLayer(2, 300)), defaults),
        Arguments.of("frozen-weights", Analyses.trace(Fault.frozenWeights(1, 400)), defaults),
        Arguments.of("loss-plateau", Analyses.trace(Fault.lossPlateau(100)), defaults),
        Arguments.of("exploding", Analyses.trace(Fault.explodingGradient(500, 1.5)), defaults),
        Arguments.of("deeplocalize-healthy", Analyses.trace(), deeplocalize),
        Arguments.of("deeplocalize-nan-layer3", Analyses.trace(Fault.nan(3, 420)), deeplocalize));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void report_matchesGoldenFiles(String name, SyntheticTrace trace, AnalysisOptions options)
      throws IOException {
    Report report = Analyses.analyze(trace, options);
    for (ReportFormat format : ReportFormat.values()) {
      if (format == ReportFormat.HTML) {
        continue; // the HTML page has its own tests: HtmlReportRendererTest, HtmlReportBrowserTest
      }
      String rendered = format.renderer(RenderOptions.plain()).render(report);
      Path file = ROOT.resolve(name).resolve("report." + extension(format));
      if (UPDATE) {
        Files.createDirectories(file.getParent());
        Files.writeString(file, rendered, StandardCharsets.UTF_8);
      }
      assertThat(file).as("golden file %s (rewrite with -Dgolden.update=true)", file).exists();
      assertThat(rendered).as("%s", file).isEqualTo(Files.readString(file, StandardCharsets.UTF_8));
    }
  }

  private static String extension(ReportFormat format) {
    return switch (format) {
      case TEXT -> "txt";
      case JSON -> "json";
      case MARKDOWN -> "md";
      case HTML -> "html";
    };
  }
}
