package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.LONGEST_RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.WINDOW;
import static io.dlanalyze.analyzer.EvidenceKeys.ZERO_FRACTION_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.ZERO_STEPS;
import static io.dlanalyze.trace.Column.L2_NORM;
import static io.dlanalyze.trace.Column.MAX;
import static io.dlanalyze.trace.Column.MEAN;
import static io.dlanalyze.trace.Column.MIN;
import static io.dlanalyze.trace.Column.STD;
import static io.dlanalyze.trace.Column.ZERO_FRACTION;

import io.dlanalyze.analyzer.AnalysisContext;
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
import io.dlanalyze.trace.Phase;

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
    thresholds = {"window", "zero-fraction"},
    columns = {MEAN, STD, MIN, MAX, L2_NORM, ZERO_FRACTION})
public final class DeadOrZeroDetector extends LayerRunsDetector {
  public DeadOrZeroDetector() {
    super(
        StepView.ALL_ZERO, false, Phase.FORWARD, Phase.ACTIVATION, Phase.BACKWARD, Phase.GRADIENT);
  }

  @Override
  boolean skipped(Layer layer, Phase phase) {
    return phase == Phase.GRADIENT && !layer.trainable();
  }

  /**
   * A layer's all-zero output gradient is not a dead layer when, in the same step, its parameters'
   * gradient is not all zero: that gradient is the sum over every call of the layer of its input
   * times its output's gradient, so some call's output gradient was not zero. The recorded output
   * gradient is one call's (the last, for a layer called several times in a pass: a decoder cell
   * whose last step has one position left to point at gets none).
   */
  @Override
  boolean holds(StepView step, int layer, Phase phase, int mask) {
    boolean zero = super.holds(step, layer, phase, mask);
    if (!zero || phase != Phase.BACKWARD) {
      return zero;
    }
    int gradient = step.presentMask(step.slot(layer, Phase.GRADIENT));
    return gradient == 0 || (gradient & StepView.ALL_ZERO) != 0;
  }

  @Override
  void describe(
      Finding.Builder finding, Stream root, String name, String others, AnalysisContext context) {
    double zeroFraction = options().get(Thresholds.ZERO_FRACTION);
    finding
        .evidence(
            Evidence.builder()
                .put(ZERO_FRACTION_THRESHOLD, zeroFraction)
                .put(WINDOW, options().getInt(Thresholds.WINDOW))
                .put(LONGEST_RUN_STEPS, root.run().longest())
                .put(ZERO_STEPS, root.run().occurrences())
                .build())
        .message(
            "%s %s values were all zero (zero_fraction >= %s) for %d steps in a row from step %d,"
                + " %d steps in all up to step %d%s.",
            name,
            root.phase().wireName(),
            Numbers.format(zeroFraction),
            root.run().longest(),
            root.run().onset(),
            root.run().occurrences(),
            root.run().end(),
            others.isEmpty() ? "" : "; so were its " + others + " values");
  }
}
