package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.INCONCLUSIVE;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_LAYER;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_FIRST_L2;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_RATIO;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_RMS;
import static io.dlanalyze.analyzer.EvidenceKeys.NORM_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.RATIO_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.RMS_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.VANISHING_RULE;
import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.VanishingRule;
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
import org.jspecify.annotations.Nullable;

/**
 * Reports gradients that vanish before they reach the first layers: for {@code window} steps in a
 * row the first layer's gradient norm is below {@code vanishing-ratio} times the last layer's and
 * below {@code vanishing-norm}, or some layer's root-mean-square gradient is below {@code
 * vanishing-rms} though not exactly zero; and the run never learned.
 *
 * <p>Implementation notes: the ratio rule is AUTOTRAINER's vanish (beta_1 = 1e-3, beta_2 = 1e-4,
 * docs/references.md#autotrainer); the RMS rule is TheDeepChecker's mean |g| < 1e-6
 * (#thedeepchecker), with l2 / sqrt(numel) standing in for the mean absolute value (it is an upper
 * bound of it, so the rule errs on the quiet side); DeepDiagnosis' own bound is mean |dW| < 1e-7
 * (#deepdiagnosis). Gradients that are exactly zero (zero_fraction 1 or l2 0) are dead-or-zero's,
 * not a vanishing trend. A converged model has small gradients too, so a run whose loss fell by
 * {@code converged-drop} is not judged (AUTOTRAINER consults its gradient rules only when training
 * does not converge).
 */
@DetectorSpec(
    id = DetectorIds.VANISHING_GRADIENT,
    symptom = Symptom.VANISHING_GRADIENT,
    severity = Severity.WARNING,
    summary =
        "The first layers' gradients are orders of magnitude smaller than the last layer's, or near"
            + " zero",
    source =
        "AUTOTRAINER vanish rule, ratio < 1e-3 and ||g_first|| < 1e-4; TheDeepChecker mean |g| <"
            + " 1e-6 (docs/references.md#autotrainer, #thedeepchecker)",
    thresholds = {
      "window",
      "vanishing-ratio",
      "vanishing-norm",
      "vanishing-rms",
      "zero-fraction",
      "converged-drop"
    },
    columns = {Column.MEAN, Column.L2_NORM, Column.NUMEL, Column.ZERO_FRACTION})
public final class VanishingGradientDetector implements Detector {

  private LossGate gate;
  private int window;
  private double ratioLimit;
  private double normLimit;
  private double rmsLimit;

  /** Steps in a row where one layer's gradient vanished; a change of layer starts a new run. */
  private Run run;

  private int runLayer = -1;
  private double runWorstRatio = Double.NaN;
  private double runWorstNorm = Double.NaN;
  private double runWorstRms = Double.NaN;
  private @Nullable VanishingRule runRule;
  private int firedLayer;
  private @Nullable VanishingRule firedRule;
  private double firedRatio;
  private double firedNorm;
  private double firedRms;
  private @Nullable String lastLayerName;

  @Override
  public void begin(AnalysisContext context) {
    gate = new LossGate(context);
    window = context.options().getInt(Thresholds.WINDOW);
    ratioLimit = context.options().get(Thresholds.VANISHING_RATIO);
    normLimit = context.options().get(Thresholds.VANISHING_NORM);
    rmsLimit = context.options().get(Thresholds.VANISHING_RMS);
    run = new Run(window, Run.Policy.FIRST);
  }

  @Override
  public int classifications() {
    return StepView.ALL_ZERO;
  }

