package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.EvidenceKeys;
import io.dlanalyze.analyzer.EvidenceKeys.ConvergenceRule;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import org.junit.jupiter.api.Test;

class NotConvergingDetectorTest {
  private static final String ID = "not-converging";

  private static MemoryTrace.Builder classifier(double accuracy) {
    return MemoryTrace.scripted(100)
        .stepsPerEpoch(20)
        .layer("fc1", "relu")
        .layer("fc2", "linear")
        .meta(TraceMetadata.NUM_CLASSES, "10")
        .model(Phase.LOSS, step -> Stats.scalar(step < 30 ? 2 - step / 20.0 : 0.0))
        .model(Phase.ACCURACY, step -> Stats.scalar(accuracy + 0.01 * Math.sin(step)));
  }

  @Test
  void tenClassAccuracyAtChance_evenThoughLossFalls_fires() {
    List<Finding> findings = findings(classifier(0.1), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.NOT_LEARNING);
    assertThat(f.evidence().get("chance")).isEqualTo(0.1);
    assertThat(f.firstStep()).isEqualTo(40);
  }

  /**
   * A ten-class classifier that fits its training batches (accuracy from 0.1 to 1.0 over 10 epochs
   * of 20 steps) and is evaluated on held-out data at each epoch's last step, scoring {@code
   * validation[epoch]}.
   */
  private static MemoryTrace.Builder memorizing(double... validation) {
    return MemoryTrace.scripted(200)
        .stepsPerEpoch(20)
        .layer("fc1", "relu")
        .layer("fc2", "linear")
        .meta(TraceMetadata.NUM_CLASSES, "10")
        .model(Phase.LOSS, step -> Stats.scalar(2.3 * (1 - step / 200.0)))
        .model(Phase.ACCURACY, step -> Stats.scalar(0.1 + 0.9 * step / 199.0))
        .model(
            Phase.VAL_ACCURACY,
            step -> step % 20 == 19 ? Stats.scalar(validation[(int) (step / 20)]) : null);
  }

  @Test
  void validationAtChance_withOneLuckyEvaluationAboveTheBar_fires() {
    // chance 0.1, bar 0.19: one epoch's 0.21 is a small validation set's noise, its neighbours
    // are at chance; the median of three neighbouring epochs is the best the model held
    List<Finding> findings =
        findings(memorizing(0.10, 0.21, 0.12, 0.09, 0.11, 0.10, 0.12, 0.08, 0.11, 0.10), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.phase()).isEqualTo(Phase.VAL_ACCURACY);
    assertThat(f.evidence().get(EvidenceKeys.CONVERGENCE_RULE))
        .isEqualTo(ConvergenceRule.ACCURACY_AT_CHANCE);
    assertThat((double) f.evidence().get("best_epoch_accuracy")).isCloseTo(0.12, offset(1e-9));
    assertThat(f.evidence().get("best_epoch")).isEqualTo(1L);
  }

  @Test
  void validationRisingAboveTheBarInTheLastTwoEpochs_noFinding() {
    assertThat(findings(memorizing(0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.6, 0.7), ID))
        .isEmpty();
  }

  @Test
  void validationStillRisingAtTheLastEpoch_keepsThatEpochsAccuracy() {
    // the last epoch's 0.2 clears the bar of 0.19 with no later epoch to confirm it: the edge
    // stands in for its missing neighbour, as a median filter's nearest-edge rule has it
    assertThat(findings(memorizing(0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.15, 0.2), ID))
        .isEmpty();
  }

  @Test
  void validationWellAboveChance_noFinding() {
    assertThat(findings(memorizing(0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.8, 0.82, 0.83, 0.85), ID))
        .isEmpty();
  }

