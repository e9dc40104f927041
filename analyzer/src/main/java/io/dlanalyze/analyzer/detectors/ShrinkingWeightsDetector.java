package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.AFFECTED_LAYERS;
import static io.dlanalyze.analyzer.EvidenceKeys.MEASURED_LAYERS;
import static io.dlanalyze.analyzer.EvidenceKeys.RATIO;
import static io.dlanalyze.analyzer.EvidenceKeys.THRESHOLD;

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
 * Reports weights that training pulled toward zero: the median layer's weight norm at the last
 * recorded step is below {@code weight-shrink} times its norm at the first. A weight penalty that
 * outweighs the loss (a Keras kernel regularizer, an optimizer's weight_decay, an L2 term added to
 * the loss by hand) shrinks every layer geometrically, and the loss's gradient cannot hold the
 * weights up; every healthy dev run ends with its median layer at 0.58 of its first norm or more (a
 * Bayes by Backprop network, whose KL term pulls its weight means toward 0), and the default is
 * half that, rounded down (docs/evaluation.md#calibration). The statistic reads only the weights,
 * so it works whatever wrote the penalty, and whether or not the metadata names it.
 *
 * <p>A layer's norm is its weight phase's l2_norm, or sqrt(numel (std^2 + mean^2)) when the
 * recorder left l2_norm out. Normalization layers (their scale is a free gain, not a weight a
 * penalty should keep), layers whose output a normalization layer rescales (the next layer with
 * weights, or the normalization itself, is one: their scale does not matter, and weight decay
 * shrinks them harmlessly, van Laarhoven 2017, https://arxiv.org/abs/1706.05350), layers of fewer
 * than two weights and layers that start at zero are skipped; non-finite values are ignored, so a
 * run that ends in NaN is judged on its last finite weights. The finding starts at the step the
 * median layer first fell below the bound.
 */
@DetectorSpec(
    id = DetectorIds.SHRINKING_WEIGHTS,
    symptom = Symptom.NOT_LEARNING,
    severity = Severity.WARNING,
    summary = "Training pulled the weights toward zero (a penalty that outweighs the loss)",
    source = "the weight penalty's geometric shrinkage (docs/references.md#weight-decay)",
    thresholds = {"weight-shrink"},
    columns = {Column.MEAN, Column.STD, Column.L2_NORM, Column.NUMEL})
public final class ShrinkingWeightsDetector implements Detector {

  /** Per layer: its first and last finite norm, and the first step it fell below the bound. */
  private static final class State {
    double first = Double.NaN;
    double last = Double.NaN;
    long lastStep = -1;
    long shrunkAt = Long.MAX_VALUE;
  }

  private final SlotStates<State> layers = new SlotStates<>(State::new);
  private double bound;

  @Override
  public void begin(AnalysisContext context) {
    bound = context.options().get(Thresholds.WEIGHT_SHRINK);
  }

  @Override
  public void observe(StepView step) {
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      if (!step.has(layer, Phase.WEIGHT) || step.layer(layer).isNormalization()) {
        continue;
      }
      long numel = step.count(layer, Phase.WEIGHT, Column.NUMEL);
      if (numel >= 0 && numel < 2) {
        continue;
      }
      double norm = norm(step, layer, numel);
      if (!Double.isFinite(norm)) {
        continue;
      }
      State state = layers.at(step.slot(layer, Phase.WEIGHT));
      if (Double.isNaN(state.first)) {
        state.first = norm;
      }
      state.last = norm;
      state.lastStep = step.step();
      if (state.shrunkAt == Long.MAX_VALUE && state.first > 0 && norm < bound * state.first) {
        state.shrunkAt = step.step();
      }
    }
  }

  /** The weight phase's l2_norm, else sqrt(numel (std^2 + mean^2)); NaN when neither is known. */
  private static double norm(StepView step, int layer, long numel) {
    if (step.present(layer, Phase.WEIGHT, Column.L2_NORM)) {
      return step.value(layer, Phase.WEIGHT, Column.L2_NORM);
    }
    if (numel < 0 || !step.present(layer, Phase.WEIGHT, Column.STD)) {
      return Double.NaN;
    }
    double mean = step.value(layer, Phase.WEIGHT, Column.MEAN);
    double std = step.value(layer, Phase.WEIGHT, Column.STD);
    return Math.sqrt(numel * (std * std + mean * mean));
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    List<State> measured = new ArrayList<>();
    for (int slot : layers.slots(context)) {
      State state = layers.get(slot);
      if (state.first > 0
          && state.lastStep >= 0
          && !LayerOrder.feedsNormalization(context, context.slotLayer(slot))) {
        measured.add(state);
      }
    }
    if (measured.isEmpty()) {
      return findings;
    }
    double[] ratios = measured.stream().mapToDouble(s -> s.last / s.first).sorted().toArray();
    double median = median(ratios);
    if (!(median < bound)) {
      return findings;
    }
    long[] shrunk = measured.stream().mapToLong(s -> s.shrunkAt).sorted().toArray();
    // the step by which the median layer had fallen below the bound (its lower half all had)
    long start = shrunk[(shrunk.length - 1) / 2];
    long end = measured.stream().mapToLong(s -> s.lastStep).max().orElseThrow();
    if (start == Long.MAX_VALUE) {
      start = end;
    }
    long affected = Arrays.stream(ratios).filter(r -> r < bound).count();
    findings.add(
        Finding.builder(this)
            .at(-1, Phase.WEIGHT)
            .steps(start, end, 1)
            .evidence(
                Evidence.builder()
                    .put(RATIO, median)
                    .put(AFFECTED_LAYERS, affected)
                    .put(MEASURED_LAYERS, (long) ratios.length)
                    .put(THRESHOLD, bound)
                    .build())
            .message(
                "The weights shrank toward zero: the median layer's weight norm ended at %s of its"
                    + " first, below %s from step %d (%d of %d layers); healthy runs keep their"
                    + " weights.",
                Numbers.percent(median), Numbers.percent(bound), start, affected, ratios.length)
            .build());
    return findings;
  }

  private static double median(double[] sorted) {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
