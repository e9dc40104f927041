package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.ACCUMULATING_LAYERS;
import static io.dlanalyze.analyzer.EvidenceKeys.CARRIED_UPDATES;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.HOLD_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.LATE_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_DRAWDOWN;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTSIDE_OPTIMIZER;
import static io.dlanalyze.analyzer.EvidenceKeys.PEAK_L2;
import static io.dlanalyze.analyzer.EvidenceKeys.PEAK_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.REFERENCE_L2;
import static io.dlanalyze.analyzer.EvidenceKeys.UPDATES;

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
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import org.jspecify.annotations.Nullable;

/**
 * Reports gradients that add up across steps instead of being reset: the weight gradients' norm
 * climbs by an order of magnitude or more and, on the way up, never falls back by more than a small
 * share of its running peak. Each step's gradient of a mini-batch is noisy, so a healthy norm rises
 * and falls from step to step even while it grows; an accumulated gradient (a missing {@code
 * optimizer.zero_grad()}) is a running sum, whose norm can only drift upwards by one step's
 * gradient at a time.
 *
 * <p>Implementation notes. The statistic is the norm of all weight gradients of a step (the root of
 * the sum of the layers' squared {@code l2_norm}s of phase {@code gradient}), and each layer's own,
 * leaving out the layers that start from zero (a first recorded gradient, or weights at that step,
 * exactly 0: a zero-initialized table and the layer fed through it, whose gradients grow as the
 * zeros learn). Its reference is the median of its positive finite values over the first {@value
 * #EARLY_STEPS} training steps from the first such value (at most three values): steps, not
 * recorded steps, because a trace recorded every k-th step holds 1, k + 1 and 2k + 1 gradients in a
 * running sum's first three records, and a reference taken from them hides most of the climb; its
 * drawdown is the largest fall below the running peak, as a share of that peak, before the peak. It
 * fires when the peak is at least {@code accumulation-growth} (10) times the reference, at least
 * {@value #MIN_STEPS} steps after the first (and 5 recorded steps), the climb was steady (its
 * drawdown stayed strictly below {@code accumulation-drawdown}, or the median step of its second
 * half was at most {@code accumulation-step} of the norm before it, or, failing both, the norm then
 * held still: the median step over the second half of all recorded steps was at most {@code
 * accumulation-step}, as a running sum's is once its history outweighs each new gradient), and the
 * climb slowed down: its second half (by recorded steps) made at most {@value #MAX_LATE_SHARE} of
 * its log growth, as a running sum's does, unlike a norm that multiplies every step (growth before
 * a NaN, which exploding-gradient reports). The defaults come from the healthy dev runs of the
 * corpus (docs/evaluation.md#calibration): a healthy U-Net's norm climbed 16x without ever falling
 * back, so the drawdown test is off by default (0) and the step test decides. The evidence names
 * the layers whose own norm climbed as far as the total's, and the layers with gradients that the
 * optimizer does not hold (from the metadata): its {@code zero_grad()} does not reset those, so
 * they accumulate even in a correct loop, and the root cause is then that they are outside the
 * optimizer, not a missing call.
 *
 * <p>Seen by the recorder. The PyTorch recorder watches the gradients directly: at each backward
 * pass, before the new gradient is added into {@code p.grad}, whether {@code p.grad} was reset
 * since the optimizer's last step, and writes how many updates it judged ({@code dltrace.updates})
 * and how many were carried over ({@code dltrace.carried_updates}). When at least {@value
 * #MIN_CARRIED} updates and at least a quarter of those judged were carried over, the finding rests
 * on that observation, whatever the norms did: under Adam or a small rate a running sum need not
 * climb tenfold. A loop that accumulates on purpose resets before each update's first micro-batch,
 * and is never carried over.
 */
@DetectorSpec(
    id = DetectorIds.GRADIENT_ACCUMULATION,
    symptom = Symptom.EXPLODING_GRADIENT,
    severity = Severity.ERROR,
    summary = "Gradient norms that only climb, step after step: gradients are never reset",
    source = "PyTorch's zero_grad contract (docs/references.md#gradient-accumulation)",
    thresholds = {"accumulation-growth", "accumulation-drawdown", "accumulation-step"},
    columns = {Column.L2_NORM})
