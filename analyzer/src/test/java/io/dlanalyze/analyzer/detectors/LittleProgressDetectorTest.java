package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.Analyses.findings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.LossFunction;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import java.util.function.LongFunction;
import org.junit.jupiter.api.Test;

class LittleProgressDetectorTest {
  private static final String ID = "little-progress";

  private static MemoryTrace.Builder run(int steps, LongFunction<Stats> loss) {
    return MemoryTrace.scripted(steps)
        .layer("fc1", "relu")
        .layer("out", "linear")
        .model(Phase.LOSS, loss);
  }

  @Test
  void aLossThatFallsSlowlyAndSteadily_madeLittleProgress() {
    // 2.95 -> 2.84 over 300 steps: every block a little lower, 4% in all.
    List<Finding> found = findings(run(300, step -> Stats.scalar(2.95 - 0.11 * step / 300.0)), ID);

    assertThat(found).hasSize(1);
    Finding f = found.get(0);
    assertThat(f.symptom()).isEqualTo(Symptom.NOT_LEARNING);
    assertThat(f.isModelLevel()).isTrue();
    assertThat((double) f.evidence().get("drop_from_start")).isCloseTo(0.035, offset(0.01));
  }

  @Test
  void aContrastiveCrossEntropyOverSimilarities_isNotJudged_itsFloorIsFarAboveZero() {
    // SimCLR's NT-Xent, batch 128 at temperature 0.5, starts at log 255 = 5.5 and cannot go far
    // below 3.6: a 10% fall says nothing on its own; the same fall of a loss that can reach 0 is
    // little progress.
    LongFunction<Stats> loss = step -> Stats.scalar(5.5 - 0.55 * step / 300.0);
    for (String name : new String[] {"nt_xent", "NTXentLoss", "InfoNCE", "SupConLoss"}) {
      assertThat(findings(run(300, loss).meta(TraceMetadata.LOSS, name), ID)).as(name).isEmpty();
    }
    assertThat(findings(run(300, loss).meta(TraceMetadata.LOSS, "mse"), ID)).hasSize(1);
  }

  @Test
  void aLossThatFellByAThird_progressed() {
    assertThat(findings(run(300, step -> Stats.scalar(1.0 - 0.33 * step / 300.0)), ID)).isEmpty();
  }

  @Test
  void aFineTunedClassifierBelowAUniformGuess_progressed() {
    MemoryTrace.Builder trace =
        run(300, step -> Stats.scalar(0.4 - 0.01 * step / 300.0))
            .meta(TraceMetadata.FRAMEWORK, "pytorch")
            .meta(TraceMetadata.LOSS, "CrossEntropyLoss")
            .meta(TraceMetadata.NUM_CLASSES, "10");

    // Measured from a uniform guess's loss, log 10 = 2.30, it fell 83%.
    assertThat(findings(trace, ID)).isEmpty();
  }

  /** A 10-class PyTorch classifier (uniform guess: log 10 = 2.30) with this loss. */
  private static MemoryTrace.Builder classifier(LongFunction<Stats> loss) {
    return run(300, loss)
        .meta(TraceMetadata.FRAMEWORK, "pytorch")
        .meta(TraceMetadata.LOSS, "CrossEntropyLoss")
        .meta(TraceMetadata.NUM_CLASSES, "10");
  }

  @Test
  void aClassifierThatStartsConfidentlyWrong_andFallsBackToAUniformGuess_madeLittleProgress() {
    // 40 at first (a learning rate far too high), then back to 2.2: 95% below its start, 4% below
    // a uniform guess's loss.
    List<Finding> found =
        findings(
            classifier(step -> Stats.scalar(step < 10 ? 40 : 2.2 + 0.05 * Math.sin(step))), ID);

    assertThat(found).hasSize(1);
    assertThat((double) found.get(0).evidence().get("reference_loss"))
        .isCloseTo(Math.log(10), offset(1e-9));
  }

