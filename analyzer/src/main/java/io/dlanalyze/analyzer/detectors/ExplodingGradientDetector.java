package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_NON_FINITE_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.GRADIENT_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH_THRESHOLD;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_LAYER;
import static io.dlanalyze.analyzer.EvidenceKeys.LAYERS_EXPLODING;
import static io.dlanalyze.analyzer.EvidenceKeys.LOWEST_LOSS;
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
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Reports gradients that blow up: a layer's gradient norm grows far beyond its early level, or
 * turns NaN/Inf after growing; or the first layer's gradient norm dwarfs the last layer's for a
 * whole window while the loss does not improve.
 *
 * <p>Implementation notes. Growth rule: a layer's reference is the median of its first three
 * positive finite gradient l2 norms (weight gradient, else output gradient). It explodes at the
 * first step whose norm reaches {@code exploding-growth} (default 2.3e6) times the reference, or
 * turns non-finite after reaching 10x; the onset is the step after the last one still within 10x of
 * the reference. A reference whose RMS (l2 / sqrt(numel)) is below {@code vanishing-rms} has
 * vanished, and the growth is measured from that bound instead: a deep network without its residual
 * connections starts with gradients of 1e-14 that grow a billion times to 1e-6 per element, which
 * is waking up, not exploding. TheDeepChecker flags growth over 2x between checks and absolute
 * values above 1e6 (docs/references.md#thedeepchecker); an absolute bound depends on the tensor's
 * size, so the growth is measured against the layer's own start. A growth that never turns
 * non-finite is reported only when the loss stalls around it (#false-alarm-sources: condition on
 * the loss trend), so a net whose zero-initialized head wakes up the earlier layers is not flagged,
 * and only when the run did not come back from it: a run whose last losses ended {@code
 * converged-drop} below its start recovered from a stretch of unstable steps (a healthy neural
 * arithmetic unit's exponential path spikes a gradient 3e6x for four steps), as loss-divergence
 * reads such a climb. Ratio rule: AUTOTRAINER's {@code ||g_first|| / ||g_last|| > 70} (beta_3,
 * #autotrainer), for {@code window} steps in a row, only when the loss stalls at the end of that
 * run and the run never learned (AUTOTRAINER gates its gradient rules on not-converged/slow
 * convergence; 5.1 shows the ratio alone fires on healthy nets). One finding: the layer whose
 * growth started first (ties: the larger growth); the other layers that exploded are its
 * consequences.
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
      "vanishing-rms",
      "min-improvement",
      "converged-drop"
    },
    columns = {Column.MEAN, Column.L2_NORM, Column.NUMEL})
public final class ExplodingGradientDetector implements Detector {

  private final SlotStates<GradientGrowth> layers = new SlotStates<>(GradientGrowth::new);
  private LossGate gate;
  private int window;
  private double growth;
  private double ratioLimit;
  private double vanishingRms;
  private double convergedDrop;

  /** Steps in a row where the first layer's norm dwarfs the last's, up to the loss stall gate. */
  private Run ratio;

  private final Run.Gate stalled = step -> gate.stalledAt(step);
  private int ratioFirst = -1;
  private int ratioLast = -1;
  private double ratioRunMax;
  private double ratioFiredMax;

  /** Slots of layers that exploded and have not turned NaN/Inf yet. */
  private final List<Integer> pending = new ArrayList<>();

  /** Slots of layers whose growth finding is final: they turned NaN/Inf. */
  private final BitSet confirmed = new BitSet();

  @Override
  public void begin(AnalysisContext context) {
    gate = new LossGate(context);
    window = context.options().getInt(Thresholds.WINDOW);
    growth = context.options().get(Thresholds.EXPLODING_GROWTH);
    ratioLimit = context.options().get(Thresholds.EXPLODING_RATIO);
    vanishingRms = context.options().get(Thresholds.VANISHING_RMS);
    convergedDrop = context.options().get(Thresholds.CONVERGED_DROP);
    ratio = new Run(window, Run.Policy.FIRST);
  }