public final class GradientAccumulationDetector implements Detector {
  /**
   * A climb over fewer steps makes no trend (with every=N recording, at least {@link
   * #MIN_OBSERVATIONS} of them recorded).
   */
  static final int MIN_STEPS = 20;

  /** The fewest recorded steps that make a climb, whatever steps they span. */
  static final int MIN_OBSERVATIONS = 5;

  /** The training steps, from the first positive norm, whose norms make the reference. */
  static final int EARLY_STEPS = 3;

  /** One norm series: its reference, running peak and the largest fall before the peak. */
  static final class Rise {
    private final double[] early = new double[EARLY_STEPS];
    private int earlyCount;
    private long earlyFrom;
    private double reference = Double.NaN;
    private long count;
    private long firstStep;
    private boolean broken;
    private double peak;
    private long peakStep = -1;
    private long peakCount;
    private double drawdown;
    private double drawdownAtPeak;

    /**
     * The layer started from zero: its first recorded gradient, or its weights at that step, were
     * exactly 0 (a table or head initialized to zero, or the layer fed by one).
     */
    private boolean zeroStart;

    /** The norms in recorded order, kept for the total only (4 bytes per step). */
    private final boolean keepSeries;

    private float[] series = new float[0];

    Rise(boolean keepSeries) {
      this.keepSeries = keepSeries;
    }

    void observe(long step, double norm) {
      if (broken) {
        return;
      }
      if (!Double.isFinite(norm)) {
        // NaN ends the series: what came before it is the evidence
        broken = true;
        return;
      }
      if (count == 0) {
        firstStep = step;
      }
      count++;
      if (keepSeries) {
        if (count > series.length) {
          series =
              Arrays.copyOf(
                  series, (int) Math.max(64, Math.min(Integer.MAX_VALUE - 8, 2L * series.length)));
        }
        series[(int) Math.min(series.length - 1, count - 1)] = (float) norm;
      }
      if (Double.isNaN(reference)) {
        if (earlyCount > 0 && step >= earlyFrom + EARLY_STEPS) {
          reference = earlyMedian();
        } else if (norm > 0) {
          if (earlyCount == 0) {
            earlyFrom = step;
          }
          early[earlyCount++] = norm;
          if (earlyCount == EARLY_STEPS) {
            reference = earlyMedian();
          }
        }
      }
      if (norm > peak) {
        peak = norm;
        peakStep = step;
        peakCount = count;
        drawdownAtPeak = drawdown;
      } else if (peak > 0) {
        drawdown = Math.max(drawdown, (peak - norm) / peak);
      }
    }

    /** The median of the early values: the middle of three, the mean of two, or the one. */
    private double earlyMedian() {
      double[] sorted = Arrays.copyOf(early, earlyCount);
      Arrays.sort(sorted);
      return earlyCount == 2 ? (sorted[0] + sorted[1]) / 2 : sorted[earlyCount / 2];
    }

    double growth() {
      return Double.isNaN(reference) ? Double.NaN : peak / reference;
    }

    /** The norm grew {@code minGrowth} times its reference over enough steps to make a trend. */
    boolean climbs(double minGrowth) {
      return growth() >= minGrowth
          && peakStep - firstStep >= MIN_STEPS
          && peakCount >= MIN_OBSERVATIONS;
    }

    /**
     * The median of the norm's steps over the second half of its climb (by recorded steps), each as
     * a share of the norm before it; NaN without the series. A running sum moves by one mini-batch
     * gradient per step, a shrinking share of the sum; a healthy norm moves with the mini-batch
     * noise of its own size, however far it has grown.
     */
    double lateStep() {
      return medianStep((int) peakCount - 1);
    }

    /**
     * The median step over the second half of every recorded step, past the peak too, as a share of
     * the norm before it: how still the norm holds once it has climbed.
     */
    double holdStep() {
      return medianStep((int) Math.min(count, series.length) - 1);
    }

    /**
     * The median of the series' steps over [steps / 2, steps), each a share of the value before.
     */
    private double medianStep(int steps) {
      if (!keepSeries || steps < 2) {
        return Double.NaN;
      }
      int from = steps / 2;
      double[] shares = new double[steps - from];
      for (int i = from; i < steps; i++) {
        double before = series[i];
        shares[i - from] =
            before > 0 ? Math.abs(series[i + 1] - before) / before : Double.POSITIVE_INFINITY;
      }
      Arrays.sort(shares);
      int n = shares.length;
      return n % 2 == 1 ? shares[n / 2] : (shares[n / 2 - 1] + shares[n / 2]) / 2;
    }

