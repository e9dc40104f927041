package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.BEST_EPOCH;
import static io.dlanalyze.analyzer.EvidenceKeys.DELTA;
import static io.dlanalyze.analyzer.EvidenceKeys.EPOCHS;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_EPOCH_ACCURACY;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_EPOCH_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.INCONCLUSIVE;
import static io.dlanalyze.analyzer.EvidenceKeys.LARGEST_EPOCH_GAIN;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_EPOCH_ACCURACY;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_EPOCH_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.METRIC;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.Metric;
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
import java.util.List;

/**
 * Reports training that makes almost no progress from epoch to epoch: no epoch raised the mean
 * accuracy by {@code slow-convergence-delta} or more over the one before (or, without accuracy, no
 * epoch lowered the mean loss by that share), over at least {@code min-epochs} epochs.
 *
 * <p>Implementation notes: AUTOTRAINER's {@code sc_accuracy} is exactly "the largest epoch-to-epoch
 * accuracy gain < delta = 0.01" on train and validation accuracy, judged after 30% of the epochs
 * (docs/references.md#autotrainer); the loss form (relative decrease) is ours, for regression
 * traces. Not judged when the loss fell by {@code converged-drop} overall (the gains came inside
 * the first epoch). Fewer epochs than {@code min-epochs}: an info finding saying why the run was
 * not judged, only when the epochs seen show no gain. Nor judged when an epoch's accuracy came
 * within {@code slow-convergence-delta} of 1: no gain of that size is left to make (a full-batch
 * L-BFGS run is at 0.98 after its first step, and every epoch after it can add at most 0.02).
 */
@DetectorSpec(
    id = DetectorIds.SLOW_CONVERGENCE,
    symptom = Symptom.SLOW_CONVERGENCE,
    judgesProgress = true,
    severity = Severity.WARNING,
    summary = "No epoch improves the accuracy (or the loss) by more than a small step",
    source = "AUTOTRAINER slow convergence, delta = 0.01 (docs/references.md#autotrainer)",
    thresholds = {"window", "slow-convergence-delta", "min-epochs", "converged-drop"},
    columns = {Column.MEAN})
public final class SlowConvergenceDetector implements Detector {

  private LossHistory loss;
  private LossGate gate;
  private double delta;
  private int minEpochs;
  private long firstStep = -1;
  private long lastStep = -1;

  @Override
  public void begin(AnalysisContext context) {
    gate = new LossGate(context);
    loss = gate.history();
    delta = context.options().get(Thresholds.SLOW_CONVERGENCE_DELTA);
    minEpochs = context.options().getInt(Thresholds.MIN_EPOCHS);
  }

  @Override
  public void observe(StepView step) {
    if (firstStep < 0) {
      firstStep = step.step();
    }
    lastStep = step.step();
  }

  /** The first step at which the rule can be judged: the start of epoch {@code min-epochs - 1}. */
  private long onset(int epochs) {
    return loss.epochFirstStep(Math.min(epochs, minEpochs) - 1);
  }

  /** The highest epoch mean accuracy. */
  private double topAccuracy(int epochs) {
    double top = Double.NEGATIVE_INFINITY;
    for (int e = 0; e < epochs; e++) {
      top = Math.max(top, loss.epochAccuracy(e));
    }
    return top;
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    int epochs = loss.epochs();
    if (epochs < 2 || gate.nonFinite() || gate.learned()) {
      return findings;
    }
    boolean accuracy = loss.hasAccuracy();
    double best = Double.NEGATIVE_INFINITY;
    int bestEpoch = -1;
    for (int e = 1; e < epochs; e++) {
      double gain =
          accuracy
              ? loss.epochAccuracy(e) - loss.epochAccuracy(e - 1)
              : (loss.epochLoss(e - 1) - loss.epochLoss(e)) / Math.abs(loss.epochLoss(e - 1));
      if (Double.isNaN(gain)) {
        return findings;
      }
      if (gain > best) {
        best = gain;
        bestEpoch = loss.epoch(e);
      }
    }
    if (best >= delta || accuracy && topAccuracy(epochs) >= 1 - delta) {
      return findings;
    }
    String what = accuracy ? "accuracy" : "loss";
    Metric metric = accuracy ? Metric.ACCURACY : Metric.LOSS;
    Evidence.Builder evidence =
        Evidence.builder()
            .put(METRIC, metric)
            .put(LARGEST_EPOCH_GAIN, best)
            .put(BEST_EPOCH, (long) bestEpoch)
            .put(DELTA, delta)
            .put(EPOCHS, (long) epochs)
            .put(
                accuracy ? FIRST_EPOCH_ACCURACY : FIRST_EPOCH_LOSS,
                accuracy ? loss.epochAccuracy(0) : loss.epochLoss(0))
            .put(
                accuracy ? LAST_EPOCH_ACCURACY : LAST_EPOCH_LOSS,
                accuracy ? loss.epochAccuracy(epochs - 1) : loss.epochLoss(epochs - 1));
    Finding.Builder finding =
        Finding.builder(this)
            .at(-1, accuracy ? Phase.ACCURACY : Phase.LOSS)
            .steps(onset(epochs), lastStep, epochs);
    if (epochs < minEpochs) {
      evidence.put(
          INCONCLUSIVE,
          format(
              ROOT,
              "only %d epochs; slow convergence is judged over at least %d",
              epochs,
              minEpochs));
      finding.severity(Severity.INFO);
    }
    String gainText = accuracy ? Numbers.format(best) : Numbers.percent(best);
    findings.add(
        finding
            .evidence(evidence.build())
            .message(
                format(
                    ROOT,
                    "Over %d epochs no epoch improved the mean %s by %s or more: the largest gain"
                        + " was %s (epoch %d); the %s went from %s to %s.",
                    epochs,
                    what,
                    accuracy ? Numbers.format(delta) : Numbers.percent(delta),
                    gainText,
                    bestEpoch,
                    what,
                    Numbers.format(accuracy ? loss.epochAccuracy(0) : loss.epochLoss(0)),
                    Numbers.format(
                        accuracy ? loss.epochAccuracy(epochs - 1) : loss.epochLoss(epochs - 1))))
            .build());
    return findings;
  }
}