  @Override
  public void observe(StepView step) {
    int first = -1;
    int last = -1;
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      Phase phase = GradientNorms.phase(step, layer);
      if (phase == null) {
        continue;
      }
      int slot = step.slot(layer, Phase.GRADIENT);
      GradientGrowth norms = layers.at(slot);
      boolean before = norms.fired();
      long numel = step.count(layer, phase, Column.NUMEL);
      // growth from a vanished start is measured from vanishing-gradient's bound
      double floor = numel > 0 ? vanishingRms * Math.sqrt(numel) : 0;
      norms.observe(step.step(), phase, step.value(layer, phase, Column.L2_NORM), growth, floor);
      if (!before && norms.fired()) {
        pending.add(slot);
      }
      if (first < 0) {
        first = layer;
      }
      last = layer;
    }
    if (first >= 0) {
      ratio(step, first, last); // steps without gradient rows (every=N) neither hold nor break it
    }
    for (int i = 0; i < pending.size(); i++) {
      GradientGrowth norms = layers.get(pending.get(i));
      if (norms.nonFiniteStep() >= 0) {
        confirmed.set(pending.remove(i--));
      }
    }
  }

  /**
   * A layer's growth finding is final once it turned NaN/Inf (the root may still change to a layer
   * whose growth started earlier). A growth that stays finite is judged at the end, when it is
   * known whether the run came back from it; so is the ratio rule (the run never learned).
   */
  @Override
  public int conclusive() {
    return confirmed.cardinality();
  }

  @Override
  public List<Finding> conclusiveFindings(AnalysisContext context) {
    return growthFindings(context, true);
  }

  private void ratio(StepView step, int first, int last) {
    double a = first == last ? Double.NaN : GradientNorms.l2(step, first);
    double b = first == last ? Double.NaN : GradientNorms.l2(step, last);
    boolean holds = Double.isFinite(a) && Double.isFinite(b) && b > 0 && a / b > ratioLimit;
    if (holds && ratio.length() == 0) {
      ratioRunMax = 0;
      ratioFirst = first;
      ratioLast = last;
    }
    if (holds) {
      ratioRunMax = Math.max(ratioRunMax, a / b);
    }
    if (ratio.observe(step.step(), holds, step.step(), stalled)) {
      ratioFiredMax = ratioRunMax;
    }
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = growthFindings(context, false);
    if (ratio.qualified() && !gate.learned()) {
      String first = context.layer(ratioFirst).name();
      String last = context.layer(ratioLast).name();
      findings.add(
          Finding.builder(this)
              .at(ratioFirst, layers.get(context.slot(ratioFirst, Phase.GRADIENT)).phase())
              .steps(ratio.onset(), ratio.end(), ratio.occurrences())
              .evidence(
                  Evidence.builder()
                      .put(GRADIENT_RULE, GradientRule.RATIO)
                      .put(MAX_RATIO, ratioFiredMax)
                      .put(RATIO_THRESHOLD, ratioLimit)
                      .put(RUN_STEPS, ratio.occurrences())
                      .put(LAST_LAYER, last)
                      .build())
              .message(
                  "The gradient norm of %s stayed above %s times that of %s for %d steps from"
                      + " step %d (up to %sx) while the loss did not improve.",
                  first,
                  Numbers.format(ratioLimit),
                  last,
                  ratio.occurrences(),
                  ratio.onset(),
                  Numbers.format(ratioFiredMax))
              .build());
    }
    return findings;
  }

  /**
   * The growth rule's finding: the layer whose growth started first among those that turned
   * NaN/Inf, or that exploded while the loss stalled (in a run that did not come back) or ran away
   * below 0; with {@code confirmedOnly}, among those whose finding is final already.
   */
  private List<Finding> growthFindings(AnalysisContext context, boolean confirmedOnly) {
    double lowest = confirmedOnly ? Double.NaN : lowestUnboundedLoss();
    boolean runaway = Double.isFinite(lowest);
    int root = -1;
    List<Integer> exploded = new ArrayList<>();
    for (int slot : layers.slots(context)) {
      GradientGrowth layer = layers.get(slot);
      if (confirmedOnly
          ? !confirmed.get(slot)
          : !layer.fired()
              || (layer.nonFiniteStep() < 0
                  && !runaway
                  && (!gate.stalledAt(layer.fireStep()) || recovered(context)))) {
        continue;
      }
      exploded.add(slot);
      GradientGrowth best = root < 0 ? null : layers.get(root);
      if (best == null
          || layer.onset() < best.onset()
          || (layer.onset() == best.onset() && layer.growth() > best.growth())) {
        root = slot;
      }
    }
    List<Finding> findings = new ArrayList<>();
    if (root >= 0) {
      findings.add(growthFinding(root, exploded, lowest, context));
    }
    return findings;
  }

  /**
   * True when the run ended with its loss finite and its last {@code window} losses' mean {@code
   * converged-drop} below where it started (its first loss, at least a uniform guess's): a growth
   * that never turned NaN/Inf was a stretch of unstable steps the optimizer came back from.
   */
  private boolean recovered(AnalysisContext context) {
    var loss = gate.history();
    int n = loss.size();
    if (n < window || loss.firstNonFiniteStep() >= 0) {
      return false;
    }
    double start = LossGate.startingLoss(context);
    return start > 0 && loss.mean(n - window, n) <= (1 - convergedDrop) * start;
  }

  /**
   * How far below 0, in multiples of its first loss's magnitude, a loss may fall before it counts
   * as running away without bound (a sign flipped, a hinge or a clamp left out): the healthy dev
   * runs whose loss goes below 0 (Gaussian and Poisson likelihoods, contrastive divergence's
   * free-energy difference, which starts near 0) reach at most 251 times it, so the bar sits 40
   * times above them.
   */
  static final double UNBOUNDED_FALL = 1e4;

  /** The smallest first-loss magnitude {@link #UNBOUNDED_FALL} is measured against. */
  private static final double MIN_SCALE = 1e-3;

  /**
   * The lowest loss when the loss fell below 0 by {@link #UNBOUNDED_FALL} times its first loss's
   * magnitude, else NaN: a growing gradient is then the loss running away, not progress, though the
   * loss never stalled.
   */
  private double lowestUnboundedLoss() {
    var loss = gate.history();
    int n = loss.size();
    if (n < window) {
      return Double.NaN;
    }
    double bound = -UNBOUNDED_FALL * Math.max(Math.abs(loss.loss(0)), MIN_SCALE);
    double lowest = Double.POSITIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      double value = loss.loss(i);
      if (value < lowest) {
        lowest = value;
      }
    }
    return lowest < bound ? lowest : Double.NaN;
  }

  private Finding growthFinding(
      int rootSlot, List<Integer> exploded, double lowestLoss, AnalysisContext context) {
    GradientGrowth root = layers.get(rootSlot);
    List<Consequence> consequences = new ArrayList<>();
    for (int slot : exploded) {
      if (slot != rootSlot) {
        int layer = context.slotLayer(slot);
        GradientGrowth other = layers.get(slot);
        consequences.add(
            new Consequence(layer, context.layer(layer).name(), other.phase(), other.onset(), 1));
      }
    }
    int layer = context.slotLayer(rootSlot);
    long steps = Math.max(1, root.peakStep() - root.onset() + 1);
    long nonFinite = root.nonFiniteStep();
    long last = nonFinite >= 0 ? nonFinite : Math.max(root.fireStep(), root.peakStep());
    Evidence.Builder evidence =
        Evidence.builder()
            .put(GRADIENT_RULE, GradientRule.GROWTH)
            .put(REFERENCE_L2, root.reference())
            .put(PEAK_L2, root.peak())
            .put(PEAK_STEP, root.peakStep())
            .put(GROWTH, root.growth())
            .put(GROWTH_STEPS, steps)
            .put(GROWTH_THRESHOLD, growth)
            .put(LAYERS_EXPLODING, exploded.size());
    if (nonFinite >= 0) {
      evidence.put(FIRST_NON_FINITE_STEP, nonFinite);
    }
    double lowest = nonFinite >= 0 ? Double.NaN : lowestLoss;
    if (Double.isFinite(lowest)) {
      evidence.put(LOWEST_LOSS, lowest);
    }
    return Finding.builder(this)
        .at(layer, root.phase())
        .steps(root.onset(), Math.max(root.onset(), last), Math.max(1, last - root.onset() + 1))
        .evidence(evidence.build())
        .consequences(consequences)
        .message(
            "The gradient norm of %s grew %sx in %d steps (from %s to %s at step %d)%s%s.",
            context.layer(layer).name(),
            Numbers.format(root.growth()),
            steps,
            Numbers.format(root.reference()),
            Numbers.format(root.peak()),
            root.peakStep(),
            nonFinite >= 0
                ? format(ROOT, ", then turned NaN/Inf at step %d", nonFinite)
                : Double.isFinite(lowest)
                    ? format(
                        ROOT, " while the loss fell without bound, to %s", Numbers.format(lowest))
                    : "",
            exploded.size() > 1
                ? format(ROOT, "; %d more layers followed", exploded.size() - 1)
                : "")
        .build();
  }
}
