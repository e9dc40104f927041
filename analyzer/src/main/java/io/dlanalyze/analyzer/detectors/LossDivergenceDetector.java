package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.BLOCKS_ABOVE;
import static io.dlanalyze.analyzer.EvidenceKeys.BLOCK_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.EVALUATIONS;
import static io.dlanalyze.analyzer.EvidenceKeys.EVALUATIONS_ABOVE;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_NON_FINITE_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_VAL_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.INITIAL_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_VAL_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.LEARNING_RATE;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.PEAK_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.RATIO;
import static io.dlanalyze.analyzer.EvidenceKeys.REFERENCE_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.UNIFORM_LOSS;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.Optimizers;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.Phase;
import java.util.List;
import java.util.OptionalDouble;
import org.jspecify.annotations.Nullable;

/**
 * Reports a training loss that climbed far above where it started: averaged over a block of {@code
 * oscillation-block} steps, it reached {@code divergence-ratio} times its starting loss or more.
 * Gradient descent with a workable learning rate does not make a loss several times worse than that
 * of the untrained network; steps too large for the loss surface do (Goodfellow et al., Deep
 * Learning, 2016, section 8.2.4 on cliffs and exploding steps; Smith 2017's learning-rate range
 * test stops where the loss starts to climb).
 *
 * <p>The finding says whether the run came back (its last block {@code converged-drop}, half, or
 * more below the start: an unstable stretch the optimizer recovered from, a learning rate near its
 * limit) or not. So it is decided at the end of the run, not when the loss first climbs.
 *
 * <p>A warning when the run did not come back, else info (an unstable stretch the run recovered
 * from is not a fault). Calibrated on the healthy runs (docs/evaluation.md#calibration): the
 * highest ratio of a healthy run of the corpus is 1.56, half the bar, and no healthy run of the dev
 * and test splits or of the calibration sweep reaches the bar, recovered or not. When the
 * configured learning rate is also far above any healthy run's ({@link
 * Optimizers#highLearningRate}) the message says so and the root cause is that rate; otherwise the
 * root cause is updates too large (a learning rate near its limit, gradients summed over steps
 * without a reset, no clipping).
 *
 * <p>The starting loss is the first step's loss. For a cross-entropy with a known number of classes
 * it is at least log(K), the loss of a uniform guess: a run whose first loss is already low (a
 * fine-tuned model) is judged against chance, so a small rise from near zero is not a divergence.
 * Needs a loss per step (a log with one loss per epoch has no first-step loss), two blocks of them
 * and a positive starting loss. Non-finite losses are numerical-error's and are skipped.
 *
 * <p>The validation loss, when the run evaluates held-out data ({@code val_loss} rows), is judged
 * the same way against its first evaluation (at least a uniform guess's loss): a run whose training
 * loss stayed under the bar but whose validation loss, over {@value #MIN_EVALUATIONS} evaluations
 * or more, ended at {@code divergence-ratio} times the first or more diverged where it matters, on
 * data it did not train on (a final epoch of steps too large, after the training loss's blocks had
 * already averaged it in). A warning, reported only when the training loss gave none. Healthy dev
 * runs end at most 1.65 times their first validation loss (1,301 runs with three evaluations or
 * more; docs/evaluation.md#calibration), a quarter of the bar.
 */
@DetectorSpec(
    id = DetectorIds.LOSS_DIVERGENCE,
    symptom = Symptom.OSCILLATION,
    judgesProgress = true,
    severity = Severity.WARNING,
    summary =
        "The loss climbed to several times its starting value and did not come back (info when it"
            + " did)",
    source =
        "Smith 2017, learning-rate range test; Goodfellow et al. 2016, 8.2.4"
            + " (docs/references.md#loss-divergence)",
    thresholds = {"oscillation-block", "divergence-ratio"})
public final class LossDivergenceDetector implements Detector {
  private AnalysisContext context;
  private LossHistory loss;
  private int block;
  private double ratio;
  private double convergedDrop;

  /** Evaluations a validation loss needs: the first one and two more. */
  private static final int MIN_EVALUATIONS = 3;

  /** The first finite validation loss, the last one and its step; NaN/-1 until seen. */
  private double firstVal = Double.NaN;

  private double lastVal = Double.NaN;
  private long lastValStep = -1;
  private long evaluations;

  /**
   * What the validation loss is judged against, once its first evaluation is known: that
   * evaluation, at least a uniform guess's loss.
   */
  private double valReference = Double.NaN;

  /** The evaluations in a row, up to the last, at or above the bar; and the step they began. */
  private long above;

  private long aboveSince = -1;

