package io.dlanalyze.analyzer;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A loss that training does not minimize ({@code dltrace.objective}: a GAN player's loss, a
 * policy-gradient surrogate) is not judged by its trend; everything else still is.
 */
class LossObjectiveTest {
  private static final List<String> TREND =
      List.of(
          "not-learning",
          "little-progress",
          "oscillating-loss",
          "loss-divergence",
          "not-converging",
          "slow-convergence",
          "batch-order");

  /** 300 steps of two healthy layers under Adam whose loss swings around zero, both signs. */
  private static MemoryTrace.Builder surrogate() {
    return layers().model(Phase.LOSS, step -> Stats.scalar(0.15 * Math.sin(step * 2.1) - 0.01));
  }

  private static MemoryTrace.Builder layers() {
    return MemoryTrace.scripted(300)
        .layer("fc1", "relu")
        .layer("head", "softmax")
        .model(Phase.LEARNING_RATE, step -> Stats.scalar(1e-3))
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) -> Stats.norm(0.5 + 0.05 * Math.sin(step * 0.7 + layer)).withNumel(100))
        .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(3 + step * 1e-3).withNumel(100))
        .meta(TraceMetadata.OPTIMIZER, "Adam");
  }

  @Test
  void trendDetectors_areExactlyTheOnesMarked() {
    assertThat(BuiltInDetectors.all().stream().filter(DetectorInfo::judgesProgress))
        .extracting(DetectorInfo::id)
        .containsExactlyInAnyOrderElementsOf(TREND);
  }

  @Test
  void minimizedLoss_swingingAroundZero_isJudgedByItsTrend() {
    Report report = Analyses.analyze(surrogate().build(), AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    assertThat(report.findings()).anyMatch(f -> TREND.contains(f.detector()));
    assertThat(report.detectors()).containsAll(TREND);
  }

  /** The swinging surrogate of a v1 recorder that writes no objective, with rising returns. */
  private static MemoryTrace.Builder surrogateWithReturns() {
    return surrogate()
        .model(
            Phase.EPISODE_RETURN,
            step -> step % 10 == 9 ? Stats.of(20 + step * 0.5, 5).withNumel(2) : null);
  }

  @Test
  void episodeReturnsWithoutAnObjective_theLossTrendFindingsAreDropped_andTheReportSaysSo() {
    Report report = Analyses.analyze(surrogateWithReturns().build(), AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.HEALTHY);
    assertThat(report.findings()).noneMatch(f -> TREND.contains(f.detector()));
    assertThat(report.trace().warnings())
        .anyMatch(
            w ->
                w.startsWith("the run records episode returns but its metadata declares no")
                    && w.contains("finding(s) of the detectors that judge the loss's trend were"));
  }

  @Test
  void episodeReturnsUnderADeclaredMinimizedLoss_areNoReasonToDropTheTrend() {
    Report report =
        Analyses.analyze(
            surrogateWithReturns().meta(TraceMetadata.OBJECTIVE, "minimize").build(),
            AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    assertThat(report.findings()).anyMatch(f -> TREND.contains(f.detector()));
    assertThat(report.trace().warnings())
        .noneMatch(w -> w.startsWith("the run records episode returns"));
  }

  @Test
  void policyGradientSurrogate_trendDetectorsDoNotRun_andTheReportSaysSo() {
    Report report =
        Analyses.analyze(
            surrogate().meta(TraceMetadata.OBJECTIVE, "policy_gradient").build(),
            AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.HEALTHY);
    assertThat(report.findings()).noneMatch(f -> TREND.contains(f.detector()));
    assertThat(report.detectors()).doesNotContainAnyElementsOf(TREND).contains("numerical-error");
    assertThat(report.trace().warnings())
        .contains(
            "dltrace.objective is policy_gradient: the loss is not minimized, so neither it nor"
                + " the accuracy measures progress as a supervised run's do; the detectors that"
                + " judge progress (not-learning, oscillating-loss, slow-convergence,"
                + " not-converging, loss-divergence, batch-order, little-progress) did not run"
                + " and the rules the loss gates stayed at info; numerical errors, dead, frozen"
                + " and exploding parts are still judged");
  }

  @Test
  void adversarialLoss_thatTurnsNaN_isStillANumericalError() {
    MemoryTrace trace =
        layers()
            .model(Phase.LOSS, step -> Stats.scalar(step < 200 ? 1.0 : Double.NaN))
            .meta(TraceMetadata.OBJECTIVE, "adversarial")
            .build();

    Report report = Analyses.analyze(trace, AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    assertThat(report.findings())
        .filteredOn(f -> f.severity().atLeast(Severity.WARNING))
        .first()
        .satisfies(f -> assertThat(f.symptom()).isEqualTo(Symptom.NUMERICAL_ERROR));
  }
}
