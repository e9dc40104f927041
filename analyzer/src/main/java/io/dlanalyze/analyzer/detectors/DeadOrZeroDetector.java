package io.dlanalyze.analyzer.detectors;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.report.Numbers;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Reports layers whose outputs or gradients are all zero for {@code window} steps in a row: a
 * dead ReLU layer, a layer cut off from the loss. One finding per layer; its other all-zero
 * streams are listed as consequences.
 *
 * <p>Implementation notes: a tensor is all zero when its zero_fraction is at least {@code
 * zero-fraction} (default 0.999). When a trace has no zero_fraction, the tensor must have mean 0
 * and, where recorded, std 0, min 0, max 0 and l2_norm 0. Unlike DeepLocalize's rule (mean == 0
 * in at least half of all batches so far, DEEPLOCALIZE-AND-PEERS.md 1.3), a ReLU layer with the
 * normal ~50% zeros never counts, and the window is a run, not a cumulative share. Weight
 * gradients of layers marked trainable=false are skipped (frozen layers have none).
 */
@DetectorSpec(
    id = "dead-or-zero",
    symptom = Symptom.DEAD_OR_ZERO,
    severity = Severity.ERROR,
    summary = "A layer's outputs or gradients are all zero for many steps in a row",
    source = "DeepLocalize Alg. 2 zero rule (DEEPLOCALIZE-AND-PEERS.md 1.3), with zero_fraction and a window (5.2)")
public final class DeadOrZeroDetector implements Detector {
  private static final DetectorSpec SPEC = DeadOrZeroDetector.class.getAnnotation(DetectorSpec.class);
  private static final Phase[] PHASES = {Phase.FORWARD, Phase.ACTIVATION, Phase.BACKWARD, Phase.GRADIENT};

  private static final Column[] SPREAD = {Column.STD, Column.MIN, Column.MAX, Column.L2_NORM};

  private int window;
  private double zeroFraction;
  private RunTracker runs;

  @Override
  public Set<Column> columns() {
    return EnumSet.of(Column.MEAN, Column.STD, Column.MIN, Column.MAX, Column.L2_NORM, Column.ZERO_FRACTION);
  }

  @Override
  public Set<Phase> phases() {
    return EnumSet.of(Phase.FORWARD, Phase.ACTIVATION, Phase.BACKWARD, Phase.GRADIENT);
  }

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.WINDOW);
    zeroFraction = context.options().get(Thresholds.ZERO_FRACTION);
    runs = new RunTracker(window);
  }

  @Override
  public void observe(StepView step) {
    for (int layer = 0; layer < step.layerCount(); layer++) {
      Layer info = step.layer(layer);
      for (Phase phase : PHASES) {
        if (!step.has(layer, phase) || phase == Phase.GRADIENT && !info.trainable()) {
          continue;
        }
        runs.observe(layer, phase, step.step(), allZero(step, layer, phase, zeroFraction), step.step());
      }
    }
  }

  /** True when the tensor of (layer, phase) in this step counts as all zero. */
  static boolean allZero(StepView step, int layer, Phase phase, double zeroFraction) {
    if (step.present(layer, phase, Column.ZERO_FRACTION)) {
      return step.value(layer, phase, Column.ZERO_FRACTION) >= zeroFraction;
    }
    if (step.mean(layer, phase) != 0) {
      return false;
    }
    for (Column column : SPREAD) {
      if (step.present(layer, phase, column) && step.value(layer, phase, column) != 0) {
        return false;
      }
    }
    return true;
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
      String also = others.isEmpty() ? "" : "; so were its " + String.join(", ", others) + " values";
      findings.add(
          Finding.builder(SPEC)
              .at(root.layer(), root.phase())
              .steps(root.firstStep(), root.lastStep(), root.occurrences())
              .evidence(
                  Evidence.builder()
                      .put("zero_fraction_threshold", zeroFraction)
                      .put("window", (long) window)
                      .put("longest_run_steps", root.longest())
                      .put("zero_steps", root.occurrences())
                      .build())
              .consequences(LayerGroups.consequences(group, context))
              .message(
                  format(ROOT, "%s %s values were all zero (zero_fraction >= %s) for %d steps in a row from step %d, %d steps in all up to step %d%s.",
                      name, root.phase().wireName(), Numbers.format(zeroFraction),
                      root.longest(), root.firstStep(), root.occurrences(), root.lastStep(), also))
              .build());
    }
    return findings;
  }
}
