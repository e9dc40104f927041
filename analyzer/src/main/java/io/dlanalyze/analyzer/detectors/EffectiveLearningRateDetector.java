package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.BAND_HIGH;
import static io.dlanalyze.analyzer.EvidenceKeys.BAND_LOW;
import static io.dlanalyze.analyzer.EvidenceKeys.COLLAPSED_SHARE;
import static io.dlanalyze.analyzer.EvidenceKeys.DIRECTION;
import static io.dlanalyze.analyzer.EvidenceKeys.EFFECTIVE_LR;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_NON_FINITE_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.LAYERS_OUT_OF_BAND;
import static io.dlanalyze.analyzer.EvidenceKeys.LEARNING_RATE;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS_STALLED;
import static io.dlanalyze.analyzer.EvidenceKeys.MEASURED_LAYERS;
import static io.dlanalyze.analyzer.EvidenceKeys.PEAK_LEARNING_RATE;
import static io.dlanalyze.analyzer.EvidenceKeys.PEAK_LEARNING_RATE_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.SUGGESTED_LEARNING_RATE;
import static io.dlanalyze.analyzer.EvidenceKeys.THRESHOLD;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.Direction;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.Optimizers;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalDouble;
import org.jspecify.annotations.Nullable;

/**
 * Reports layers whose effective learning rate, the size of one update relative to the weights,
 * stays outside [{@code effective-lr-low}, {@code effective-lr-high}] for {@code window} steps in a
 * row (recorded steps, or the steps they span at one every 4 in a sparsely recorded trace: {@link
 * BandRun}). A warning when the loss stalls at the end of that stretch and the run never learned
 * (too high: {@code oscillation}; too low: {@code slow_convergence}); otherwise an info finding
 * that the root-cause analysis can quote.
 *
 * <p>Implementation notes: DeepDiagnosis' learning-rate test is {@code lr*||dW||/||W||} outside
 * [1e-3/100, 1e-3*100] = [1e-5, 1e-1] for any layer (docs/references.md#deepdiagnosis);
 * TheDeepChecker's update ratio is log10 outside [-4, -1] (#thedeepchecker). For SGD, with or
 * without momentum, the update is {@code lr x g}, so the rate is {@code lr x ||grad|| /
 * ||weight||}. Adam, RMSprop and their kin divide each gradient by its running magnitude, so each
 * parameter moves by about {@code lr} whatever the gradient's size (Kingma and Ba 2015, section
 * 2.1: the step is bounded by about the learning rate); their rate is {@code lr / rms(weight)},
 * with {@code rms(weight) = ||weight|| / sqrt(numel)}, and RMSprop with momentum, which sums its
 * normalized steps in a velocity, moves by {@code lr / (1 - momentum)}. The lower end here is
 * DeepDiagnosis' 1e-5: a converged healthy sample run (exploding-gradient-fixed) sits at 3.5e-5,
 * below TheDeepChecker's 1e-4. The learning rate comes from the {@code learning_rate} phase of the
 * step, else {@code dltrace.learning_rate}; with neither the detector stays silent. Adagrad's step
 * shrinks as its squared gradients pile up, and Adadelta's rate is a multiplier: for them {@code lr
 * x ||grad|| / ||weight||} is kept, as an indication only. A non-finite loss belongs to
 * numerical-error and exploding-gradient, so then only info is given.
 *
 * <p>Blow-up rule: on the last step before the first NaN/Inf of a trainable layer's weight or
 * gradient (or of the loss), the largest rate over the layers reaching {@code update-blowup} (an
 * update as large as the weights) is reported as an info finding that names that step. One update
 * can turn a run non-finite before any band run could form (a run that is NaN from step 1 has one
 * finite step); the root-cause analysis then blames the update size, not the layer where the NaN
 * surfaced. Not with adaptive optimizers, whose update is not {@code lr x ||g||}.
 *
 * <p>Adaptive-step rule: under Adam, RMSprop and their kin, the median over the layers of each
 * layer's typical lr / rms(w), over the steps a schedule had not cut. Below {@code
 * adaptive-step-low} the steps are too small to train (a warning when the run never learned, else
 * info); at or above {@code effective-lr-high}, in a run whose loss ended at a tenth of its start
 * or more, they are too large for it to settle (a warning). Both are model-level findings at the
 * {@code learning_rate} phase.
 *
 * <p>Collapse rule: from the {@code learning_rate} rows alone (any optimizer), the share of them at
 * or below 1/100 of the run's peak rate reaching {@code lr-collapse-share} means a schedule took
 * the rate away for most of the run (a decay counted in steps where epochs were meant, a cosine
 * over a few steps, step boundaries in the wrong unit). A warning when the run never learned, else
 * info; symptom {@code slow_convergence}. Healthy schedules reach 1/100 of their peak only near the
 * end of the run (at most a quarter of it on the healthy dev runs).
 */
