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
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

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
    thresholds = {"dl-window", "dl-zero-ratio"})
public final class DeepLocalizeDetector implements Detector {
  private static final DetectorSpec SPEC =
      DeepLocalizeDetector.class.getAnnotation(DetectorSpec.class);

  /** DeepLocalize's four per-layer streams. */
  private enum Stream {
    FORWARD("Error in forward", "Error in forward"),
    WEIGHTS("Error in Weights", "Error in Weights"),
    DELTA_WEIGHTS("Error in delta Weights", "Error in Delta Weights"),
    OUTPUT_GRADIENT("Error in Output Gradient", "Error in Output Gradient");

    final String message;
    final String unchangedMessage;

    Stream(String message, String unchangedMessage) {
      this.message = message;
      this.unchangedMessage = unchangedMessage;
    }
  }

  private int window;
  private double zeroRatio;
  private Finding hit;
  private final Series[] series = new Series[Stream.values().length];
  private final Series loss = new Series();
  private final Series accuracy = new Series();

  /** Per-layer values since the last block check, and cumulative zero counts. */
  private final class Series {
    double[][] values = new double[0][];
    int[] count = new int[0];
    long[] zeros = new long[0];

    void ensure(int layers) {
      if (count.length >= layers) {
        return;
      }
      int old = count.length;
      layers =
          Math.max(
              layers, old * 2); // doubling: a trace that adds layers one by one copies O(layers)
      values = Arrays.copyOf(values, layers);
      count = Arrays.copyOf(count, layers);
      zeros = Arrays.copyOf(zeros, layers);
      for (int i = old; i < layers; i++) {
        values[i] = new double[window];
      }
    }

    void append(int layer, double value) {
      double[] list = values[layer];
      if (count[layer] == list.length) {
        System.arraycopy(list, 1, list, 0, list.length - 1);
        count[layer]--;
      }
      list[count[layer]++] = value;
    }
  }

