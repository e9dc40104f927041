package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import java.util.List;
import org.junit.jupiter.api.Test;

class OscillatingLossDetectorTest {
  private static final String ID = "oscillating-loss";

  @Test
  void lossSwingingByTwiceItsStart_fires() {
    // Period of 60 steps: block means swing between ~0.2 and ~1.8 around a start of 1.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(300)
            .layer("fc1", "relu")
            .model(
                Phase.LOSS, step -> Stats.scalar(1.0 + 0.8 * Math.sin(2 * Math.PI * step / 60.0)));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.OSCILLATION);
    assertThat(f.isModelLevel()).isTrue();
    assertThat((long) f.evidence().get("swings")).isGreaterThanOrEqualTo(3);
  }

  @Test
  void aNegativeLogLikelihoodThatStartsNearZero_isJudgedAgainstHowFarItFell_noFinding() {
    // A Gaussian NLL: 0.06 at the start, -1.6 once trained, with swings of 0.3 on the way: 5x its
    // start, a fifth of the 1.66 it fell.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(400)
            .layer("fc1", "gelu")
            .model(
                Phase.LOSS,
                step ->
                    Stats.scalar(
                        0.06
                            - 1.66 * (1 - Math.exp(-step / 40.0))
                            + 0.15 * Math.sin(2 * Math.PI * step / 60.0)));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void aNegativeLossThatSwingsByMostOfItsFall_fires() {
    // Down from 0.06 to -1 in 30 steps, then back up to 0 and down to -1 every 60 steps.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(400)
            .layer("fc1", "gelu")
            .model(
                Phase.LOSS,
                step ->
                    Stats.scalar(
                        step < 30
                            ? 0.06 - 1.06 * step / 30.0
                            : -0.5 - 0.5 * Math.cos(2 * Math.PI * (step - 30) / 60.0)));

    assertThat(findings(trace, ID)).hasSize(1);
  }

  @Test
  void oneBadlyWrongExampleInAFewBlocks_isThatStepsLoss_noFinding() {
    // One example (or bag) a step, as in multiple-instance learning: the loss falls from 0.7 to
    // 0.01, and every 50th step the model is confidently wrong about one example (a loss of 25),
    // which lifts its block's plain mean to 2.5, 3.5 times the start.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(400)
            .layer("fc1", "relu")
            .model(
                Phase.LOSS,
                step ->
                    Stats.scalar(
                        step >= 100 && step % 50 == 5 ? 25 : 0.01 + 0.69 * Math.exp(-step / 30.0)));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void aCurveThatSwingsWithASpikeInEveryBlock_stillFires() {
    // The swing of the first test, plus one step in ten far above the curve: the rest of each
    // block still carries the swing.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(300)
            .layer("fc1", "relu")
            .model(
                Phase.LOSS,
                step ->
                    Stats.scalar(
                        1.0
                            + 0.8 * Math.sin(2 * Math.PI * step / 60.0)
                            + (step % 10 == 3 ? 9 : 0)));

    assertThat(findings(trace, ID)).hasSize(1);
  }

  @Test
  void noisyBatchLossThatFalls_noFinding() {
    // Batch-to-batch sign switches every step, +-30%: the noise of every real run.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(300)
            .layer("fc1", "relu")
            .model(
                Phase.LOSS,
                step ->
                    Stats.scalar((0.1 + 2 * Math.exp(-step / 60.0)) * (step % 2 == 0 ? 1.3 : 0.7)));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void smallSwingsNearZero_areJudgedAgainstTheStart_noFinding() {
    // Relative to its current level the loss doubles and halves, but it is tiny next to the start.
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(300)
            .layer("fc1", "relu")
            .model(
                Phase.LOSS,
                step ->
                    Stats.scalar(
                        step < 30 ? 2.0 : 0.02 * (1.5 + Math.sin(2 * Math.PI * step / 40.0))));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void twoSwingsOnly_belowDefaultCount_noFinding() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(300)
            .layer("fc1", "relu")
            .model(
                Phase.LOSS,
                step ->
                    Stats.scalar(
                        step >= 60 && step < 120
                            ? 1.0 + 0.8 * Math.sin(2 * Math.PI * step / 60.0)
                            : 1.0));

    assertThat(findings(trace, ID)).isEmpty();
  }
}