    /**
     * The share of the climb's log growth made in its second half (by recorded steps). A running
     * sum of gradients of bounded size grows at most linearly, so its climb slows down in log scale
     * (a linear climb makes about a third of it in the second half); a norm that multiplies by the
     * same factor every step (an update blowing up) makes half of it there.
     */
    double lateShare() {
      double middle = series[(int) ((peakCount - 1) / 2)];
      return Math.log(peak / middle) / Math.log(peak / reference);
    }
  }

  /** A climb that makes more of its log growth in its second half is not a running sum. */
  static final double MAX_LATE_SHARE = 0.4;

  /** The fewest carried-over updates the recorder must have seen. */
  static final long MIN_CARRIED = 3;

  /**
   * The smallest share of the judged updates that must have been carried over. The counts add up
   * every optimizer's updates: a GAN whose critic never resets while its generator does carries
   * over half of them, a loop of three optimizers with one at fault a third. A loop that resets
   * carries over none, whichever optimizers it steps.
   */
  static final double MIN_CARRIED_SHARE = 0.25;

  private final Rise total = new Rise(true);
  private final SlotStates<Rise> layers = new SlotStates<>(() -> new Rise(false));
  private long firstStep = -1;
  private long firstSeen = -1;
  private long secondSeen = -1;
  private long lastSeen = -1;

