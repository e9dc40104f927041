package io.dlanalyze.analyzer;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.report.JsonReportRenderer;
import io.dlanalyze.analyzer.report.RenderOptions;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The report does not depend on how the trace is cut into batches or row groups, nor on the order
 * of rows inside a step (the contract says readers must not rely on it).
 */
class ReportInvarianceTest {
  private static final JsonReportRenderer JSON = new JsonReportRenderer(RenderOptions.plain());

  static Stream<Arguments> traces() {
    AnalysisOptions defaults = AnalysisOptions.defaults();
    AnalysisOptions deeplocalize =
        AnalysisOptions.builder().mode(AnalysisMode.DEEPLOCALIZE).build();
    AnalysisOptions smallWindow = AnalysisOptions.builder().set(Thresholds.WINDOW, 7).build();
    SyntheticTrace small =
        SyntheticTrace.builder()
            .layers(4)
            .steps(300)
            .stepsPerEpoch(30)
            .seed(5)
            .fault(Fault.nan(2, 200))
            .fault(Fault.deadLayer(1, 100))
            .build();
    return Stream.of(
        Arguments.of("healthy", Analyses.trace(), defaults),
        Arguments.of("nan", Analyses.trace(Fault.nan(3, 420)), defaults),
        Arguments.of("dead", Analyses.trace(Fault.deadLayer(2, 300)), defaults),
        Arguments.of("frozen", Analyses.trace(Fault.frozenWeights(1, 400)), defaults),
        Arguments.of("plateau", Analyses.trace(Fault.lossPlateau(100)), defaults),
        Arguments.of("exploding", Analyses.trace(Fault.explodingGradient(500, 1.5)), defaults),
        Arguments.of("mixed-small-window", small, smallWindow),
        Arguments.of("deeplocalize", Analyses.trace(Fault.nan(3, 420)), deeplocalize),
        Arguments.of("deeplocalize-mixed", small, deeplocalize));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("traces")
  void batchSize_doesNotChangeTheReport(
      String name, SyntheticTrace trace, AnalysisOptions options) {
    String expected = JSON.render(Analyses.analyze(trace, options, (int) trace.totalRows()));
    for (int batchRows : new int[] {1, 7, 4096}) {
      assertThat(JSON.render(Analyses.analyze(trace, options, batchRows)))
          .as("batch size %d", batchRows)
          .isEqualTo(expected);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("traces")
  void shufflingRowsInsideSteps_doesNotChangeTheReport(
      String name, SyntheticTrace trace, AnalysisOptions options) {
    MemoryTrace rows;
    try (TraceReader reader = trace.open(ReadOptions.all())) {
      rows = MemoryTrace.copyOf(reader);
    }
    String expected = JSON.render(Analyses.analyze(rows, options, 4096));
    for (long seed = 1; seed <= 3; seed++) {
      assertThat(JSON.render(Analyses.analyze(rows.shuffledWithinSteps(seed), options, 333)))
          .as("shuffle seed %d", seed)
          .isEqualTo(expected);
    }
  }

  static Stream<Arguments> fileTraces() {
    SyntheticTrace small =
        SyntheticTrace.builder()
            .layers(4)
            .steps(300)
            .stepsPerEpoch(30)
            .seed(5)
            .fault(Fault.nan(2, 200))
            .fault(Fault.deadLayer(1, 100))
            .build();
    return Stream.of(
        Arguments.of(
            "mixed.parquet", small, AnalysisOptions.builder().set(Thresholds.WINDOW, 7).build()),
        Arguments.of(
            "mixed.arrow", small, AnalysisOptions.builder().set(Thresholds.WINDOW, 7).build()),
        Arguments.of(
            "deeplocalize.arrows",
            small,
            AnalysisOptions.builder().mode(AnalysisMode.DEEPLOCALIZE).build()));
  }

  /** Row groups (Parquet) and record batches (Arrow) of several sizes give the same report. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fileTraces")
  void rowGroupSize_doesNotChangeTheReport(
      String name, SyntheticTrace trace, AnalysisOptions options, @TempDir Path dir) {
    String expected = null;
    int[] sizes =
        name.endsWith(".parquet") ? new int[] {100, 1000, 1 << 20} : new int[] {7, 1000, 1 << 20};
    for (int rowGroup : sizes) {
      Path path =
          TestTraces.write(
              dir.resolve(rowGroup + "-" + name),
              trace,
              WriteOptions.defaults().withRowGroupRows(rowGroup));
      String json =
          JSON.render(new Analyzer().analyze(path, options).withoutTiming())
              .replace(path.toString(), "TRACE");
      if (expected == null) {
        expected = json;
      } else {
        assertThat(json).as("row group %d", rowGroup).isEqualTo(expected);
      }
    }
  }
}
