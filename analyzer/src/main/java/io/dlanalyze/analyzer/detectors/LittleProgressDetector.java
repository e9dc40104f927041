package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.BEST_BLOCK_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.BLOCK_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.DROP_FROM_START;
import static io.dlanalyze.analyzer.EvidenceKeys.REFERENCE_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.THRESHOLD;
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
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.List;

/**
 * Reports a run whose loss barely fell over the whole run: its best mean over a block of {@code
 * oscillation-block} steps is less than {@code min-progress} below where it started. The start is
 * the mean of the first block; for a cross-entropy over a known number of classes it is the loss of
 * a uniform guess (log K, log 2 for a binary one) wherever the first block lies: a fine-tuned
 * classifier that starts below that loss is measured against it, and one that starts confidently
 * wrong far above it has learned nothing by falling back to it. A regression has no such floor: a
 * model fine-tuned from a good start whose loss moves only a few percent is reported, and is then a
 * question for the reader.
 *
 * <p>A loss can fall slowly and steadily, so not-learning's test for stalled blocks passes it; but
 * every healthy dev run fell at least 27.6% below that start (docs/evaluation.md#calibration), and
 * a learning rate far too low, targets that do not match the inputs, or a schedule that never
 * raises the rate leave it within a few percent. Needs a loss per step and {@code window} of them.
 * Not for a contrastive cross-entropy over similarities ({@link
 * LossFunction#similarityCrossEntropy}), whose floor sits far above 0.
 */
@DetectorSpec(
    id = DetectorIds.LITTLE_PROGRESS,
    symptom = Symptom.NOT_LEARNING,
    judgesProgress = true,
    severity = Severity.WARNING,
    summary = "The loss barely fell below where it started over the whole run",
    source =
        "the loss of a uniform guess as a floor for the start (docs/references.md#initial-loss)",
    thresholds = {"oscillation-block", "window", "min-progress"})
public final class LittleProgressDetector implements Detector {
  private LossHistory loss;
  private int block;
  private int window;
  private double minProgress;

  /**
   * A first block at least this many times a uniform guess's loss is named in the message, with the
   * recorder option for a loss that adds up terms: an untrained classifier starts near a uniform
   * guess, and a sum of two cross-entropies near twice it.
   */
  static final double ADDED_TERMS_HINT = 1.5;

  @Override
  public void begin(AnalysisContext context) {
    this.loss = context.lossHistory();
    this.block = context.options().getInt(Thresholds.OSCILLATION_BLOCK);
    this.window = context.options().getInt(Thresholds.WINDOW);
    this.minProgress = context.options().get(Thresholds.MIN_PROGRESS);
  }

  @Override
  public void observe(StepView step) {
    // The whole loss curve is judged at the end, from the engine's loss history.
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    int blocks = loss.size() / block;
    if (loss.size() < window || blocks < 2 || !LossGate.perStep(context)) {
      return findings;
    }
    if (LossFunction.similarityCrossEntropy(context.metadata())) {
      return findings; // its floor is far above 0: how far it falls says nothing on its own
    }
    double start = loss.firstBlockMean(block);
    double best = loss.bestBlockMean(block);
    double uniform = LossGate.uniformLoss(context);
    // A classifier is measured from a uniform guess's loss, wherever it started: falling from a
    // confidently wrong start back to a uniform guess learns nothing (as LossGate judges it). A
    // cross-entropy whose best block stays above twice that loss is not a mean over examples of K
    // classes (it is summed over elements, or carries other terms), nor is one that starts at a
    // whole multiple of it (a sum of cross-entropies, each at a uniform guess's loss untrained):
    // either is measured from its start.
    int terms = LossFunction.uniformGuesses(start, uniform);
    if (best > 2 * uniform || terms >= 2) {
      uniform = 0;
    }
    double reference = uniform > 0 ? uniform : start;
    if (!(reference > 0)) {
      return findings;
    }
    double drop = 1 - best / reference;
    if (!(drop < minProgress)) {
      return findings;
    }
    long first = loss.step(0);
    long last = loss.step(loss.size() - 1);
    findings.add(
        Finding.builder(this)
            .at(-1, Phase.LOSS)
            .steps(first, last, loss.size())
            .evidence(
                Evidence.builder()
                    .put(REFERENCE_LOSS, reference)
                    .put(BEST_BLOCK_MEAN, best)
                    .put(DROP_FROM_START, drop)
                    .put(BLOCK_STEPS, (long) block)
                    .put(THRESHOLD, minProgress)
                    .build())
            .message(
                format(
                    ROOT,
                    "Over %d steps the loss (averaged over %d steps) fell at best to %s, %s below"
                        + " its start of %s%s; every healthy run falls much further.",
                    loss.size(),
                    block,
                    Numbers.format(best),
                    Numbers.percent(Math.max(0, drop)),
                    Numbers.format(reference),
                    startNote(context, start, uniform, terms)))
            .build());
    return findings;
  }

  /** What the message says of the start it measured from, in parentheses, or nothing. */
  private static String startNote(
      AnalysisContext context, double start, double uniform, int terms) {
    if (terms >= 2) {
      return format(
          ROOT,
          " (%d times the loss of a uniform guess: a sum of %d cross-entropies, measured from its"
              + " own start)",
          terms,
          terms);
    }
    if (uniform > 0) {
      return start >= ADDED_TERMS_HINT * uniform
          ? format(
              ROOT,
              " (the loss of a uniform guess; it started %s times higher: a loss that adds up"
                  + " several terms, such as two cross-entropies, is measured from its own start"
                  + " when the recorder is told loss_added=True)",
              Numbers.format(start / uniform))
          : " (the loss of a uniform guess)";
    }
    if (context.metadata().lossWeighted()) {
      return " (the loss is weighted: a uniform guess has no fixed loss to measure from)";
    }
    return context.metadata().lossAdded()
        ? " (the loss holds terms added beside the loss function: a uniform guess's loss is not"
            + " its start)"
        : "";
  }
}
