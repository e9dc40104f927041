package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.BACKWARD_ZERO_FRACTION;
import static io.dlanalyze.analyzer.EvidenceKeys.INITIAL_ZERO_FRACTION;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_ZERO_FRACTION;
import static io.dlanalyze.analyzer.EvidenceKeys.MEAN_ZERO_FRACTION;
import static io.dlanalyze.analyzer.EvidenceKeys.RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.THRESHOLD;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.ActivationKind;
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
import java.util.List;

/**
 * Reports ReLU layers whose units die: the share of exact zeros in the layer's output stays at or
 * above {@code dying-relu-fraction} for {@code window} steps in a row (recorded steps, or, recorded
 * sparsely, the steps they span at one every 4: {@link Run}). The output gradient's zero share,
 * where recorded, is quoted as corroboration (a dead unit passes no gradient).
 *
 * <p>Implementation notes: DeepDiagnosis calls a ReLU layer dead when >= 70% of its outputs are <=
 * 0 (at the last epoch); AUTOTRAINER when >= 70% of all gradient entries are exactly zero
 * (docs/references.md#deepdiagnosis, #autotrainer). A ReLU layer at initialization already outputs
 * ~50% zeros, and healthy nets drift higher: in the fixed sample runs the worst ReLU layer sits at
 * a median of 0.84 and peaks at 0.88 (vanishing-gradient-fixed, fc5), and 0.71-0.75 is common
 * (gh-averaging-fixed). 0.7 would flag four of the healthy twins, so the default is 0.95: at most
 * one unit in twenty still fires, and it must hold for a whole window, not one batch
 * (#false-alarm-sources: zero_fraction plus persistence). The layer's activation comes from {@code
 * dltrace.layers} or a layer type ReLU.
 */
@DetectorSpec(
    id = DetectorIds.DYING_RELU,
    symptom = Symptom.DEAD_OR_ZERO,
    severity = Severity.WARNING,
    summary = "Most units of a ReLU layer output exactly zero for many steps in a row",
    source =
        "DeepDiagnosis dead node >= 0.7, AUTOTRAINER dying ReLU >= 0.7, raised to 0.95 for normal"
            + " ReLU sparsity (docs/references.md#deepdiagnosis, #autotrainer,"
            + " #false-alarm-sources)",
    thresholds = {"window", "dying-relu-fraction"},
    columns = {Column.MEAN, Column.ZERO_FRACTION})
public final class DyingReluDetector implements Detector {

  /**
   * Per ReLU layer: its run of dead steps, and over the first one's qualifying part, the shares.
   */
  private final class State {
    final Run run = new Run(window, Run.Policy.FIRST, true);
    double initial = Double.NaN;
    long steps;
    double sum;
    double max;
    double backwardSum;
    long backwardCount;
  }

  private int window;
  private double threshold;
  private final SlotStates<State> layers = new SlotStates<>(State::new);

  /** Layers whose run qualified: each one's finding is final once it did. */
  private int qualified;

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.WINDOW);
    threshold = context.options().get(Thresholds.DYING_RELU_FRACTION);
  }

  @Override
  public void observe(StepView step) {
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int index = step.presentLayer(i);
      if (!step.present(index, Phase.ACTIVATION, Column.ZERO_FRACTION)
          || step.layer(index).activationKind() != ActivationKind.RELU) {
        continue;
      }
      double zero = step.value(index, Phase.ACTIVATION, Column.ZERO_FRACTION);
      State layer = layers.at(step.slot(index, Phase.ACTIVATION));
      if (Double.isNaN(layer.initial)) {
        layer.initial = zero;
      }
      boolean before = layer.run.qualified();
      if (layer.run.observe(step.step(), zero >= threshold)) {
        qualified += before ? 0 : 1;
        layer.steps++;
        layer.sum += zero;
        layer.max = Math.max(layer.max, zero);
        if (step.present(index, Phase.BACKWARD, Column.ZERO_FRACTION)) {
          layer.backwardSum += step.value(index, Phase.BACKWARD, Column.ZERO_FRACTION);
          layer.backwardCount++;
        }
      }
    }
  }

  /** A layer's first qualifying run is its finding, whatever follows: conclusive at once. */
  @Override
  public int conclusive() {
    return qualified;
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    for (int slot : layers.slots(context)) {
      State layer = layers.get(slot);
      if (!layer.run.qualified()) {
        continue;
      }
      int index = context.slotLayer(slot);
      long first = layer.run.onset();
      long length = layer.run.end() - first + 1;
      double mean = layer.sum / layer.steps;
      Evidence.Builder evidence =
          Evidence.builder()
              .put(INITIAL_ZERO_FRACTION, layer.initial)
              .put(MEAN_ZERO_FRACTION, mean)
              .put(MAX_ZERO_FRACTION, layer.max)
              .put(THRESHOLD, threshold)
              .put(RUN_STEPS, length);
      String backward = "";
      if (layer.backwardCount > 0) {
        double b = layer.backwardSum / layer.backwardCount;
        evidence.put(BACKWARD_ZERO_FRACTION, b);
        backward = format(ROOT, "; its output gradient was %s zero", Numbers.percent(b));
      }
      findings.add(
          Finding.builder(this)
              .at(index, Phase.ACTIVATION)
              .steps(first, layer.run.end(), length)
              .evidence(evidence.build())
              .message(
                  "%s of the ReLU outputs of %s were exactly zero for %d steps from step %d (%s at"
                      + " the first step)%s.",
                  Numbers.percent(mean),
                  context.layer(index).name(),
                  length,
                  first,
                  Numbers.percent(layer.initial),
                  backward)
              .build());
    }
    return findings;
  }
}