  @Override
  public void begin(AnalysisContext context) {
    this.context = context;
    this.loss = context.lossHistory();
    this.block = context.options().getInt(Thresholds.OSCILLATION_BLOCK);
    this.ratio = context.options().get(Thresholds.DIVERGENCE_RATIO);
    this.convergedDrop = context.options().get(Thresholds.CONVERGED_DROP);
  }

  @Override
  public void observe(StepView step) {
    // The whole training loss curve is read at the end from the engine's loss history: whether the
    // run recovered is known only then. The validation loss has no history: it is followed here.
    if (!step.has(-1, Phase.VAL_LOSS)) {
      return;
    }
    double value = step.mean(-1, Phase.VAL_LOSS);
    if (!Double.isFinite(value)) {
      return;
    }
    if (evaluations++ == 0) {
      firstVal = value;
      valReference = Math.max(value, LossGate.uniformLoss(context));
    }
    lastVal = value;
    lastValStep = step.step();
    if (valReference > 0 && value >= ratio * valReference) {
      if (above++ == 0) {
        aboveSince = step.step();
      }
    } else {
      above = 0;
      aboveSince = -1;
    }
  }

  /**
   * The climb into NaN/Inf: a run that turned non-finite, whose largest finite loss in the {@code
   * oscillation-block} steps before the first non-finite one reached {@code divergence-ratio} times
   * the start. The loss diverged and then overflowed; the NaN was not born in one layer's
   * arithmetic. Null otherwise.
   */
  private @Nullable Finding climbIntoNonFinite(double reference) {
    long nonFinite = loss.firstNonFiniteStep();
    if (nonFinite < 0 || !(reference > 0)) {
      return null;
    }
    int end = loss.indexAtOrAfter(nonFinite);
    int peak = -1;
    for (int i = Math.max(1, end - block); i < end; i++) {
      if (peak < 0 || loss.loss(i) > loss.loss(peak)) {
        peak = i;
      }
    }
    if (peak < 0 || !(loss.loss(peak) >= ratio * reference)) {
      return null;
    }
    double top = loss.loss(peak);
    return Finding.builder(this)
        .symptom(Symptom.EXPLODING_GRADIENT)
        .severity(Severity.WARNING)
        .at(-1, Phase.LOSS)
        .steps(loss.step(peak), nonFinite, end - peak)
        .evidence(
            Evidence.builder()
                .put(INITIAL_LOSS, loss.loss(0))
                .put(UNIFORM_LOSS, LossGate.uniformLoss(context))
                .put(REFERENCE_LOSS, reference)
                .put(MAX_BLOCK_LOSS, top)
                .put(PEAK_STEP, loss.step(peak))
                .put(RATIO, top / reference)
                .put(FIRST_NON_FINITE_STEP, nonFinite)
                .put(BLOCK_STEPS, (long) block)
                .put(THRESHOLD, ratio)
                .build())
        .message(
            format(
                ROOT,
                "The loss climbed from a start of %s to %s at step %d, %sx where it started, and"
                    + " turned NaN/Inf at step %d: training diverged before the values overflowed.",
                Numbers.format(reference),
                Numbers.format(top),
                loss.step(peak),
                Numbers.format(top / reference),
                nonFinite))
        .build();
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    double reference = LossGate.startingLoss(context);
    Finding found = blockRule(reference);
    if (found == null) {
      found = climbIntoNonFinite(reference);
    }
    if (found == null || found.severity() == Severity.INFO) {
      Finding held = validationRule();
      found = held != null ? held : found;
    }
    return found == null ? List.of() : List.of(found);
  }

  /**
   * The validation loss ended at {@code divergence-ratio} times its first evaluation or more (at
   * least a uniform guess's loss), over at least {@value #MIN_EVALUATIONS} evaluations; null
   * otherwise.
   */
  private @Nullable Finding validationRule() {
    if (evaluations < MIN_EVALUATIONS || above == 0 || !(valReference > 0)) {
      return null;
    }
    double reference = valReference;
    double uniform = LossGate.uniformLoss(context);
    OptionalDouble rate = Optimizers.atPeak(context.metadata().learningRate(), loss);
    boolean highRate = Optimizers.highLearningRate(context.metadata(), rate);
    Evidence.Builder evidence =
        Evidence.builder()
            .put(FIRST_VAL_LOSS, firstVal)
            .put(UNIFORM_LOSS, uniform)
            .put(REFERENCE_LOSS, reference)
            .put(LAST_VAL_LOSS, lastVal)
            .put(RATIO, lastVal / reference)
            .put(EVALUATIONS, evaluations)
            .put(EVALUATIONS_ABOVE, above)
            .put(THRESHOLD, ratio);
    if (highRate) {
      evidence.put(LEARNING_RATE, rate.getAsDouble());
    }
    return Finding.builder(this)
        .severity(Severity.WARNING)
        .at(-1, Phase.VAL_LOSS)
        .steps(aboveSince, lastValStep, above)
        .evidence(evidence.build())
        .message(
            format(
                    ROOT,
                    "The validation loss ended at %s, %sx its first evaluation's %s%s; %s %sx or"
                        + " more above it: training diverged on the held-out data.",
                    Numbers.format(lastVal),
                    Numbers.format(lastVal / reference),
                    Numbers.format(reference),
                    uniform > firstVal ? " (the loss of a uniform guess)" : "",
                    above == 1
                        ? format(ROOT, "the last of %d evaluations was", evaluations)
                        : format(ROOT, "the last %d of %d evaluations were", above, evaluations),
                    Numbers.format(ratio))
                + (highRate ? highRateSentence(rate.getAsDouble()) : ""))
        .build();
  }

