package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.ACTIVATION_HIGH;
import static io.dlanalyze.analyzer.EvidenceKeys.ACTIVATION_LOW;
import static io.dlanalyze.analyzer.EvidenceKeys.CONSTANT_ONE_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_ACTIVATION;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_WIDTH;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MAX;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MIN;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_SCALE;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_STD;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_VALUE;
import static io.dlanalyze.analyzer.EvidenceKeys.THRESHOLD;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.ActivationKind;
import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.TargetRule;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.LossFunction;
import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Reports outputs that cannot match their targets: targets outside the output activation's range
 * (sigmoid [0, 1], tanh [-1, 1], relu [0, inf)), a softmax over a single unit (always 1), a ReLU
 * output under a cross-entropy loss (a row of zeros gives log 0), targets that never vary, and a
 * regression's targets left in their own units under a squared or absolute error ({@code
 * target-scale}).
 *
 * <p>Implementation notes: DeepDiagnosis' "out of range" check compares the label range with the
 * last layer's activation range at the first epoch, and flags relu/linear outputs under a
 * cross-entropy loss (docs/references.md#deepdiagnosis); its fix branch always says "use softmax"
 * because of a bug, so the fix here depends on the case. The output layer is the last layer; its
 * activation comes from {@code dltrace.layers} or its type. A linear output under PyTorch's
 * cross-entropy (which takes logits) is normal and not flagged. The output width is the output
 * layer's {@code fan_out} in {@code dltrace.layers}; without it, the output's numel divided by
 * {@code dltrace.batch_size} (which misleads when the batch size given is not the recorded forward
 * pass's, as with gradient accumulation over micro-batches); where neither is known, a softmax
 * output that is exactly 1 with zero std in every step counts as one unit wide. Targets are judged
 * from the {@code target} phase's min and max over the whole run; a finding starts at the first
 * step that breaks the rule. The range rule compares targets with outputs element by element, so it
 * needs as many target elements as output elements where both counts are recorded: class indices
 * beside one score per class, or a classifier's labels beside the reconstruction that a decoder run
 * after it outputs, are not values the output has to reach. Each finding carries the symptom class
 * the mismatch produces.
 */
@DetectorSpec(
    id = DetectorIds.TARGET_RANGE,
    symptom = Symptom.SATURATION,
    severity = Severity.ERROR,
    summary =
        "Targets outside the output activation's range, a one-unit softmax, or constant targets",
    source =
        "DeepDiagnosis out-of-range check and relu/linear output with cross-entropy"
            + " (docs/references.md#deepdiagnosis)",
    thresholds = {"min-progress", "target-scale"},
    columns = {Column.MEAN, Column.STD, Column.MIN, Column.MAX, Column.NUMEL})
public final class TargetRangeDetector implements Detector {
  private static final double SLACK = 1e-6;

  private double min = Double.POSITIVE_INFINITY;
  private double max = Double.NEGATIVE_INFINITY;
  private long targetSteps;
  private long firstTarget = -1;
  private long firstBelow = -1;
  private long firstAbove = -1;
  private long lastStep = -1;
  private long firstStep = -1;
  private int output = -1;
  private ActivationKind kind = ActivationKind.UNKNOWN;
  private long outputSteps;
  private long outputConstantOne;
  private long outputNumel = -1;

  /** The targets' element count at the output's first recorded step with targets, or -1. */
  private long targetNumel = -1;

  /** The first target row's mean and std, NaN until one is seen. */
  private double firstTargetMean = Double.NaN;

  private double firstTargetStd = Double.NaN;

  private double belowBound;
  private double aboveBound;
  private boolean crossEntropy;
  private int batchSize;

  /** The output layer's declared number of units ({@code fan_out}), or -1. */
  private long fanOut = -1;

  @Override
  public void begin(AnalysisContext context) {
    crossEntropy = crossEntropy(context.metadata());
    batchSize = context.metadata().batchSize().orElse(0);
  }

  private static boolean crossEntropy(TraceMetadata metadata) {
    String lossName = metadata.loss().orElse("").toLowerCase(Locale.ROOT);
    return lossName.contains("entropy") || lossName.equals("nll") || lossName.contains("nll_loss");
  }

  @Override
  public void observe(StepView step) {
    if (firstStep < 0) {
      firstStep = step.step();
      Layer last = step.context().outputLayer();
      output = last == null ? -1 : last.index();
      if (output >= 0) {
        kind = step.layer(output).activationKind();
        for (LayerInfo info : step.context().metadata().layers()) {
          if (info.index() == step.layer(output).index() && info.fanOut() > 0) {
            fanOut = info.fanOut();
          }
        }
        belowBound = kind.low();
        aboveBound = kind.high();
      }
    }
    lastStep = step.step();
    if (output >= 0 && step.has(output, Phase.ACTIVATION)) {
      outputSteps++;
      double mean = step.mean(output, Phase.ACTIVATION);
      double std = Rows.valueOr(step, output, Phase.ACTIVATION, Column.STD, Double.NaN);
      if (mean == 1 && std == 0) {
        outputConstantOne++;
      }
      if (outputNumel < 0) {
        outputNumel = step.count(output, Phase.ACTIVATION, Column.NUMEL);
      }
    }
    if (!step.has(-1, Phase.TARGET)) {
      return;
    }
    double lo = Rows.low(step, -1, Phase.TARGET);
    double hi = Rows.high(step, -1, Phase.TARGET);
    if (!Double.isFinite(lo) || !Double.isFinite(hi)) {
      return;
    }
    if (firstTarget < 0) {
      firstTarget = step.step();
      firstTargetMean = step.mean(-1, Phase.TARGET);
      firstTargetStd = Rows.valueOr(step, -1, Phase.TARGET, Column.STD, Double.NaN);
    }
    if (targetNumel < 0 && step.present(-1, Phase.TARGET, Column.NUMEL)) {
      targetNumel = step.count(-1, Phase.TARGET, Column.NUMEL);
    }
    targetSteps++;
    min = Math.min(min, lo);
    max = Math.max(max, hi);
    if (firstBelow < 0 && lo < belowBound - SLACK) {
      firstBelow = step.step();
    }
    if (firstAbove < 0 && hi > aboveBound + SLACK) {
      firstAbove = step.step();
    }
  }

  /**
   * The rules that hold at one step hold at the end: the output layer and its activation are fixed
   * at the first step, the loss by the metadata, and a target outside the range stays in the run.
   * Constant targets, and a softmax one unit wide known only from its output staying exactly 1,
   * need the whole run.
   */
  @Override
  public int conclusive() {
    if (firstStep < 0 || output < 0) {
      return 0;
    }
    if (kind == ActivationKind.SOFTMAX) {
      return width() == 1 ? 1 : 0;
    }
    int settled = kind == ActivationKind.RELU && crossEntropy ? 1 : 0;
    boolean outside = firstBelow >= 0 || firstAbove >= 0;
    if (outside
        && targetSteps > 0
        && (kind.saturates() || kind == ActivationKind.RELU)
        && elementwise()) {
      settled++;
    }
    return settled;
  }

  @Override
  public List<Finding> conclusiveFindings(AnalysisContext context) {
    return findings(context, true);
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    return findings(context, false);
  }

  /**
   * False when the targets are not one value per output element (class indices beside a score per
   * class, or a classifier's labels beside the reconstruction a capsule network's decoder runs
   * last): their range is not one the output has to reach. True where a count is not recorded.
   */
  private boolean elementwise() {
    return targetNumel <= 0 || outputNumel <= 0 || targetNumel == outputNumel;
  }

  /**
   * False when the trace names a loss function the analyzer does not know (a program's own) and no
   * task: nothing says the loss reads the targets. Keras' {@code fit} wants targets even for a loss
   * that ignores them, and programs pass constant dummies (keras.io's semantic image clustering
   * passes ones to losses computed from the model's outputs alone): constant targets are a fault
   * only for a loss that compares the outputs with them. A trace that names no loss at all is
   * judged as before.
   */
  private static boolean readsTargets(TraceMetadata metadata) {
    return metadata.loss().filter(name -> !name.isBlank()).isEmpty()
        || LossFunction.of(metadata) != LossFunction.UNKNOWN
        || metadata.task().isPresent();
  }

  /** How many losses make a block for {@link #constantFitted}. */
  private static final int BLOCK = 10;

  /**
   * The share of its first block's mean below which the loss's best block shows that the model
   * fitted constant targets with a constant answer. The healthy dev runs whose targets are all one
   * value (a negative-sampling softmax with the positive at index 0, as Poincaré embeddings,
   * word2vec and MoCo write it) end their best block at 0.138 to 0.158 of their first; a third of
   * that, rounded down.
   */
  public static final double FITTED_CONSTANT = 0.04;

  /**
   * True when the run's loss fell to {@link #FITTED_CONSTANT} of its first block or below (a
   * constant answer fits the targets), when it did not fall {@code min-progress} below it (nothing
   * was learned from them), or when the trace has too few losses to tell. Only a loss that falls
   * and stays far above 0 shows an answer that depends on each example (the index of the positive
   * among candidates scored per example): constant targets are then a convention, not a fault.
   */
  private static boolean constantFitted(AnalysisContext context) {
    LossHistory loss = context.lossHistory();
    if (loss.size() < 2 * BLOCK) {
      return true;
    }
    double first = loss.firstBlockMean(BLOCK);
    if (!(first > 0)) {
      return true;
    }
    double best = loss.bestBlockMean(BLOCK);
    double minProgress = context.options().get(Thresholds.MIN_PROGRESS);
    return best <= FITTED_CONSTANT * first || best >= (1 - minProgress) * first;
  }

  /**
   * A regression under a squared or absolute error whose first targets sit at a scale of {@code
   * target-scale} or more (the larger of |mean| and std): a model that starts near 0 spends its
   * first steps on the offset and the units, its loss starts in the tens of thousands and every
   * gradient is scaled by the targets. Judged at the end of the run only (the evidence is in the
   * first target row, but a finding that decides a verdict alone should not stop a first-fault read
   * before the run shows more).
   */
  private Optional<Finding> unscaledRegressionTargets(AnalysisContext context, boolean conclusive) {
    if (conclusive || firstTarget < 0 || !LossFunction.namedError(context.metadata())) {
      return Optional.empty();
    }
    double scale = Math.max(Math.abs(firstTargetMean), firstTargetStd);
    double bound = context.options().get(Thresholds.TARGET_SCALE);
    if (!(scale >= bound)) {
      return Optional.empty();
    }
    return Optional.of(
        Finding.builder(this)
            .symptom(Symptom.SATURATION)
            .severity(Severity.WARNING)
            .at(-1, Phase.TARGET)
            .steps(firstTarget, lastStep, targetSteps)
            .evidence(
                Evidence.builder()
                    .put(TARGET_RULE, TargetRule.UNSCALED_REGRESSION_TARGETS)
                    .put(TARGET_MEAN, firstTargetMean)
                    .put(TARGET_STD, firstTargetStd)
                    .put(TARGET_SCALE, scale)
                    .put(THRESHOLD, bound)
                    .build())
            .message(
                format(
                    ROOT,
                    "The regression targets are not scaled: the first batch's targets have mean %s"
                        + " and std %s under %s, so a model that starts near 0 is about %s off and"
                        + " every gradient is scaled by them. Standardize the targets (and scale"
                        + " the predictions back).",
                    Numbers.format(firstTargetMean),
                    Numbers.format(firstTargetStd),
                    context.metadata().loss().orElse("the loss"),
                    Numbers.format(scale)))
            .build());
  }

  /** The output layer's width: its declared fan_out, else numel over the batch size, else -1. */
  private long width() {
    if (fanOut > 0) {
      return fanOut;
    }
    return batchSize > 0 && outputNumel > 0 ? outputNumel / batchSize : -1;
  }

  /** The findings; with {@code conclusive}, only those that no later step can take back. */
  private List<Finding> findings(AnalysisContext context, boolean conclusive) {
    List<Finding> findings = new ArrayList<>();
    if (firstStep < 0) {
      return findings;
    }
    String lossName = context.metadata().loss().orElse("").toLowerCase(Locale.ROOT);
    long width = width();
    String name = output >= 0 ? context.layer(output).name() : "model";
    if (!conclusive
        && targetSteps >= 2
        && min == max
        && readsTargets(context.metadata())
        && constantFitted(context)) {
      findings.add(
          Finding.builder(this)
              .symptom(Symptom.NOT_LEARNING)
              .at(-1, Phase.TARGET)
              .steps(firstTarget, lastStep, targetSteps)
              .evidence(
                  Evidence.builder()
                      .put(TARGET_RULE, TargetRule.CONSTANT_TARGETS)
                      .put(TARGET_VALUE, min)
                      .put(TARGET_STEPS, targetSteps)
                      .build())
              .message(
                  format(
                      ROOT,
                      "Every target in %d steps was %s: the labels carry no information (scaled or"
                          + " cast away?), so the loss can fall while nothing is learned.",
                      targetSteps,
                      Numbers.format(min)))
              .build());
    }
    unscaledRegressionTargets(context, conclusive).ifPresent(findings::add);
    if (output < 0) {
      return findings;
    }
    if (kind == ActivationKind.SOFTMAX
        && (width == 1
            || (!conclusive && width < 0 && outputSteps > 0 && outputConstantOne == outputSteps))) {
      findings.add(
          Finding.builder(this)
              .symptom(Symptom.DEAD_OR_ZERO)
              .at(output, Phase.ACTIVATION)
              .steps(firstStep, lastStep, Math.max(1, outputSteps))
              .evidence(
                  Evidence.builder()
                      .put(TARGET_RULE, TargetRule.SINGLE_UNIT_SOFTMAX)
                      .put(OUTPUT_ACTIVATION, "softmax")
                      .put(OUTPUT_WIDTH, width)
                      .put(CONSTANT_ONE_STEPS, outputConstantOne)
                      .build())
              .message(
                  format(
                      ROOT,
                      "The output layer %s applies softmax over a single unit: its output is always"
                          + " 1, so every gradient through it is zero.",
                      name))
              .build());
      return findings;
    }
    if (kind == ActivationKind.RELU && crossEntropy) {
      findings.add(
          Finding.builder(this)
              .symptom(Symptom.DEAD_OR_ZERO)
              .severity(Severity.WARNING)
              .at(output, Phase.ACTIVATION)
              .steps(firstStep, firstStep, 1)
              .evidence(
                  Evidence.builder()
                      .put(TARGET_RULE, TargetRule.RELU_OUTPUT_CROSS_ENTROPY)
                      .put(OUTPUT_ACTIVATION, "relu")
                      .put(LOSS, lossName)
                      .build())
              .message(
                  format(
                      ROOT,
                      "The output layer %s uses ReLU under a %s loss: a row of all-zero outputs has"
                          + " no probability mass, which gives log(0) or 0/0.",
                      name,
                      lossName))
              .build());
    }
    if (targetSteps == 0 || !(kind.saturates() || kind == ActivationKind.RELU)) {
      return findings;
    }
    if (!elementwise()) {
      return findings;
    }
    long first =
        firstBelow < 0
            ? firstAbove
            : firstAbove < 0 ? firstBelow : Math.min(firstBelow, firstAbove);
    if (first < 0) {
      return findings;
    }
    findings.add(
        Finding.builder(this)
            .symptom(kind == ActivationKind.RELU ? Symptom.DEAD_OR_ZERO : Symptom.SATURATION)
            .at(output, Phase.ACTIVATION)
            .steps(first, lastStep, targetSteps)
            .evidence(
                Evidence.builder()
                    .put(TARGET_RULE, TargetRule.TARGETS_OUTSIDE_ACTIVATION_RANGE)
                    .put(OUTPUT_ACTIVATION, kind.wireName())
                    .put(ACTIVATION_LOW, kind.low())
                    .put(ACTIVATION_HIGH, kind.high())
                    .put(TARGET_MIN, min)
                    .put(TARGET_MAX, max)
                    .build())
            .message(
                format(
                    ROOT,
                    "The targets range over [%s, %s] but the output layer %s ends in %s, which can"
                        + " only produce [%s, %s].",
                    Numbers.format(min),
                    Numbers.format(max),
                    name,
                    kind.wireName(),
                    Numbers.format(kind.low()),
                    Numbers.format(kind.high())))
            .build());
    return findings;
  }
}
