package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.EPISODES;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_QUARTER_RETURN;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_QUARTER_RETURN;
import static io.dlanalyze.analyzer.EvidenceKeys.RETURN_GAIN_T;
import static io.dlanalyze.analyzer.EvidenceKeys.THRESHOLD;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reports a reinforcement-learning run whose episode return did not rise: the mean return of the
 * episodes in the last quarter of the run's {@code episode_return} rows is not above that of the
 * first quarter by {@code min-return-gain} standard errors (Welch's t over the episodes of both
 * quarters). The return is what such training is for; its loss (a policy-gradient surrogate, a
 * bootstrapped value error) says nothing about progress, so the detectors that read the loss's
 * trend do not run on it, and without this one a run that never learned had nothing to show it.
 *
 * <p>A row's statistics are over the episodes that ended at its step (for a one-step task such as a
 * contextual bandit, over the batch's rewards): {@code numel} episodes with that mean and standard
 * deviation. A quarter pools its rows by the law of total variance. Runs with fewer than {@code
 * return-min-rows} rows are not judged, and non-finite returns are left to numerical-error.
 */
@DetectorSpec(
    id = DetectorIds.RETURN_PROGRESS,
    symptom = Symptom.NOT_LEARNING,
    severity = Severity.WARNING,
    summary = "The episode return did not rise from the first quarter of the run to the last",
    source =
        "the return as the measure of an agent's progress (Henderson et al. 2018, Deep"
            + " Reinforcement Learning that Matters; docs/references.md#return-progress)",
    thresholds = {"min-return-gain", "return-min-rows"},
    columns = {Column.MEAN, Column.STD, Column.NUMEL})
public final class ReturnProgressDetector implements Detector {
  private double minGain;
  private int minRows;
  private long firstStep = -1;
  private long lastStep = -1;
  private long episodes;
  private double[] means = new double[64];
  private double[] stds = new double[64];
  private long[] counts = new long[64];
  private int rows;

  @Override
  public void begin(AnalysisContext context) {
    this.minGain = context.options().get(Thresholds.MIN_RETURN_GAIN);
    this.minRows = context.options().getInt(Thresholds.RETURN_MIN_ROWS);
  }

  @Override
  public int classifications() {
    return 0;
  }

  @Override
  public void observe(StepView step) {
    if (!step.has(-1, Phase.EPISODE_RETURN)) {
      return;
    }
    double mean = step.mean(-1, Phase.EPISODE_RETURN);
    if (!Double.isFinite(mean)) {
      return; // numerical-error reports it
    }
    double std = step.value(-1, Phase.EPISODE_RETURN, Column.STD);
    long n = step.count(-1, Phase.EPISODE_RETURN, Column.NUMEL);
    if (rows == means.length) {
      int grown = rows * 2;
      means = Arrays.copyOf(means, grown);
      stds = Arrays.copyOf(stds, grown);
      counts = Arrays.copyOf(counts, grown);
    }
    means[rows] = mean;
    stds[rows] = Double.isFinite(std) ? std : 0;
    counts[rows] = Math.max(1, n);
    episodes += counts[rows];
    rows++;
    if (firstStep < 0) {
      firstStep = step.step();
    }
    lastStep = step.step();
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    if (rows < minRows) {
      return findings;
    }
    int quarter = Math.max(2, rows / 4);
    Pooled first = pool(0, quarter);
    Pooled last = pool(rows - quarter, rows);
    double se = Math.sqrt(first.variance / first.episodes + last.variance / last.episodes);
    double gain = last.mean - first.mean;
    double t =
        se > 0
            ? gain / se
            : gain > 0 ? Double.POSITIVE_INFINITY : gain < 0 ? Double.NEGATIVE_INFINITY : 0;
    if (!(t < minGain)) {
      return findings;
    }
    boolean fell = t <= -minGain;
    findings.add(
        Finding.builder(this)
            .at(-1, Phase.EPISODE_RETURN)
            .steps(firstStep, lastStep, rows)
            .evidence(
                Evidence.builder()
                    .put(FIRST_QUARTER_RETURN, first.mean)
                    .put(LAST_QUARTER_RETURN, last.mean)
                    .put(RETURN_GAIN_T, Math.max(t, -1e6))
                    .put(EPISODES, episodes)
                    .put(THRESHOLD, minGain)
                    .build())
            .message(
                format(
                    ROOT,
                    "Over %d episodes the mean return %s from %s (the first quarter of the %d steps"
                        + " with returns) to %s (the last quarter)%s: the agent did not learn to"
                        + " act better.",
                    episodes,
                    fell ? "fell" : "went",
                    Numbers.format(first.mean),
                    rows,
                    Numbers.format(last.mean),
                    fell
                        ? ""
                        : format(
                            ROOT,
                            ", %s standard errors, under the %s a learning agent gains",
                            Numbers.format(t),
                            Numbers.format(minGain))))
            .build());
    return findings;
  }

  /** The episodes of rows [from, to) as one sample: their mean and (population) variance. */
  private Pooled pool(int from, int to) {
    double n = 0;
    double sum = 0;
    for (int i = from; i < to; i++) {
      n += counts[i];
      sum += counts[i] * means[i];
    }
    double mean = sum / n;
    double squares = 0;
    for (int i = from; i < to; i++) {
      double d = means[i] - mean;
      squares += counts[i] * (stds[i] * stds[i] + d * d);
    }
    return new Pooled(mean, squares / n, n);
  }

  private record Pooled(double mean, double variance, double episodes) {}
}
