package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.COUNTER;
import static io.dlanalyze.analyzer.EvidenceKeys.DEEPLOCALIZE_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.PRINTED;
import static io.dlanalyze.analyzer.EvidenceKeys.VALUE;
import static io.dlanalyze.analyzer.EvidenceKeys.WINDOW;
import static io.dlanalyze.analyzer.EvidenceKeys.ZERO_BATCHES;
import static io.dlanalyze.analyzer.EvidenceKeys.ZERO_RATIO;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.DeepLocalizeRule;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * DeepLocalize's Algorithms 1 and 2 as its Keras callback ({@code Our Callback/callbacks.py}, class
 * {@code DeepLocalize}, {@code on_batch_end}) runs them, over a recorded trace. The first hit ends
 * the analysis, reported in DeepLocalize's own words ("Batch 4 layer 5: Error in forward").
 *
 * <p>Implementation notes (docs/references.md#deeplocalize): one mean per layer and stream per
 * batch. The forward stream is the layer's output: the trace's {@code activation} row where there
 * is one, else its {@code forward} row. {@code counter} is the 1-based position of the step in the
 * trace, never reset across epochs. Per stream value: NaN/Inf is a hit; {@code mean == 0} adds to
 * the layer's cumulative zero count, a hit once it reaches {@code counter * dl-zero-ratio}
 * (DeepLocalize: {@code >= counter / 2}); when {@code counter % N == 0} (N = dl-window, 5), the
 * values since the last such batch are a hit when {@code np.mean(values) == np.max(values)}
 * (computed with numpy's summation order), and are then cleared: non-overlapping global blocks.
 * Check order: forward (layers 0..L), weights (L..0), loss, accuracy, weight gradients ("delta
 * weights", L..0), output gradients (backward, L..0). Layer filters: the unchanged test skips
 * flatten layers for forward and backward; weights' unchanged test and every weight-gradient test
 * run only for dense-like layers ({@link io.dlanalyze.analyzer.Layer#isDenseLike()}: type Dense or
 * Linear, or a name with "dense" when the type is unknown), as DeepLocalize's {@code 'dense' in
 * name}. Weights' NaN/zero tests run for every layer with weight rows (DeepLocalize: every layer
 * with weights). Deviation: the weight gradient of a layer is read from its own rows, not from
 * DeepLocalize's index that walks back two arrays per dense layer (which misaligns on models with
 * other weighted layers). Values are the recorder's float64 means, not DeepLocalize's float32 ones,
 * so exact-equality verdicts can differ in the last bits (#deeplocalize-quirks).
 */
@DetectorSpec(
    id = DetectorIds.DEEPLOCALIZE,
    symptom = Symptom.NUMERICAL_ERROR,
    severity = Severity.ERROR,
    summary = "DeepLocalize's fault-localization loop, first hit only, in its own words",
    source = "DeepLocalize (ICSE 2021) Keras callback, Alg. 1-2 (docs/references.md#deeplocalize)",
    thresholds = {"dl-window", "dl-zero-ratio"},
    columns = {Column.MEAN})
public final class DeepLocalizeDetector implements Detector {

  /** DeepLocalize's four per-layer streams, in its check order. */
  private enum Stream {
    FORWARD(Phase.FORWARD, "Error in forward", "Error in forward"),
    WEIGHTS(Phase.WEIGHT, "Error in Weights", "Error in Weights"),
    DELTA_WEIGHTS(Phase.GRADIENT, "Error in delta Weights", "Error in Delta Weights"),
    OUTPUT_GRADIENT(Phase.BACKWARD, "Error in Output Gradient", "Error in Output Gradient");

    /** The phase whose slot keeps the stream's values (forward also reads activation rows). */
    final Phase key;

    final String message;
    final String unchangedMessage;

    Stream(Phase key, String message, String unchangedMessage) {
      this.key = key;
      this.message = message;
      this.unchangedMessage = unchangedMessage;
    }

    /** Weights and weight gradients are checked for dense-like layers only. */
    boolean denseOnly() {
      return this == WEIGHTS || this == DELTA_WEIGHTS;
    }
  }

  /** One stream's values since its last block check (the last N at most), and its zero count. */
  private final class Values {
    final double[] list = new double[window];
    int count;
    long zeros;

    void append(double value) {
      if (count == list.length) {
        System.arraycopy(list, 1, list, 0, list.length - 1);
        count--;
      }
      list[count++] = value;
    }
  }

  private final SlotStates<Values> values = new SlotStates<>(Values::new);
  private int window;
  private double zeroRatio;
  private @Nullable Finding hit;

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.DL_WINDOW);
    zeroRatio = context.options().get(Thresholds.DL_ZERO_RATIO);
  }

  /** DeepLocalize compares the raw means itself: no classification bit. */
  @Override
  public int classifications() {
    return 0;
  }

  @Override
  public void observe(StepView step) {
    if (hit == null) {
      check(step, step.ordinal() % window == 0);
    }
  }

  /** One batch of Algorithm 1: the streams in DeepLocalize's order, up to the first hit. */
  private void check(StepView step, boolean blockEnd) {
    int n = step.presentLayerCount();
    for (int i = 0; i < n; i++) {
      int layer = step.presentLayer(i);
      Phase phase = step.has(layer, Phase.ACTIVATION) ? Phase.ACTIVATION : Phase.FORWARD;
      if (step.has(layer, phase) && value(step, Stream.FORWARD, layer, phase)) {
        return;
      }
    }
    if (blockEnd && block(step, Stream.FORWARD)) {
      return;
    }
    if (backwards(step, Stream.WEIGHTS) || (blockEnd && block(step, Stream.WEIGHTS))) {
      return;
    }
    if (metric(step, Phase.LOSS, "Invalid loss", blockEnd)
        || metric(step, Phase.ACCURACY, "Invalid accuracy", blockEnd)) {
      return;
    }
    if (backwards(step, Stream.DELTA_WEIGHTS) || (blockEnd && block(step, Stream.DELTA_WEIGHTS))) {
      return;
    }
    if (!backwards(step, Stream.OUTPUT_GRADIENT) && blockEnd) {
      block(step, Stream.OUTPUT_GRADIENT);
    }
  }

  /**
   * A stream's values of the layers from the last to the first (weight gradients of dense-like
   * layers only); true on a hit.
   */
  private boolean backwards(StepView step, Stream stream) {
    for (int i = step.presentLayerCount() - 1; i >= 0; i--) {
      int layer = step.presentLayer(i);
      if ((stream != Stream.DELTA_WEIGHTS || step.layer(layer).isDenseLike())
          && step.has(layer, stream.key)
          && value(step, stream, layer, stream.key)) {
        return true;
      }
    }
    return false;
  }

  /** Appends a stream value and runs the NaN/Inf and zero tests; true on a hit. */
  private boolean value(StepView step, Stream stream, int layer, Phase phase) {
    double v = step.mean(layer, phase);
    Values s = values.at(step.slot(layer, stream.key));
    s.append(v);
    if (Double.isNaN(v) || Double.isInfinite(v)) {
      report(
          step, layer, phase, stream.message, Symptom.NUMERICAL_ERROR, DeepLocalizeRule.NAN_INF, s);
      return true;
    }
    if (v == 0 && ++s.zeros >= step.ordinal() * zeroRatio) {
      report(
          step,
          layer,
          phase,
          stream.message,
          Symptom.DEAD_OR_ZERO,
          DeepLocalizeRule.ZERO_FREQUENCY,
          s);
      return true;
    }
    return false;
  }

  /** The every-N-batches unchanged test over all layers of a stream, then clears; true on a hit. */
  private boolean block(StepView step, Stream stream) {
    int[] slots = values.slots(step.context());
    boolean ascending = stream == Stream.FORWARD;
    for (int i = 0; i < slots.length; i++) {
      int slot = slots[ascending ? i : slots.length - 1 - i];
      int layer = step.context().slotLayer(slot);
      if (layer < 0 || step.context().slotPhase(slot) != stream.key) {
        continue;
      }
      Values s = values.get(slot);
      boolean eligible =
          stream.denseOnly() ? step.layer(layer).isDenseLike() : !step.layer(layer).isFlatten();
      if (eligible && NumpyMean.meanEqualsMax(s.list, s.count)) {
        Phase phase =
            stream != Stream.FORWARD
                ? stream.key
                : step.has(layer, Phase.ACTIVATION) ? Phase.ACTIVATION : Phase.FORWARD;
        report(
            step,
            layer,
            phase,
            stream.unchangedMessage,
            Symptom.UNCHANGED_VALUES,
            DeepLocalizeRule.UNCHANGED,
            s);
        return true;
      }
      s.count = 0;
    }
    return false;
  }

  /**
   * Loss or accuracy: NaN/Inf ("Invalid loss"), then every N batches the MDL test; true on a hit.
   */
  private boolean metric(StepView step, Phase phase, String invalid, boolean blockEnd) {
    if (!step.has(-1, phase)) {
      return false;
    }
    double v = step.mean(-1, phase);
    Values s = values.at(step.slot(-1, phase));
    s.append(v);
    if (Double.isNaN(v) || Double.isInfinite(v)) {
      report(step, -1, phase, invalid, Symptom.NUMERICAL_ERROR, DeepLocalizeRule.NAN_INF, s);
      return true;
    }
    if (blockEnd) {
      if (NumpyMean.meanEqualsMax(s.list, s.count)) {
        report(step, -1, phase, "MDL", Symptom.NOT_LEARNING, DeepLocalizeRule.MDL, s);
        return true;
      }
      s.count = 0;
    }
    return false;
  }

  /**
   * The hit, in DeepLocalize's words ("Batch 4 layer 5: Error in forward", "Batch 9: MDL"), about
   * the last value of stream values {@code s}.
   */
  private void report(
      StepView step,
      int layer,
      Phase phase,
      String what,
      Symptom symptom,
      DeepLocalizeRule rule,
      Values s) {
    String message =
        layer < 0
            ? format(ROOT, "Batch %d: %s", step.batch(), what)
            : format(ROOT, "Batch %d layer %d: %s", step.batch(), layer, what);
    Evidence.Builder evidence =
        Evidence.builder()
            .put(DEEPLOCALIZE_RULE, rule)
            .put(VALUE, s.list[s.count - 1])
            .put(COUNTER, step.ordinal())
            .put(WINDOW, window)
            .put(PRINTED, message + ", terminating training");
    if (rule == DeepLocalizeRule.ZERO_FREQUENCY) {
      evidence.put(ZERO_BATCHES, s.zeros).put(ZERO_RATIO, zeroRatio);
    }
    hit =
        Finding.builder(this)
            .symptom(symptom)
            .severity(symptom == Symptom.NUMERICAL_ERROR ? Severity.CRITICAL : Severity.ERROR)
            .at(layer, phase)
            .steps(step.step(), step.step(), 1)
            .epochBatch(step.epoch(), step.batch())
            .evidence(evidence.build())
            .message(message)
            .build();
  }

  @Override
  public boolean fired() {
    return hit != null;
  }

  /** DeepLocalize stops at its first hit: one finding, final once found. */
  @Override
  public int conclusive() {
    return hit != null ? 1 : 0;
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    return hit == null ? List.of() : List.of(hit);
  }
}
