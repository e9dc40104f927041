package io.dlanalyze.analyzer.baselines;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.trace.Phase;
import java.util.List;
import java.util.OptionalInt;

/**
 * Replays the three Keras callbacks the DeepLocalize benchmark ran beside DeepLocalize
 * (docs/references.md#deeplocalize-benchmark, #keras-baselines) on the trace's model-level rows:
 *
 * <ul>
 *   <li>{@code TerminateOnNaN()}: at the end of every batch, stops when the batch loss is NaN or
 *       Inf;
 *   <li>{@code EarlyStopping(monitor='loss', patience=1)} and {@code
 *       EarlyStopping(monitor='accuracy', patience=1)}: at the end of every epoch, compare the
 *       epoch's value with the best so far (min_delta 0; lower is better for the loss, higher for
 *       the accuracy) and stop once {@code patience} epochs in a row did not improve.
 * </ul>
 *
 * <p>Implementation notes: the epoch value is the mean of the epoch's per-batch loss (accuracy)
 * rows, which is what Keras logs at epoch end for {@code monitor='loss'} with equal batch sizes;
 * {@code val_loss}/{@code val_accuracy} rows are not used because the benchmark monitored the
 * training metrics. An epoch counts once the trace moves past it; the last epoch counts unless
 * {@code dltrace.steps_per_epoch} says it is incomplete. Keras compares with {@code np.less} /
 * {@code np.greater}, so a NaN epoch value never improves.
 */
public final class KerasBaselines {
  private int patience;
  private OptionalInt stepsPerEpoch = OptionalInt.empty();
  private boolean sawLoss;
  private boolean sawAccuracy;
  private long nanStep = -1;
  private double nanValue;
  private int nanEpoch;
  private int nanBatch;
  private boolean inEpoch;
  private int epoch;
  private long epochLastStep;
  private int epochLastBatch;
  private long epochSteps;
  private final Monitor loss = new Monitor("loss", true);
  private final Monitor accuracy = new Monitor("accuracy", false);

  /** Reads the patience ({@link Thresholds#EARLY_STOPPING_PATIENCE}) and the epoch length. */
  public void begin(AnalysisContext context) {
    this.patience = context.options().getInt(Thresholds.EARLY_STOPPING_PATIENCE);
    this.stepsPerEpoch = context.metadata().stepsPerEpoch();
  }

  /** Takes one completed step. */
  public void observe(StepView step) {
    if (!inEpoch || step.epoch() != epoch) {
      if (inEpoch) {
        closeEpoch();
      }
      inEpoch = true;
      epoch = step.epoch();
      epochSteps = 0;
      loss.startEpoch();
      accuracy.startEpoch();
    }
    epochLastStep = step.step();
    epochLastBatch = step.batch();
    epochSteps++;
    if (step.has(-1, Phase.LOSS)) {
      sawLoss = true;
      double value = step.mean(-1, Phase.LOSS);
      loss.add(value);
      if (nanStep < 0 && !Double.isFinite(value)) {
        nanStep = step.step();
        nanValue = value;
        nanEpoch = step.epoch();
        nanBatch = step.batch();
      }
    }
    if (step.has(-1, Phase.ACCURACY)) {
      sawAccuracy = true;
      accuracy.add(step.mean(-1, Phase.ACCURACY));
    }
  }

  /**
   * The three results, in the order TerminateOnNaN, EarlyStopping(loss), EarlyStopping(accuracy).
   */
  public List<BaselineResult> finish(AnalysisContext context) {
    if (inEpoch && (stepsPerEpoch.isEmpty() || epochSteps >= stepsPerEpoch.getAsInt())) {
      closeEpoch();
    }
    inEpoch = false;
    return List.of(terminateOnNaN(context), loss.result(sawLoss), accuracy.result(sawAccuracy));
  }

  private void closeEpoch() {
    loss.closeEpoch();
    accuracy.closeEpoch();
  }

  private BaselineResult terminateOnNaN(AnalysisContext context) {
    String callback = "TerminateOnNaN()";
    if (!sawLoss) {
      return new BaselineResult(
          "terminate_on_nan",
          callback,
          "batch",
          BaselineResult.Status.NOT_APPLICABLE,
          -1,
          -1,
          -1,
          null,
          "The trace has no loss rows.");
    }
    if (nanStep < 0) {
      return new BaselineResult(
          "terminate_on_nan",
          callback,
          "batch",
          BaselineResult.Status.NEVER,
          -1,
          -1,
          -1,
          null,
          format(ROOT, "The loss stayed finite in all %d steps.", context.stepCount()));
    }
    return new BaselineResult(
        "terminate_on_nan",
        callback,
        "batch",
        BaselineResult.Status.STOPPED,
        nanStep,
        nanEpoch,
        nanBatch,
        null,
        format(
            ROOT,
            "The loss was %s at step %d (epoch %d, batch %d).",
            Double.isNaN(nanValue) ? "NaN" : nanValue > 0 ? "+Inf" : "-Inf",
            nanStep,
            nanEpoch,
            nanBatch));
  }

  /** One EarlyStopping replay. */
  private final class Monitor {
    private final String name;
    private final boolean lowerIsBetter;
    private double sum;
    private long count;
    private double best;
    private int bestEpoch = -1;
    private int wait;
    private int epochs;
    private long stopStep = -1;
    private int stopEpoch;
    private int stopBatch;
    private double stopValue;

    Monitor(String name, boolean lowerIsBetter) {
      this.name = name;
      this.lowerIsBetter = lowerIsBetter;
      this.best = lowerIsBetter ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
    }

    void startEpoch() {
      sum = 0;
      count = 0;
    }

    void add(double value) {
      sum += value;
      count++;
    }

    void closeEpoch() {
      if (count == 0 || stopStep >= 0) {
        return;
      }
      epochs++;
      double current = sum / count;
      boolean improved = lowerIsBetter ? current < best : current > best;
      if (improved) {
        best = current;
        bestEpoch = epoch;
        wait = 0;
        return;
      }
      wait++;
      if (wait >= patience) {
        stopStep = epochLastStep;
        stopEpoch = epoch;
        stopBatch = epochLastBatch;
        stopValue = current;
      }
    }

    BaselineResult result(boolean saw) {
      String id = "early_stopping_" + name;
      String callback = format(ROOT, "EarlyStopping(monitor='%s', patience=%d)", name, patience);
      if (!saw) {
        return new BaselineResult(
            id,
            callback,
            "epoch",
            BaselineResult.Status.NOT_APPLICABLE,
            -1,
            -1,
            -1,
            null,
            format(ROOT, "The trace has no %s rows.", name));
      }
      if (stopStep < 0) {
        return new BaselineResult(
            id,
            callback,
            "epoch",
            BaselineResult.Status.NEVER,
            -1,
            -1,
            -1,
            null,
            format(
                ROOT,
                "The epoch-mean %s improved often enough in all %d complete epochs.",
                name,
                epochs));
      }
      String bestText =
          bestEpoch < 0
              ? "no earlier epoch"
              : format(ROOT, "%s (epoch %d)", number(best), bestEpoch);
      return new BaselineResult(
          id,
          callback,
          "epoch",
          BaselineResult.Status.STOPPED,
          stopStep,
          stopEpoch,
          stopBatch,
          null,
          format(
              ROOT,
              "The epoch-mean %s of epoch %d (%s) did not improve on %s for %d epoch%s.",
              name,
              stopEpoch,
              number(stopValue),
              bestText,
              wait,
              wait == 1 ? "" : "s"));
    }
  }

  private static String number(double value) {
    return io.dlanalyze.analyzer.text.Numbers.precise(value);
  }
}
