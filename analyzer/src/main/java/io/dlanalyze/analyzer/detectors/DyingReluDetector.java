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
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Reports ReLU layers whose units die: the share of exact zeros in the layer's output stays at or
 * above {@code dying-relu-fraction} for {@code window} steps in a row. The output gradient's zero
 * share, where recorded, is quoted as corroboration (a dead unit passes no gradient).
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
    thresholds = {"window", "dying-relu-fraction"})
public final class DyingReluDetector implements Detector {
  private static final DetectorSpec SPEC =
      DyingReluDetector.class.getAnnotation(DetectorSpec.class);

  private int window;
  private double threshold;
  private double[] initial = new double[0];
  private long[] runStart = new long[0];
  private long[] run = new long[0];
  private long[] firedStart = new long[0];
  private long[] firedEnd = new long[0];
  private long[] steps = new long[0];
  private double[] sum = new double[0];
  private double[] max = new double[0];
  private double[] backwardSum = new double[0];
  private long[] backwardCount = new long[0];

  @Override
  public Set<Column> columns() {
    return EnumSet.of(Column.MEAN, Column.ZERO_FRACTION);
  }

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.WINDOW);
    threshold = context.options().get(Thresholds.DYING_RELU_FRACTION);
  }

  private void ensure(int layers) {
    if (run.length >= layers) {
      return;
    }
    int old = run.length;
    layers =
        Math.max(layers, old * 2); // doubling: a trace that adds layers one by one copies O(layers)
    initial = Arrays.copyOf(initial, layers);
    runStart = Arrays.copyOf(runStart, layers);
    run = Arrays.copyOf(run, layers);
    firedStart = Arrays.copyOf(firedStart, layers);
    firedEnd = Arrays.copyOf(firedEnd, layers);
    steps = Arrays.copyOf(steps, layers);
    sum = Arrays.copyOf(sum, layers);
    max = Arrays.copyOf(max, layers);
    backwardSum = Arrays.copyOf(backwardSum, layers);
    backwardCount = Arrays.copyOf(backwardCount, layers);
    Arrays.fill(initial, old, layers, Double.NaN);
    Arrays.fill(firedStart, old, layers, -1);
  }

  @Override
  public void observe(StepView step) {
    ensure(step.layerCount());
    for (int i = 0, n = step.presentLayerCount(), layers = step.layerCount(); i < n; i++) {
      int layer = step.presentLayer(i);
      if (layer >= layers) {
        break;
      }
      if (!step.present(layer, Phase.ACTIVATION, Column.ZERO_FRACTION)
          || step.layer(layer).activationKind() != ActivationKind.RELU) {
        continue;
      }
      double zero = step.value(layer, Phase.ACTIVATION, Column.ZERO_FRACTION);
      if (Double.isNaN(initial[layer])) {
        initial[layer] = zero;
      }
      if (!(zero >= threshold)) {
        run[layer] = 0;
        continue;
      }
      if (run[layer] == 0) {
        runStart[layer] = step.step();
      }
      run[layer]++;
      if (run[layer] >= window) {
        if (firedStart[layer] < 0) {
          firedStart[layer] = runStart[layer];
          steps[layer] = 0;
        }
        if (firedStart[layer] == runStart[layer]) {
          firedEnd[layer] = step.step();
          steps[layer]++;
          sum[layer] += zero;
          max[layer] = Math.max(max[layer], zero);
          if (step.present(layer, Phase.BACKWARD, Column.ZERO_FRACTION)) {
            backwardSum[layer] += step.value(layer, Phase.BACKWARD, Column.ZERO_FRACTION);
            backwardCount[layer]++;
          }
        }
      }
    }
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    for (int layer = 0; layer < run.length; layer++) {
      if (firedStart[layer] < 0) {
        continue;
      }
      long length = firedEnd[layer] - firedStart[layer] + 1;
      double mean = sum[layer] / steps[layer];
      Evidence.Builder evidence =
          Evidence.builder()
              .put(INITIAL_ZERO_FRACTION, initial[layer])
              .put(MEAN_ZERO_FRACTION, mean)
              .put(MAX_ZERO_FRACTION, max[layer])
              .put(THRESHOLD, threshold)
              .put(RUN_STEPS, length);
      String backward = "";
      if (backwardCount[layer] > 0) {
        double b = backwardSum[layer] / backwardCount[layer];
        evidence.put(BACKWARD_ZERO_FRACTION, b);
        backward = format(ROOT, "; its output gradient was %s zero", Numbers.percent(b));
      }
      String name = context.layer(layer).name();
      findings.add(
          Finding.builder(SPEC)
              .at(layer, Phase.ACTIVATION)
              .steps(firedStart[layer], firedEnd[layer], length)
              .evidence(evidence.build())
              .message(
                  format(
                      ROOT,
                      "%s of the ReLU outputs of %s were exactly zero for %d steps from step %d (%s"
                          + " at the first step)%s.",
                      Numbers.percent(mean),
                      name,
                      length,
                      firedStart[layer],
                      Numbers.percent(initial[layer]),
                      backward))
              .build());
    }
    return findings;
  }
}
