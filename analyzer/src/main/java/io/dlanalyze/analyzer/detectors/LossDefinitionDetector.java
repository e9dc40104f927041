package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS_FLOOR;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS_FROM_LOGITS;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS_MIN;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.NUM_CLASSES;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_ACTIVATION;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_WIDTH;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MAX;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MIN;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.ActivationKind;
import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.LossRule;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.LossFunction;
import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reports a loss that contradicts its own definition, from the values it took and from what the
 * metadata says about the loss and the output layer. None of these rules has a tunable threshold:
 * each is a fact about the functions involved.
 *
 * <ul>
 *   <li>The loss went below 0, the floor of every cross-entropy and error loss: its inputs are not
 *       what the function is defined on (labels outside [0, 1] in a binary cross-entropy,
 *       probabilities where NLL expects log-probabilities). Not judged when terms are added beside
 *       the loss function ({@code dltrace.loss_added}): their sum has no such floor.
 *   <li>A binary cross-entropy saw targets outside [0, 1] (the {@code target} phase).
 *   <li>A loss that applies softmax or sigmoid itself (PyTorch's CrossEntropyLoss and
 *       BCEWithLogitsLoss, Keras with {@code from_logits=True}) on an output that already applied
 *       it: the gradients shrink and learning stalls.
 *   <li>A loss that expects probabilities (Keras' cross-entropies without {@code from_logits}, BCE)
 *       on a linear output, or NLL on an output that is not a log-softmax.
 *   <li>A squared or absolute error on a softmax output: a weak, saturating gradient for a
 *       classification task.
 *   <li>A binary cross-entropy on a softmax over more than two units, or one output unit for more
 *       than two classes.
 * </ul>
 *
 * The output layer is the one {@code dltrace.output_layer} names, else the last layer of the trace
 * ({@link AnalysisContext#outputLayer}); its activation comes from {@code dltrace.layers} or its
 * type, its width from {@code fan_out}. A rule whose input is missing does not run (the report
 * lists the metadata a trace lacks). A Keras cross-entropy on a linear output whose {@code
 * dltrace.loss_from_logits} the trace does not give (a recorder that writes only format v1) is
 * reported only when the run did not learn ({@code converged-drop}): with {@code from_logits=True}
 * it is the usual, healthy pairing.
 */
@DetectorSpec(
    id = DetectorIds.LOSS_DEFINITION,
    symptom = Symptom.LOSS_MISMATCH,
    severity = Severity.ERROR,
    summary = "A loss outside its possible range, or a loss that does not fit the output layer",
    source =
        "Humbatova et al. 2020, wrong loss function for the output; DeepDiagnosis' loss checks"
            + " (docs/references.md#fault-taxonomy)")
public final class LossDefinitionDetector implements Detector {
  /** Below 0 by more than rounding: float32 losses are exact to about 1e-7 relative. */
  private static final double FLOOR_SLACK = 1e-4;

  private static final double TARGET_SLACK = 1e-6;

  private double targetMin = Double.POSITIVE_INFINITY;
  private double targetMax = Double.NEGATIVE_INFINITY;
  private long firstTargetOutside = -1;
  private long firstStep = -1;
  private long lastStep = -1;
  private long steps;
  private AnalysisContext context;
  private LossFunction loss = LossFunction.UNKNOWN;

  /** The output rule, judged once the first layer rows named the layers: -1 before, else 0 or 1. */
  private int outputRule = -1;

  /** True once a finite loss went below the floor. */
  private boolean belowFloorSeen;

  /**
   * False when terms are added beside the loss function ({@code dltrace.loss_added}): the recorded
   * loss is then their sum, whose floor the loss function does not set (an entropy bonus, a
   * diversity term or a mistaken penalty may be negative), and the recorded targets may be those of
   * another term, whose range the loss function does not bound.
   */
  private boolean functionAlone = true;

  @Override
  public void begin(AnalysisContext context) {
    this.context = context;
    this.loss = LossFunction.of(context.metadata());
    this.functionAlone = !context.metadata().lossAdded();
  }

  @Override
  public void observe(StepView step) {
    if (firstStep < 0) {
      firstStep = step.step();
    }
    lastStep = step.step();
    steps++;
    if (outputRule < 0 && step.presentLayerCount() > 0 && loss != LossFunction.UNKNOWN) {
      outputRule =
          outputMismatch(context, loss, context.metadata().loss().orElse(""), false).isPresent()
              ? 1
              : 0;
    }
    if (step.has(-1, Phase.LOSS)) {
      double value = step.mean(-1, Phase.LOSS);
      belowFloorSeen |= functionAlone && Double.isFinite(value) && value < -FLOOR_SLACK;
    }
    if (!functionAlone || !step.has(-1, Phase.TARGET)) {
      // with terms added beside the loss function, the recorded targets may be another term's
      // (a GAN's L1 to the target images beside its BCE to real/fake labels)
      return;
    }
    double lo = Rows.low(step, -1, Phase.TARGET);
    double hi = Rows.high(step, -1, Phase.TARGET);
    if (!Double.isFinite(lo) || !Double.isFinite(hi)) {
      return;
    }
    targetMin = Math.min(targetMin, lo);
    targetMax = Math.max(targetMax, hi);
    if (firstTargetOutside < 0 && (lo < -TARGET_SLACK || hi > 1 + TARGET_SLACK)) {
      firstTargetOutside = step.step();
    }
  }

  /**
   * Each rule's finding is final once it holds: a loss below the floor or a target outside [0, 1]
   * stays in the run, and the output rule reads the metadata and the layers of the first rows.
   */
  @Override
  public int conclusive() {
    if (loss == LossFunction.UNKNOWN || firstStep < 0) {
      return 0;
    }
    boolean breach = belowFloorSeen || (loss.binary() && firstTargetOutside >= 0);
    return (breach ? 1 : 0) + Math.max(outputRule, 0);
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    if (firstStep < 0) {
      return findings;
    }
    LossFunction loss = LossFunction.of(context.metadata());
    if (loss == LossFunction.UNKNOWN) {
      return findings;
    }
    String lossName = context.metadata().loss().orElse("");
    if (loss.binary() && firstTargetOutside >= 0) {
      findings.add(
          model()
              .steps(firstTargetOutside, lastStep, steps)
              .evidence(
                  Evidence.builder()
                      .put(LOSS_RULE, LossRule.TARGETS_OUTSIDE_LOSS_RANGE)
                      .put(LOSS, lossName)
                      .put(TARGET_MIN, targetMin)
                      .put(TARGET_MAX, targetMax)
                      .build())
              .message(
                  format(
                      ROOT,
                      "The targets range over [%s, %s], but %s is a binary cross-entropy: it is"
                          + " defined for targets in [0, 1] (one probability per output unit).",
                      Numbers.format(targetMin),
                      Numbers.format(targetMax),
                      lossName))
              .build());
    } else if (functionAlone) {
      belowFloor(context, lossName).ifPresent(findings::add);
    }
    Optional<Finding> output = outputMismatch(context, loss, lossName, true);
    output.ifPresent(findings::add);
    return findings;
  }

  /**
   * How close, as a share of it, a first step's loss must sit to a uniform guess's loss (log K) to
   * show that the output's raw scores went through a softmax or sigmoid.
   */
  static final double UNIFORM_START = 0.1;

  /**
   * True when the run's first step's loss sat within {@link #UNIFORM_START} of a uniform guess's
   * loss: what a softmax (or sigmoid) over an untrained model's small raw scores costs. Read as
   * probabilities instead, Keras clips and renormalizes the raw scores, and the first loss lands
   * far from it (1.6 to 12 times log K on the dev runs whose raw scores went to a probability loss;
   * 0.99 to 1.9 times on those that set {@code from_logits=True}).
   */
  private static boolean startsAtUniformGuess(AnalysisContext context) {
    // a sum whose added terms start at 0 starts where its cross-entropy does
    double uniform = LossGate.functionsUniformLoss(context);
    LossHistory history = context.lossHistory();
    if (!(uniform > 0) || !LossGate.perStep(context)) {
      return false;
    }
    return Math.abs(history.loss(0) / uniform - 1) <= UNIFORM_START;
  }

  /**
   * Whether a loss with terms added beside its function ({@code dltrace.loss_added}: a labelled
   * cross-entropy plus a pseudo-label or consistency term that warms up) came with a training
   * accuracy that rose {@code chance-margin} of the way above a uniform guess's (1/K) in some
   * epoch. Such a sum neither starts at a uniform guess's loss nor has to fall from its start, so
   * the loss cannot tell whether the scores were read as logits; an accuracy well above chance can:
   * raw scores read as probabilities, clipped and renormalized, do not train.
   */
  private static boolean accuracyRose(AnalysisContext context) {
    LossHistory history = context.lossHistory();
    int classes = context.metadata().numClasses().orElse(0);
    if (!context.metadata().lossAdded() || !history.hasAccuracy() || classes < 2) {
      return false;
    }
    double chance = 1.0 / classes;
    double bar = chance + context.options().get(Thresholds.CHANCE_MARGIN) * (1 - chance);
    for (int e = 0; e < history.epochs(); e++) {
      if (history.epochAccuracy(e) >= bar) {
        return true;
      }
    }
    return false;
  }

  /** A Keras cross-entropy whose {@code dltrace.loss_from_logits} the trace does not give. */
  private static boolean fromLogitsUnknown(AnalysisContext context) {
    String framework = context.metadata().framework().orElse("").toLowerCase(ROOT);
    return context.metadata().lossFromLogits().isEmpty()
        && (framework.contains("keras") || framework.contains("tensorflow"));
  }

  private Optional<Finding> belowFloor(AnalysisContext context, String lossName) {
    LossHistory history = context.lossHistory();
    int first = -1;
    double min = Double.POSITIVE_INFINITY;
    for (int i = 0; i < history.size(); i++) {
      double value = history.loss(i);
      min = Math.min(min, value);
      if (first < 0 && value < -FLOOR_SLACK) {
        first = i;
      }
    }
    if (first < 0) {
      return Optional.empty();
    }
    long below = 0;
    for (int i = first; i < history.size(); i++) {
      below += history.loss(i) < -FLOOR_SLACK ? 1 : 0;
    }
    return Optional.of(
        model()
            .at(-1, Phase.LOSS)
            .steps(history.step(first), history.step(history.size() - 1), below)
            .evidence(
                Evidence.builder()
                    .put(LOSS_RULE, LossRule.BELOW_FLOOR)
                    .put(LOSS, lossName)
                    .put(LOSS_FLOOR, 0.0)
                    .put(LOSS_MIN, min)
                    .build())
            .message(
                format(
                    ROOT,
                    "The loss (%s) fell to %s from step %d, but it cannot go below 0 for the inputs"
                        + " it is defined on: the targets or the output are not what it expects.",
                    lossName,
                    Numbers.format(min),
                    history.step(first)))
            .build());
  }

  /**
   * The output rule. {@code atEnd}: the whole run has been read; before it, a rule that needs the
   * run's outcome (a Keras cross-entropy whose {@code from_logits} the trace does not give) does
   * not hold yet.
   */
  private Optional<Finding> outputMismatch(
      AnalysisContext context, LossFunction loss, String lossName, boolean atEnd) {
    Layer output = context.outputLayer();
    if (output == null) {
      return Optional.empty();
    }
    ActivationKind kind = output.activationKind();
    if (kind == ActivationKind.UNKNOWN) {
      return Optional.empty();
    }
    long width = context.metadata().layer(output.index()).map(LayerInfo::fanOut).orElse(-1L);
    int classes = context.numClasses().orElse(-1);
    LossRule rule = null;
    String why = null;
    if (loss.takesLogits() && kind == ActivationKind.SOFTMAX) {
      rule = LossRule.LOGITS_LOSS_ON_PROBABILITIES;
      why =
          "applies softmax itself, so the output's softmax is applied twice: the probabilities"
              + " are squashed towards uniform and the gradients shrink";
    } else if (loss.takesLogits() && kind == ActivationKind.SIGMOID) {
      rule = LossRule.LOGITS_LOSS_ON_PROBABILITIES;
      why =
          "applies a sigmoid itself, so the output's sigmoid is applied twice: the scores are"
              + " squashed into [0.27, 0.73] and the loss cannot reach 0";
    } else if (!loss.takesLogits()
        && (loss == LossFunction.CROSS_ENTROPY_ON_PROBABILITIES
            || loss == LossFunction.BINARY_ON_PROBABILITIES)
        && (kind == ActivationKind.LINEAR || kind == ActivationKind.RELU)) {
      rule = LossRule.PROBABILITY_LOSS_ON_LOGITS;
      why =
          "expects probabilities, but the output layer is "
              + kind.wireName()
              + ": its raw scores are read as probabilities (pass from_logits=True, or end in"
              + " softmax/sigmoid)";
      if (fromLogitsUnknown(context)) {
        // Keras' cross-entropies take probabilities unless from_logits=True, which a loss object
        // is often given and a recorder of format v1 does not write: on raw scores the loss is
        // then computed from clipped, renormalized scores and the run does not learn. A run that
        // learned had its scores read as logits: nothing to report; nor does one whose first loss
        // was a uniform guess's, which only a softmax over the raw scores gives.
        if (!atEnd
            || new LossGate(context).learned()
            || startsAtUniformGuess(context)
            || accuracyRose(context)) {
          return Optional.empty();
        }
        why += "; the trace does not say whether from_logits was set, and the run did not learn";
      }
    } else if (loss == LossFunction.NLL_ON_LOG_PROBABILITIES
        && (kind == ActivationKind.SOFTMAX || kind == ActivationKind.SIGMOID)) {
      rule = LossRule.PROBABILITY_LOSS_ON_LOGITS;
      why =
          "expects log-probabilities (log_softmax), but the output layer gives probabilities:"
              + " the loss is minus a probability, unbounded in the wrong direction";
    } else if (loss.regression() && kind == ActivationKind.SOFTMAX) {
      rule = LossRule.REGRESSION_LOSS_ON_SOFTMAX;
      why =
          "is a regression loss on a softmax output: its gradient through the softmax vanishes"
              + " as the output saturates, so a classifier learns slowly or not at all (use"
              + " cross-entropy)";
    } else if (loss.binary() && kind == ActivationKind.SOFTMAX && width > 2) {
      rule = LossRule.BINARY_LOSS_MULTICLASS;
      why =
          "is a binary cross-entropy over a softmax of "
              + width
              + " units: it scores each class as an independent yes/no (use categorical"
              + " cross-entropy)";
    } else if (loss.binary() && width == 1 && classes > 2) {
      rule = LossRule.BINARY_LOSS_MULTICLASS;
      why =
          "is a binary cross-entropy on one output unit, but the task has "
              + classes
              + " classes: one unit cannot tell them apart";
    }
    if (rule == null) {
      return Optional.empty();
    }
    Evidence.Builder evidence =
        Evidence.builder()
            .put(LOSS_RULE, rule)
            .put(LOSS, lossName)
            .put(OUTPUT_ACTIVATION, kind.wireName());
    if (width > 0) {
      evidence.put(OUTPUT_WIDTH, width);
    }
    if (classes > 0) {
      evidence.put(NUM_CLASSES, (long) classes);
    }
    context.metadata().lossFromLogits().ifPresent(v -> evidence.put(LOSS_FROM_LOGITS, v));
    return Optional.of(
        model()
            .severity(Severity.WARNING)
            .steps(firstStep, lastStep, steps)
            .evidence(evidence.build())
            .message(
                format(ROOT, "The loss %s %s (output layer %s).", lossName, why, output.name()))
            .build());
  }

  private Finding.Builder model() {
    return Finding.builder(this).at(-1, Phase.LOSS);
  }
}
