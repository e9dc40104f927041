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

class SlowConvergenceDetectorTest {
  private static final String ID = "slow-convergence";

  @Test
  void accuracyGainingUnderDeltaPerEpoch_fires() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .stepsPerEpoch(20)
            .layer("fc1", "relu")
            .flatLoss()
            .model(Phase.ACCURACY, step -> Stats.scalar(0.5 + 0.0004 * step));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.SLOW_CONVERGENCE);
    assertThat(f.severity()).isEqualTo(Severity.WARNING);
    assertThat((double) f.evidence().get("largest_epoch_gain")).isLessThan(0.01);
    assertThat(f.firstStep()).isEqualTo(40);
  }

  @Test
  void accuracyClimbing_noFinding() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .stepsPerEpoch(20)
            .layer("fc1", "relu")
            .flatLoss()
            .model(Phase.ACCURACY, step -> Stats.scalar(Math.min(0.95, 0.5 + 0.004 * step)));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void accuracyWithinDeltaOfOne_isNotJudged_butJustBelowItIs() {
    // a full-batch run: one step per epoch, 0.982 after the first, creeping up to 0.996
    MemoryTrace.Builder atCeiling =
        MemoryTrace.scripted(15)
            .stepsPerEpoch(1)
            .layer("fc1", "relu")
            .flatLoss()
            .model(Phase.ACCURACY, step -> Stats.scalar(0.982 + 0.001 * step));
    // the same creep 0.03 lower never comes within 0.01 of 1
    MemoryTrace.Builder below =
        MemoryTrace.scripted(15)
            .stepsPerEpoch(1)
            .layer("fc1", "relu")
            .flatLoss()
            .model(Phase.ACCURACY, step -> Stats.scalar(0.952 + 0.001 * step));

    assertThat(findings(atCeiling, ID)).isEmpty();
    assertThat(findings(below, ID)).hasSize(1);
  }

  @Test
  void regressionLossBarelyMoving_firesOnTheLoss() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(200)
            .stepsPerEpoch(20)
            .layer("fc1", "linear")
            .model(Phase.LOSS, step -> Stats.scalar(1.0 - 0.0002 * step));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get("metric")).isEqualTo("loss");
  }

  @Test
  void twoEpochs_isInconclusiveInfo() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(40)
            .stepsPerEpoch(20)
            .layer("fc1", "relu")
            .flatLoss()
            .model(Phase.ACCURACY, step -> Stats.scalar(0.5));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).severity()).isEqualTo(Severity.INFO);
    assertThat((String) findings.get(0).evidence().get("inconclusive")).contains("only 2 epochs");
  }
}
