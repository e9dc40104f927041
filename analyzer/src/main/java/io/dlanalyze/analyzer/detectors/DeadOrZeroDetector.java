package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.LONGEST_RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.WINDOW;
import static io.dlanalyze.analyzer.EvidenceKeys.ZERO_FRACTION_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.ZERO_STEPS;
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
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Reports layers whose outputs or gradients are all zero for {@code window} steps in a row: a dead
 * ReLU layer, a layer cut off from the loss. One finding per layer; its other all-zero streams are
 * listed as consequences.
 *
 * <p>Implementation notes: a tensor is all zero when its zero_fraction is at least {@code
 * zero-fraction} (default 0.999). When a trace has no zero_fraction, the tensor must have mean 0
 * and, where recorded, std 0, min 0, max 0 and l2_norm 0. Unlike DeepLocalize's rule (mean == 0 in
 * at least half of all batches so far, docs/references.md#deeplocalize-checks), a ReLU layer with
 * the normal ~50% zeros never counts, and the window is a run, not a cumulative share. Weight
 * gradients of layers marked trainable=false are skipped (frozen layers have none).
 */
@DetectorSpec(
    id = DetectorIds.DEAD_OR_ZERO,
    symptom = Symptom.DEAD_OR_ZERO,
    severity = Severity.ERROR,
    summary = "A layer's outputs or gradients are all zero for many steps in a row",
    source =
        "DeepLocalize Alg. 2 zero rule, with zero_fraction and a window"
            + " (docs/references.md#deeplocalize-checks, #false-alarm-sources)",
    thresholds = {"window", "zero-fraction"})
public final class DeadOrZeroDetector implements Detector {
  private static final DetectorSpec SPEC =
      DeadOrZeroDetector.class.getAnnotation(DetectorSpec.class);
  private static final Phase[] PHASES = {
    Phase.FORWARD, Phase.ACTIVATION, Phase.BACKWARD, Phase.GRADIENT
  };

  static final int ZERO_BIT = 1 << Column.ZERO_FRACTION.ordinal();
  static final int STD_BIT = 1 << Column.STD.ordinal();
  static final int MIN_BIT = 1 << Column.MIN.ordinal();
  static final int MAX_BIT = 1 << Column.MAX.ordinal();
  static final int L2_BIT = 1 << Column.L2_NORM.ordinal();

  private int window;
  private double zeroFraction;
  private RunTracker runs;

  @Override
  public Set<Column> columns() {
    return EnumSet.of(
        Column.MEAN, Column.STD, Column.MIN, Column.MAX, Column.L2_NORM, Column.ZERO_FRACTION);
  }

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.WINDOW);
    zeroFraction = context.options().get(Thresholds.ZERO_FRACTION);
    runs = new RunTracker(window);
  }

  @Override
  public void observe(StepView step) {
    double[] zero = step.doubles(Column.ZERO_FRACTION);
    double[] mean = step.doubles(Column.MEAN);
    double[] std = step.doubles(Column.STD);
    double[] min = step.doubles(Column.MIN);
    double[] max = step.doubles(Column.MAX);
    double[] l2 = step.doubles(Column.L2_NORM);
    long now = step.step();
    for (int i = 0, n = step.presentLayerCount(), layers = step.layerCount(); i < n; i++) {
      int layer = step.presentLayer(i);
      if (layer >= layers) {
        break;
      }
      boolean trainable = step.layer(layer).trainable();
      for (Phase phase : PHASES) {
        int slot = StepView.slot(layer, phase);
        int mask = step.presentMask(slot);
        if (mask == 0 || phase == Phase.GRADIENT && !trainable) {
          continue;
        }
        runs.observe(
            slot, now, allZero(mask, slot, zero, mean, std, min, max, l2, zeroFraction), now);
      }
    }
  }

  /**
   * True when the tensor of a slot counts as all zero: zero_fraction at or above the threshold, or,
   * without zero_fraction, a zero mean and zero std, min, max and l2_norm where present.
   */
  static boolean allZero(
      int mask,
      int slot,
      double[] zero,
      double[] mean,
      double[] std,
      double[] min,
      double[] max,
      double[] l2,
      double zeroFraction) {
    if ((mask & ZERO_BIT) != 0) {
      return zero[slot] >= zeroFraction;
    }
    return mean[slot] == 0
        && ((mask & STD_BIT) == 0 || std[slot] == 0)
        && ((mask & MIN_BIT) == 0 || min[slot] == 0)
        && ((mask & MAX_BIT) == 0 || max[slot] == 0)
        && ((mask & L2_BIT) == 0 || l2[slot] == 0);
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
      String also =
          others.isEmpty() ? "" : "; so were its " + String.join(", ", others) + " values";
      findings.add(
          Finding.builder(SPEC)
              .at(root.layer(), root.phase())
              .steps(root.firstStep(), root.lastStep(), root.occurrences())
              .evidence(
                  Evidence.builder()
                      .put(ZERO_FRACTION_THRESHOLD, zeroFraction)
                      .put(WINDOW, (long) window)
                      .put(LONGEST_RUN_STEPS, root.longest())
                      .put(ZERO_STEPS, root.occurrences())
                      .build())
              .consequences(LayerGroups.consequences(group, context))
              .message(
                  format(
                      ROOT,
                      "%s %s values were all zero (zero_fraction >= %s) for %d steps in a row from"
                          + " step %d, %d steps in all up to step %d%s.",
                      name,
                      root.phase().wireName(),
                      Numbers.format(zeroFraction),
                      root.longest(),
                      root.firstStep(),
                      root.occurrences(),
                      root.lastStep(),
                      also))
              .build());
    }
    return findings;
  }
}
