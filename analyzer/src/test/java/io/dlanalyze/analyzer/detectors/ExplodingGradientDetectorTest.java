package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExplodingGradientDetectorTest {
  private static final String ID = "exploding-gradient";

  /** Three layers; layer 1's gradient norm grows 3x per step from step 20, then turns Inf. */
  private static MemoryTrace.Builder growing(boolean toInf) {
    return MemoryTrace.scripted(200)
        .layer("fc1", "relu")
        .layer("fc2", "relu")
        .layer("fc3", "linear")
        .model(Phase.LOSS, step -> Stats.scalar(step < 20 ? 1.0 : 1.0 + (step - 20)))
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) -> {
              if (layer != 1 || step < 20) {
                return Stats.norm(0.5);
              }
              double l2 = 0.5 * Math.pow(3, step - 19);
              return Stats.norm(toInf && step >= 40 ? Double.POSITIVE_INFINITY : l2);
            });
  }

  @Test
  void growth_beforeInf_reportsOnsetGrowthAndFirstInf() {
    List<Finding> findings = findings(growing(true), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.EXPLODING_GRADIENT);
    assertThat(f.layerName()).isEqualTo("fc2");
    // The onset is the step after the last one within 10x of the early level: 0.5 x 3^2 = 4.5 at
    // step 21.
    assertThat(f.firstStep()).isEqualTo(22);
    assertThat(f.evidence().get("first_non_finite_step")).isEqualTo(40L);
    assertThat((double) f.evidence().get("growth")).isGreaterThan(1e3);
    assertThat(f.message()).contains("fc2").contains("step 40");
  }

  @Test
  void growth_withRisingLoss_firesWithoutInf() {
    List<Finding> findings = findings(growing(false), ID);

    assertThat(findings).extracting(Finding::layerName).containsExactly("fc2");
    assertThat(findings.get(0).evidence().asMap()).doesNotContainKey("first_non_finite_step");
  }

  /**
   * fc2's gradient norm spikes 10x a step from step 100 to 5e6 at step 106 (10^7 times its level)
   * while the loss jumps to 1e4, then both come back; afterwards the loss falls to 0.3, or stays at
   * its start of 2.
   */
  private static MemoryTrace.Builder spike(boolean recovers) {
    return MemoryTrace.scripted(300)
        .layer("fc1", "relu")
        .layer("fc2", "relu")
        .layer("fc3", "linear")
        .model(
            Phase.LOSS,
            step ->
                Stats.scalar(
                    step < 100
                        ? 2.0 - step / 200.0
                        : step <= 106 ? 1e4 : recovers ? Math.max(0.3, 1.5 - step / 200.0) : 2.0))
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) ->
                Stats.norm(
                    layer == 1 && step >= 100 && step <= 106
                        ? 0.5 * Math.pow(10, step - 99)
                        : 0.5));
  }

  @Test
  void growth_thatTheRunCameBackFrom_isNoFault() {
    assertThat(findings(spike(true), ID)).isEmpty();
  }

  @Test
  void growth_thatTheRunDidNotComeBackFrom_fires() {
    List<Finding> findings = findings(spike(false), ID);

    assertThat(findings).extracting(Finding::layerName).containsExactly("fc2");
    assertThat((double) findings.get(0).evidence().get("growth")).isGreaterThan(2.3e6);
  }

  /**
   * fc2's gradient norm grows 10x every 20 steps from step 100 (10^10 by the end) while the loss
   * falls (geometrically) below 0, to about {@code lowest} times its first loss's magnitude: a
   * triplet loss without its hinge runs away, a likelihood with its floor below 0 does not.
   */
  static MemoryTrace.Builder fallingBelowZero(double lowest) {
    return MemoryTrace.scripted(300)
        .layer("fc1", "relu")
        .layer("fc2", "relu")
        .layer("fc3", "linear")
        .model(
            Phase.LOSS, step -> Stats.scalar(0.3 - 0.3 * (Math.pow(1 + lowest, step / 299.0) - 1)))
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) ->
                Stats.norm(
                    layer == 1 && step >= 100 ? 0.5 * Math.pow(10, (step - 100) / 20.0) : 0.5));
  }

  @Test
  void growth_whileTheLossFallsWithoutBound_fires_withTheLowestLoss() {
    List<Finding> findings = findings(fallingBelowZero(1e5), ID);

    assertThat(findings).extracting(Finding::layerName).containsExactly("fc2");
    assertThat((double) findings.get(0).evidence().get("lowest_loss")).isLessThan(-3e3);
    assertThat(findings.get(0).message()).contains("while the loss fell without bound");
  }

  @Test
  void growth_whileTheLossFallsBelowZeroWithinBounds_staysQuiet() {
    // to -30 times its start, as far as a healthy Gaussian likelihood goes
    assertThat(findings(fallingBelowZero(30), ID)).isEmpty();
  }

  @Test
  void growth_whileLossFalls_staysQuiet() {
    // A zero-initialized head wakes up the earlier layers: their gradients grow 1e4x while the loss
    // falls.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .layer("fc1", "relu")
            .layer("fc2", "linear")
            .healthyLoss()
            .everyLayer(
                Phase.GRADIENT,
                (step, layer) ->
                    Stats.norm(layer == 0 ? 1e-4 * Math.min(1e4, Math.pow(1.5, step)) : 0.5));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void healthyNoisyGradients_noFinding() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(300)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .layer("fc3", "linear")
            .healthyLoss()
            .everyLayer(
                Phase.GRADIENT,
                (step, layer) ->
                    Stats.norm(
                        1.0 * (1 + 0.9 * Math.sin(step * 0.37 + layer)) * Math.exp(-step / 150.0)));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void ratio_firstLayerDwarfsLastWhileLossFlat_fires() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .layer("fc3", "linear")
            .flatLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(layer == 0 ? 100.0 : 0.5));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get("rule")).isEqualTo("ratio");
    assertThat(findings.get(0).layerName()).isEqualTo("fc1");
    assertThat(findings.get(0).severity()).isEqualTo(Severity.ERROR);
  }

  @Test
  void ratio_whileLossFalls_staysQuiet() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .layer("fc3", "linear")
            .healthyLoss()
            .everyLayer(Phase.GRADIENT, (step, layer) -> Stats.norm(layer == 0 ? 100.0 : 0.5));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void ratio_recordedEveryOtherStep_stepsWithoutGradientRowsDoNotBreakTheRun() {
    // A sampling recorder (every=2): no gradient rows on odd steps, the loss on every step.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .layer("fc1", "relu")
            .layer("fc2", "relu")
            .layer("fc3", "linear")
            .flatLoss()
            .everyLayer(
                Phase.GRADIENT,
                (step, layer) -> step % 2 == 1 ? null : Stats.norm(layer == 0 ? 100.0 : 0.5));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).extracting(f -> f.evidence().get("rule")).containsExactly("ratio");
    assertThat(findings.get(0).layerName()).isEqualTo("fc1");
  }

  /**
   * Layer 1's gradient (100 elements) starts at {@code start} and grows 10x per step from step 20
   * for {@code steps} steps, under a loss that does not improve.
   */
  private static MemoryTrace.Builder wakingFrom(double start, int steps) {
    return MemoryTrace.scripted(200)
        .layer("fc1", "relu")
        .layer("fc2", "relu")
        .layer("fc3", "linear")
        .model(Phase.LOSS, step -> Stats.scalar(2.3))
        .everyLayer(
            Phase.GRADIENT,
            (step, layer) -> {
              if (layer != 1) {
                return Stats.norm(0.5);
              }
              int grown = (int) Math.max(0, Math.min(steps, step - 19));
              return Stats.norm(start * Math.pow(10, grown));
            });
  }

  @Test
  void growthFromAVanishedGradientToOneStillSmall_isNoExplosion() {
    // 1e-14 to 1e-5 (an RMS of 1e-6 per element, vanishing-rms): a billion times its start, as a
    // deep network without its residual connections shows, but waking up, not exploding
    assertThat(findings(wakingFrom(1e-14, 9), ID)).isEmpty();
  }

  @Test
  void growthFromAVanishedGradient_isMeasuredFromTheVanishingBound() {
    // 1e-14 to 1e2: 2.3e6 times the bound of 1e-5 (an RMS of 1e-6 over 100 elements) is 23
    assertThat(findings(wakingFrom(1e-14, 16), ID))
        .extracting(Finding::layerName)
        .containsExactly("fc2");
  }

  @Test
  void theSameGrowthFromAGradientThatHadNotVanished_explodes() {
    assertThat(findings(wakingFrom(1e-4, 9), ID))
        .extracting(Finding::layerName)
        .containsExactly("fc2");
  }
}
