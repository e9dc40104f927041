package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.LONGEST_RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.RELATIVE_TOLERANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.UNCHANGED_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.WINDOW;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Reports weights, weight gradients and layer outputs that stop changing: {@code window}
 * consecutive observations of a stream whose statistics all stay within a relative tolerance of the
 * previous observation. One finding per layer; its other unchanged streams are consequences.
 *
 * <p>Implementation notes: compared are mean, std, min, max and l2_norm where both observations
 * have them; the stream is unchanged when at least one is compared and none moved by more than
 * {@code unchanged-tolerance} times its scale (max(|a|, |b|); for the mean also the std, so a mean
 * near zero is not judged on cancellation noise). DeepLocalize compares only the exact mean over
 * non-overlapping blocks of 5 (docs/references.md#deeplocalize-checks). Not judged, because
 * constant by construction (#false-alarm-sources): the learning rate; a softmax output's mean (1/K;
 * the layer's activation or type says softmax, or the mean is 1/K for an integer K); normalization
 * layers' outputs; weights and gradients of layers marked trainable=false; all-zero tensors
 * (dead-or-zero reports those).
 */
@DetectorSpec(
    id = DetectorIds.UNCHANGED_VALUES,
    symptom = Symptom.UNCHANGED_VALUES,
    severity = Severity.ERROR,
    summary = "A layer's weights, weight gradients or outputs stop changing from step to step",
    source =
        "DeepLocalize Alg. 2 unchanged rule; DeepFD cons_mean/std_weight"
            + " (docs/references.md#deeplocalize-checks, #deepfd)",
    thresholds = {"window", "unchanged-tolerance", "zero-fraction"})
public final class UnchangedValuesDetector implements Detector {
  private static final DetectorSpec SPEC =
      UnchangedValuesDetector.class.getAnnotation(DetectorSpec.class);
  private static final Phase[] PHASES = {
    Phase.FORWARD, Phase.ACTIVATION, Phase.WEIGHT, Phase.GRADIENT
  };
  private static final Column[] STATS = {
    Column.MEAN, Column.STD, Column.MIN, Column.MAX, Column.L2_NORM
  };
  private static final int[] STAT_BITS = new int[STATS.length];

  static {
    for (int i = 0; i < STATS.length; i++) {
      STAT_BITS[i] = 1 << STATS[i].ordinal();
    }
  }

  private int window;
  private double tolerance;
  private double zeroFraction;
  private RunTracker runs;

  /** Previous observation per slot: one row of STATS.length values, NaN where absent. */
  private double[] previous = new double[0];

  private long[] previousStep = new long[0];
  private boolean[] hasPrevious = new boolean[0];

  @Override
  public Set<Column> columns() {
    return EnumSet.of(
        Column.MEAN, Column.STD, Column.MIN, Column.MAX, Column.L2_NORM, Column.ZERO_FRACTION);
  }

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.WINDOW);
    tolerance = context.options().get(Thresholds.UNCHANGED_TOLERANCE);
    zeroFraction = context.options().get(Thresholds.ZERO_FRACTION);
    runs = new RunTracker(Math.max(1, window - 1));
  }

  @Override
  public void observe(StepView step) {
    int slots = StepView.slotCount(step.layerCount());
    if (hasPrevious.length < slots) {
      int n = Math.max(slots, hasPrevious.length * 2);
      previous = Arrays.copyOf(previous, n * STATS.length);
      previousStep = Arrays.copyOf(previousStep, n);
      hasPrevious = Arrays.copyOf(hasPrevious, n);
    }
    double[] zero = step.doubles(Column.ZERO_FRACTION);
    double[] mean = step.doubles(Column.MEAN);
    double[] std = step.doubles(Column.STD);
    double[] min = step.doubles(Column.MIN);
    double[] max = step.doubles(Column.MAX);
    double[] l2 = step.doubles(Column.L2_NORM);
    double[][] stats = {mean, std, min, max, l2};
    long now = step.step();
    for (int i = 0, n = step.presentLayerCount(), layers = step.layerCount(); i < n; i++) {
      int layer = step.presentLayer(i);
      if (layer >= layers) {
        break;
      }
      Layer info = step.layer(layer);
      for (Phase phase : PHASES) {
        int slot = StepView.slot(layer, phase);
        int mask = step.presentMask(slot);
        if (mask == 0 || skipped(info, phase)) {
          continue;
        }
        boolean usable =
            Double.isFinite(mean[slot])
                && !DeadOrZeroDetector.allZero(
                    mask, slot, zero, mean, std, min, max, l2, zeroFraction);
        boolean output = phase == Phase.FORWARD || phase == Phase.ACTIVATION;
        boolean unchanged =
            usable && hasPrevious[slot] && unchanged(stats, mask, slot, output && info.isSoftmax());
        runs.observe(slot, now, unchanged, previousStep[slot]);
        int base = slot * STATS.length;
        for (int k = 0; k < STATS.length; k++) {
          previous[base + k] = (mask & STAT_BITS[k]) != 0 ? stats[k][slot] : Double.NaN;
        }
        previousStep[slot] = now;
        hasPrevious[slot] = usable;
      }
    }
  }

  private static boolean skipped(Layer info, Phase phase) {
    return switch (phase) {
      case FORWARD, ACTIVATION -> info.isNormalization();
      case WEIGHT, GRADIENT -> !info.trainable();
      case LOSS, ACCURACY, BACKWARD, INPUT, TARGET, LEARNING_RATE, VAL_LOSS, VAL_ACCURACY -> true;
    };
  }

  /**
   * True when every statistic both observations have moved by at most the tolerance (and at least
   * one was compared). {@code softmaxOutput}: the mean is constant by construction, not compared.
   */
  private boolean unchanged(double[][] stats, int mask, int slot, boolean softmaxOutput) {
    int base = slot * STATS.length;
    double std = (mask & STAT_BITS[1]) != 0 ? stats[1][slot] : Double.NaN;
    int compared = 0;
    for (int i = 0; i < STATS.length; i++) {
      if ((mask & STAT_BITS[i]) == 0) {
        continue;
      }
      double before = previous[base + i];
      double now = stats[i][slot];
      if (Double.isNaN(before) || Double.isNaN(now)) {
        continue;
      }
      double scale = Math.max(Math.abs(before), Math.abs(now));
      if (i == 0) {
        if (softmaxOutput || before == now && isReciprocalOfInteger(now)) {
          continue;
        }
        if (!Double.isNaN(std)) {
          scale = Math.max(scale, Math.abs(std));
        }
      }
      compared++;
      if (Math.abs(now - before) > tolerance * scale) {
        return false;
      }
    }
    return compared > 0;
  }

  /** True when {@code mean} is 1/K for an integer K >= 2: a softmax output's mean. */
  static boolean isReciprocalOfInteger(double mean) {
    if (!(mean > 0 && mean <= 0.5)) {
      return false;
    }
    double k = Math.rint(1 / mean);
    return Math.abs(mean * k - 1) <= 1e-9;
  }

  @Override
  public boolean fired() {
    return runs.any();
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    for (List<LayerGroups.Run> group : LayerGroups.byLayer(runs.runs())) {
      LayerGroups.Run root = group.get(0);
      String name = context.layer(root.layer()).name();
      List<String> others = new ArrayList<>();
      for (int i = 1; i < group.size(); i++) {
        others.add(group.get(i).phase().wireName());
      }
      String also = others.isEmpty() ? "" : "; so did its " + String.join(", ", others) + " values";
      boolean output = root.phase() == Phase.FORWARD || root.phase() == Phase.ACTIVATION;
      long steps = root.longest() + 1;
      findings.add(
          Finding.builder(SPEC)
              .severity(output ? Severity.WARNING : Severity.ERROR)
              .at(root.layer(), root.phase())
              .steps(root.firstStep(), root.lastStep(), root.occurrences())
              .evidence(
                  Evidence.builder()
                      .put(RELATIVE_TOLERANCE, tolerance)
                      .put(WINDOW, (long) window)
                      .put(LONGEST_RUN_STEPS, steps)
                      .put(UNCHANGED_STEPS, root.occurrences())
                      .build())
              .consequences(LayerGroups.consequences(group, context))
              .message(
                  format(
                      ROOT,
                      "%s %s values stopped changing at step %d: %d observations in a row within a"
                          + " relative %s of each other, up to step %d%s.",
                      name,
                      root.phase().wireName(),
                      root.firstStep(),
                      steps,
                      Numbers.format(tolerance),
                      root.lastStep(),
                      also))
              .build());
    }
    return findings;
  }
}
