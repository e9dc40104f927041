package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.BLOCK_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_BLOCK_LOSS;
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
 * Reports the loss of an objective that does not measure progress ({@code dltrace.objective}: a GAN
 * player's loss, a policy-gradient surrogate, a temporal-difference error) that ended at {@code
 * magnitude-growth} times its starting magnitude or more. Such a loss may rise or fall as the run
 * learns, so the detectors that read its trend do not run; but its scale is set by the game's
 * values (the critic's scores, the returns), and orders of magnitude of growth that do not come
 * back mean the game blew up: a critic whose weights are not clipped, a player that maximizes what
 * it should minimize, values bootstrapped from themselves without bound.
 *
 * <p>Measured over {@value #BLOCKS} blocks of the run's losses (at least {@code oscillation-block}
 * steps each), each block's level the mean magnitude of its losses without its largest one (as
 * oscillating-loss does, so that one wild step cannot make the level); the first block's level is
 * the reference and the last block's is judged. A twentieth of the run, not its first few steps,
 * sets the reference: an agent's temporal-difference error starts near 0 while its replay buffer
 * fills and its values are still 0. Calibrated on the healthy runs
 * (docs/evaluation.md#calibration). Needs three blocks of finite losses; non-finite losses are
 * numerical-error's.
 */
@DetectorSpec(
    id = DetectorIds.LOSS_MAGNITUDE,
    symptom = Symptom.NOT_LEARNING,
    severity = Severity.WARNING,
    summary =
        "The loss of an objective that does not measure progress (a GAN's, a policy's, a"
            + " temporal-difference error) ended orders of magnitude above its start",
    source =
        "the loss's scale as the game's values; Arjovsky et al. 2017, the critic's weight clipping"
            + " (docs/references.md#loss-magnitude)",
    thresholds = {"oscillation-block", "magnitude-growth"},
    columns = {Column.MEAN})
public final class LossMagnitudeDetector implements Detector {
  /** Blocks a run is cut into, each at least {@code oscillation-block} steps. */
  static final int BLOCKS = 20;

  private boolean judged;
  private int block;
  private double growth;

  @Override
  public void begin(AnalysisContext context) {
    judged = !context.metadata().lossMeasuresProgress();
    block = context.options().getInt(Thresholds.OSCILLATION_BLOCK);
    growth = context.options().get(Thresholds.MAGNITUDE_GROWTH);
  }

  @Override
  public int classifications() {
    return 0;
  }

  /** A block's level: the mean magnitude of its losses without its largest one. */
  private static double level(LossHistory loss, int from, int to) {
    return OscillatingLossDetector.level(loss, from, to, true);
  }

  @Override
  public void observe(StepView step) {
    // judged at the end, from the engine's loss history
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    if (!judged) {
      return findings;
    }
    LossHistory loss = context.lossHistory();
    // a twentieth of the run per block: the first steps of a replay or a game are not its scale
    int block = Math.max(this.block, loss.size() / BLOCKS);
    int blocks = loss.size() / block;
    if (blocks < 3) {
      return findings;
    }
    double first = level(loss, 0, block);
    if (!(first > 0)) {
      return findings;
    }
    double last = level(loss, (blocks - 1) * block, blocks * block);
    if (!(last >= growth * first)) {
      return findings;
    }
    // the run's blow-up starts at the first block at the bar from which every later block stays
    // above the reference's tenfold
    int start = blocks - 1;
    double peak = last;
    for (int b = blocks - 2; b >= 1; b--) {
      double level = level(loss, b * block, (b + 1) * block);
      peak = Math.max(peak, level);
      if (level >= growth * first) {
        start = b;
      } else if (level < 10 * first) {
        break;
      }
    }
    long from = loss.step(start * block);
    long to = loss.step(loss.size() - 1);
    findings.add(
        Finding.builder(this)
            .at(-1, Phase.LOSS)
            .steps(from, to, blocks - start)
            .evidence(
                Evidence.builder()
                    .put(FIRST_BLOCK_LOSS, first)
                    .put(LAST_BLOCK_LOSS, last)
                    .put(MAX_BLOCK_LOSS, peak)
                    .put(GROWTH, last / first)
                    .put(GROWTH_THRESHOLD, growth)
                    .put(BLOCK_STEPS, (long) block)
                    .build())
            .message(
                format(
                    ROOT,
                    "The loss's magnitude (averaged over blocks of %d steps) grew %sx, from %s in"
                        + " the first block to %s in the last (from step %d), and did not come"
                        + " back: with the objective %s, the loss's scale is that of the values the"
                        + " run learns, and they blew up.",
                    block,
                    Numbers.magnitude(last / first),
                    Numbers.format(first),
                    Numbers.format(last),
                    from,
                    context.metadata().objective()))
            .build());
    return findings;
  }
}
