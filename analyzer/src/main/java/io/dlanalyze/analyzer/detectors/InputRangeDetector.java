package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.ABNORMAL_HIDDEN;
import static io.dlanalyze.analyzer.EvidenceKeys.ABNORMAL_HIDDEN_ALONE;
import static io.dlanalyze.analyzer.EvidenceKeys.ABNORMAL_LAYER;
import static io.dlanalyze.analyzer.EvidenceKeys.ABNORMAL_LAYER_RMS;
import static io.dlanalyze.analyzer.EvidenceKeys.BOUND;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_LAYER;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_LAYER_RMS;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_NON_FINITE_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.INPUT_MAX;
import static io.dlanalyze.analyzer.EvidenceKeys.INPUT_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.INPUT_MIN;
import static io.dlanalyze.analyzer.EvidenceKeys.INPUT_STD;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
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
 * Reports inputs that are not normalized: values beyond +-{@code input-bound} that are not
 * standardized either (mean far from 0 or std far from 1). On its own an info finding
 * (docs/references.md#false-alarm-sources: a warning sign, not a fault: images in [0, 255] feeding
 * a BatchNorm layer train fine); a warning when the first layer's output is abnormal as well, its
 * root mean square at or above {@code abnormal-hidden} for {@code window} steps in a row, or at
 * every finite step before it turned NaN/Inf (a first layer that overflows in its first steps
 * leaves no window to fill). Even then it names a cause, not a harm: it {@linkplain
 * DetectorSpec#needsCorroboration() needs corroboration}, and the report keeps it at info unless
 * another detector shows the harm (healthy runs on the raw 0..16 digits, or on 0..255 pixels into a
 * convolution and BatchNorm, have first layers with an RMS of 10 to 70 and train as well as scaled
 * ones). The exception is a first layer whose outputs hold an RMS of at least {@code
 * abnormal-hidden-alone} for a window with no normalization layer after it (before the next layer
 * with weights): nothing rescales them, every later layer starts that many times off its scale, and
 * the finding is an error that stands alone (healthy dev runs on raw inputs stay under a third of
 * that bound; a BatchNorm after the first convolution is what lets raw pixels train). A later
 * hidden layer counts the same way when its outputs hold that RMS from its first recorded step,
 * before any update could move its weights there, with no normalization layer after it: data that
 * enters past the first layer (numeric columns concatenated after an embedding, a second input the
 * recorder does not see) shows there first. Nothing is reported for token or category ids (inputs
 * between whole numbers from 0 up, into a model whose first layer is an embedding table) unless
 * such a later layer shows other inputs off scale.
 *
 * <p>Implementation notes: UMLAUT and DeepDiagnosis flag min(X) < -1 or max(X) > 1 (#deepdiagnosis,
 * #umlaut); standardized data has tails beyond +-1 by construction (about a third of its values),
 * so data with |mean| <= 0.5 and std in [0.5, 2] counts as normalized. AUTOTRAINER's abnormal-data
 * rule is mean |hidden output| >= 10 (#autotrainer); the trace has the first layer's forward mean
 * and std, whose RMS sqrt(mean^2 + std^2) bounds the mean absolute value from above. The symptom
 * class is saturation whatever the model's activations: inputs far outside the range the network
 * expects, one class for every run whose cause is the data's scale (a results table groups them),
 * as the corpus's labelling rules write it; the root cause names numerical_error when the run then
 * turned NaN/Inf.
 */
@DetectorSpec(
    id = DetectorIds.INPUT_RANGE,
    symptom = Symptom.SATURATION,
    severity = Severity.INFO,
    summary =
        "The inputs are not normalized; a warning when the first layer's outputs are abnormally"
            + " large too",
    source =
        "UMLAUT / DeepDiagnosis input outside [-1, 1]; AUTOTRAINER abnormal data >= 10"
            + " (docs/references.md#umlaut, #deepdiagnosis, #autotrainer)",
    thresholds = {"window", "input-bound", "abnormal-hidden"},
    needsCorroboration = true,
    columns = {Column.MEAN, Column.STD, Column.MIN, Column.MAX})
public final class InputRangeDetector implements Detector {

  private int window;
  private double bound;
  private double hidden;
  private double min = Double.POSITIVE_INFINITY;
  private double max = Double.NEGATIVE_INFINITY;
  private double meanSum;
  private double stdSum;
  private long steps;
  private long firstOutside = -1;
  private long lastStep;
  private int firstLayer = -1;

  /** Every step's input min and max were whole numbers, the min not negative: ids, maybe. */
  private boolean wholeBounds = true;

  /** Steps in a row where the first layer's output RMS is abnormal. */
  private Run hiddenRun;

  private double hiddenRms;

  /** Steps in a row where the first layer's output RMS is at or above abnormal-hidden-alone. */
  private Run aloneRun;

  private double alone;

  /** Per layer (keyed by its forward slot): its outputs' RMS from its first recorded step on. */
  private final SlotStates<FromStart> fromStart = new SlotStates<>(FromStart::new);

  /**
   * The first layer's output turned NaN/Inf before a {@code window} of abnormal steps could form,
   * every finite step before it abnormal: the step it turned, else -1; with the first abnormal
   * step's RMS and step, and whether every finite step so far was abnormal.
   */
  private long cutShortAt = -1;

  private double earlyRms;
  private long earlyStep = -1;
  private boolean allAbnormal = true;

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.WINDOW);
    bound = context.options().get(Thresholds.INPUT_BOUND);
    hidden = context.options().get(Thresholds.ABNORMAL_HIDDEN);
    hiddenRun = new Run(window, Run.Policy.FIRST);
    alone = context.options().get(Thresholds.ABNORMAL_HIDDEN_ALONE);
    aloneRun = new Run(window, Run.Policy.FIRST);
  }

  @Override
  public void observe(StepView step) {
    lastStep = step.step();
    if (step.has(-1, Phase.INPUT)) {
      double lo = Rows.low(step, -1, Phase.INPUT);
      double hi = Rows.high(step, -1, Phase.INPUT);
      if (Double.isFinite(lo) && Double.isFinite(hi)) {
        wholeBounds &= lo >= 0 && lo == Math.rint(lo) && hi == Math.rint(hi);
        min = Math.min(min, lo);
        max = Math.max(max, hi);
        if (firstOutside < 0 && (lo < -bound || hi > bound)) {
          firstOutside = step.step();
        }
        double mean = step.mean(-1, Phase.INPUT);
        double std = Rows.valueOr(step, -1, Phase.INPUT, Column.STD, Double.NaN);
        if (Double.isFinite(mean) && Double.isFinite(std)) {
          meanSum += mean;
          stdSum += std;
          steps++;
        }
      }
    }
    for (int i = 0; i < step.presentLayerCount() && firstLayer < 0; i++) {
      if (step.has(step.presentLayer(i), Phase.FORWARD)) {
        firstLayer = step.presentLayer(i);
      }
    }
    if (firstLayer >= 0 && step.present(firstLayer, Phase.FORWARD, Column.STD)) {
      double mean = step.mean(firstLayer, Phase.FORWARD);
      double std = step.value(firstLayer, Phase.FORWARD, Column.STD);
      double rms = Math.sqrt(mean * mean + std * std);
      boolean qualified = hiddenRun.qualified();
      if (!qualified && cutShortAt < 0) {
        if (!Double.isFinite(rms)) {
          if (allAbnormal && earlyStep >= 0) {
            cutShortAt = step.step();
          }
        } else if (rms >= hidden) {
          if (earlyStep < 0) {
            earlyRms = rms;
            earlyStep = step.step();
          }
        } else {
          allAbnormal = false;
        }
      }
      if (hiddenRun.observe(step.step(), rms >= hidden && Double.isFinite(rms)) && !qualified) {
        hiddenRms = rms;
      }
      aloneRun.observe(step.step(), rms >= alone && Double.isFinite(rms));
    }
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      if (step.present(layer, Phase.FORWARD, Column.STD)) {
        double mean = step.mean(layer, Phase.FORWARD);
        double std = step.value(layer, Phase.FORWARD, Column.STD);
        fromStart
            .at(step.slot(layer, Phase.FORWARD))
            .observe(layer, Math.sqrt(mean * mean + std * std), alone);
      }
    }
  }

  /**
   * A layer's outputs from its first recorded step: how many steps in a row, from that first step,
   * held an RMS of at least {@code abnormal-hidden-alone}, and the lowest of them. A layer whose
   * outputs start that far off scale, before any update could have moved its weights, gets them
   * from the data it is fed (or from its initialization).
   */
  private static final class FromStart {
    int layer = -1;
    long records;
    long length;
    double low = Double.POSITIVE_INFINITY;

    void observe(int layer, double rms, double alone) {
      this.layer = layer;
      if (records++ == length && Double.isFinite(rms) && rms >= alone) {
        length++;
        low = Math.min(low, rms);
      }
    }

    /** The run from the first step lasted a window, or the layer's whole record (two or more). */
    boolean qualified(int window) {
      return length >= window || (length == records && length >= 2);
    }
  }

  /**
   * The first layer (by index) whose outputs held an RMS of at least {@code abnormal-hidden-alone}
   * from its first recorded step, for a window or its whole record, with no normalization layer
   * after it; never the output layer, the last layer, an embedding (its outputs are its own
   * weights, whatever the data) or a normalization layer. Null when there is none.
   */
  private @Nullable FromStart abnormalFromStart(AnalysisContext context) {
    Layer output = context.outputLayer();
    int last = -1;
    for (Layer layer : context.layers()) {
      last = Math.max(last, layer.index());
    }
    int[] slots = fromStart.slots(context);
    for (int i = 0; i < fromStart.size(); i++) {
      FromStart state = fromStart.get(slots[i]);
      if (!state.qualified(window)) {
        continue;
      }
      Layer layer = context.layer(state.layer);
      boolean eligible =
          state.layer != last
              && (output == null || output.index() != state.layer)
              && !context.modelsOwn(layer)
              && !layer.isEmbedding()
              && !layer.isNormalization()
              && !LayerOrder.feedsNormalization(context, state.layer);
      if (eligible) {
        return state;
      }
    }
    return null;
  }

  /**
   * True when the inputs are token or category ids, which no one normalizes: the model's first
   * layer is an embedding table and every step's inputs ran between whole numbers from 0 up. Raw
   * numeric columns recorded beside an embedding (amounts, durations) have fractional extremes and
   * are still judged.
   */
  private boolean indices(AnalysisContext context) {
    if (!wholeBounds) {
      return false;
    }
    int first = firstLayer;
    if (first < 0) {
      for (Layer layer : context.layers()) {
        first = first < 0 ? layer.index() : Math.min(first, layer.index());
      }
    }
    return first >= 0 && context.layer(first).isEmbedding();
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    if (firstOutside < 0) {
      return findings;
    }
    boolean ids = indices(context);
    FromStart deep = abnormalFromStart(context);
    if (ids && deep == null) {
      return findings;
    }
    double mean = steps > 0 ? meanSum / steps : Double.NaN;
    double std = steps > 0 ? stdSum / steps : Double.NaN;
    boolean standardized = Math.abs(mean) <= 0.5 && std >= 0.5 && std <= 2;
    if (standardized && !ids) {
      return findings;
    }
    boolean windowed = hiddenRun.qualified();
    boolean abnormal = windowed || cutShortAt >= 0;
    if (!windowed && abnormal) {
      hiddenRms = earlyRms;
    }
    boolean firstAlone =
        aloneRun.qualified() && !LayerOrder.feedsNormalization(context, firstLayer);
    boolean standsAlone = firstAlone || deep != null;
    Evidence.Builder evidence =
        Evidence.builder()
            .put(INPUT_MIN, min)
            .put(INPUT_MAX, max)
            .put(INPUT_MEAN, mean)
            .put(INPUT_STD, std)
            .put(BOUND, bound);
    String more = "";
    if (abnormal) {
      evidence
          .put(FIRST_LAYER, context.layer(firstLayer).name())
          .put(FIRST_LAYER_RMS, hiddenRms)
          .put(ABNORMAL_HIDDEN, hidden);
      if (!windowed) {
        evidence.put(FIRST_NON_FINITE_STEP, cutShortAt);
      }
      more =
          format(
              ROOT,
              "; the outputs of %s reached an RMS of %s from step %d%s",
              context.layer(firstLayer).name(),
              Numbers.format(hiddenRms),
              windowed ? hiddenRun.onset() : earlyStep,
              windowed ? "" : format(ROOT, " and turned NaN/Inf at step %d", cutShortAt));
      if (firstAlone) {
        more +=
            format(
                ROOT,
                ", and stayed at or above %s from step %d for %d steps with no normalization"
                    + " layer after it to rescale them: every later layer starts far off its scale",
                Numbers.format(alone),
                aloneRun.onset(),
                window);
      }
    }
    if (deep != null && !(firstAlone && deep.layer == firstLayer)) {
      String name = context.layer(deep.layer).name();
      evidence.put(ABNORMAL_LAYER, name).put(ABNORMAL_LAYER_RMS, deep.low);
      more +=
          format(
              ROOT,
              "; the outputs of %s held an RMS of %s or more from their first recorded step, before"
                  + " any update could move its weights, for %d steps, with no normalization layer"
                  + " after it: the data it is fed are far off the scale it was initialized for",
              name,
              Numbers.format(deep.low),
              deep.length);
    }
    if (standsAlone) {
      evidence.put(ABNORMAL_HIDDEN_ALONE, alone);
    }
    String inputs =
        ids
            ? format(
                ROOT,
                "The inputs recorded are ids into an embedding (whole numbers in [%s, %s]), but"
                    + " other inputs are not normalized",
                Numbers.format(min),
                Numbers.format(max))
            : format(
                ROOT,
                "The inputs are not normalized: they range over [%s, %s] with mean %s and std %s",
                Numbers.format(min),
                Numbers.format(max),
                Numbers.format(mean),
                Numbers.format(std));
    findings.add(
        Finding.builder(this)
            .symptom(Symptom.SATURATION)
            .severity(standsAlone ? Severity.ERROR : abnormal ? Severity.WARNING : Severity.INFO)
            .at(-1, Phase.INPUT)
            .steps(firstOutside, Math.max(firstOutside, lastStep), Math.max(1, steps))
            .evidence(evidence.build())
            .message(inputs + more + ".")
            .build());
    return findings;
  }
}
