package io.dlanalyze.analyzer.engine;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The class count read off the output layer when {@code dltrace.num_classes} is absent (format v1),
 * seen through the rule that needs it most plainly: initial-loss compares the first loss with log
 * K.
 */
class ClassCountTest {
  private static final String INITIAL_LOSS = "initial-loss";

  /**
   * A classifier of 10 outputs per example, batches of 32, no class count in the metadata, whose
   * first loss is 40 (17x log 10).
   */
  private static MemoryTrace.Builder tenOutputs() {
    return MemoryTrace.scripted(60)
        .stepsPerEpoch(20)
        .layer("fc1", "relu")
        .layer("out", "linear")
        .meta(TraceMetadata.FRAMEWORK, "pytorch")
        .meta(TraceMetadata.LOSS, "CrossEntropyLoss")
        .stream(Phase.FORWARD, 0, step -> Stats.of(0, 1).withNumel(32 * 64))
        .stream(Phase.FORWARD, 1, step -> Stats.of(0, 1).withNumel(32 * 10))
        .model(Phase.LOSS, step -> Stats.scalar(step == 0 ? 40 : 2.0));
  }

  /** Class-index targets of one batch: 32 labels from {@code low} to {@code high}. */
  private static MemoryTrace.Builder labels(MemoryTrace.Builder trace, double low, double high) {
    return trace.model(
        Phase.TARGET, step -> Stats.of((low + high) / 2, 2).withRange(low, high).withNumel(32));
  }

  private static Report report(MemoryTrace.Builder trace) {
    return analyze(trace.build(), AnalysisOptions.defaults());
  }

  private static List<Finding> initialLoss(Report report) {
    return report.findings().stream().filter(f -> f.detector().equals(INITIAL_LOSS)).toList();
  }

  private static double uniformLoss(Report report) {
    List<Finding> found = initialLoss(report);
    assertThat(found).hasSize(1);
    return (double) found.get(0).evidence().get("uniform_loss");
  }

  @Test
  void classIndexTargets_classesAreTheOutputsPerLabel() {
    Report report = report(labels(tenOutputs(), 0, 9));

    assertThat(uniformLoss(report)).isCloseTo(Math.log(10), offset(1e-9));
    assertThat(report.trace().warnings())
        .anySatisfy(
            line ->
                assertThat(line)
                    .startsWith("no dltrace.num_classes in the metadata: 10 classes")
                    .contains("output layer out holds 320 values at step 0 for 32 class labels"))
        .noneSatisfy(line -> assertThat(line).contains("initial-loss, loss-definition"));
  }

  @Test
  void aLabelAtOrAboveTheOutputsPerLabel_isNoClassIndex_nothingInferred() {
    Report report = report(labels(tenOutputs(), 0, 12));

    assertThat(initialLoss(report)).isEmpty();
    assertThat(report.trace().warnings())
        .anySatisfy(line -> assertThat(line).startsWith("no dltrace.num_classes in the metadata:"))
        .noneSatisfy(line -> assertThat(line).contains("classes, since"));
  }

  @Test
  void fractionalLabels_areNoClassIndexes_nothingInferred() {
    Report report = report(labels(tenOutputs(), 0, 8.5));

    assertThat(initialLoss(report)).isEmpty();
  }

  @Test
  void oneHotTargets_classesAreOneOverTheirMean() {
    MemoryTrace.Builder trace =
        tenOutputs()
            .model(Phase.TARGET, step -> Stats.of(0.1, 0.3).withRange(0, 1).withNumel(32 * 10));

    assertThat(uniformLoss(report(trace))).isCloseTo(Math.log(10), offset(1e-9));
  }

  @Test
  void withoutTargetRows_theBatchSizeGivesTheExamples() {
    MemoryTrace.Builder trace = tenOutputs().meta(TraceMetadata.BATCH_SIZE, "32");

    Report report = report(trace);

    assertThat(uniformLoss(report)).isCloseTo(Math.log(10), offset(1e-9));
    assertThat(report.trace().warnings())
        .anySatisfy(line -> assertThat(line).contains("for a batch of 32 (dltrace.batch_size)"));
  }

  @Test
  void withoutTargetRowsOrBatchSize_nothingInferred() {
    assertThat(initialLoss(report(tenOutputs()))).isEmpty();
  }

  @Test
  void theMetadatasCount_winsOverTheOutputWidth() {
    MemoryTrace.Builder trace = labels(tenOutputs(), 0, 9).meta(TraceMetadata.NUM_CLASSES, "5");

    Report report = report(trace);

    assertThat(uniformLoss(report)).isCloseTo(Math.log(5), offset(1e-9));
    assertThat(report.trace().warnings()).noneSatisfy(line -> assertThat(line).contains("since"));
  }

  @Test
  void aBinaryLoss_isNotCountedFromItsOutputs() {
    // A binary cross-entropy's uniform guess is log 2 whatever the output holds (several
    // independent labels per example, a multi-label task): no count is read off the width.
    MemoryTrace.Builder trace =
        labels(tenOutputs(), 0, 1).meta(TraceMetadata.LOSS, "BCEWithLogitsLoss");

    assertThat(report(trace).trace().warnings())
        .noneSatisfy(line -> assertThat(line).contains("classes, since"));
  }
}
