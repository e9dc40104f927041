package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.BAND_HIGH;
import static io.dlanalyze.analyzer.EvidenceKeys.BAND_LOW;
import static io.dlanalyze.analyzer.EvidenceKeys.DIRECTION;
import static io.dlanalyze.analyzer.EvidenceKeys.INITIAL_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.RUN_STEPS;

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
import java.util.List;

/**
 * Reports layers whose weight variance (std^2 of the weight phase) stays outside [{@code
 * weight-variance-low}, {@code weight-variance-high}] for {@code window} steps in a row (or,
 * recorded sparsely, the steps they span at one every 4: {@link BandRun}). Too large is a warning
 * (weights that diverge drive exploding activations and gradients); too small is info (a
 * deliberately small initialization, a large layer's fan-in, can be healthy).
 *
 * <p>Implementation notes: DeepDiagnosis' "poor weight" is any kernel with {@code var(ddof=1) <
 * 1e-5 or > 10} (docs/references.md#deepdiagnosis); the trace's std is the population std, which
 * differs from ddof=1 by a factor n/(n-1), negligible for a weight tensor. Normalization layers
 * (their scale starts at exactly 1 with variance 0), layers with fewer than 2 weights and the
 * parameters the model holds outside its layers ({@link AnalysisContext#modelsOwn}) are skipped:
 * they are no layer's kernel, whose variance sets the scale of what it multiplies (the tensors
 * DeepDiagnosis checks), and they hold what the program put there on purpose (a CRF's transitions
 * into its start tag set to -10000).
 *
 * <p>Too large means grown too large: a layer whose variance is already above the band at its first
 * recorded step did not diverge in training, and is not reported. Its values are what its
 * initialization or its design put there (an S4D kernel's state matrix, whose imaginary parts run
 * pi x n up to 100 and more); an initialization that does harm shows as such in the initial loss,
 * in saturated units or in exploding gradients.
 */
@DetectorSpec(
    id = DetectorIds.WEIGHT_VARIANCE,
    symptom = Symptom.EXPLODING_GRADIENT,
    severity = Severity.WARNING,
    summary = "A layer's weight variance stays outside its normal band",
    source = "DeepDiagnosis poor weight, var < 1e-5 or > 10 (docs/references.md#deepdiagnosis)",
    thresholds = {"window", "weight-variance-low", "weight-variance-high"},
    columns = {Column.MEAN, Column.STD, Column.NUMEL})
public final class WeightVarianceDetector implements Detector {

  /**
   * Per layer: its band run, its first variance, and the largest (above the band) or smallest
   * (below) variance of the first firing run.
   */
  private final class State {
    final BandRun band = new BandRun(window);
    double initial = Double.NaN;
    double extreme = Double.NaN;
  }

  private final SlotStates<State> layers = new SlotStates<>(State::new);

  /** Layers whose band run fired: each one's finding (and its side) is final once it did. */
  private int fired;

  private int window;
  private double low;
  private double high;

  private AnalysisContext context;

  @Override
  public void begin(AnalysisContext context) {
    this.context = context;
    window = context.options().getInt(Thresholds.WINDOW);
    low = context.options().get(Thresholds.WEIGHT_VARIANCE_LOW);
    high = context.options().get(Thresholds.WEIGHT_VARIANCE_HIGH);
  }

  @Override
  public void observe(StepView step) {
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      long numel = step.count(layer, Phase.WEIGHT, Column.NUMEL);
      if (!step.present(layer, Phase.WEIGHT, Column.STD)
          || step.layer(layer).isNormalization()
          || context.modelsOwn(step.layer(layer))
          || (numel >= 0 && numel < 2)) {
        continue;
      }
      State state = layers.at(step.slot(layer, Phase.WEIGHT));
      double std = step.value(layer, Phase.WEIGHT, Column.STD);
      if (!Double.isFinite(std)) {
        state.band.interrupt();
        continue;
      }
      double variance = std * std;
      if (Double.isNaN(state.initial)) {
        state.initial = variance;
      }
      boolean before = state.band.fired();
      if (state.band.observe(step.step(), variance, low, high)) {
        fired += before ? 0 : 1;
        state.extreme =
            Double.isNaN(state.extreme)
                ? variance
                : state.band.firedSide() > 0
                    ? Math.max(state.extreme, variance)
                    : Math.min(state.extreme, variance);
      }
    }
  }

  /** A layer's first firing run is its finding, whatever follows: conclusive at once. */
  @Override
  public int conclusive() {
    return fired;
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    for (int slot : layers.slots(context)) {
      State state = layers.get(slot);
      BandRun band = state.band;
      if (!band.fired()) {
        continue;
      }
      boolean tooHigh = band.firedSide() > 0;
      if (tooHigh && state.initial > high) {
        continue; // set so by its initialization or by design: nothing diverged
      }
      findings.add(
          Finding.builder(this)
              .symptom(tooHigh ? Symptom.EXPLODING_GRADIENT : Symptom.VANISHING_GRADIENT)
              .severity(tooHigh ? Severity.WARNING : Severity.INFO)
              .at(context.slotLayer(slot), Phase.WEIGHT)
              .steps(band.start(), band.end(), band.length())
              .evidence(
                  Evidence.builder()
                      .put(DIRECTION, tooHigh ? Direction.HIGH : Direction.LOW)
                      .put(INITIAL_VARIANCE, state.initial)
                      .put(tooHigh ? MAX_VARIANCE : MIN_VARIANCE, state.extreme)
                      .put(BAND_LOW, low)
                      .put(BAND_HIGH, high)
                      .put(RUN_STEPS, band.length())
                      .build())
              .message(
                  "The weight variance of %s stayed %s %s for %d steps from step %d (%s at its"
                      + " extreme, %s at the first step).",
                  context.layer(context.slotLayer(slot)).name(),
                  tooHigh ? "above" : "below",
                  Numbers.format(tooHigh ? high : low),
                  band.length(),
                  band.start(),
                  Numbers.format(state.extreme),
                  Numbers.format(state.initial))
              .build());
    }
    return findings;
  }
}