  /**
   * The block rule: a block mean at {@code divergence-ratio} times the start or more, over at least
   * two blocks of finite losses; null otherwise.
   */
  private @Nullable Finding blockRule(double reference) {
    int blocks = loss.size() / block;
    if (blocks < 2 || !(reference > 0)) {
      return null;
    }
    int first = -1;
    int peak = -1;
    double peakMean = Double.NEGATIVE_INFINITY;
    int above = 0;
    for (int b = 1; b < blocks; b++) {
      double mean = loss.mean(b * block, (b + 1) * block);
      if (mean >= ratio * reference) {
        above++;
        if (first < 0) {
          first = b;
        }
      }
      if (mean > peakMean) {
        peakMean = mean;
        peak = b;
      }
    }
    if (first < 0) {
      return null;
    }
    double uniform = LossGate.uniformLoss(context);
    double last = loss.mean((blocks - 1) * block, blocks * block);
    boolean recovered = last <= (1 - convergedDrop) * reference;
    long from = loss.step(first * block);
    long peakStep = loss.step(peak * block);
    OptionalDouble rate = Optimizers.atPeak(context.metadata().learningRate(), loss);
    boolean highRate = !recovered && Optimizers.highLearningRate(context.metadata(), rate);
    Evidence.Builder evidence =
        Evidence.builder()
            .put(INITIAL_LOSS, loss.loss(0))
            .put(UNIFORM_LOSS, uniform)
            .put(REFERENCE_LOSS, reference)
            .put(MAX_BLOCK_LOSS, peakMean)
            .put(PEAK_STEP, peakStep)
            .put(RATIO, peakMean / reference)
            .put(BLOCKS_ABOVE, (long) above)
            .put(LAST_BLOCK_LOSS, last)
            .put(BLOCK_STEPS, (long) block)
            .put(THRESHOLD, ratio);
    if (highRate) {
      evidence.put(LEARNING_RATE, rate.getAsDouble());
    }
    return Finding.builder(this)
        .severity(recovered ? Severity.INFO : Severity.WARNING)
        .at(-1, Phase.LOSS)
        .steps(from, loss.step(loss.size() - 1), (long) above * block)
        .evidence(evidence.build())
        .message(
            format(
                    ROOT,
                    "The loss (averaged over %d steps) climbed from a start of %s to %s at step"
                        + " %d, %sx where it started%s; %d of %d blocks were %sx or more above"
                        + " it, and the last one at %s is %sback below %s of the start: %s.",
                    block,
                    Numbers.format(reference),
                    Numbers.format(peakMean),
                    peakStep,
                    Numbers.format(peakMean / reference),
                    uniform > loss.loss(0)
                        ? " (the loss of a uniform guess)"
                        : context.metadata().lossWeighted()
                            ? " (its first loss: the loss is weighted, a uniform guess has no"
                                + " fixed loss)"
                            : context.metadata().lossAdded()
                                ? " (its first loss: the loss holds terms added beside the loss"
                                    + " function)"
                                : "",
                    above,
                    blocks - 1,
                    Numbers.format(ratio),
                    Numbers.format(last),
                    recovered ? "" : "not ",
                    Numbers.percent(1 - convergedDrop),
                    recovered ? "training recovered from unstable steps" : "training diverged")
                + (highRate ? highRateSentence(rate.getAsDouble()) : ""))
        .build();
  }

  /** The sentence a message ends with when the learning rate is far above any healthy run's. */
  private static String highRateSentence(double rate) {
    return format(
        ROOT,
        " The learning rate, %s, is at least twice the largest of a healthy run with this"
            + " optimizer.",
        Numbers.format(rate));
  }
}