  @Override
  public void observe(StepView step) {
    int first = -1;
    int last = -1;
    int rmsLayer = -1;
    double rmsValue = Double.NaN;
    boolean gradients = false;
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      Phase phase = GradientNorms.phase(step, layer);
      if (phase == null) {
        continue;
      }
      gradients = true;
      double l2 = step.value(layer, phase, Column.L2_NORM);
      if (!Double.isFinite(l2)
          || l2 <= 0
          || (step.presentMask(step.slot(layer, phase)) & StepView.ALL_ZERO) != 0) {
        continue;
      }
      if (first < 0) {
        first = layer;
      }
      last = layer;
      double rms = GradientNorms.rms(step, layer, phase);
      if (rms < rmsLimit && (rmsLayer < 0 || rms < rmsValue)) {
        rmsLayer = layer;
        rmsValue = rms;
      }
    }
    if (!gradients) {
      return; // a step a sampling recorder skipped (every=N): neither holds nor breaks the run
    }
    boolean ratioHolds = false;
    double ratio = Double.NaN;
    double norm = Double.NaN;
    if (first >= 0 && last > first) {
      norm = GradientNorms.l2(step, first);
      ratio = norm / GradientNorms.l2(step, last);
      ratioHolds = ratio < ratioLimit && norm < normLimit;
      lastLayerName = step.layer(last).name();
    }
    if (!ratioHolds && rmsLayer < 0) {
      run.reset();
      return;
    }
    int layer = ratioHolds ? first : rmsLayer;
    if (run.length() == 0 || layer != runLayer) {
      run.reset();
      runLayer = layer;
      runWorstRatio = Double.NaN;
      runWorstNorm = Double.NaN;
      runWorstRms = Double.NaN;
    }
    boolean tracked = run.observe(step.step(), true);
    runRule = ratioHolds ? VanishingRule.RATIO : VanishingRule.RMS;
    if (ratioHolds) {
      runWorstRatio = Double.isNaN(runWorstRatio) ? ratio : Math.min(runWorstRatio, ratio);
      runWorstNorm = Double.isNaN(runWorstNorm) ? norm : Math.min(runWorstNorm, norm);
    } else {
      runWorstRms = Double.isNaN(runWorstRms) ? rmsValue : Math.min(runWorstRms, rmsValue);
    }
    if (tracked) {
      firedLayer = runLayer;
      firedRule = runRule;
      firedRatio = runWorstRatio;
      firedNorm = runWorstNorm;
      firedRms = runWorstRms;
    }
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    if (!run.qualified() || gate.learned()) {
      return findings;
    }
    requireNonNull(firedRule, "a qualified run fired");
    boolean judged = gate.judgeable();
    long firedStart = run.onset();
    long firedSteps = run.occurrences();
    String name = context.layer(firedLayer).name();
    Evidence.Builder evidence =
        Evidence.builder().put(VANISHING_RULE, firedRule).put(RUN_STEPS, firedSteps);
    String message;
    if (firedRule == VanishingRule.RATIO) {
      evidence
          .put(MIN_RATIO, firedRatio)
          .put(RATIO_THRESHOLD, ratioLimit)
          .put(MIN_FIRST_L2, firedNorm)
          .put(NORM_THRESHOLD, normLimit);
      if (lastLayerName != null) {
        evidence.put(LAST_LAYER, lastLayerName);
      }
      message =
          format(
              ROOT,
              "The gradient norm of %s stayed below %s times the last layer's and below %s for %d"
                  + " steps from step %d (down to %s, ratio %s).",
              name,
              Numbers.format(ratioLimit),
              Numbers.format(normLimit),
              firedSteps,
              firedStart,
              Numbers.format(firedNorm),
              Numbers.format(firedRatio));
    } else {
      evidence.put(MIN_RMS, firedRms).put(RMS_THRESHOLD, rmsLimit);
      message =
          format(
              ROOT,
              "The root-mean-square gradient of %s stayed below %s for %d steps from step %d (down"
                  + " to %s).",
              name,
              Numbers.format(rmsLimit),
              firedSteps,
              firedStart,
              Numbers.format(firedRms));
    }
    Finding.Builder finding =
        Finding.builder(this)
            .at(firedLayer, Phase.GRADIENT)
            .steps(firedStart, run.end(), firedSteps);
    if (!judged) {
      evidence.put(
          INCONCLUSIVE, "too few loss values to tell a vanishing gradient from a converged model");
      finding.severity(Severity.INFO);
    }
    findings.add(finding.evidence(evidence.build()).message(message).build());
    return findings;
  }
}
