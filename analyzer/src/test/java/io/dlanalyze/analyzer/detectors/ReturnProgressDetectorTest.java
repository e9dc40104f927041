package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import java.util.function.LongFunction;
import org.junit.jupiter.api.Test;

class ReturnProgressDetectorTest {
  private static final String ID = "return-progress";

  /**
   * A DQN-like run of {@code steps} updates whose TD loss rises (as a healthy one's does), with an
   * episode ending every 10th step: its return's mean at that step from {@code mean}, spread 10.
   */
  private static MemoryTrace.Builder run(int steps, LongFunction<Double> mean) {
    return MemoryTrace.scripted(steps)
        .meta(TraceMetadata.OBJECTIVE, "temporal_difference")
        .layer("fc1", "relu")
        .layer("q", "linear")
        .model(Phase.LOSS, step -> Stats.scalar(0.1 + 0.01 * step))
        .model(
            Phase.EPISODE_RETURN,
            step -> step % 10 == 9 ? episodes(mean.apply(step), 10, 1) : null);
  }

  /** {@code n} episodes with this mean return and standard deviation. */
  private static Stats episodes(double mean, double std, long n) {
    return new Stats(mean, std, mean - 2 * std, mean + 2 * std, null, 0.0, n);
  }

  /** A deterministic wobble in [-1, 1]. */
  private static double wobble(long step) {
    return Math.sin(step * 1.7) * Math.cos(step * 0.3);
  }

  @Test
  void anAgentWhoseReturnRose_learned() {
    // 20 -> 200 over 500 updates: the cart-pole curve of a healthy DQN.
    assertThat(findings(run(500, step -> 20 + 180.0 * step / 500 + 10 * wobble(step)), ID))
        .isEmpty();
  }

  @Test
  void anAgentWhoseReturnStayedFlat_didNotLearn() {
    List<Finding> found = findings(run(500, step -> 20 + 10 * wobble(step)), ID);

    assertThat(found).hasSize(1);
    Finding f = found.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.NOT_LEARNING);
    assertThat(f.isModelLevel()).isTrue();
    assertThat(f.phase()).isEqualTo(Phase.EPISODE_RETURN);
    assertThat(f.firstStep()).isEqualTo(9);
    assertThat((double) f.evidence().get("first_quarter_return")).isCloseTo(20, offset(6.0));
    assertThat((double) f.evidence().get("last_quarter_return")).isCloseTo(20, offset(6.0));
    assertThat((long) f.evidence().get("episodes")).isEqualTo(50);
    assertThat(f.message()).contains("50 episodes").contains("did not learn");
  }

  @Test
  void anAgentWhoseReturnFell_didNotLearn_andTheMessageSaysItFell() {
    // A policy-gradient sign flipped: the agent learns to do worse.
    List<Finding> found = findings(run(500, step -> 100 - 80.0 * step / 500), ID);

    assertThat(found).hasSize(1);
    assertThat(found.get(0).message()).contains("fell from");
    assertThat((double) found.get(0).evidence().get("return_gain_t")).isLessThan(-2);
  }

  @Test
  void aSmallFallInsideTheNoise_isQuotedAsItsNegativeGain() {
    // -2 against a spread of 10: the message quotes the t it measured, not 0.
    List<Finding> found = findings(run(500, step -> 20 - 2.0 * step / 500), ID);

    assertThat(found).hasSize(1);
    double t = (double) found.get(0).evidence().get("return_gain_t");
    double bar = Thresholds.MIN_RETURN_GAIN.defaultValue();
    assertThat(t).isNegative().isGreaterThan(-bar);
    assertThat(found.get(0).message())
        .contains(", " + Numbers.format(t) + " standard errors, under the " + Numbers.format(bar));
  }

  @Test
  void aSmallRiseInsideTheNoise_isNotAGain() {
    // +2 against a spread of 10 over 13 episodes a quarter: t is about 0.5.
    assertThat(findings(run(500, step -> 20 + 2.0 * step / 500), ID)).hasSize(1);
  }

  @Test
  void manyEpisodesPerRow_poolTheirSpread() {
    // A bandit: 64 pulls a step, each rewarded 0 or 1 (std 0.5); the mean reward goes from 0.50
    // to 0.53. With 64 x 125 pulls a quarter that is t = 2.9: a real, if small, gain.
    MemoryTrace.Builder bandit =
        MemoryTrace.scripted(500)
            .meta(TraceMetadata.OBJECTIVE, "policy_gradient")
            .layer("fc1", "relu")
            .layer("logits", "linear")
            .model(Phase.LOSS, step -> Stats.scalar(0.01 * wobble(step)))
            .model(Phase.EPISODE_RETURN, step -> episodes(0.50 + 0.03 * step / 500, 0.5, 64));
    assertThat(findings(bandit, ID)).isEmpty();

    // The same gain over single pulls is noise.
    MemoryTrace.Builder single =
        MemoryTrace.scripted(500)
            .meta(TraceMetadata.OBJECTIVE, "policy_gradient")
            .layer("fc1", "relu")
            .layer("logits", "linear")
            .model(Phase.LOSS, step -> Stats.scalar(0.01 * wobble(step)))
            .model(Phase.EPISODE_RETURN, step -> episodes(0.50 + 0.03 * step / 500, 0.5, 1));
    assertThat(findings(single, ID)).hasSize(1);
  }

  @Test
  void tooFewEpisodes_areNotJudged() {
    // 7 rows, under return-min-rows (8).
    assertThat(findings(run(70, step -> 20.0), ID)).isEmpty();
    assertThat(findings(run(80, step -> 20.0), ID)).hasSize(1);
  }

  @Test
  void nonFiniteReturns_areLeftToNumericalError() {
    MemoryTrace.Builder trace =
        run(500, step -> step > 250 ? Double.NaN : 20 + 180.0 * step / 250 + 10 * wobble(step));
    // The finite half rose; the NaN rows are not counted as a return that fell.
    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void aRunWithoutReturns_isNotJudged() {
    MemoryTrace.Builder supervised =
        MemoryTrace.scripted(300)
            .layer("fc1", "relu")
            .layer("out", "linear")
            .model(Phase.LOSS, step -> Stats.scalar(2.0));
    assertThat(findings(supervised, ID)).isEmpty();
  }
}