  /** A PyTorch binary cross-entropy (uniform guess: ln 2 = 0.693) with this loss. */
  private static MemoryTrace.Builder binary(LongFunction<Stats> loss) {
    return run(300, loss)
        .meta(TraceMetadata.FRAMEWORK, "pytorch")
        .meta(TraceMetadata.LOSS, "BCEWithLogitsLoss")
        .meta(TraceMetadata.NUM_CLASSES, "2");
  }

  @Test
  void aStartAtTwiceAUniformGuess_isASumOfTwoCrossEntropies_measuredFromItsStart() {
    // A positive and a sampled negative binary cross-entropy added up (SASRec, skip-gram with
    // negative sampling) start at 2 ln 2 = 1.386 untrained and fall to 0.68: from a uniform
    // guess's 0.693 that would be nothing, from its own start it is 51%.
    assertThat(
            findings(
                binary(step -> Stats.scalar(step < 10 ? 1.386 : 0.68 + 0.01 * Math.sin(step))), ID))
        .isEmpty();
  }

  @Test
  void aSumOfTwoCrossEntropiesThatBarelyFalls_saysItIsMeasuredFromItsStart() {
    List<Finding> found =
        findings(binary(step -> Stats.scalar(step < 10 ? 1.39 : 1.3 + 0.01 * Math.sin(step))), ID);

    assertThat(found).hasSize(1);
    assertThat((double) found.get(0).evidence().get("reference_loss"))
        .isCloseTo(1.39, offset(1e-9));
    assertThat(found.get(0).message())
        .contains("(2 times the loss of a uniform guess: a sum of 2 cross-entropies")
        .doesNotContain("loss_added");
  }

  @Test
  void aStartFarAboveAUniformGuess_notAWholeMultiple_isNamed_withTheRecorderOption() {
    // 2.5 ln 2 = 1.73 is no whole number of uniform guesses: measured from 0.693, the fall to 0.68
    // is nothing, and the message says how to tell the analyzer that the loss adds up terms.
    List<Finding> found =
        findings(binary(step -> Stats.scalar(step < 10 ? 1.73 : 0.68 + 0.01 * Math.sin(step))), ID);

    assertThat(found).hasSize(1);
    assertThat(found.get(0).message())
        .contains("(the loss of a uniform guess; it started 2.496 times higher")
        .contains("loss_added=True");
  }

  @Test
  void wholeMultiplesOfAUniformGuess_countWithinTheirTolerance_upToFour() {
    double u = Math.log(2);
    assertThat(LossFunction.uniformGuesses(2.02 * u, u)).isEqualTo(2);
    assertThat(LossFunction.uniformGuesses(2.98 * u, u)).isEqualTo(3);
    assertThat(LossFunction.uniformGuesses(1.0 * u, u)).isEqualTo(1);
    assertThat(LossFunction.uniformGuesses(2.05 * u, u)).isZero();
    assertThat(LossFunction.uniformGuesses(5.0 * u, u)).isZero();
    assertThat(LossFunction.uniformGuesses(2 * u, 0)).isZero();
    assertThat(LossFunction.uniformGuesses(Double.NaN, u)).isZero();
  }

  @Test
  void aStartNearAUniformGuess_isNotNamed() {
    List<Finding> found =
        findings(classifier(step -> Stats.scalar(2.35 - 0.05 * step / 300.0)), ID);

    assertThat(found).hasSize(1);
    assertThat(found.get(0).message())
        .contains("(the loss of a uniform guess);")
        .doesNotContain("loss_added");
  }

  @Test
  void aCrossEntropySummedOverElements_isMeasuredFromItsStart() {
    // 45 -> 25: far above twice a uniform guess's loss, so not a mean over examples; it fell 44%.
    assertThat(findings(classifier(step -> Stats.scalar(45 - 20.0 * step / 300)), ID)).isEmpty();
  }

  @Test
  void aFineTunedRegression_withoutAUniformGuess_isMeasuredFromItsStart() {
    assertThat(findings(run(300, step -> Stats.scalar(0.4 - 0.01 * step / 300.0)), ID)).hasSize(1);
  }

  /** A binary cross-entropy (weighted: pos_weight 4.9 on 17% positives) falling 1.0 -> 0.72. */
  private static MemoryTrace.Builder weightedBinary(boolean weighted) {
    return weightedBinary(weighted, 0.28);
  }