  /**
   * A loss falling from 2 to 0 over 100 steps (5 epochs) while the training accuracy goes from
   * {@code first} to {@code last}; the targets are the given statistics.
   */
  private static MemoryTrace.Builder accuracyFalling(double first, double last, Stats targets) {
    return MemoryTrace.scripted(100)
        .stepsPerEpoch(20)
        .layer("fc1", "relu")
        .layer("out", "linear")
        .meta(TraceMetadata.LOSS, "cox_ph_loss")
        .model(Phase.LOSS, step -> Stats.scalar(2 - step / 50.0))
        .model(Phase.TARGET, step -> targets)
        .model(Phase.ACCURACY, step -> Stats.scalar(first + (last - first) * step / 99.0));
  }

  /** Survival times in months as targets: no class count, no chance level. */
  private static final Stats DURATIONS = Stats.of(20, 10).withRange(0, 60);

  @Test
  void accuracyFallingWhileTheLossFalls_fires_withoutAChanceLevel() {
    List<Finding> findings = findings(accuracyFalling(0.6, 0.2, DURATIONS), ID);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.NOT_LEARNING);
    assertThat(f.isModelLevel()).isTrue();
    assertThat(f.evidence().get(EvidenceKeys.CONVERGENCE_RULE))
        .isEqualTo(ConvergenceRule.ACCURACY_FELL_AS_LOSS_FELL);
    assertThat(f.evidence().get(EvidenceKeys.FIRST_EPOCH_ACCURACY)).isCloseTo(0.5616, offset(1e-3));
    assertThat(f.evidence().get(EvidenceKeys.LAST_EPOCH_ACCURACY)).isCloseTo(0.2384, offset(1e-3));
    assertThat(f.firstStep()).isZero();
    assertThat(f.message()).contains("accuracy fell");
  }

  @Test
  void accuracyFallingWhileTheLossFalls_asTheRootCause_quotesThatRulesNumbers() {
    Report report =
        analyze(
            accuracyFalling(0.6, 0.2, DURATIONS).build(),
            AnalysisOptions.builder().enableOnly(List.of(ID)).build());

    assertThat(report.rootCause().cause())
        .startsWith("No learning progress: Over 5 epochs the loss fell from")
        .contains("while the training accuracy fell from")
        .doesNotContain("NaN");
  }

  @Test
  void accuracyFallingBarelyOrRising_whileTheLossFalls_noFinding() {
    assertThat(findings(accuracyFalling(0.6, 0.57, DURATIONS), ID)).isEmpty();
    assertThat(findings(accuracyFalling(0.3, 0.8, DURATIONS), ID)).isEmpty();
  }

  @Test
  void accuracyFallingOfSoftTargets_orWithoutTargets_isNotJudged() {
    // pixels in [0, 1] (an autoencoder's "accuracy" says nothing of progress)
    assertThat(findings(accuracyFalling(0.15, 0.04, Stats.of(0.3, 0.35).withRange(0, 1)), ID))
        .isEmpty();
    MemoryTrace.Builder noTargets =
        MemoryTrace.scripted(100)
            .stepsPerEpoch(20)
            .layer("out", "linear")
            .model(Phase.LOSS, step -> Stats.scalar(2 - step / 50.0))
            .model(Phase.ACCURACY, step -> Stats.scalar(0.6 - 0.4 * step / 99.0));
    assertThat(findings(noTargets, ID)).isEmpty();
  }

  @Test
  void accuracyFalling_whileTheLossDippedButEndedAboveItsStart_isNotThisRule() {
    // A term that ran away (a proximal penalty with its sign flipped): the loss falls far below
    // its start, comes back and ends above it. The run "learned" by its best block (steps 50 to
    // 99), but its last epoch (1.5) sits above its first (0.8), and the rule's reading, a loss
    // that fell, needs the opposite.
    MemoryTrace.Builder dipped =
        accuracyFalling(0.6, 0.2, DURATIONS)
            .model(Phase.LOSS, step -> Stats.scalar(step < 50 ? 0.8 : step < 80 ? -5 : 1.5));
    assertThat(findings(dipped, ID))
        .noneMatch(
            f ->
                f.evidence().get(EvidenceKeys.CONVERGENCE_RULE)
                    == ConvergenceRule.ACCURACY_FELL_AS_LOSS_FELL);
  }

  @Test
  void accuracyFallingWhileTheLossStaysFlat_isNotThisRule() {
    MemoryTrace.Builder flat =
        accuracyFalling(0.6, 0.2, DURATIONS).model(Phase.LOSS, step -> Stats.scalar(1.0));
    assertThat(findings(flat, ID))
        .noneMatch(
            f ->
                f.evidence().get(EvidenceKeys.CONVERGENCE_RULE)
                    == ConvergenceRule.ACCURACY_FELL_AS_LOSS_FELL);
  }

  @Test
  void tenClassAccuracyWellAboveChance_noFinding() {
    assertThat(findings(classifier(0.6), ID)).isEmpty();
  }

  @Test
  void imbalancedBinary_majorityRateIsChance() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(100)
            .stepsPerEpoch(20)
            .layer("out", "sigmoid")
            .meta(TraceMetadata.NUM_CLASSES, "2")
            .flatLoss()
            .model(Phase.TARGET, step -> new Stats(0.7, 0.46, 0.0, 1.0, 1.0, 0.3, 32L))
            .model(Phase.ACCURACY, step -> Stats.scalar(0.7));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    assertThat((double) findings.get(0).evidence().get("chance"))
        .isCloseTo(0.7, org.assertj.core.data.Offset.offset(1e-9));
  }

  /** 0/1 targets, 23% positives (majority share 0.77), at this accuracy. */
  private static MemoryTrace.Builder imbalancedBinary(boolean weighted, double accuracy) {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(100)
            .stepsPerEpoch(20)
            .layer("out", "linear")
            .meta(TraceMetadata.LOSS, "BCEWithLogitsLoss")
            .meta(TraceMetadata.NUM_CLASSES, "2")
            .flatLoss()
            .model(Phase.TARGET, step -> new Stats(0.23, 0.42, 0.0, 1.0, 1.0, 0.77, 32L))
            .model(Phase.ACCURACY, step -> Stats.scalar(accuracy));
    return weighted ? trace.meta(TraceMetadata.LOSS_WEIGHTED, "true") : trace;
  }

  @Test
  void imbalancedBinary_unweightedLoss_accuracyBelowTheMajorityShare_fires() {
    List<Finding> findings = findings(imbalancedBinary(false, 0.75), ID);

    assertThat(findings).hasSize(1);
    assertThat((double) findings.get(0).evidence().get("chance"))
        .isCloseTo(0.77, org.assertj.core.data.Offset.offset(1e-9));
  }

  /**
   * A 4-class classifier whose targets are one-hot rows and whose trace, written by a recorder that
   * follows only format v1, gives no class count: every batch's target mean is exactly 1/4.
   */
  private static MemoryTrace.Builder oneHotWithoutClassCount(double accuracy) {
    double std = Math.sqrt(0.25 * 0.75);
    return MemoryTrace.scripted(100)
        .stepsPerEpoch(20)
        .layer("out", "softmax")
        .flatLoss()
        .model(Phase.TARGET, step -> new Stats(0.25, std, 0.0, 1.0, 4.0, 0.75, 64L))
        .model(Phase.ACCURACY, step -> Stats.scalar(accuracy));
  }

  @Test
  void oneHotTargetsWithoutAClassCount_chanceIsOneOverK_notTheZerosShare() {
    // read as binary labels, chance would be the share of zeros, 0.75, and 0.6 below its bar
    assertThat(findings(oneHotWithoutClassCount(0.6), ID)).isEmpty();
    List<Finding> findings = findings(oneHotWithoutClassCount(0.27), ID);

    assertThat(findings).hasSize(1);
    assertThat((double) findings.get(0).evidence().get("chance")).isCloseTo(0.25, offset(1e-9));
  }

  /**
   * A sigmoid output over batches of 32 without a class count: 0/1 targets, {@code perBatch} of
   * them a batch, of which {@code set} or {@code set - 1} are 1 on alternate steps, at this
   * accuracy.
   */
  private static MemoryTrace.Builder zeroOneTargets(long perBatch, int set, double accuracy) {
    return MemoryTrace.scripted(100)
        .stepsPerEpoch(20)
        .layer("out", "sigmoid")
        .meta(TraceMetadata.BATCH_SIZE, "32")
        .flatLoss()
        .model(
            Phase.TARGET,
            step -> {
              double p = (double) (step % 2 == 0 ? set : set - 1) / perBatch;
              return new Stats(
                  p, Math.sqrt(p * (1 - p)), 0.0, 1.0, Math.sqrt(p * perBatch), 1 - p, perBatch);
            })
        .model(Phase.ACCURACY, step -> Stats.scalar(accuracy));
  }

  @Test
  void binaryLabelsWithoutAClassCount_meanMovingWithTheBatch_majorityShareIsChance() {
    // 8 or 7 positives of 32, one label per example
    List<Finding> findings = findings(zeroOneTargets(32, 8, 0.76), ID);

    assertThat(findings).hasSize(1);
    assertThat((double) findings.get(0).evidence().get("chance"))
        .isCloseTo(1 - (0.25 + 0.21875) / 2, offset(1e-9));
  }

  @Test
  void multiLabelTargetsWithoutAClassCount_areNotJudgedAgainstAMajorityShare() {
    // five 0/1 tags per example (160 targets in a batch of 32), 61 or 60 of them set: a healthy
    // tagger's label-averaged accuracy can sit below the 0.62 of predicting no tag at all
    assertThat(findings(zeroOneTargets(160, 61, 0.59), ID)).isEmpty();
  }

  @Test
  void targetsInTheUnitIntervalThatAreNotLabels_withoutAClassCount_areNotJudged() {
    // pixels in [0, 1] under a binary cross-entropy (an autoencoder, a VAE): their variance is
    // below mean x (1 - mean), so they are not 0/1 labels and no majority share is chance
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(100)
            .stepsPerEpoch(20)
            .layer("out", "sigmoid")
            .flatLoss()
            .model(Phase.TARGET, step -> new Stats(0.3, 0.35, 0.0, 1.0, 9.0, 0.5, 2048L))
            .model(Phase.ACCURACY, step -> Stats.scalar(0.1));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void imbalancedBinary_classWeightedLoss_chanceIsAHalf_noFinding() {
    // A class-weighted loss asks for balanced predictions: a healthy model gives up majority
    // hits for minority ones, and its plain accuracy sits below the majority share.
    assertThat(findings(imbalancedBinary(true, 0.75), ID)).isEmpty();
  }

  @Test
  void imbalancedBinary_classWeightedLoss_accuracyAtAHalf_firesAgainstAHalf() {
    List<Finding> findings = findings(imbalancedBinary(true, 0.5), ID);

    assertThat(findings).hasSize(1);
    assertThat((double) findings.get(0).evidence().get("chance")).isEqualTo(0.5);
  }

  @Test
  void regressionStuckAtTargetVariance_fires() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(100)
            .stepsPerEpoch(20)
            .layer("out", "linear")
            .meta(TraceMetadata.LOSS, "mse")
            .model(Phase.TARGET, step -> Stats.of(1.0, 0.4))
            .model(Phase.LOSS, step -> Stats.scalar(0.165 + 0.01 * Math.sin(step)));

    List<Finding> findings = findings(trace, ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get("rule")).isEqualTo("loss_at_target_variance");
  }

  /** A regression whose output layer's activations are recorded, with a loss of this size. */
  private static MemoryTrace.Builder regressionWithOutputs(double loss) {
    return MemoryTrace.scripted(100)
        .stepsPerEpoch(20)
        .layer("out", "linear")
        .meta(TraceMetadata.LOSS, "MSELoss")
        .everyLayer(Phase.ACTIVATION, (step, layer) -> Stats.of(0.5, 0.2))
        .model(Phase.TARGET, step -> Stats.of(0.5, 0.4))
        .model(Phase.LOSS, step -> Stats.scalar(loss + 0.01 * Math.sin(step)));
  }

  @Test
  void regressionStuckAtTargetVariance_withItsOutputsRecorded_fires() {
    // per element: at most (0.2 + 0.4)^2 = 0.36 for these outputs and targets; 0.165 fits
    List<Finding> findings = findings(regressionWithOutputs(0.165), ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get("rule")).isEqualTo("loss_at_target_variance");
  }

  @Test
  void lossSummedOverTheElements_isNotComparedWithOneElementsVariance() {
    // an autoencoder's squared error summed over 64 pixels: 26x the largest per-element mean
    // these outputs and targets allow, so the target variance says nothing about it
    assertThat(findings(regressionWithOutputs(64 * 0.147), ID)).isEmpty();
  }

  /** A regression under {@code loss}, targets of std 0.4 (variance 0.16), outputs recorded. */
  private static MemoryTrace.Builder regression(String loss, double value) {
    return MemoryTrace.scripted(100)
        .stepsPerEpoch(20)
        .layer("out", "linear")
        .meta(TraceMetadata.LOSS, loss)
        .everyLayer(Phase.ACTIVATION, (step, layer) -> Stats.of(0.5, 1.0))
        .model(Phase.TARGET, step -> Stats.of(0.5, 0.4))
        .model(Phase.LOSS, step -> Stats.scalar(value + 0.01 * Math.sin(step)));
  }

  @Test
  void huberLossAboveWhatTheMeanScores_fires() {
    // predicting the mean scores at most 0.16 / 2 = 0.08 under Huber; 0.3 is worse than a constant
    List<Finding> findings = findings(regression("huber_loss", 0.3), ID);

    assertThat(findings).hasSize(1);
    assertThat(findings.get(0).evidence().get("rule")).isEqualTo("loss_above_mean_predictor");
    assertThat((double) findings.get(0).evidence().get("bar")).isCloseTo(0.08, offset(1e-12));
  }

  @Test
  void huberLossBelowWhatTheMeanScores_noFinding() {
    assertThat(findings(regression("HuberLoss", 0.07), ID)).isEmpty();
  }

  @Test
  void absoluteErrorAboveTheTargetsStd_fires() {
    // predicting the mean scores at most sqrt(0.16) = 0.4 under an absolute error
    assertThat(findings(regression("L1Loss", 0.6), ID)).hasSize(1);
    assertThat(findings(regression("mae", 0.35), ID)).isEmpty();
  }

  @Test
  void smoothL1_whoseBetaTheTraceDoesNotRecord_isNotJudged() {
    assertThat(findings(regression("SmoothL1Loss", 5.0), ID)).isEmpty();
  }

  @Test
  void aHuberLossSummedOverTheElements_isNotJudged() {
    // per element at most (1.0 + 0.4)^2 / 2 = 0.98; 64 elements summed exceed it
    assertThat(findings(regression("huber_loss", 64 * 0.3), ID)).isEmpty();
  }

  @Test
  void regressionExplainingMostVariance_noFinding() {
    MemoryTrace.Builder trace =
        MemoryTrace.scripted(100)
            .stepsPerEpoch(20)
            .layer("out", "linear")
            .meta(TraceMetadata.LOSS, "mse")
            .model(Phase.TARGET, step -> Stats.of(1.0, 0.4))
            .model(Phase.LOSS, step -> Stats.scalar(0.16 * Math.exp(-step / 20.0)));

    assertThat(findings(trace, ID)).isEmpty();
  }

  @Test
  void nonFiniteLoss_isLeftToNumericalError() {
    MemoryTrace.Builder trace = classifier(0.1).model(Phase.VAL_LOSS, step -> Stats.scalar(0));
    MemoryTrace.Builder broken =
        MemoryTrace.scripted(100)
            .stepsPerEpoch(20)
            .layer("fc1", "relu")
            .meta(TraceMetadata.NUM_CLASSES, "10")
            .model(Phase.LOSS, step -> Stats.scalar(step > 10 ? Double.NaN : 2.0))
            .model(Phase.ACCURACY, step -> Stats.scalar(0.1));

    assertThat(findings(trace, ID)).hasSize(1);
    assertThat(findings(broken, ID)).isEmpty();
  }
}
