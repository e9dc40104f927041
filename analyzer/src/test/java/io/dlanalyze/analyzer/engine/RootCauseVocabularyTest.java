package io.dlanalyze.analyzer.engine;

import static io.dlanalyze.analyzer.EvidenceKeys.LONGEST_RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.WINDOW;
import static io.dlanalyze.analyzer.EvidenceKeys.ZERO_FRACTION_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.ZERO_STEPS;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.BuiltInDetectors;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorInfo;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceReader;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The root-cause analysis reads findings through the typed vocabulary: the cause is built from the
 * finding's data, not from its message; a detector it has no words for is quoted.
 */
class RootCauseVocabularyTest {
  @Test
  void builtInFinding_causeFromItsData_messageIgnoredAndLayerNameKeptAsIs() {
    Finding finding =
        Finding.builder(DetectorIds.DEAD_OR_ZERO, Symptom.DEAD_OR_ZERO, Severity.ERROR)
            .at(1, Phase.ACTIVATION)
            .steps(100, 199, 100)
            .evidence(
                Evidence.builder()
                    .put(ZERO_FRACTION_THRESHOLD, 0.999)
                    .put(WINDOW, 50)
                    .put(LONGEST_RUN_STEPS, 100)
                    .put(ZERO_STEPS, 100)
                    .build())
            .consequences(List.of(new Consequence(1, "Dense_1", Phase.GRADIENT, 100, 100)))
            .message("Not the words the cause uses.")
            .build();

    Report report = analyze(DetectorIds.DEAD_OR_ZERO, finding);

    assertThat(report.rootCause().cause())
        .isEqualTo(
            "All-zero values: Dense_1 activation values were all zero (zero_fraction >= 0.999) for"
                + " 100 steps in a row from step 100, 100 steps in all up to step 199; so were its"
                + " gradient values");
  }

  @Test
  void pluginFinding_quotedWithoutItsFinalPeriod() {
    Finding finding =
        Finding.builder("my-rule", Symptom.OSCILLATION, Severity.WARNING)
            .at(-1, Phase.LOSS)
            .steps(5, 9, 5)
            .message("The loss did something odd.")
            .build();

    Report report = analyze("my-rule", finding);

    assertThat(report.rootCause().cause())
        .isEqualTo("Oscillating training curve: The loss did something odd");
  }

  @Test
  void everyBuiltInDetectorId_isADetectorIdsConstant() throws IllegalAccessException {
    List<String> constants = new ArrayList<>();
    for (Field field : DetectorIds.class.getDeclaredFields()) {
      if (Modifier.isStatic(field.getModifiers()) && field.getType() == String.class) {
        constants.add((String) field.get(null));
      }
    }
    List<String> registered = new ArrayList<>();
    for (DetectorInfo info : BuiltInDetectors.all()) {
      registered.add(info.id());
    }

    assertThat(constants).containsExactlyInAnyOrderElementsOf(registered);
  }

  /** Runs one detector that reports {@code finding} over a 60-step trace with layers 0 and 1. */
  private static Report analyze(String id, Finding finding) {
    MemoryTrace.Builder rows = MemoryTrace.builder();
    for (long s = 0; s < 60; s++) {
      rows.model(s, Phase.LOSS, 1.0);
      rows.layer(s, 0, "fc0", "Linear", Phase.FORWARD, 0.5);
      rows.layer(s, 1, "Dense_1", "Linear", Phase.ACTIVATION, 0.0);
    }
    Detector detector =
        new Detector() {
          @Override
          public Set<Column> columns() {
            return EnumSet.of(Column.MEAN);
          }

          @Override
          public void observe(StepView step) {}

          @Override
          public List<Finding> finish(AnalysisContext context) {
            return List.of(finding);
          }
        };
    DetectorInfo info =
        new DetectorInfo(
            id,
            finding.symptom(),
            finding.severity(),
            "Reports one finding made in advance",
            "test",
            Set.of(AnalysisMode.DEFAULT),
            () -> detector);
    try (TraceReader reader = rows.build().open(4096)) {
      return new Analyzer(List.of(info)).analyze(reader, AnalysisOptions.defaults());
    }
  }
}
