package io.dlanalyze.analyzer;

import io.dlanalyze.analyzer.detectors.BatchOrderDetector;
import io.dlanalyze.analyzer.detectors.DeadOrZeroDetector;
import io.dlanalyze.analyzer.detectors.DeepLocalizeDetector;
import io.dlanalyze.analyzer.detectors.DyingReluDetector;
import io.dlanalyze.analyzer.detectors.EffectiveLearningRateDetector;
import io.dlanalyze.analyzer.detectors.ExplodingGradientDetector;
import io.dlanalyze.analyzer.detectors.GradientAccumulationDetector;
import io.dlanalyze.analyzer.detectors.InitialLossDetector;
import io.dlanalyze.analyzer.detectors.InputRangeDetector;
import io.dlanalyze.analyzer.detectors.LayerModeDetector;
import io.dlanalyze.analyzer.detectors.LittleProgressDetector;
import io.dlanalyze.analyzer.detectors.LossDefinitionDetector;
import io.dlanalyze.analyzer.detectors.LossDivergenceDetector;
import io.dlanalyze.analyzer.detectors.LossMagnitudeDetector;
import io.dlanalyze.analyzer.detectors.MissingActivationDetector;
import io.dlanalyze.analyzer.detectors.NotConvergingDetector;
import io.dlanalyze.analyzer.detectors.NotLearningDetector;
import io.dlanalyze.analyzer.detectors.NumericalErrorDetector;
import io.dlanalyze.analyzer.detectors.OscillatingLossDetector;
import io.dlanalyze.analyzer.detectors.ReturnProgressDetector;
import io.dlanalyze.analyzer.detectors.SaturationDetector;
import io.dlanalyze.analyzer.detectors.ShrinkingWeightsDetector;
import io.dlanalyze.analyzer.detectors.SlowConvergenceDetector;
import io.dlanalyze.analyzer.detectors.TargetRangeDetector;
import io.dlanalyze.analyzer.detectors.UnchangedValuesDetector;
import io.dlanalyze.analyzer.detectors.VanishingGradientDetector;
import io.dlanalyze.analyzer.detectors.WeightVarianceDetector;
import java.util.ArrayList;
import java.util.List;

/**
 * Every detector that ships with dl-analyze, in a stable order (the order of {@code list-detectors}
 * and of {@code docs/detectors.md}). A new built-in detector is one line here.
 */
public final class BuiltInDetectors {
  private static final List<DetectorInfo> ALL =
      List.of(
          DetectorInfo.of(
              NumericalErrorDetector.class, NumericalErrorDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(DeadOrZeroDetector.class, DeadOrZeroDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              UnchangedValuesDetector.class, UnchangedValuesDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              NotLearningDetector.class, NotLearningDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              ExplodingGradientDetector.class,
              ExplodingGradientDetector::new,
              AnalysisMode.DEFAULT),
          DetectorInfo.of(
              VanishingGradientDetector.class,
              VanishingGradientDetector::new,
              AnalysisMode.DEFAULT),
          DetectorInfo.of(DyingReluDetector.class, DyingReluDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(SaturationDetector.class, SaturationDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              OscillatingLossDetector.class, OscillatingLossDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              SlowConvergenceDetector.class, SlowConvergenceDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              NotConvergingDetector.class, NotConvergingDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              EffectiveLearningRateDetector.class,
              EffectiveLearningRateDetector::new,
              AnalysisMode.DEFAULT),
          DetectorInfo.of(InputRangeDetector.class, InputRangeDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              TargetRangeDetector.class, TargetRangeDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              WeightVarianceDetector.class, WeightVarianceDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              LossDefinitionDetector.class, LossDefinitionDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              MissingActivationDetector.class,
              MissingActivationDetector::new,
              AnalysisMode.DEFAULT),
          DetectorInfo.of(LayerModeDetector.class, LayerModeDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              InitialLossDetector.class, InitialLossDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              GradientAccumulationDetector.class,
              GradientAccumulationDetector::new,
              AnalysisMode.DEFAULT),
          DetectorInfo.of(
              LossDivergenceDetector.class, LossDivergenceDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(BatchOrderDetector.class, BatchOrderDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              LittleProgressDetector.class, LittleProgressDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              ShrinkingWeightsDetector.class, ShrinkingWeightsDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              ReturnProgressDetector.class, ReturnProgressDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              LossMagnitudeDetector.class, LossMagnitudeDetector::new, AnalysisMode.DEFAULT),
          DetectorInfo.of(
              DeepLocalizeDetector.class, DeepLocalizeDetector::new, AnalysisMode.DEEPLOCALIZE));

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
