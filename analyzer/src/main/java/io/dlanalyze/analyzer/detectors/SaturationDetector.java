package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.ACTIVATION;
import static io.dlanalyze.analyzer.EvidenceKeys.INCONCLUSIVE;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_STD;
import static io.dlanalyze.analyzer.EvidenceKeys.RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.SATURATION_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.SHARE_BEYOND_5;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.ActivationKind;
import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.SaturationRule;
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
 * Reports sigmoid and tanh layers stuck in their flat tails, where the gradient vanishes: for
 * {@code window} steps in a row either the output is pinned at one end of the function's range (std
 * below {@code saturation-std} of the range, mean within 5% of the range from an end), or the
 * pre-activation is so large that an estimated {@code saturation-fraction} of it lies beyond +-5;
 * and the run never learned.
 *
 * <p>Implementation notes: DeepDiagnosis counts the share of the inputs of a sigmoid/tanh layer
 * beyond +-5 and calls it saturated above 0.5 (docs/references.md#deepdiagnosis); the trace has
 * only the pre-activation's mean and std, so the share is estimated as P(|x| >= 5) under a normal
 * distribution with those moments. TheDeepChecker's saturation check (#thedeepchecker) looks at the
 * output instead; the pinned-output rule is its trace-level form. A confident, well-trained sigmoid
 * output also sits in its tails (#false-alarm-sources), so a run whose loss fell by {@code
 * converged-drop} is not judged. The activation comes from {@code dltrace.layers} or a layer type
 * Sigmoid/Tanh.
 */
@DetectorSpec(
    id = DetectorIds.SATURATION,
    symptom = Symptom.SATURATION,
    severity = Severity.WARNING,
    summary =
        "A sigmoid or tanh layer sits in its flat tails for many steps while the model does not"
            + " learn",
    source =
        "DeepDiagnosis saturated activation, share beyond +-5 > 0.5; TheDeepChecker saturation"
            + " (docs/references.md#deepdiagnosis, #thedeepchecker)",
    thresholds = {"window", "saturation-fraction", "saturation-std", "converged-drop"},
    columns = {Column.MEAN, Column.STD})
public final class SaturationDetector implements Detector {

  private static final double TAIL = 5;
  private static final double NEAR_END = 0.05;

  /** Per sigmoid/tanh layer: its run of saturated steps, and the first one's last values. */
  private final class State {
    final Run run = new Run(window, Run.Policy.FIRST);

    /**
     * The number of the last recorded step (one with any layer rows) the layer had rows in; a
     * recorded step without them ends its run.
     */
    long seenAt;

    double lastMean;
    double lastStd;
    double lastShare;
    boolean pinned;
  }

  private final SlotStates<State> layers = new SlotStates<>(State::new);
  private LossGate gate;
  private int window;

  /** Steps so far with any layer rows (a sampling recorder's recorded steps). */
  private long recorded;

  private double fraction;
  private double stdShare;

  @Override
  public void begin(AnalysisContext context) {
    gate = new LossGate(context);
    window = context.options().getInt(Thresholds.WINDOW);
    fraction = context.options().get(Thresholds.SATURATION_FRACTION);
    stdShare = context.options().get(Thresholds.SATURATION_STD);
  }

  @Override
  public void observe(StepView step) {
    if (step.presentLayerCount() > 0) {
      recorded++;
    }
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      ActivationKind kind = step.layer(layer).activationKind();
      if (!kind.saturates()) {
        continue;
      }
      State state = layers.at(step.slot(layer, Phase.ACTIVATION));
      if (state.seenAt != recorded - 1) {
        // recorded steps without its rows since it was last seen: not pinned there (the steps a
        // sampling recorder skipped, with no layer rows at all, do not count)
        state.run.reset();
      }
      state.seenAt = recorded;
      boolean isPinned = pinned(step, layer, kind);
      double share = tailShare(step, layer);
      if (state.run.observe(step.step(), isPinned || share >= fraction)) {
        state.lastMean = step.mean(layer, Phase.ACTIVATION);
        state.lastStd = step.value(layer, Phase.ACTIVATION, Column.STD);
        state.lastShare = share;
        state.pinned = isPinned;
      }
    }
  }

  private boolean pinned(StepView step, int layer, ActivationKind kind) {
    if (!step.present(layer, Phase.ACTIVATION, Column.STD)) {
      return false;
    }
    double range = kind.high() - kind.low();
    double mean = step.mean(layer, Phase.ACTIVATION);
    double std = step.value(layer, Phase.ACTIVATION, Column.STD);
    boolean atEnd = mean - kind.low() <= NEAR_END * range || kind.high() - mean <= NEAR_END * range;
    return std <= stdShare * range && atEnd;
  }

  /** Estimated share of the pre-activation beyond +-5, or NaN when not recorded. */
  static double tailShare(StepView step, int layer) {
    if (!step.has(layer, Phase.FORWARD)) {
      return Double.NaN;
    }
    double mean = step.mean(layer, Phase.FORWARD);
    if (!Double.isFinite(mean)) {
      return Double.NaN;
    }
    double std =
        step.present(layer, Phase.FORWARD, Column.STD)
            ? step.value(layer, Phase.FORWARD, Column.STD)
            : 0;
    if (!(std > 0)) {
      return Math.abs(mean) >= TAIL ? 1 : 0;
    }
    return normalCdf((-TAIL - mean) / std) + 1 - normalCdf((TAIL - mean) / std);
  }

  /** The standard normal CDF (Abramowitz and Stegun 7.1.26 for erf; error below 1.5e-7). */
  static double normalCdf(double z) {
    double x = Math.abs(z) / Math.sqrt(2);
    double t = 1 / (1 + 0.3275911 * x);
    double erf =
        1
            - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t
                    + 0.254829592)
                * t
                * Math.exp(-x * x);
    return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    if (gate.learned()) {
      return findings;
    }
    boolean judged = gate.judgeable();
    for (int slot : layers.slots(context)) {
      State state = layers.get(slot);
      if (!state.run.qualified()) {
        continue;
      }
      int layer = context.slotLayer(slot);
      ActivationKind kind = context.layer(layer).activationKind();
      long first = state.run.onset();
      long length = state.run.end() - first + 1;
      Evidence.Builder evidence =
          Evidence.builder()
              .put(ACTIVATION, kind.wireName())
              .put(
                  SATURATION_RULE,
                  state.pinned ? SaturationRule.PINNED_OUTPUT : SaturationRule.TAIL_SHARE)
              .put(OUTPUT_MEAN, state.lastMean)
              .put(OUTPUT_STD, state.lastStd)
              .put(RUN_STEPS, length);
      if (!Double.isNaN(state.lastShare)) {
        evidence.put(SHARE_BEYOND_5, state.lastShare);
      }
      String how =
          state.pinned
              ? format(
                  ROOT,
                  "its output stayed pinned near %s (mean %s, std %s)",
                  Numbers.format(
                      state.lastMean > (kind.low() + kind.high()) / 2 ? kind.high() : kind.low()),
                  Numbers.format(state.lastMean),
                  Numbers.format(state.lastStd))
              : format(
                  ROOT, "about %s of its inputs lay beyond +-5", Numbers.percent(state.lastShare));
      Finding.Builder finding =
          Finding.builder(this).at(layer, Phase.ACTIVATION).steps(first, state.run.end(), length);
      if (!judged) {
        evidence.put(
            INCONCLUSIVE, "too few loss values to tell saturation from a confident trained output");
        finding.severity(Severity.INFO);
      }
      findings.add(
          finding
              .evidence(evidence.build())
              .message(
                  "The %s layer %s saturated for %d steps from step %d: %s, while the loss did"
                      + " not fall.",
                  kind.wireName(), context.layer(layer).name(), length, first, how)
              .build());
    }
    return findings;
  }
}
