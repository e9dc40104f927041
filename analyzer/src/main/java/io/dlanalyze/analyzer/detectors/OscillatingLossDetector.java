package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.BLOCK_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.LARGEST_RISE;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.SWINGS;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.Finding;
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
 * Reports a loss that swings up and down instead of converging: averaged over blocks of {@code
 * oscillation-block} steps, the loss rises from a local minimum to the next local maximum by at
 * least {@code oscillation-amplitude} times the first block's loss, {@code oscillation-swings}
 * times or more.
 *
 * <p>Implementation notes: AUTOTRAINER counts pairs (local max - local min) >= zeta = 0.03 of the
 * accuracy curve and calls training unstable when there are at least eta = 0.2 x #epochs of them
 * (docs/references.md#autotrainer); TheDeepChecker calls a loss fluctuating when more than 50% of
 * its derivative signs switch over 50 iterations (#thedeepchecker). Batch losses switch sign about
 * 65% of the time in every healthy sample run, so raw sign switches say nothing; block means of 10
 * steps remove the batch noise (each block's highest loss left out, so that one batch the model
 * gets badly wrong, common when a step sees one example, one bag or one episode, cannot make a
 * swing by itself), and measuring swings against the first block's loss (not the current level)
 * keeps the relative jitter of a loss near zero from counting. Only rises count: a falling loss is
 * progress.
 *
 * <p>The reference is the first block's loss or, when the loss has fallen further than that below
 * it, the span it has fallen so far (the first block's mean less the lowest block mean up to the
 * swing), whichever is larger. A loss that stays non-negative never falls further than its start,
 * so for it the reference is the first block's loss; a loss that can go negative (the negative
 * log-likelihood of a continuous density, which a change of units shifts by a constant) starts
 * anywhere, perhaps near zero, and only the distance it travelled gives its swings a scale.
 */
@DetectorSpec(
    id = DetectorIds.OSCILLATING_LOSS,
    symptom = Symptom.OSCILLATION,
    judgesProgress = true,
    severity = Severity.WARNING,
    summary =
        "The loss swings up and down by a large share of its starting value instead of converging",
    source =
        "AUTOTRAINER unstable rule, zeta/eta; TheDeepChecker fluctuating loss"
            + " (docs/references.md#autotrainer, #thedeepchecker)",
    thresholds = {"oscillation-block", "oscillation-amplitude", "oscillation-swings"},
    columns = {Column.MEAN})
public final class OscillatingLossDetector implements Detector {

  private LossHistory loss;
  private int block;
  private double amplitude;
  private int swings;

  /**
   * The swings counted so far over the blocks that have a block after them (a peak is one only when
   * the next block is not higher), as {@link #finish} counts them: they stay swings whatever
   * follows, so the finding is conclusive once they reach {@code oscillation-swings}.
   */
  private final Swings settled = new Swings();

  @Override
  public void begin(AnalysisContext context) {
    loss = context.lossHistory();
    block = context.options().getInt(Thresholds.OSCILLATION_BLOCK);
    amplitude = context.options().get(Thresholds.OSCILLATION_AMPLITUDE);
    swings = context.options().getInt(Thresholds.OSCILLATION_SWINGS);
  }

  @Override
  public void observe(StepView step) {
    // The rule reads the whole loss curve at the end, from the engine's loss history; while the
    // run goes on, only the swings that later blocks cannot undo are counted.
    int blocks = loss.size() / block;
    while (settled.blocks < blocks) {
      int b = settled.blocks;
      settled.add(level(loss, b * block, (b + 1) * block), amplitude);
    }
  }

  @Override
  public int conclusive() {
    return settled.blocks >= 3 && settled.reference > 0 && settled.count >= swings ? 1 : 0;
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    int blocks = loss.size() / block;
    if (blocks < 3) {
      return findings;
    }
    double[] means = new double[blocks];
    for (int b = 0; b < blocks; b++) {
      means[b] = level(loss, b * block, (b + 1) * block);
    }
    if (!(Math.abs(means[0]) > 0)) {
      return findings;
    }
    double lowest = means[0];
    int count = 0;
    double largest = 0;
    int firstLow = -1;
    int lastHigh = -1;
    int low = 0;
    for (int b = 1; b < blocks; b++) {
      if (means[b] < means[low]) {
        low = b;
      }
      lowest = Math.min(lowest, means[b]);
      double reference = reference(means[0], lowest);
      boolean peak = means[b] > means[b - 1] && (b == blocks - 1 || means[b + 1] <= means[b]);
      if (!peak) {
        continue;
      }
      double rise = (means[b] - means[low]) / reference;
      if (rise >= amplitude) {
        count++;
        largest = Math.max(largest, rise);
        if (firstLow < 0) {
          firstLow = low;
        }
        lastHigh = b;
        low = b;
      }
    }
    if (count < swings) {
      return findings;
    }
    long first = loss.step(firstLow * block);
    long last = loss.step(Math.min(loss.size() - 1, (lastHigh + 1) * block - 1));
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    for (double m : means) {
      min = Math.min(min, m);
      max = Math.max(max, m);
    }
    findings.add(
        Finding.builder(this)
            .at(-1, Phase.LOSS)
            .steps(first, Math.max(first, last), count)
            .evidence(
                Evidence.builder()
                    .put(SWINGS, (long) count)
                    .put(LARGEST_RISE, largest)
                    .put(FIRST_BLOCK_LOSS, means[0])
                    .put(MIN_BLOCK_LOSS, min)
                    .put(MAX_BLOCK_LOSS, max)
                    .put(BLOCK_STEPS, (long) block)
                    .build())
            .message(
                format(
                    ROOT,
                    "The loss (averaged over blocks of %d steps, each without its highest step)"
                        + " rose %d times by %s or more of its starting value %s between step %d"
                        + " and step %d, swinging between %s and %s.",
                    block,
                    count,
                    Numbers.percent(amplitude),
                    Numbers.format(means[0]),
                    first,
                    last,
                    Numbers.format(min),
                    Numbers.format(max)))
            .build());
    return findings;
  }

  /**
   * A block's level: the mean of its losses without its highest one (the plain mean of a block of
   * fewer than three). One batch that the model gets badly wrong (a batch of one example, a bag, an
   * episode) can carry a block's mean by itself; it is that batch's loss, not the curve's.
   */
  static double level(LossHistory loss, int from, int to) {
    return level(loss, from, to, false);
  }

  /** {@link #level(LossHistory, int, int)}, of the losses' magnitudes when {@code magnitude}. */
  static double level(LossHistory loss, int from, int to, boolean magnitude) {
    double sum = 0;
    double highest = Double.NEGATIVE_INFINITY;
    for (int i = from; i < to; i++) {
      double value = magnitude ? Math.abs(loss.loss(i)) : loss.loss(i);
      sum += value;
      highest = Math.max(highest, value);
    }
    return to - from < 3 ? sum / (to - from) : (sum - highest) / (to - from - 1);
  }

  /** The larger of the first block's loss and how far the loss fell below it so far. */
  private static double reference(double first, double lowest) {
    return Math.max(Math.abs(first), first - lowest);
  }

  /** The block means seen one by one, and the rises from a low to a confirmed peak among them. */
  private static final class Swings {
    int blocks;
    int count;
    double reference;
    double first;
    double lowest;
    double previous;
    double current;
    double low;

    /** Takes the mean of the next block; the block before it becomes decidable as a peak. */
    void add(double mean, double amplitude) {
      if (blocks == 0) {
        reference = Math.abs(mean);
        first = mean;
        lowest = mean;
        low = mean;
      } else {
        // as finish() judges the peak (the block before this one): with the lowest mean up to it
        if (blocks >= 2 && current > previous && mean <= current) {
          reference = OscillatingLossDetector.reference(first, lowest);
          if ((current - low) / reference >= amplitude) {
            count++;
            low = current;
          }
        }
        if (mean < low) {
          low = mean;
        }
        lowest = Math.min(lowest, current);
      }
      previous = current;
      current = mean;
      blocks++;
    }
  }
}
