package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import org.junit.jupiter.api.Test;

class InitialLossDetectorTest {
  private static final String ID = "initial-loss";

  /** A 10-class classifier whose first loss is 40 (17x log 10), then 2.0. */
  private static MemoryTrace.Builder confidentlyWrongStart() {
    return MemoryTrace.scripted(100)
        .stepsPerEpoch(20)
        .layer("fc1", "relu")
        .layer("out", "linear")
        .meta(TraceMetadata.FRAMEWORK, "pytorch")
        .meta(TraceMetadata.LOSS, "CrossEntropyLoss")
        .meta(TraceMetadata.NUM_CLASSES, "10")
        .model(Phase.LOSS, step -> Stats.scalar(step == 0 ? 40 : 2.0));
  }

  @Test
  void aFirstLossFarAboveLogK_fires() {
    List<Finding> found = findings(confidentlyWrongStart(), ID);

    assertThat(found).hasSize(1);
    assertThat((double) found.get(0).evidence().get("uniform_loss"))
        .isCloseTo(Math.log(10), offset(1e-9));
  }

  @Test
  void aClassWeightedLoss_hasNoUniformGuessToCompareWith_notJudged() {
    // A weighted cross-entropy of a uniform guess is log K times the mean weight, which the
    // trace does not give: judged as when the class count is unknown, not at all.
    MemoryTrace.Builder trace = confidentlyWrongStart().meta(TraceMetadata.LOSS_WEIGHTED, "true");

    assertThat(findings(trace, ID)).isEmpty();
  }
}
