package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.EvidenceKeys;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import java.util.function.LongFunction;
import org.junit.jupiter.api.Test;

class LossMagnitudeDetectorTest {
  private static final String ID = "loss-magnitude";

  /** A generator's loss over 1000 steps under an adversarial objective. */
  private static MemoryTrace.Builder gan(String objective, LongFunction<Double> loss) {
    return MemoryTrace.scripted(1000)
        .meta(TraceMetadata.OBJECTIVE, objective)
        .layer("gen", "relu")
        .layer("critic", "linear")
        .model(Phase.LOSS, step -> Stats.scalar(loss.apply(step)));
  }

  /** A deterministic wobble in [-1, 1]. */
  private static double wobble(long step) {
    return Math.sin(step * 1.7) * Math.cos(step * 0.3);
  }

  @Test
  void generatorLossThatRunsAwayByOrdersOfMagnitude_isTheGameBlowingUp() {
    // WGAN with the generator's sign flipped: -mean(critic(fake)) falls to -1e9
    List<Finding> found =
        findings(
            gan("adversarial", step -> -0.3 * Math.pow(10, 9.0 * step / 999) + wobble(step)), ID);

    assertThat(found).hasSize(1);
    Finding f = found.get(0);
    assertThat(f.isModelLevel()).isTrue();
    assertThat(f.symptom()).isEqualTo(Symptom.NOT_LEARNING);
    assertThat(f.evidence().get(EvidenceKeys.GROWTH)).isGreaterThan(1e6);
    assertThat(f.evidence().get(EvidenceKeys.GROWTH_THRESHOLD)).isEqualTo(1000.0);
    assertThat(f.evidence().get(EvidenceKeys.BLOCK_STEPS)).isEqualTo(50L);
    assertThat(f.message()).contains("grew 10^").contains("objective adversarial");
    // the blow-up starts where the blocks cross the bar and stay above it
    assertThat(f.firstStep()).isBetween(300L, 450L);
    RootCause root =
        analyze(
                gan("adversarial", step -> -0.3 * Math.pow(10, 9.0 * step / 999)).build(),
                AnalysisOptions.defaults())
            .rootCause();
    assertThat(root.symptom()).isEqualTo("not_learning");
    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
  }

  @Test
  void aHealthyGamesLossThatWandersWithinAnOrderOfMagnitude_orComesBack_isNotReported() {
    assertThat(
            findings(gan("adversarial", step -> 0.7 + 3.0 * step / 999 + 0.3 * wobble(step)), ID))
        .isEmpty();
    // up 10^5 in the middle, back to its start by the end
    assertThat(
            findings(
                gan("adversarial", step -> Math.pow(10, 5 * Math.sin(Math.PI * step / 999))), ID))
        .isEmpty();
  }

  @Test
  void temporalDifferenceErrorStartingAtZero_isMeasuredFromATwentiethOfTheRun() {
    // the error is 0 while the replay buffer fills (10 steps), then grows with the values to 5
    MemoryTrace.Builder dqn =
        gan("temporal_difference", step -> step < 10 ? 1e-6 : 0.5 + 4.5 * step / 999);

    assertThat(findings(dqn, ID)).isEmpty();
  }

  @Test
  void aMinimizedLoss_isLossDivergencesNotThisRules() {
    assertThat(findings(gan("minimize", step -> Math.pow(10, 9.0 * step / 999)), ID)).isEmpty();
  }

  @Test
  void threshold_setsTheBar() {
    MemoryTrace.Builder run = gan("adversarial", step -> Math.pow(10, 2.0 * step / 999));
    assertThat(findings(run, ID)).isEmpty();
    List<Finding> found =
        analyze(
                run.build(),
                AnalysisOptions.builder()
                    .enableOnly(List.of(ID))
                    .set(Thresholds.MAGNITUDE_GROWTH, 50)
                    .build())
            .findings();
    assertThat(found).hasSize(1);
    assertThat(found.get(0).evidence().get(EvidenceKeys.GROWTH)).isCloseTo(80, offset(20.0));
  }
}