@DetectorSpec(
    id = DetectorIds.EFFECTIVE_LEARNING_RATE,
    symptom = Symptom.OSCILLATION,
    severity = Severity.WARNING,
    summary =
        "A layer's effective learning rate lr x ||grad|| / ||weight|| stays outside its normal"
            + " band",
    source =
        "DeepDiagnosis learning-rate band 1e-5..1e-1; TheDeepChecker update ratio log10 in [-4, -1]"
            + " (docs/references.md#deepdiagnosis, #thedeepchecker)",
    thresholds = {
      "window",
      "effective-lr-low",
      "effective-lr-high",
      "update-blowup",
      "lr-collapse-share",
      "adaptive-step-low",
      "min-improvement",
      "converged-drop"
    },
    columns = {Column.MEAN, Column.L2_NORM, Column.NUMEL})
public final class EffectiveLearningRateDetector implements Detector {

  /** Per layer: its band run, and over the first firing run, log10 sums and the last rate. */
  private final class State {
    final BandRun band = new BandRun(window);
    double firedSum;
    long firedCount;
    double firedRate;

    /** Over every finite step of the run, for the adaptive-step rule: log10 sum and count. */
    double logSum;

    long logCount;
  }

  private final SlotStates<State> layers = new SlotStates<>(State::new);
  private LossGate gate;
  private int window;
  private double low;
  private double high;
  private double metadataRate = Double.NaN;
  private double blowup;
  private boolean adaptive;

  /** An adaptive optimizer's step per parameter in learning rates ({@link Optimizers}). */
  private double stepScale = 1;

  /**
   * True for Adam, RMSprop and their kin, whose step is about lr per parameter: the rate is then lr
   * / rms(w). Adagrad's step shrinks as squared gradients pile up and Adadelta's rate is a
   * multiplier, so for them lr x ||g|| / ||w|| stays, as an indication only.
   */
  private boolean perParameter;

  /** The largest rate of the last finite step (its layer -1 before any), its step and rate. */
  private double lastMax;

  private int lastMaxLayer = -1;
  private long lastStep = -1;
  private double lastRate;
  private boolean nonFiniteSeen;

  /** The first step with a NaN/Inf when the update before it blew up, else -1. */
  private long blowUpAt = -1;

  private double collapseShare;
  private double adaptiveLow;

  /**
   * The largest learning rate seen so far: the adaptive-step rule measures only the steps whose
   * rate is at least {@link #UNCUT} of it.
   */
  private double runningPeak;

  /**
   * The share of the running peak below which a step's rate counts as cut by its schedule. A rule
   * that blames the configured learning rate judges the steps that ran at it: a plateau or step
   * schedule that cut the rate after the loss settled (by a factor of 2 to 10; ReduceLROnPlateau's
   * default factor is 0.1 in Keras and in PyTorch) made those small steps on purpose.
   */
  static final double UNCUT = 0.5;

  /** The first and last step with a measured rate, and the rates' log10 sum and count. */
  private long firstMeasured = -1;

  private long lastMeasured = -1;
  private double rateLogSum;
  private long rateLogCount;

  /** The learning rate of each step with a learning_rate row, and its step, in order. */
  private double[] rates = new double[256];

  private long[] rateSteps = new long[256];
  private int rateCount;

  @Override
  public void begin(AnalysisContext context) {
    gate = new LossGate(context);
    window = context.options().getInt(Thresholds.WINDOW);
    low = context.options().get(Thresholds.LR_LOW);
    high = context.options().get(Thresholds.LR_HIGH);
    blowup = context.options().get(Thresholds.UPDATE_BLOWUP);
    collapseShare = context.options().get(Thresholds.LR_COLLAPSE_SHARE);
    adaptiveLow = context.options().get(Thresholds.ADAPTIVE_STEP_LOW);
    adaptive = Optimizers.adaptive(context.metadata());
    perParameter = Optimizers.rateFamily(context.metadata()) == Optimizers.RateFamily.ADAPTIVE;
    stepScale = Optimizers.adaptiveStepScale(context.metadata());
    OptionalDouble rate = context.metadata().learningRate();
    if (rate.isPresent()) {
      metadataRate = rate.getAsDouble();
    }
  }