  @Override
  public void observe(StepView step) {
    if (firstSeen < 0) {
      firstSeen = step.step();
    } else if (secondSeen < 0) {
      secondSeen = step.step();
    }
    lastSeen = step.step();
    double squares = 0;
    boolean any = false;
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      if (!step.present(layer, Phase.GRADIENT, Column.L2_NORM)) {
        continue;
      }
      double l2 = step.value(layer, Phase.GRADIENT, Column.L2_NORM);
      Rise rise = layers.at(step.slot(layer, Phase.GRADIENT));
      if (rise.count == 0) {
        rise.zeroStart =
            l2 == 0
                || (step.present(layer, Phase.WEIGHT, Column.L2_NORM)
                    && step.value(layer, Phase.WEIGHT, Column.L2_NORM) == 0);
      }
      rise.observe(step.step(), l2);
      if (!rise.zeroStart) {
        squares += l2 * l2;
        any = true;
      }
    }
    if (any) {
      if (firstStep < 0) {
        firstStep = step.step();
      }
      total.observe(step.step(), Math.sqrt(squares));
    }
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    double minGrowth = context.options().get(Thresholds.ACCUMULATION_GROWTH);
    double maxDrawdown = context.options().get(Thresholds.ACCUMULATION_DRAWDOWN);
    double maxStep = context.options().get(Thresholds.ACCUMULATION_STEP);
    Finding seen = seenByRecorder(context);
    if (seen != null) {
      findings.add(seen);
      return findings;
    }
    if (!total.climbs(minGrowth)) {
      return findings;
    }
    double lateStep = total.lateStep();
    double holdStep = total.holdStep();
    boolean climbSteady = total.drawdownAtPeak < maxDrawdown || lateStep <= maxStep;
    boolean holds = !climbSteady && holdStep <= maxStep;
    if (!(climbSteady || holds) || !(total.lateShare() <= MAX_LATE_SHARE)) {
      return findings;
    }
    List<String> names = new ArrayList<>();
    List<String> outside = new ArrayList<>();
    for (int slot : layers.slots(context)) {
      Rise layer = layers.get(slot);
      String name = context.layer(context.slotLayer(slot)).name();
      // the total's climb was judged steady; a layer is named when its own norm climbed as far
      if (layer.count > 0 && !layer.zeroStart && layer.climbs(minGrowth)) {
        names.add(name);
      }
      if (layer.count > 0 && outsideOptimizer(context, context.slotLayer(slot))) {
        outside.add(name);
      }
    }
    Finding.Builder finding =
        Finding.builder(this)
            .at(-1, Phase.GRADIENT)
            .steps(firstStep, total.peakStep, total.peakCount)
            .evidence(
                Evidence.builder()
                    .put(REFERENCE_L2, total.reference)
                    .put(PEAK_L2, total.peak)
                    .put(PEAK_STEP, total.peakStep)
                    .put(GROWTH, total.growth())
                    .put(GROWTH_STEPS, total.peakCount)
                    .put(MAX_DRAWDOWN, total.drawdownAtPeak)
                    .put(LATE_STEP, lateStep)
                    .put(HOLD_STEP, holdStep)
                    .put(ACCUMULATING_LAYERS, String.join(", ", names))
                    .put(OUTSIDE_OPTIMIZER, String.join(", ", outside))
                    .build());
    if (holds) {
      finding.message(
          "The weight gradients' norm grew %sx over %d steps (from %s to %s at step %d) and then"
              + " held still: over the second half of the run it moved by a median of %s%% a"
              + " step, as a running sum does once its history outweighs each new gradient (a"
              + " mini-batch gradient's norm swings from step to step): gradients add up across"
              + " steps instead of being reset%s.",
          Numbers.format(total.growth()),
          total.peakCount,
          Numbers.format(total.reference),
          Numbers.format(total.peak),
          total.peakStep,
          Numbers.format(100 * holdStep),
          outsideNote(outside));
    } else {
      finding.message(
          "The weight gradients' norm grew %sx over %d steps (from %s to %s at step %d), never"
              + " fell more than %s%% below its running peak on the way and moved by a median of"
              + " %s%% a step over the second half of its climb: gradients add up across steps"
              + " instead of being reset%s.",
          Numbers.format(total.growth()),
          total.peakCount,
          Numbers.format(total.reference),
          Numbers.format(total.peak),
          total.peakStep,
          Numbers.format(100 * total.drawdownAtPeak),
          Numbers.format(100 * lateStep),
          outsideNote(outside));
    }
    findings.add(finding.build());
    return findings;
  }

  /**
   * The finding from the recorder's own count of carried-over updates, or null when it did not
   * count them or saw too few: at least {@link #MIN_CARRIED}, and {@link #MIN_CARRIED_SHARE} of
   * those it judged.
   */
  private @Nullable Finding seenByRecorder(AnalysisContext context) {
    OptionalLong updates = context.metadata().updates();
    OptionalLong carried = context.metadata().carriedUpdates();
    if (updates.isEmpty() || carried.isEmpty()) {
      return null;
    }
    long judged = updates.getAsLong();
    long over = Math.min(carried.getAsLong(), judged);
    if (over < MIN_CARRIED || over < MIN_CARRIED_SHARE * judged) {
      return null;
    }
    Evidence.Builder evidence = Evidence.builder().put(CARRIED_UPDATES, over).put(UPDATES, judged);
    String climb = "";
    if (!Double.isNaN(total.reference) && total.peak > 0) {
      evidence
          .put(REFERENCE_L2, total.reference)
          .put(PEAK_L2, total.peak)
          .put(PEAK_STEP, total.peakStep)
          .put(GROWTH, total.growth());
      climb =
          String.format(
              Locale.ROOT,
              "; the weight gradients' norm went from %s to a peak of %s at step %d",
              Numbers.format(total.reference),
              Numbers.format(total.peak),
              total.peakStep);
    }
    return Finding.builder(this)
        .at(-1, Phase.GRADIENT)
        // the first update judged is the second: nothing came before the first
        .steps(secondSeen >= 0 ? secondSeen : Math.max(0, firstSeen), Math.max(0, lastSeen), over)
        .evidence(evidence.put(ACCUMULATING_LAYERS, "").put(OUTSIDE_OPTIMIZER, "").build())
        .message(
            "The recorder saw %d of %d updates apply gradients carried over from earlier steps:"
                + " each time, the next backward pass found p.grad still holding the previous"
                + " gradients, not reset since the optimizer's last step%s.",
            over, judged, climb)
        .build();
  }

  /** The message's note naming the layers the optimizer does not hold, or nothing. */
  private static String outsideNote(List<String> outside) {
    return outside.isEmpty()
        ? ""
        : " (the optimizer does not hold " + String.join(", ", outside) + ")";
  }

  /** True when the metadata says the optimizer holds none of the layer's parameters. */
  private static boolean outsideOptimizer(AnalysisContext context, int layer) {
    for (LayerInfo info : context.metadata().layers()) {
      if (info.index() == layer) {
        return !info.inOptimizer();
      }
    }
    return false;
  }
}
