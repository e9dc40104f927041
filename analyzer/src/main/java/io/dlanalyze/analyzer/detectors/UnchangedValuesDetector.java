package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.LEARNING_RATE;
import static io.dlanalyze.analyzer.EvidenceKeys.LONGEST_RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.NO_GRADIENT_REACHED;
import static io.dlanalyze.analyzer.EvidenceKeys.PEAK_LEARNING_RATE;
import static io.dlanalyze.analyzer.EvidenceKeys.RELATIVE_TOLERANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.UNCHANGED_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.WINDOW;
import static io.dlanalyze.trace.Column.L2_NORM;
import static io.dlanalyze.trace.Column.MAX;
import static io.dlanalyze.trace.Column.MEAN;
import static io.dlanalyze.trace.Column.MIN;
import static io.dlanalyze.trace.Column.STD;
import static io.dlanalyze.trace.Column.ZERO_FRACTION;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
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
import io.dlanalyze.trace.Phase;
import java.util.BitSet;

/**
 * Reports weights, weight gradients and layer outputs that stop changing: {@code window}
 * consecutive observations of a stream whose statistics all stay within a relative tolerance of the
 * previous observation. One finding per layer; its other unchanged streams are consequences.
 *
 * <p>Implementation notes: the engine compares each row with the stream's previous one ({@link
 * StepView#UNCHANGED}): mean, std, min, max and l2_norm where both rows have them; the stream is
 * unchanged when at least one is compared and none moved by more than {@code unchanged-tolerance}
 * times its scale (max(|a|, |b|); for the mean also the std, so a mean near zero is not judged on
 * cancellation noise). A run starts at the first row of its first unchanged pair. DeepLocalize
 * compares only the exact mean over non-overlapping blocks of 5
 * (docs/references.md#deeplocalize-checks). Not judged, because constant by construction
 * (#false-alarm-sources): the learning rate; a softmax output's mean (1/K; the layer's activation
 * or type says softmax, or the mean is 1/K for an integer K); normalization layers' outputs;
 * weights and gradients of layers marked trainable=false; all-zero tensors (dead-or-zero reports
 * those).
 *
 * <p>A schedule that ran out: weights or gradients that stop changing once the learning rate is at
 * or below 1/100 of the run's peak, in a run whose loss had converged ({@code converged-drop}), are
 * an info finding. The optimizer still steps, but with a rate so small that the statistics no
 * longer move within the tolerance: a run trained past the end of a step or exponential decay, not
 * a layer cut off from its optimizer. Healthy runs trained six times longer than the corpus' own
 * show it (an ExponentialDecay or StepLR per epoch over 70 epochs); a rate of 0 from the start, or
 * a decay that never let the loss fall, keeps the error.
 *
 * <p>Parameters no loss reaches: weights that never change because no gradient ever flowed back to
 * their layer (no backward and no gradient row of it in a trace that records backward or gradient
 * rows for other layers) are an info finding. Its output is not on the loss's path, as the backcast
 * head of N-BEATS' last block, whose backcast nothing reads; or the step uses it without a
 * gradient, as a Keras {@code train_step} uses a teacher's predictions outside its {@code
 * GradientTape} (the Keras recorder writes the gradients an optimizer applies, so a layer no
 * optimizer updates has none). Nothing updates them, by the model's design or because an output was
 * left out of the loss; the trace cannot tell which, and the run trains without them.
 */
@DetectorSpec(
    id = DetectorIds.UNCHANGED_VALUES,
    symptom = Symptom.UNCHANGED_VALUES,
    severity = Severity.ERROR,
    summary = "A layer's weights, weight gradients or outputs stop changing from step to step",
    source =
        "DeepLocalize Alg. 2 unchanged rule; DeepFD cons_mean/std_weight"
            + " (docs/references.md#deeplocalize-checks, #deepfd)",
    thresholds = {"window", "unchanged-tolerance", "zero-fraction"},
    columns = {MEAN, STD, MIN, MAX, L2_NORM, ZERO_FRACTION})
public final class UnchangedValuesDetector extends LayerRunsDetector {
  /** Layers (by index) with a backward or gradient row at some step. */
  private final BitSet reached = new BitSet();

  /** Whether some layer has a backward or gradient row: where gradients go is recorded. */
  private boolean gradientsRecorded;

  public UnchangedValuesDetector() {
    super(StepView.UNCHANGED, true, Phase.FORWARD, Phase.ACTIVATION, Phase.WEIGHT, Phase.GRADIENT);
  }

  @Override
  boolean skipped(Layer layer, Phase phase) {
    return switch (phase) {
      case FORWARD, ACTIVATION -> layer.isNormalization();
      case WEIGHT, GRADIENT -> !layer.trainable();
      case LOSS,
          ACCURACY,
          BACKWARD,
          INPUT,
          TARGET,
          LEARNING_RATE,
          VAL_LOSS,
          VAL_ACCURACY,
          EPISODE_RETURN ->
          true;
    };
  }

  @Override
  void layerSeen(StepView step, int layer) {
    if (layer < 0 || reached.get(layer)) {
      return;
    }
    if (step.has(layer, Phase.BACKWARD) || step.has(layer, Phase.GRADIENT)) {
      reached.set(layer);
      gradientsRecorded = true;
    }
  }

  @Override
  void describe(
      Finding.Builder finding, Stream root, String name, String others, AnalysisContext context) {
    boolean output = root.phase() == Phase.FORWARD || root.phase() == Phase.ACTIVATION;
    double tolerance = options().get(Thresholds.UNCHANGED_TOLERANCE);
    long rows = root.run().longest() + 1;
    long onset = root.run().onset();
    Evidence.Builder evidence =
        Evidence.builder()
            .put(RELATIVE_TOLERANCE, tolerance)
            .put(WINDOW, options().getInt(Thresholds.WINDOW))
            .put(LONGEST_RUN_STEPS, rows)
            .put(UNCHANGED_STEPS, root.run().occurrences());
    String note = "";
    Severity severity = output ? Severity.WARNING : Severity.ERROR;
    LossGate gate = new LossGate(context);
    if (!output && gate.rateCollapsedAt(onset) && gate.learned()) {
      double rate = gate.history().learningRateAt(onset);
      double peak = gate.history().peakLearningRate();
      severity = Severity.INFO;
      evidence.put(LEARNING_RATE, rate).put(PEAK_LEARNING_RATE, peak);
      note =
          format(
              ROOT,
              ", after the schedule had taken the learning rate down to %s (%s of its peak %s)"
                  + " and the loss had converged: the schedule ran out, the layer is not cut off"
                  + " from its optimizer",
              Numbers.format(rate),
              Numbers.format(rate / peak),
              Numbers.format(peak));
    }
    if (root.phase() == Phase.WEIGHT && gradientsRecorded && !reached.get(root.layer())) {
      severity = Severity.INFO;
      evidence.put(NO_GRADIENT_REACHED, true);
      note =
          format(
              ROOT,
              ", and no gradient ever reached %s (no backward or gradient row of it, where other"
                  + " layers have them): its output is not on the loss's path, or is used without"
                  + " a gradient (a teacher's or target network's predictions), so nothing updates"
                  + " its weights; harmless unless it was meant to be trained",
              name);
    }
    finding
        .severity(severity)
        .evidence(evidence.build())
        .message(
            "%s %s values stopped changing at step %d: %d observations in a row within a relative"
                + " %s of each other, up to step %d%s%s.",
            name,
            root.phase().wireName(),
            onset,
            rows,
            Numbers.format(tolerance),
            root.run().end(),
            others.isEmpty() ? "" : "; so did its " + others + " values",
            note);
  }
}
