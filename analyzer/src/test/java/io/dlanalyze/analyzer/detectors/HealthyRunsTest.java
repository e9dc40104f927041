package io.dlanalyze.analyzer.detectors;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.analyzer.Analyses;
import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.BuiltInDetectors;
import io.dlanalyze.analyzer.DetectorInfo;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * False-positive control: every default-mode detector runs over healthy runs, synthetic ones of
 * several shapes (up to 200,000 steps: long runs whose loss falls slowly per step) and the fixed
 * twins of sample-traces/, and nothing above info may come out.
 */
class HealthyRunsTest {
  private static final Path MANIFEST = Path.of("..", "sample-traces", "manifest.json");

  static Stream<Arguments> syntheticShapes() {
    return Stream.of(
        Arguments.of(2, 300, 30, 1L),
        Arguments.of(6, 1_000, 100, 2L),
        Arguments.of(12, 600, 50, 3L),
        Arguments.of(24, 400, 40, 4L),
        Arguments.of(4, 5_000, 500, 5L),
        Arguments.of(6, 10_000, 500, 6L),
        Arguments.of(2, 50_000, 500, 7L),
        Arguments.of(1, 200_000, 500, 8L));
  }

  @ParameterizedTest(name = "{0} layers, {1} steps")
  @MethodSource("syntheticShapes")
  void syntheticHealthyRun_everyDetector_nothingAboveInfo(
      int layers, int steps, int perEpoch, long seed) {
    SyntheticTrace trace =
        SyntheticTrace.builder()
            .layers(layers)
            .steps(steps)
            .stepsPerEpoch(perEpoch)
            .seed(seed)
            .optionalPhases(true)
            .build();

    Report report = Analyses.analyze(trace);

    assertThat(aboveInfo(report)).isEmpty();
    assertThat(report.verdict()).isEqualTo(Verdict.HEALTHY);
    assertThat(report.detectors()).containsAll(defaultIds());
  }

  static Stream<Arguments> healthySamples() throws Exception {
    if (!Files.exists(MANIFEST)) {
      return Stream.of(Arguments.of("(no sample-traces/manifest.json yet)", null));
    }
    JsonNode manifest = new ObjectMapper().readTree(MANIFEST.toFile());
    List<Arguments> cases = new ArrayList<>();
    for (JsonNode c : manifest.get("cases")) {
      if (!c.get("buggy").asBoolean()) {
        cases.add(
            Arguments.of(
                c.get("id").asText(), MANIFEST.getParent().resolve(c.get("trace").asText())));
      }
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("healthySamples")
  void fixedSampleTwin_everyDetector_nothingAboveInfo(String id, Path trace) {
    Assumptions.assumeTrue(trace != null, "sample-traces/ has not landed");
    Analyzer analyzer = new Analyzer();
    AnalysisOptions options = AnalysisOptions.defaults();
    Report report;
    try (TraceReader reader =
        TraceReaders.open(
            trace, new ReadOptions(analyzer.projection(options), ReadOptions.DEFAULT_BATCH_ROWS))) {
      report = analyzer.analyze(reader, options);
    }

    assertThat(aboveInfo(report)).as(id).isEmpty();
    assertThat(report.verdict()).as(id).isEqualTo(Verdict.HEALTHY);
  }

  private static List<String> aboveInfo(Report report) {
    List<String> found = new ArrayList<>();
    for (Finding finding : report.findings()) {
      if (finding.severity().atLeast(Severity.WARNING)) {
        found.add(finding.detector() + ": " + finding.message());
      }
    }
    return found;
  }

  private static List<String> defaultIds() {
    List<String> ids = new ArrayList<>();
    for (DetectorInfo info : BuiltInDetectors.forMode(AnalysisMode.DEFAULT)) {
      ids.add(info.id());
    }
    return ids;
  }
}
