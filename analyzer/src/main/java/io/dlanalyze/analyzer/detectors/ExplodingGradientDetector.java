package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_NON_FINITE_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.GRADIENT_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_LAYER;
import static io.dlanalyze.analyzer.EvidenceKeys.LAYERS_EXPLODING;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_RATIO;
import static io.dlanalyze.analyzer.EvidenceKeys.PEAK_L2;
import static io.dlanalyze.analyzer.EvidenceKeys.PEAK_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.RATIO_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.REFERENCE_L2;
import static io.dlanalyze.analyzer.EvidenceKeys.RUN_STEPS;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.GradientRule;
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
 * Reports gradients that blow up: a layer's gradient norm grows far beyond its early level, or
 * turns NaN/Inf after growing; or the first layer's gradient norm dwarfs the last layer's for a
 * whole window while the loss does not improve.
 *
 * <p>Implementation notes. Growth rule: a layer's reference is the median of its first three
 * positive finite gradient l2 norms (weight gradient, else output gradient). It explodes at the
 * first step whose norm reaches {@code exploding-growth} (default 1e3) times the reference, or
 * turns non-finite after reaching 10x; the onset is the step after the last one still within 10x of
 * the reference. TheDeepChecker flags growth over 2x between checks and absolute values above 1e6
 * (docs/references.md#thedeepchecker); an absolute bound depends on the tensor's size, so the
 * growth is measured against the layer's own start. A growth that never turns non-finite is
 * reported only when the loss stalls around it (#false-alarm-sources: condition on the loss trend),
 * so a net whose zero-initialized head wakes up the earlier layers is not flagged. Ratio rule:
 * AUTOTRAINER's {@code ||g_first|| / ||g_last|| > 70} (beta_3, #autotrainer), for {@code window}
 * steps in a row, only when the loss stalls at the end of that run and the run never learned
 * (AUTOTRAINER gates its gradient rules on not-converged/slow convergence; 5.1 shows the ratio
 * alone fires on healthy nets). One finding: the layer whose growth started first (ties: the larger
 * growth); the other layers that exploded are its consequences.
 */
@DetectorSpec(
    id = DetectorIds.EXPLODING_GRADIENT,
    symptom = Symptom.EXPLODING_GRADIENT,
    severity = Severity.ERROR,
    summary =
        "Gradient norms grow by orders of magnitude, or the first layer's dwarf the last layer's",
    source =
        "AUTOTRAINER explode rule, ratio > 70; TheDeepChecker growth > 2x and > 1e6"
            + " (docs/references.md#autotrainer, #thedeepchecker)",
    thresholds = {
      "window",
      "exploding-growth",
      "exploding-ratio",
      "min-improvement",
      "converged-drop"
    })
public final class ExplodingGradientDetector implements Detector {
  private static final DetectorSpec SPEC =
      ExplodingGradientDetector.class.getAnnotation(DetectorSpec.class);
  private static final double CALM = 10;

  private LossHistory loss;
  private int window;
  private double growth;
  private double ratioLimit;
  private double minImprovement;
  private double convergedDrop;

  private double[][] early = new double[0][];
  private int[] earlyCount = new int[0];
  private double[] reference = new double[0];
  private long[] calmStep = new long[0];
  private double[] peak = new double[0];
  private long[] peakStep = new long[0];
  private long[] fireStep = new long[0];
  private long[] onset = new long[0];
  private double[] firePeak = new double[0];
  private long[] firePeakStep = new long[0];
  private long[] nonFiniteStep = new long[0];
  private Phase[] phaseOf = new Phase[0];

  private int ratioFirst = -1;
  private int ratioLast = -1;
  private long ratioRunStart = -1;
  private long ratioRun;
  private double ratioRunMax;
  private long ratioFiredStart = -1;
  private long ratioFiredEnd = -1;
  private double ratioFiredMax;
  private long ratioFiredSteps;

  @Override
  public Set<Column> columns() {
    return EnumSet.of(Column.MEAN, Column.L2_NORM, Column.NUMEL);
  }

  @Override
  public void begin(AnalysisContext context) {
    loss = context.lossHistory();
    window = context.options().getInt(Thresholds.WINDOW);
    growth = context.options().get(Thresholds.EXPLODING_GROWTH);
    ratioLimit = context.options().get(Thresholds.EXPLODING_RATIO);
    minImprovement = context.options().get(Thresholds.MIN_IMPROVEMENT);
    convergedDrop = context.options().get(Thresholds.CONVERGED_DROP);
  }

  private void ensure(int layers) {
    if (reference.length >= layers) {
      return;
    }
    int old = reference.length;
    layers =
        Math.max(layers, old * 2); // doubling: a trace that adds layers one by one copies O(layers)
    early = Arrays.copyOf(early, layers);
    for (int i = old; i < layers; i++) {
      early[i] = new double[3];
    }
    earlyCount = Arrays.copyOf(earlyCount, layers);
    reference = Arrays.copyOf(reference, layers);
    calmStep = Arrays.copyOf(calmStep, layers);
    peak = Arrays.copyOf(peak, layers);
    peakStep = Arrays.copyOf(peakStep, layers);
    fireStep = Arrays.copyOf(fireStep, layers);
    onset = Arrays.copyOf(onset, layers);
    firePeak = Arrays.copyOf(firePeak, layers);
    firePeakStep = Arrays.copyOf(firePeakStep, layers);
    nonFiniteStep = Arrays.copyOf(nonFiniteStep, layers);
    phaseOf = Arrays.copyOf(phaseOf, layers);
    Arrays.fill(reference, old, layers, Double.NaN);
    Arrays.fill(calmStep, old, layers, -1);
    Arrays.fill(fireStep, old, layers, -1);
    Arrays.fill(nonFiniteStep, old, layers, -1);
  }

  @Override
  public void observe(StepView step) {
    int layers = step.layerCount();
    ensure(layers);
    int first = -1;
    int last = -1;
    for (int i = 0, n = step.presentLayerCount(); i < n; i++) {
      int layer = step.presentLayer(i);
      if (layer >= layers) {
        break;
      }
      Phase phase = GradientNorms.phase(step, layer);
      if (phase == null) {
        continue;
      }
      double l2 = step.value(layer, phase, Column.L2_NORM);
      if (phaseOf[layer] == null) {
        phaseOf[layer] = phase;
      }
      if (first < 0) {
        first = layer;
      }
      last = layer;
      track(layer, step.step(), l2);
    }
    ratio(step, first, last);
  }

  private void track(int layer, long step, double l2) {
    if (fireStep[layer] >= 0) {
      if (Double.isFinite(l2) && l2 > firePeak[layer]) {
        firePeak[layer] = l2;
        firePeakStep[layer] = step;
      } else if (!Double.isFinite(l2) && nonFiniteStep[layer] < 0) {
        nonFiniteStep[layer] = step;
      }
      return;
    }
    if (Double.isNaN(reference[layer])) {
      if (!Double.isFinite(l2) && earlyCount[layer] >= 2) {
        double a = early[layer][0];
        double b = early[layer][1];
        if (b >= CALM * a) {
          reference[layer] = a;
          calmStep[layer] = calmStep[layer] - 1;
          peak[layer] = b;
          peakStep[layer] = calmStep[layer] + 1;
          fire(layer, step);
          nonFiniteStep[layer] = step;
        }
        return;
      }
      if (Double.isFinite(l2) && l2 > 0) {
        early[layer][earlyCount[layer]++] = l2;
        calmStep[layer] = step;
        if (earlyCount[layer] == 3) {
          double[] e = early[layer].clone();
          Arrays.sort(e);
          reference[layer] = e[1];
        }
      }
      return;
    }
    double ref = reference[layer];
    if (!Double.isFinite(l2)) {
      if (peak[layer] >= CALM * ref) {
        fire(layer, step);
        nonFiniteStep[layer] = step;
      }
      return;
    }
    if (l2 <= CALM * ref) {
      calmStep[layer] = step;
      peak[layer] = 0;
      return;
    }
    if (l2 > peak[layer]) {
      peak[layer] = l2;
      peakStep[layer] = step;
    }
    if (l2 >= growth * ref) {
      fire(layer, step);
    }
  }

  private void fire(int layer, long at) {
    fireStep[layer] = at;
    onset[layer] = calmStep[layer] + 1;
    firePeak[layer] = peak[layer];
    firePeakStep[layer] = peakStep[layer];
  }

  private void ratio(StepView step, int first, int last) {
    if (first < 0 || first == last) {
      ratioRun = 0;
      return;
    }
    double a = GradientNorms.l2(step, first);
    double b = GradientNorms.l2(step, last);
    boolean holds = Double.isFinite(a) && Double.isFinite(b) && b > 0 && a / b > ratioLimit;
    if (!holds) {
      ratioRun = 0;
      return;
    }
    if (ratioRun == 0) {
      ratioRunStart = step.step();
      ratioRunMax = 0;
      ratioFirst = first;
      ratioLast = last;
    }
    ratioRun++;
    ratioRunMax = Math.max(ratioRunMax, a / b);
    if (ratioRun >= window
        && ratioFiredStart < 0
        && loss.stalledAt(step.step(), window, minImprovement)) {
      ratioFiredStart = ratioRunStart;
      ratioFiredEnd = step.step();
      ratioFiredMax = ratioRunMax;
      ratioFiredSteps = ratioRun;
    } else if (ratioFiredStart == ratioRunStart) {
      ratioFiredEnd = step.step();
      ratioFiredMax = ratioRunMax;
      ratioFiredSteps = ratioRun;
    }
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    int root = -1;
    List<Integer> exploded = new ArrayList<>();
    for (int layer = 0; layer < fireStep.length; layer++) {
      if (fireStep[layer] < 0) {
        continue;
      }
      boolean strong = nonFiniteStep[layer] >= 0;
      if (!strong && !loss.stalledAt(fireStep[layer], window, minImprovement)) {
        continue;
      }
      exploded.add(layer);
      if (root < 0
          || onset[layer] < onset[root]
          || onset[layer] == onset[root] && growthOf(layer) > growthOf(root)) {
        root = layer;
      }
    }
    if (root >= 0) {
      findings.add(growthFinding(root, exploded, context));
    }
    if (ratioFiredStart >= 0 && !loss.learned(window, convergedDrop)) {
      String first = context.layer(ratioFirst).name();
      String last = context.layer(ratioLast).name();
      findings.add(
          Finding.builder(SPEC)
              .at(ratioFirst, phaseOf[ratioFirst])
              .steps(ratioFiredStart, ratioFiredEnd, ratioFiredSteps)
              .evidence(
                  Evidence.builder()
                      .put(GRADIENT_RULE, GradientRule.RATIO)
                      .put(MAX_RATIO, ratioFiredMax)
                      .put(RATIO_THRESHOLD, ratioLimit)
                      .put(RUN_STEPS, ratioFiredSteps)
                      .put(LAST_LAYER, last)
                      .build())
              .message(
                  format(
                      ROOT,
                      "The gradient norm of %s stayed above %s times that of %s for %d steps from"
                          + " step %d (up to %sx) while the loss did not improve.",
                      first,
                      Numbers.format(ratioLimit),
                      last,
                      ratioFiredSteps,
                      ratioFiredStart,
                      Numbers.format(ratioFiredMax)))
              .build());
    }
    return findings;
  }

  private double growthOf(int layer) {
    return firePeak[layer] / reference[layer];
  }

  private Finding growthFinding(int root, List<Integer> exploded, AnalysisContext context) {
    List<Consequence> consequences = new ArrayList<>();
    for (int layer : exploded) {
      if (layer != root) {
        consequences.add(
            new Consequence(layer, context.layer(layer).name(), phaseOf[layer], onset[layer], 1));
      }
    }
    String name = context.layer(root).name();
    double factor = growthOf(root);
    long steps = Math.max(1, firePeakStep[root] - onset[root] + 1);
    long nonFinite = nonFiniteStep[root];
    long last = nonFinite >= 0 ? nonFinite : Math.max(fireStep[root], firePeakStep[root]);
    Evidence.Builder evidence =
        Evidence.builder()
            .put(GRADIENT_RULE, GradientRule.GROWTH)
            .put(REFERENCE_L2, reference[root])
            .put(PEAK_L2, firePeak[root])
            .put(PEAK_STEP, firePeakStep[root])
            .put(GROWTH, factor)
            .put(GROWTH_STEPS, steps)
            .put(GROWTH_THRESHOLD, growth)
            .put(LAYERS_EXPLODING, (long) exploded.size());
    if (nonFinite >= 0) {
      evidence.put(FIRST_NON_FINITE_STEP, nonFinite);
    }
    String then = nonFinite >= 0 ? format(ROOT, ", then turned NaN/Inf at step %d", nonFinite) : "";
    String others =
        exploded.size() > 1 ? format(ROOT, "; %d more layers followed", exploded.size() - 1) : "";
    return Finding.builder(SPEC)
        .at(root, phaseOf[root])
        .steps(onset[root], Math.max(onset[root], last), Math.max(1, last - onset[root] + 1))
        .evidence(evidence.build())
        .consequences(consequences)
        .message(
            format(
                ROOT,
                "The gradient norm of %s grew %sx in %d steps (from %s to %s at step %d)%s%s.",
                name,
                Numbers.format(factor),
                steps,
                Numbers.format(reference[root]),
                Numbers.format(firePeak[root]),
                firePeakStep[root],
                then,
                others))
        .build();
  }
}