  @Override
  public Set<Column> columns() {
    return EnumSet.of(Column.MEAN);
  }

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.DL_WINDOW);
    zeroRatio = context.options().get(Thresholds.DL_ZERO_RATIO);
    for (int i = 0; i < series.length; i++) {
      series[i] = new Series();
    }
    loss.ensure(1);
    accuracy.ensure(1);
  }

  @Override
  public void observe(StepView step) {
    if (hit != null) {
      return;
    }
    int layers = step.layerCount();
    for (Series s : series) {
      s.ensure(layers);
    }
    long counter = step.ordinal();
    boolean blockEnd = counter % window == 0;
    // Forward, layers 0..L.
    Series forward = series[Stream.FORWARD.ordinal()];
    for (int layer = 0; layer < layers; layer++) {
      Phase phase = step.has(layer, Phase.ACTIVATION) ? Phase.ACTIVATION : Phase.FORWARD;
      if (step.has(layer, phase) && value(step, Stream.FORWARD, forward, layer, phase)) {
        return;
      }
    }
    if (blockEnd && block(step, Stream.FORWARD, forward, layers, false)) {
      return;
    }
    // Weights, layers L..0.
    Series weights = series[Stream.WEIGHTS.ordinal()];
    for (int layer = layers - 1; layer >= 0; layer--) {
      if (step.has(layer, Phase.WEIGHT)
          && value(step, Stream.WEIGHTS, weights, layer, Phase.WEIGHT)) {
        return;
      }
    }
    if (blockEnd && block(step, Stream.WEIGHTS, weights, layers, true)) {
      return;
    }
    if (metric(step, Phase.LOSS, loss, "Invalid loss", blockEnd)
        || metric(step, Phase.ACCURACY, accuracy, "Invalid accuracy", blockEnd)) {
      return;
    }
    // Delta weights (weight gradients), dense-like layers L..0.
    Series delta = series[Stream.DELTA_WEIGHTS.ordinal()];
    for (int layer = layers - 1; layer >= 0; layer--) {
      if (step.layer(layer).isDenseLike()
          && step.has(layer, Phase.GRADIENT)
          && value(step, Stream.DELTA_WEIGHTS, delta, layer, Phase.GRADIENT)) {
        return;
      }
    }
    if (blockEnd && block(step, Stream.DELTA_WEIGHTS, delta, layers, true)) {
      return;
    }
    // Output gradients (backward), layers L..0.
    Series backward = series[Stream.OUTPUT_GRADIENT.ordinal()];
    for (int layer = layers - 1; layer >= 0; layer--) {
      if (step.has(layer, Phase.BACKWARD)
          && value(step, Stream.OUTPUT_GRADIENT, backward, layer, Phase.BACKWARD)) {
        return;
      }
    }
    if (blockEnd) {
      block(step, Stream.OUTPUT_GRADIENT, backward, layers, false);
    }
  }

  /** Appends a stream value and runs the NaN/Inf and zero tests; true on a hit. */
  private boolean value(StepView step, Stream stream, Series s, int layer, Phase phase) {
    double v = step.mean(layer, phase);
    s.append(layer, v);
    if (Double.isNaN(v) || Double.isInfinite(v)) {
      report(
          step,
          layer,
          phase,
          stream.message,
          Symptom.NUMERICAL_ERROR,
          Severity.CRITICAL,
          DeepLocalizeRule.NAN_INF,
          v,
          -1);
      return true;
    }
    if (v == 0) {
      s.zeros[layer]++;
      if (s.zeros[layer] >= step.ordinal() * zeroRatio) {
        report(
            step,
            layer,
            phase,
            stream.message,
            Symptom.DEAD_OR_ZERO,
            Severity.ERROR,
            DeepLocalizeRule.ZERO_FREQUENCY,
            v,
            s.zeros[layer]);
        return true;
      }
    }
    return false;
  }

  /** The every-N-batches unchanged test over all layers, then clears; true on a hit. */
  private boolean block(StepView step, Stream stream, Series s, int layers, boolean denseOnly) {
    boolean forwardOrder = stream == Stream.FORWARD;
    for (int i = 0; i < layers; i++) {
      int layer = forwardOrder ? i : layers - 1 - i;
      boolean eligible =
          denseOnly ? step.layer(layer).isDenseLike() : !step.layer(layer).isFlatten();
      if (eligible && meanEqualsMax(s.values[layer], s.count[layer])) {
        Phase phase =
            switch (stream) {
              case FORWARD -> step.has(layer, Phase.ACTIVATION) ? Phase.ACTIVATION : Phase.FORWARD;
              case WEIGHTS -> Phase.WEIGHT;
              case DELTA_WEIGHTS -> Phase.GRADIENT;
              case OUTPUT_GRADIENT -> Phase.BACKWARD;
            };
        report(
            step,
            layer,
            phase,
            stream.unchangedMessage,
            Symptom.UNCHANGED_VALUES,
            Severity.ERROR,
            DeepLocalizeRule.UNCHANGED,
            s.values[layer][s.count[layer] - 1],
            -1);
        return true;
      }
      s.count[layer] = 0;
    }
    return false;
  }

  /**
   * Loss or accuracy: NaN/Inf ("Invalid loss"), then every N batches the MDL test; true on a hit.
   */
  private boolean metric(StepView step, Phase phase, Series s, String invalid, boolean blockEnd) {
    if (!step.has(-1, phase)) {
      return false;
    }
    double v = step.mean(-1, phase);
    s.append(0, v);
    if (Double.isNaN(v) || Double.isInfinite(v)) {
      reportModel(
          step,
          phase,
          invalid,
          Symptom.NUMERICAL_ERROR,
          Severity.CRITICAL,
          DeepLocalizeRule.NAN_INF,
          v);
      return true;
    }
    if (blockEnd) {
      if (meanEqualsMax(s.values[0], s.count[0])) {
        reportModel(
            step, phase, "MDL", Symptom.NOT_LEARNING, Severity.ERROR, DeepLocalizeRule.MDL, v);
        return true;
      }
      s.count[0] = 0;
    }
    return false;
  }

  /**
   * DeepLocalize's {@code meanResult}: {@code np.mean(a) == np.max(a)}, with numpy's pairwise
   * summation (a plain loop below 8 values, 8 accumulators up to 128, halves above) and an empty
   * list giving NaN (false).
   */
  static boolean meanEqualsMax(double[] values, int n) {
    if (n == 0) {
      return false;
    }
    double max = values[0];
    for (int i = 1; i < n; i++) {
      max = Math.max(max, values[i]);
    }
    return pairwiseSum(values, 0, n) / n == max;
  }

  static double pairwiseSum(double[] a, int from, int n) {
    if (n < 8) {
      double res = -0.0;
      for (int i = 0; i < n; i++) {
        res += a[from + i];
      }
      return res;
    }
    if (n <= 128) {
      double[] r = new double[8];
      for (int j = 0; j < 8; j++) {
        r[j] = a[from + j];
      }
      int i;
      for (i = 8; i < n - (n % 8); i += 8) {
        for (int j = 0; j < 8; j++) {
          r[j] += a[from + i + j];
        }
      }
      double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
      for (; i < n; i++) {
        res += a[from + i];
      }
      return res;
    }
    int half = n / 2;
    half -= half % 8;
    return pairwiseSum(a, from, half) + pairwiseSum(a, from + half, n - half);
  }

  private void report(
      StepView step,
      int layer,
      Phase phase,
      String what,
      Symptom symptom,
      Severity severity,
      DeepLocalizeRule rule,
      double value,
      long zeros) {
    String message = format(ROOT, "Batch %d layer %d: %s", step.batch(), layer, what);
    Evidence.Builder evidence = evidence(step, rule, value, message);
    if (zeros >= 0) {
      evidence.put(ZERO_BATCHES, zeros).put(ZERO_RATIO, zeroRatio);
    }
    hit =
        Finding.builder(SPEC)
            .symptom(symptom)
            .severity(severity)
            .at(layer, phase)
            .steps(step.step(), step.step(), 1)
            .epochBatch(step.epoch(), step.batch())
            .evidence(evidence.build())
            .message(message)
            .build();
  }

  private void reportModel(
      StepView step,
      Phase phase,
      String what,
      Symptom symptom,
      Severity severity,
      DeepLocalizeRule rule,
      double value) {
    String message = format(ROOT, "Batch %d: %s", step.batch(), what);
    hit =
        Finding.builder(SPEC)
            .symptom(symptom)
            .severity(severity)
            .at(-1, phase)
            .steps(step.step(), step.step(), 1)
            .epochBatch(step.epoch(), step.batch())
            .evidence(evidence(step, rule, value, message).build())
            .message(message)
            .build();
  }

  private Evidence.Builder evidence(
      StepView step, DeepLocalizeRule rule, double value, String message) {
    return Evidence.builder()
        .put(DEEPLOCALIZE_RULE, rule)
        .put(VALUE, value)
        .put(COUNTER, step.ordinal())
        .put(WINDOW, (long) window)
        .put(PRINTED, message + ", terminating training");
  }

  @Override
  public boolean fired() {
    return hit != null;
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    return hit == null ? List.of() : List.of(hit);
  }
}