  /** A binary cross-entropy falling linearly from 1.0 by {@code fall}. */
  private static MemoryTrace.Builder weightedBinary(boolean weighted, double fall) {
    MemoryTrace.Builder trace =
        run(300, step -> Stats.scalar(1.0 - fall * step / 300.0))
            .meta(TraceMetadata.FRAMEWORK, "pytorch")
            .meta(TraceMetadata.LOSS, "BCEWithLogitsLoss")
            .meta(TraceMetadata.NUM_CLASSES, "2");
    return weighted ? trace.meta(TraceMetadata.LOSS_WEIGHTED, "true") : trace;
  }

  @Test
  void aBinaryCrossEntropyAboveLn2_unweighted_isMeasuredFromLn2() {
    // Unweighted, 0.72 is barely below ln 2 = 0.69...: from a uniform guess it fell nothing.
    List<Finding> found = findings(weightedBinary(false), ID);

    assertThat(found).hasSize(1);
    assertThat((double) found.get(0).evidence().get("reference_loss"))
        .isCloseTo(Math.log(2), offset(1e-9));
  }

  @Test
  void aWeightedBinaryCrossEntropy_isMeasuredFromItsStart_notFromLn2() {
    // Weighted, a uniform guess costs ln 2 x the mean weight (1.15 here), which the trace does
    // not give: measured from its start, 1.0 -> 0.72 is a 27% drop.
    assertThat(findings(weightedBinary(true), ID)).isEmpty();
  }

  @Test
  void aWeightedLossThatBarelyFalls_isMeasuredFromItsStartAndSaysWhy() {
    List<Finding> found = findings(weightedBinary(true, 0.03), ID);

    assertThat(found).hasSize(1);
    assertThat((double) found.get(0).evidence().get("reference_loss")).isCloseTo(1.0, offset(0.01));
    assertThat(found.get(0).message()).contains("the loss is weighted");
  }

  @Test
  void fewerLossesThanAWindow_areNotJudged() {
    assertThat(findings(run(40, step -> Stats.scalar(1.0)), ID)).isEmpty();
  }

  /**
   * A four-class Keras classifier whose logged loss carries a load-balancing loss added with
   * add_loss (about 1.2 here): 2.55 at first, down to 1.25 as the cross-entropy part nears 0.
   */
  private static MemoryTrace.Builder withAddedLoss(boolean said) {
    MemoryTrace.Builder trace =
        run(300, step -> Stats.scalar(1.25 + 1.3 * Math.exp(-step / 40.0)))
            .meta(TraceMetadata.FRAMEWORK, "keras")
            .meta(TraceMetadata.LOSS, "sparse_categorical_crossentropy")
            .meta(TraceMetadata.NUM_CLASSES, "4");
    return said ? trace.meta(TraceMetadata.LOSS_ADDED, "true") : trace;
  }

  @Test
  void aLossWithAddedTerms_isMeasuredFromItsStart_notFromAUniformGuess() {
    // from log 4 = 1.39 the best block, 1.25, is only 10% below; from its own start, 2.55, 51%
    assertThat(findings(withAddedLoss(false), ID)).hasSize(1);
    assertThat(findings(withAddedLoss(true), ID)).isEmpty();
  }

  @Test
  void aLossWithAddedTermsThatBarelyFalls_saysWhyItIsMeasuredFromItsStart() {
    MemoryTrace.Builder flat =
        run(300, step -> Stats.scalar(2.4 - 0.05 * step / 300.0))
            .meta(TraceMetadata.LOSS, "sparse_categorical_crossentropy")
            .meta(TraceMetadata.NUM_CLASSES, "4")
            .meta(TraceMetadata.LOSS_ADDED, "true");

    List<Finding> found = findings(flat, ID);

    assertThat(found).hasSize(1);
    assertThat((double) found.get(0).evidence().get("reference_loss")).isGreaterThan(2.3);
    assertThat(found.get(0).message()).contains("terms added beside the loss function");
  }
}
