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
import io.dlanalyze.analyzer.LossHistory;
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
    thresholds = {"window", "saturation-fraction", "saturation-std", "converged-drop"})
public final class SaturationDetector implements Detector {
  private static final DetectorSpec SPEC =
      SaturationDetector.class.getAnnotation(DetectorSpec.class);

  private static final double TAIL = 5;
  private static final double NEAR_END = 0.05;

  private LossHistory loss;
  private int window;
  private double fraction;
  private double stdShare;
  private double convergedDrop;
  private long[] runStart = new long[0];
  private long[] run = new long[0];

  /** Per layer: the ordinal of the last step it had rows in (a step without them ends its run). */
  private long[] seenAt = new long[0];

  private long[] firedStart = new long[0];
  private long[] firedEnd = new long[0];
  private double[] lastMean = new double[0];
  private double[] lastStd = new double[0];
  private double[] lastShare = new double[0];
  private boolean[] pinned = new boolean[0];

  @Override
  public Set<Column> columns() {
    return EnumSet.of(Column.MEAN, Column.STD);
  }

  @Override
  public void begin(AnalysisContext context) {
    loss = context.lossHistory();
    window = context.options().getInt(Thresholds.WINDOW);
    fraction = context.options().get(Thresholds.SATURATION_FRACTION);
    stdShare = context.options().get(Thresholds.SATURATION_STD);
    convergedDrop = context.options().get(Thresholds.CONVERGED_DROP);
  }

  private void ensure(int layers) {
    if (run.length >= layers) {
      return;
    }
    int old = run.length;
    layers =
        Math.max(layers, old * 2); // doubling: a trace that adds layers one by one copies O(layers)
    runStart = Arrays.copyOf(runStart, layers);
    run = Arrays.copyOf(run, layers);
    seenAt = Arrays.copyOf(seenAt, layers);
    firedStart = Arrays.copyOf(firedStart, layers);
    firedEnd = Arrays.copyOf(firedEnd, layers);
    lastMean = Arrays.copyOf(lastMean, layers);
    lastStd = Arrays.copyOf(lastStd, layers);
    lastShare = Arrays.copyOf(lastShare, layers);
    pinned = Arrays.copyOf(pinned, layers);
    Arrays.fill(firedStart, old, layers, -1);
  }

  @Override
  public void observe(StepView step) {
    ensure(step.layerCount());
    long ordinal = step.ordinal();
    for (int i = 0, n = step.presentLayerCount(), layers = step.layerCount(); i < n; i++) {
      int layer = step.presentLayer(i);
      if (layer >= layers) {
        break;
      }
      ActivationKind kind = step.layer(layer).activationKind();
      if (!kind.saturates()) {
        continue;
      }
      if (seenAt[layer] != ordinal - 1) {
        run[layer] = 0; // steps without its rows since it was last seen: not pinned there
      }
      seenAt[layer] = ordinal;
      boolean isPinned = pinned(step, layer, kind);
      double share = tailShare(step, layer);
      boolean holds = isPinned || share >= fraction;
      if (!holds) {
        run[layer] = 0;
        continue;
      }
      if (run[layer] == 0) {
        runStart[layer] = step.step();
      }
      run[layer]++;
      if (run[layer] >= window && (firedStart[layer] < 0 || firedStart[layer] == runStart[layer])) {
        firedStart[layer] = runStart[layer];
        firedEnd[layer] = step.step();
        lastMean[layer] = step.mean(layer, Phase.ACTIVATION);
        lastStd[layer] = step.value(layer, Phase.ACTIVATION, Column.STD);
        lastShare[layer] = share;
        pinned[layer] = isPinned;
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
    if (loss.learned(window, convergedDrop)) {
      return findings;
    }
    boolean judged = loss.judgeable(window);
    for (int layer = 0; layer < run.length; layer++) {
      if (firedStart[layer] < 0) {
        continue;
      }
      ActivationKind kind = ActivationKind.of(context.layer(layer));
      long length = firedEnd[layer] - firedStart[layer] + 1;
      String name = context.layer(layer).name();
      Evidence.Builder evidence =
          Evidence.builder()
              .put(ACTIVATION, kind.wireName())
              .put(
                  SATURATION_RULE,
                  pinned[layer] ? SaturationRule.PINNED_OUTPUT : SaturationRule.TAIL_SHARE)
              .put(OUTPUT_MEAN, lastMean[layer])
              .put(OUTPUT_STD, lastStd[layer])
              .put(RUN_STEPS, length);
      if (!Double.isNaN(lastShare[layer])) {
        evidence.put(SHARE_BEYOND_5, lastShare[layer]);
      }
      String how =
          pinned[layer]
              ? format(
                  ROOT,
                  "its output stayed pinned near %s (mean %s, std %s)",
                  Numbers.format(
                      lastMean[layer] > (kind.low() + kind.high()) / 2 ? kind.high() : kind.low()),
                  Numbers.format(lastMean[layer]),
                  Numbers.format(lastStd[layer]))
              : format(
                  ROOT, "about %s of its inputs lay beyond +-5", Numbers.percent(lastShare[layer]));
      Finding.Builder finding =
          Finding.builder(SPEC)
              .at(layer, Phase.ACTIVATION)
              .steps(firedStart[layer], firedEnd[layer], length);
      if (!judged) {
        evidence.put(
            INCONCLUSIVE, "too few loss values to tell saturation from a confident trained output");
        finding.severity(Severity.INFO);
      }
      findings.add(
          finding
              .evidence(evidence.build())
              .message(
                  format(
                      ROOT,
                      "The %s layer %s saturated for %d steps from step %d: %s, while the loss did"
                          + " not fall.",
                      kind.wireName(),
                      name,
                      length,
                      firedStart[layer],
                      how))
              .build());
    }
    return findings;
  }
}
