package io.dlanalyze.analyzer;

import io.dlanalyze.analyzer.detectors.DeadOrZeroDetector;
import io.dlanalyze.analyzer.detectors.DeepLocalizeDetector;
import io.dlanalyze.analyzer.detectors.NotLearningDetector;
import io.dlanalyze.analyzer.detectors.NumericalErrorDetector;
import io.dlanalyze.analyzer.detectors.UnchangedValuesDetector;
import java.util.ArrayList;
import java.util.List;

/**
 * Every detector that ships with dl-analyze, in a stable order (the order of {@code
 * list-detectors} and of {@code docs/detectors.md}). A new built-in detector is one line here.
 */
public final class BuiltInDetectors {
  private static final List<DetectorInfo> ALL =
      List.of(
          DetectorInfo.of(NumericalErrorDetector.class, NumericalErrorDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(DeadOrZeroDetector.class, DeadOrZeroDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(UnchangedValuesDetector.class, UnchangedValuesDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(NotLearningDetector.class, NotLearningDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(DeepLocalizeDetector.class, DeepLocalizeDetector::new, AnalysisMode.DEEPLOCALIZE));

  private BuiltInDetectors() {}

  /** Every built-in detector, both modes. */
  public static List<DetectorInfo> all() {
    return ALL;
  }

  /** The built-in detectors that run in {@code mode}, in registry order. */
  public static List<DetectorInfo> forMode(AnalysisMode mode) {
    List<DetectorInfo> selected = new ArrayList<>();
    for (DetectorInfo info : ALL) {
      if (info.runsIn(mode)) {
        selected.add(info);
      }
    }
    return selected;
  }
}
