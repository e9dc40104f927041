package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.BAND_HIGH;
import static io.dlanalyze.analyzer.EvidenceKeys.BAND_LOW;
import static io.dlanalyze.analyzer.EvidenceKeys.DIRECTION;
import static io.dlanalyze.analyzer.EvidenceKeys.INITIAL_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.RUN_STEPS;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.Direction;
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
 * Reports layers whose weight variance (std^2 of the weight phase) stays outside [{@code
 * weight-variance-low}, {@code weight-variance-high}] for {@code window} steps in a row. Too large
 * is a warning (weights that diverge drive exploding activations and gradients); too small is info
 * (a deliberately small initialization, a large layer's fan-in, can be healthy).
 *
 * <p>Implementation notes: DeepDiagnosis' "poor weight" is any kernel with {@code var(ddof=1) <
 * 1e-5 or > 10} (docs/references.md#deepdiagnosis); the trace's std is the population std, which
 * differs from ddof=1 by a factor n/(n-1), negligible for a weight tensor. Normalization layers
 * (their scale starts at exactly 1 with variance 0) and layers with fewer than 2 weights are
 * skipped.
 */
@DetectorSpec(
    id = DetectorIds.WEIGHT_VARIANCE,
    symptom = Symptom.EXPLODING_GRADIENT,
    severity = Severity.WARNING,
    summary = "A layer's weight variance stays outside its normal band",
    source = "DeepDiagnosis poor weight, var < 1e-5 or > 10 (docs/references.md#deepdiagnosis)",
    thresholds = {"window", "weight-variance-low", "weight-variance-high"})
public final class WeightVarianceDetector implements Detector {
  private static final DetectorSpec SPEC =
      WeightVarianceDetector.class.getAnnotation(DetectorSpec.class);

  private int window;
  private double low;
  private double high;
  private BandRuns runs;
  private double[] initial = new double[0];

  /** The largest (above the band) or smallest (below) variance of the first firing run. */
  private double[] extreme = new double[0];

  @Override
  public Set<Column> columns() {
    return EnumSet.of(Column.MEAN, Column.STD, Column.NUMEL);
  }

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.WINDOW);
    low = context.options().get(Thresholds.WEIGHT_VARIANCE_LOW);
    high = context.options().get(Thresholds.WEIGHT_VARIANCE_HIGH);
    runs = new BandRuns(window);
  }

  private void ensure(int layers) {
    int old = runs.capacity();
    int n = runs.ensure(layers);
    if (n == old) {
      return;
    }
    initial = Arrays.copyOf(initial, n);
    extreme = Arrays.copyOf(extreme, n);
    Arrays.fill(initial, old, n, Double.NaN);
    Arrays.fill(extreme, old, n, Double.NaN);
  }

  @Override
  public void observe(StepView step) {
    ensure(step.layerCount());
    for (int i = 0, n = step.presentLayerCount(), layers = step.layerCount(); i < n; i++) {
      int layer = step.presentLayer(i);
      if (layer >= layers) {
        break;
      }
      if (!step.present(layer, Phase.WEIGHT, Column.STD) || step.layer(layer).isNormalization()) {
        continue;
      }
      long numel = step.count(layer, Phase.WEIGHT, Column.NUMEL);
      if (numel >= 0 && numel < 2) {
        continue;
      }
      double std = step.value(layer, Phase.WEIGHT, Column.STD);
      if (!Double.isFinite(std)) {
        runs.interrupt(layer);
        continue;
      }
      double variance = std * std;
      if (Double.isNaN(initial[layer])) {
        initial[layer] = variance;
      }
      int s = variance > high ? 1 : variance < low ? -1 : 0;
      if (runs.observe(layer, step.step(), s)) {
        double e = extreme[layer];
        extreme[layer] =
            Double.isNaN(e) ? variance : s > 0 ? Math.max(e, variance) : Math.min(e, variance);
      }
    }
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    for (int layer = 0; layer < runs.capacity(); layer++) {
      if (!runs.fired(layer)) {
        continue;
      }
      boolean tooHigh = runs.firedSide(layer) > 0;
      long length = runs.firedLength(layer);
      findings.add(
          Finding.builder(SPEC)
              .symptom(tooHigh ? Symptom.EXPLODING_GRADIENT : Symptom.VANISHING_GRADIENT)
              .severity(tooHigh ? Severity.WARNING : Severity.INFO)
              .at(layer, Phase.WEIGHT)
              .steps(runs.firedStart(layer), runs.firedEnd(layer), length)
              .evidence(
                  Evidence.builder()
                      .put(DIRECTION, tooHigh ? Direction.HIGH : Direction.LOW)
                      .put(INITIAL_VARIANCE, initial[layer])
                      .put(tooHigh ? MAX_VARIANCE : MIN_VARIANCE, extreme[layer])
                      .put(BAND_LOW, low)
                      .put(BAND_HIGH, high)
                      .put(RUN_STEPS, length)
                      .build())
              .message(
                  format(
                      ROOT,
                      "The weight variance of %s stayed %s %s for %d steps from step %d (%s at its"
                          + " extreme, %s at the first step).",
                      context.layer(layer).name(),
                      tooHigh ? "above" : "below",
                      Numbers.format(tooHigh ? high : low),
                      length,
                      runs.firedStart(layer),
                      Numbers.format(extreme[layer]),
                      Numbers.format(initial[layer])))
              .build());
    }
    return findings;
  }
}
