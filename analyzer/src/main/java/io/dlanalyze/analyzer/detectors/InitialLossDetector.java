package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.INITIAL_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.NUM_CLASSES;
import static io.dlanalyze.analyzer.EvidenceKeys.RATIO;
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
import io.dlanalyze.analyzer.LossFunction;
import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.List;

/**
 * Reports a classifier whose loss at its first step, before any update, is far above log(K): the
 * cross-entropy of a uniform guess over K classes, which a freshly initialized network starts near.
 * A first loss many times larger means confidently wrong outputs from the start: weights
 * initialized too large, or inputs far out of scale, saturating the softmax. Such a network spends
 * its first epochs undoing its initialization, or never recovers.
 *
 * <p>Needs a cross-entropy loss (the metadata's {@code dltrace.loss}) that is not class- or
 * sample-weighted ({@code dltrace.loss_weighted}), the number of classes ({@code
 * dltrace.num_classes}, at least 2, else the output layer's width: {@link
 * AnalysisContext#numClasses()}) and a finite loss at the first step. The bar ({@code
 * initial-loss-ratio}, default 10) sits about twice above the largest ratio of a healthy run of the
 * calibration corpus.
 */
@DetectorSpec(
    id = DetectorIds.INITIAL_LOSS,
    symptom = Symptom.SATURATION,
    severity = Severity.WARNING,
    summary = "A classifier whose first loss is many times that of a uniform guess",
    source =
        "Initialization checks of LeCun et al. 1998 and Karpathy's 'A Recipe for Training Neural"
            + " Networks' (docs/references.md#initial-loss)",
    thresholds = {"initial-loss-ratio"},
    // the output layer's and the targets' element counts and the targets' range give the class
    // count when the metadata does not (AnalysisContext.numClasses)
    columns = {Column.MEAN, Column.NUMEL, Column.MIN, Column.MAX})
public final class InitialLossDetector implements Detector {
  private long lastStep = -1;
  private AnalysisContext context;

  /** 1 once the first two losses are in and the first one is too high; 0 otherwise. */
  private int settled = -1;

  @Override
  public void begin(AnalysisContext context) {
    this.context = context;
  }

  @Override
  public void observe(StepView step) {
    lastStep = step.step();
    if (settled < 0 && context.lossHistory().size() >= 2) {
      // whether the first loss is per step, and its value, no longer change
      settled = finish(context).isEmpty() ? 0 : 1;
    }
  }

  @Override
  public int conclusive() {
    return Math.max(settled, 0);
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    LossHistory history = context.lossHistory();
    // log K for a categorical cross-entropy over K known classes; 0 without one, and for a class-
    // or sample-weighted loss, whose uniform guess costs log K times a mean weight the trace does
    // not give: no finding then.
    double uniform = LossGate.uniformLoss(context);
    if (!(uniform > 0)
        || LossFunction.of(context.metadata()).binary()
        || history.size() == 0
        || !LossGate.perStep(context)) {
      return findings;
    }
    int classes = context.numClasses().orElse(0);
    double first = history.loss(0);
    double bar = context.options().get(Thresholds.INITIAL_LOSS_RATIO);
    double ratio = first / uniform;
    if (!(ratio >= bar)) {
      return findings;
    }
    findings.add(
        Finding.builder(this)
            .at(-1, Phase.LOSS)
            .steps(history.step(0), lastStep, 1)
            .evidence(
                Evidence.builder()
                    .put(LOSS, context.metadata().loss().orElse(""))
                    .put(INITIAL_LOSS, first)
                    .put(UNIFORM_LOSS, uniform)
                    .put(NUM_CLASSES, (long) classes)
                    .put(RATIO, ratio)
                    .put(THRESHOLD, bar)
                    .build())
            .message(
                format(
                    ROOT,
                    "The first loss was %s, %sx the %s of a uniform guess over %d classes: the"
                        + " initial outputs were confidently wrong (weights initialized too large,"
                        + " or inputs out of scale).",
                    Numbers.format(first),
                    Numbers.format(ratio),
                    Numbers.format(uniform),
                    classes))
            .build());
    return findings;
  }
}