  @Override
  public void observe(StepView step) {
    if (step.has(-1, Phase.LEARNING_RATE)) {
      double scheduled = step.mean(-1, Phase.LEARNING_RATE);
      if (Double.isFinite(scheduled) && scheduled >= 0) {
        if (rateCount == rates.length) {
          rates = Arrays.copyOf(rates, rateCount * 2);
          rateSteps = Arrays.copyOf(rateSteps, rateCount * 2);
        }
        rates[rateCount] = scheduled;
        rateSteps[rateCount++] = step.step();
      }
    }
    double rate =
        step.has(-1, Phase.LEARNING_RATE) ? step.mean(-1, Phase.LEARNING_RATE) : metadataRate;
    if (!(rate > 0) || !Double.isFinite(rate)) {
      return;
    }
    runningPeak = Math.max(runningPeak, rate);
    boolean uncut = rate >= UNCUT * runningPeak;
    boolean nonFinite = step.has(-1, Phase.LOSS) && !Double.isFinite(step.mean(-1, Phase.LOSS));
    double stepMax = 0;
    int stepMaxLayer = -1;
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      if (!step.layer(layer).trainable()
          || !step.present(layer, Phase.GRADIENT, Column.L2_NORM)
          || !step.present(layer, Phase.WEIGHT, Column.L2_NORM)) {
        continue;
      }
      if (step.present(layer, Phase.WEIGHT, Column.NUMEL)
          && step.count(layer, Phase.WEIGHT, Column.NUMEL) == 1) {
        // a single parameter (a global bias): its size is its one value's, which starts at or
        // passes through zero as it learns, so a step relative to it says nothing of the rate
        continue;
      }
      State state = layers.at(step.slot(layer, Phase.GRADIENT));
      double g = step.value(layer, Phase.GRADIENT, Column.L2_NORM);
      double w = step.value(layer, Phase.WEIGHT, Column.L2_NORM);
      if (!Double.isFinite(g) || !Double.isFinite(w) || !(w > 0) || !(g > 0)) {
        nonFinite |= !Double.isFinite(g) || !Double.isFinite(w);
        state.band.interrupt();
        continue;
      }
      // SGD moves the weights by lr x g; Adam, RMSprop and their kin by about lr per parameter
      // (RMSprop with momentum lr / (1 - momentum)), whatever the gradient's size, so their step
      // relative to the weights is lr / rms(w).
      double effective =
          perParameter
              ? rate * stepScale / GradientNorms.rms(step, layer, Phase.WEIGHT)
              : rate * g / w;
      if (!Double.isFinite(effective)) {
        continue; // the weights' numel is not recorded
      }
      if (effective > stepMax) {
        stepMax = effective;
        stepMaxLayer = layer;
      }
      if (perParameter && effective > 0 && uncut) {
        state.logSum += Math.log10(effective);
        state.logCount++;
        if (firstMeasured < 0) {
          firstMeasured = step.step();
        }
        if (lastMeasured != step.step()) {
          lastMeasured = step.step();
          rateLogSum += Math.log10(rate);
          rateLogCount++;
        }
      }
      if (state.band.observe(step.step(), effective, low, high)) {
        state.firedSum += Math.log10(effective);
        state.firedCount++;
        state.firedRate = rate;
      }
    }
    if (nonFinite && !nonFiniteSeen) {
      nonFiniteSeen = true;
      if (!adaptive && lastMaxLayer >= 0 && lastMax >= blowup) {
        blowUpAt = step.step();
      }
    }
    if (!nonFinite) {
      lastMax = stepMax;
      lastMaxLayer = stepMaxLayer;
      lastStep = step.step();
      lastRate = rate;
    }
  }

  /**
   * The blow-up finding is final at the first NaN/Inf (nothing after it changes the step before);
   * the band findings need the whole run (the loss gate) and come at the end.
   */
  @Override
  public int conclusive() {
    return blowUpAt >= 0 ? 1 : 0;
  }

  @Override
  public List<Finding> conclusiveFindings(AnalysisContext context) {
    return blowUpAt >= 0 ? List.of(blowUp(context)) : List.of();
  }

  /**
   * The collapse rule: the learning rate at or below 1/100 of its peak for at least {@code
   * lr-collapse-share} of the rows (at least {@code window} rows); null otherwise. Its evidence has
   * no {@code learning_rate}: the root-cause analysis quotes that key as the run's rate in other
   * fixes, and the collapsed rate is not the one the run was configured with.
   */
  private @Nullable Finding collapse(boolean learned) {
    if (rateCount < window) {
      return null;
    }
    int peak = 0;
    for (int i = 1; i < rateCount; i++) {
      if (rates[i] > rates[peak]) {
        peak = i;
      }
    }
    double top = rates[peak];
    if (!(top > 0)) {
      return null; // a rate that is never positive is the nothing-updates cause
    }
    int low = 0;
    int first = -1;
    for (int i = 0; i < rateCount; i++) {
      if (LossGate.collapsed(rates[i], top)) {
        low++;
        if (first < 0 && i > peak) {
          first = i;
        }
      }
    }
    double share = (double) low / rateCount;
    if (share < collapseShare || first < 0) {
      return null;
    }
    long from = rateSteps[first];
    return Finding.builder(this)
        .symptom(Symptom.SLOW_CONVERGENCE)
        .severity(learned ? Severity.INFO : Severity.WARNING)
        .at(-1, Phase.LEARNING_RATE)
        .steps(from, rateSteps[rateCount - 1], low)
        .evidence(
            Evidence.builder()
                .put(DIRECTION, Direction.LOW)
                .put(PEAK_LEARNING_RATE, top)
                .put(PEAK_LEARNING_RATE_STEP, rateSteps[peak])
                .put(COLLAPSED_SHARE, share)
                .put(THRESHOLD, collapseShare)
                .build())
        .message(
            format(
                ROOT,
                "The learning rate fell from its peak of %s (step %d) to %s by step %d and stayed"
                    + " at or below 1/100 of the peak for %s of the run's %d steps with a learning"
                    + " rate%s.",
                Numbers.format(top),
                rateSteps[peak],
                Numbers.format(rates[first]),
                from,
                Numbers.percent(share),
                rateCount,
                learned ? "" : ", and the loss did not improve"))
        .build();
  }

  /**
   * An adaptive optimizer's typical step over the run: the median over the layers of each layer's
   * typical lr / rms(w) (its geometric mean over the steps whose rate a schedule had not cut,
   * {@link #UNCUT}), with the number of layers and of steps measured.
   */
  private record TypicalStep(double median, int layers, long measured) {}

  /**
   * The run's {@link TypicalStep}; null when its measured steps are not as much evidence as {@code
   * window} of them ({@link Run#enough}: recorded sparsely, fewer that span as many steps).
   */
  private @Nullable TypicalStep typicalStep(AnalysisContext context) {
    List<Double> typical = new ArrayList<>();
    long measured = 0;
    for (int slot : layers.slots(context)) {
      State state = layers.get(slot);
      if (state.logCount > 0) {
        typical.add(state.logSum / state.logCount);
        measured = Math.max(measured, state.logCount);
      }
    }
    if (typical.isEmpty() || !Run.enough(window, measured, lastMeasured - firstMeasured)) {
      return null;
    }
    typical.sort(null);
    int n = typical.size();
    double median =
        Math.pow(
            10,
            n % 2 == 1 ? typical.get(n / 2) : (typical.get(n / 2 - 1) + typical.get(n / 2)) / 2);
    return new TypicalStep(median, n, measured);
  }

  /**
   * The adaptive-step rule, low side: the typical step below {@code adaptive-step-low}; null
   * otherwise.
   */
  private @Nullable Finding smallAdaptiveSteps(TypicalStep typical, boolean learned) {
    if (!(typical.median() < adaptiveLow)) {
      return null;
    }
    return adaptiveSteps(typical, false, learned ? Severity.INFO : Severity.WARNING, Double.NaN);
  }

  /**
   * The loss's last block at or above this share of its first one: the run did not fit its data. A
   * run that brought its loss to a tenth of its start fitted it, whatever its step size (a healthy
   * Keras BiLSTM under Adam(0.5) with clipping steps at 0.22 and ends at 0.3% of its start).
   */
  static final double UNFITTED = 0.1;

  /**
   * The high side's bound for a run judged on fewer than {@code window} measured steps, recorded
   * sparsely. Two healthy dev runs recorded every 16 and 32 steps, measured on 32 and 18 steps,
   * hold typical steps of 0.100 and 0.116, over the band's top (a T5 whose rate is too high holds
   * 0.101): 0.15 keeps a margin of 1.3 over them. No healthy dev run reaches it in the corpus as
   * recorded or thinned to every 8 or 16 steps (docs/evaluation.md, "Traces recorded sparsely").
   */
  public static final double SAMPLED_HIGH = 0.15;

  /**
   * The adaptive-step rule, high side: the typical step at or above {@code effective-lr-high}
   * (DeepDiagnosis' top of the band) in a run whose loss measures progress, stayed finite and ended
   * at {@link #UNFITTED} of its start or more; null otherwise. No healthy dev run with {@code
   * window} steps measured reaches the band's top (their largest typical step is 0.094,
   * docs/evaluation.md); a run judged on fewer measured steps over a longer stretch ({@link
   * Run#enough}) must reach {@link #SAMPLED_HIGH}.
   */
  private @Nullable Finding largeAdaptiveSteps(TypicalStep typical) {
    double bound = typical.measured() >= window ? high : SAMPLED_HIGH;
    if (!(typical.median() >= bound) || !gate.judgeable() || gate.nonFinite()) {
      return null;
    }
    LossHistory history = gate.history();
    double first = history.firstBlockMean(window);
    double last = history.mean(Math.max(0, history.size() - window), history.size());
    if (!(first > 0) || !(last >= UNFITTED * first)) {
      return null;
    }
    return adaptiveSteps(typical, true, Severity.WARNING, last / first);
  }

  private Finding adaptiveSteps(
      TypicalStep typical, boolean tooHigh, Severity severity, double lossShare) {
    double median = typical.median();
    double rate = Math.pow(10, rateLogSum / rateLogCount);
    double centre = Math.sqrt(adaptiveLow * high);
    String ending;
    if (tooHigh) {
      ending = format(ROOT, ", and the loss ended at %s of its start", Numbers.percent(lossShare));
    } else {
      ending = severity == Severity.WARNING ? ", and the loss did not improve" : "";
    }
    return Finding.builder(this)
        .symptom(tooHigh ? Symptom.OSCILLATION : Symptom.SLOW_CONVERGENCE)
        .severity(severity)
        .at(-1, Phase.LEARNING_RATE)
        .steps(firstMeasured, lastMeasured, typical.measured())
        .evidence(
            Evidence.builder()
                .put(DIRECTION, tooHigh ? Direction.HIGH : Direction.LOW)
                .put(EFFECTIVE_LR, median)
                .put(LEARNING_RATE, rate)
                .put(BAND_LOW, adaptiveLow)
                .put(BAND_HIGH, high)
                .put(SUGGESTED_LEARNING_RATE, rate * centre / median)
                .put(MEASURED_LAYERS, (long) typical.layers())
                .build())
        .message(
            format(
                ROOT,
                "The optimizer's steps were too %s: lr / rms(weight) was typically %s (median"
                    + " of %d layers over %d steps), %s %s, at a learning rate of %s%s.",
                tooHigh ? "large" : "small",
                Numbers.format(median),
                typical.layers(),
                typical.measured(),
                tooHigh ? "at or above" : "below",
                Numbers.format(tooHigh ? high : adaptiveLow),
                Numbers.format(rate),
                ending))
        .build();
  }

  private Finding blowUp(AnalysisContext context) {
    String name = context.layer(lastMaxLayer).name();
    return Finding.builder(this)
        .symptom(Symptom.EXPLODING_GRADIENT)
        .severity(Severity.INFO)
        .at(lastMaxLayer, Phase.GRADIENT)
        .steps(lastStep, lastStep, 1)
        .evidence(
            Evidence.builder()
                .put(DIRECTION, Direction.HIGH)
                .put(EFFECTIVE_LR, lastMax)
                .put(LEARNING_RATE, lastRate)
                .put(BAND_HIGH, blowup)
                .put(FIRST_NON_FINITE_STEP, blowUpAt)
                .build())
        .message(
            format(
                ROOT,
                "The update of step %d was as large as the weights: the effective learning rate of"
                    + " %s (lr %s x ||grad|| / ||weight||) reached %s (at or above %s), and the"
                    + " values turned NaN/Inf at step %d.",
                lastStep,
                name,
                Numbers.format(lastRate),
                Numbers.format(lastMax),
                Numbers.format(blowup),
                blowUpAt))
        .build();
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    boolean learned = gate.learned();
    TypicalStep typical = perParameter ? typicalStep(context) : null;
    Finding small = typical == null ? null : smallAdaptiveSteps(typical, learned);
    Finding large = typical == null ? null : largeAdaptiveSteps(typical);
    for (Finding whole : new Finding[] {small, large}) {
      if (whole != null) {
        findings.add(whole);
      }
    }
    for (int direction : new int[] {1, -1}) {
      if (direction < 0 && small != null) {
        continue; // the adaptive-step finding says it for the whole model
      }
      int root = -1;
      for (int slot : layers.slots(context)) {
        BandRun band = layers.get(slot).band;
        if (band.fired()
            && band.firedSide() == direction
            && (root < 0 || band.start() < layers.get(root).band.start())) {
          root = slot;
        }
      }
      if (root < 0) {
        continue;
      }
      List<Consequence> others = new ArrayList<>();
      for (int slot : layers.slots(context)) {
        BandRun band = layers.get(slot).band;
        if (slot != root && band.fired() && band.firedSide() == direction) {
          int layer = context.slotLayer(slot);
          others.add(
              new Consequence(
                  layer, context.layer(layer).name(), Phase.GRADIENT, band.start(), band.length()));
        }
      }
      findings.add(finding(context.slotLayer(root), layers.get(root), others, learned, context));
    }
    if (blowUpAt >= 0) {
      findings.add(blowUp(context));
    }
    Finding collapse = collapse(learned);
    if (collapse != null) {
      findings.add(collapse);
    }
    return findings;
  }

  private Finding finding(
      int layer, State state, List<Consequence> others, boolean learned, AnalysisContext context) {
    BandRun band = state.band;
    boolean tooHigh = band.firedSide() > 0;
    double typical = Math.pow(10, state.firedSum / state.firedCount);
    long length = band.length();
    boolean stalled = gate.judgeable() && gate.stalledAt(band.end());
    // Adagrad's and Adadelta's low lr x ||g|| / ||w|| says nothing about their updates: info.
    boolean warn =
        stalled
            && !learned
            && !gate.nonFinite()
            && (tooHigh || perParameter || !Optimizers.adaptive(context.metadata()));
    String name = context.layer(layer).name();
    double bound = tooHigh ? high : low;
    Evidence.Builder evidence =
        Evidence.builder()
            .put(DIRECTION, tooHigh ? Direction.HIGH : Direction.LOW)
            .put(EFFECTIVE_LR, typical)
            .put(LEARNING_RATE, state.firedRate)
            .put(BAND_LOW, low)
            .put(BAND_HIGH, high);
    if (typical < high * 1e3 && typical > low / 1e3) {
      // Moving the learning rate by the factor that brings the ratio to the band's geometric
      // centre.
      evidence.put(SUGGESTED_LEARNING_RATE, state.firedRate * Math.sqrt(low * high) / typical);
    }
    evidence
        .put(LOSS_STALLED, stalled)
        .put(RUN_STEPS, length)
        .put(LAYERS_OUT_OF_BAND, (long) others.size() + 1);
    String more = others.isEmpty() ? "" : format(ROOT, "; so did %d more layers", others.size());
    return Finding.builder(this)
        .symptom(tooHigh ? Symptom.OSCILLATION : Symptom.SLOW_CONVERGENCE)
        .severity(warn ? Severity.WARNING : Severity.INFO)
        .at(layer, Phase.GRADIENT)
        .steps(band.start(), band.end(), length)
        .evidence(evidence.build())
        .consequences(others)
        .message(
            format(
                ROOT,
                "The effective learning rate of %s (lr %s %s) stayed %s %s for"
                    + " %d steps from step %d (typically %s)%s%s.",
                name,
                Numbers.format(state.firedRate),
                perParameter ? "/ rms(weight)" : "x ||grad|| / ||weight||",
                tooHigh ? "above" : "below",
                Numbers.format(bound),
                length,
                band.start(),
                Numbers.format(typical),
                more,
                warn ? ", and the loss did not improve" : ""))
        .build();
  }
}
