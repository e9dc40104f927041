package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import java.util.Random;
import java.util.function.LongToDoubleFunction;
import org.junit.jupiter.api.Test;

class BatchOrderDetectorTest {
  private static final String ID = "batch-order";

  /** A classifier of 120 steps whose per-batch accuracy is {@code accuracy(step)}. */
  private static MemoryTrace.Builder run(String batchSize, LongToDoubleFunction accuracy) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .layer("fc1", "relu")
            .layer("out", "linear")
            .healthyLoss()
            .model(Phase.ACCURACY, step -> Stats.scalar(accuracy.applyAsDouble(step)));
    return batchSize == null ? trace : trace.meta(TraceMetadata.BATCH_SIZE, batchSize);
  }

  /** Batches of 32 drawn at random from data the model gets right with probability 0.6. */
  private static double shuffled(long step) {
    Random random = new Random(step * 7919 + 17);
    int right = 0;
    for (int i = 0; i < 32; i++) {
      right += random.nextDouble() < 0.6 ? 1 : 0;
    }
    return right / 32.0;
  }

  /**
   * Batches of one class each, in runs of four batches per class: the model predicts the class it
   * saw last, right on most batches of a run and wrong on the first of the next.
   */
  private static double sorted(long step) {
    return step % 4 == 0 ? 0.05 : 0.9;
  }

  @Test
  void batchesOfOneClassEach_areNotRandomSamples() {
    List<Finding> found = findings(run("32", BatchOrderDetectorTest::sorted), ID);

    assertThat(found).hasSize(1);
    Finding f = found.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.OSCILLATION);
    assertThat(f.isModelLevel()).isTrue();
    assertThat((double) f.evidence().get("dispersion")).isGreaterThan(5.7);
    assertThat(f.evidence().get("batch_size")).isEqualTo(32L);
    assertThat(f.message()).contains("drawing 32 examples at random");
  }

  /**
   * A declared penalty that pulled every layer's weights to zero is measured on the weights
   * themselves; an accuracy that jumps between batches is an inference from their class mix, which
   * sample or class weights inflate too. The penalty is the root cause.
   */
  @Test
  void weightsPulledToZeroByADeclaredPenalty_outrankTheBatchOrder() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(120)
            .meta(TraceMetadata.FRAMEWORK, "keras")
            .meta(TraceMetadata.BATCH_SIZE, "32")
            .regularizedLayer("dense1", "relu", "{\"l2\":5.0}")
            .regularizedLayer("dense2", "linear", "{\"l2\":5.0}")
            .everyLayer(Phase.WEIGHT, (step, layer) -> Stats.norm(5 * Math.pow(0.95, step)))
            .healthyLoss()
            .model(Phase.ACCURACY, step -> Stats.scalar(sorted(step)));

    Report report = analyze(trace.build(), AnalysisOptions.defaults());

    assertThat(report.findings()).anyMatch(f -> f.detector().equals(ID));
    assertThat(report.rootCause().cause()).startsWith("Regularization dominates: ");
    assertThat(report.rootCause().alternatives())
        .anyMatch(a -> a.cause().startsWith("Training data not shuffled: "));
  }

  @Test
  void randomBatches_varyAsSamplingExplains() {
    MemoryTrace.Builder trace = run("32", BatchOrderDetectorTest::shuffled);

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void theStatistic_isNearOneForRandomBatches_andNearTheBatchSizeForOneClassBatches() {
    // At threshold 0 every judged run has a finding, which carries the ratio.
    AnalysisOptions everything =
        AnalysisOptions.builder().set(Thresholds.BATCH_DISPERSION, 0).build();
    Finding random =
        analyze(run("32", BatchOrderDetectorTest::shuffled).build(), everything).findings().stream()
            .filter(f -> f.detector().equals(ID))
            .findFirst()
            .orElseThrow();
    assertThat((double) random.evidence().get("dispersion")).isCloseTo(1.0, offset(0.4));

    Finding oneClass =
        analyze(run("32", step -> step % 2 == 0 ? 0.0 : 1.0).build(), everything)
            .findings()
            .stream()
            .filter(f -> f.detector().equals(ID))
            .findFirst()
            .orElseThrow();
    assertThat((double) oneClass.evidence().get("dispersion")).isCloseTo(64.0, offset(1.0));
  }

  @Test
  void withoutTheBatchSize_nothingIsJudged() {
    assertThat(findings(run(null, BatchOrderDetectorTest::sorted), ID)).isEmpty();
  }

  @Test
  void anAccuracyNearOneOrZero_isNotJudged() {
    // A model right on 99% of every batch: the binomial variance is too small to compare with, so
    // no pair is judged even when any ratio would be reported.
    AnalysisOptions everything =
        AnalysisOptions.builder().set(Thresholds.BATCH_DISPERSION, 0).build();
    assertThat(
            analyze(run("32", step -> step % 2 == 0 ? 0.97 : 1.0).build(), everything).findings())
        .noneMatch(f -> f.detector().equals(ID));
  }

  @Test
  void anEpochsShortLastBatch_isLeftOut() {
    // 10 batches per epoch; the last holds 2 examples and is right on 0 or 2 of them.
    MemoryTrace.Builder trace =
        run(
                "32",
                step ->
                    step % 10 == 9
                        ? (step / 10 % 2 == 0 ? 0.0 : 1.0)
                        : BatchOrderDetectorTest.shuffled(step))
            .stepsPerEpoch(10);

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void fewerThanTwentyPairsInTheBand_areNotJudged() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(25)
            .meta(TraceMetadata.BATCH_SIZE, "32")
            .layer("out", "linear")
            .healthyLoss()
            .model(Phase.ACCURACY, step -> Stats.scalar(BatchOrderDetectorTest.sorted(step)));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void theRootCause_isTheDataOrder_atModelScope() {
    RootCause root =
        analyze(run("32", BatchOrderDetectorTest::sorted).build(), AnalysisOptions.defaults())
            .rootCause();

    assertThat(root.scope()).isEqualTo(RootCause.MODEL);
    assertThat(root.symptom()).isEqualTo("oscillation");
    assertThat(root.cause()).startsWith("Training data not shuffled: the accuracy changed");
    assertThat(root.suggestedFix()).startsWith("Shuffle the training set every epoch");
  }

  /** A classifier of 120 steps whose batch targets are {@code targets(step)}, no accuracy. */
  private static MemoryTrace.Builder targets(java.util.function.LongFunction<Stats> targets) {
    return MemoryTrace.scripted(120)
        .layer("fc1", "relu")
        .layer("out", "linear")
        .healthyLoss()
        .meta(TraceMetadata.BATCH_SIZE, "32")
        .model(Phase.TARGET, targets::apply);
  }

  /** A batch of {@code n} class ids between {@code lo} and {@code hi}. */
  private static Stats classIds(double lo, double hi, long n) {
    return new Stats((lo + hi) / 2, (hi - lo) / 2, lo, hi, Math.sqrt(n) * hi, lo == 0 ? 0.3 : 0, n);
  }

  @Test
  void batchesWhoseTargetsAreOneClassEach_inSeveralClasses_areNotShuffled() {
    // Data sorted by class: ten batches of class 0, ten of class 1, ... (four classes).
    List<Finding> found =
        findings(targets(step -> classIds((step / 10) % 4, (step / 10) % 4, 32)), ID);

    assertThat(found).hasSize(1);
    Finding f = found.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.OSCILLATION);
    assertThat(f.evidence().get("single_class_batches")).isEqualTo(120L);
    assertThat(f.evidence().get("target_batches")).isEqualTo(120L);
    assertThat(f.evidence().get("single_class_classes")).isEqualTo(4L);
    assertThat(f.evidence().get("dispersion")).isNull();
    assertThat(f.message())
        .startsWith("120 of the 120 recorded batches held targets of one class only, in 4")
        .contains("class 0: 30, class 1: 30, class 2: 30, class 3: 30")
        .contains("at most once in 2^31, here 90 times")
        .endsWith("the data are ordered by class and not shuffled.");
  }

  @Test
  void shuffledBatchesOfSeveralClasses_noFinding() {
    assertThat(findings(targets(step -> classIds(0, 3, 32)), ID)).isEmpty();
  }

  @Test
  void imbalancedBinaryTargets_givingBatchesOfTheMajorityClassOnly_noFinding() {
    // 99% negatives: most batches of 32 hold no positive, every such batch is of class 0.
    assertThat(findings(targets(step -> classIds(0, step % 4 == 0 ? 1 : 0, 32)), ID)).isEmpty();
  }

  /**
   * Batches of {@code n} examples from two balanced classes: every eighth one all of class 0 or
   * (alternating) all of class 1, the others of both.
   */
  private static MemoryTrace.Builder everyEighthOneClass(long n) {
    return targets(
        step -> {
          long one = step % 16 == 0 ? 0 : 1;
          return step % 8 == 0 ? classIds(one, one, n) : classIds(0, 1, n);
        });
  }

  /**
   * 120 batches of 8: the first {@code minority} all of class 1, the next ones up to step 40 all of
   * class 0, the rest of both.
   */
  private static MemoryTrace.Builder fewOfASecondClass(long minority) {
    return targets(
        step ->
            step < minority
                ? classIds(1, 1, 8)
                : step < 40 ? classIds(0, 0, 8) : classIds(0, 1, 8));
  }

  @Test
  void smallBatches_ofOneClassByChance_areNotJudged() {
    // Batches of 4 from two balanced classes are one class one time in eight, of either class.
    assertThat(findings(everyEighthOneClass(4), ID)).isEmpty();
    // The same batches of 8 and more are judged.
    assertThat(findings(everyEighthOneClass(8), ID)).hasSize(1);
  }

  @Test
  void fewSingleClassBatchesOfASecondClass_areWithinWhatChanceGives() {
    // 120 batches of 8: at most 120 / 128 single-class batches of a class other than the most
    // common one at random; four times that bound, 3.75, is needed: 3 are not enough, 4 are.
    assertThat(findings(fewOfASecondClass(3), ID)).isEmpty();
    assertThat(findings(fewOfASecondClass(4), ID)).hasSize(1);
  }

  @Test
  void regressionTargets_areNotClassIds_noFinding() {
    assertThat(findings(targets(step -> classIds(0.5 * (step / 10), 0.5 * (step / 10), 32)), ID))
        .isEmpty();
  }

  @Test
  void bothRules_makeOneFinding_withTheDispersionInItsEvidence() {
    List<Finding> found =
        findings(
            run("32", BatchOrderDetectorTest::sorted)
                .model(Phase.TARGET, step -> classIds((step / 4) % 3, (step / 4) % 3, 32)),
            ID);

    assertThat(found).hasSize(1);
    assertThat(found.get(0).evidence().get("single_class_batches")).isEqualTo(120L);
    assertThat((double) found.get(0).evidence().get("dispersion")).isGreaterThan(11.6);
    assertThat(found.get(0).message()).contains("The accuracy changed from one batch to the next");
  }
}
