package io.dlanalyze.analyzer.engine;

import static io.dlanalyze.analyzer.EvidenceKeys.ACTIVATION;
import static io.dlanalyze.analyzer.EvidenceKeys.ACTIVATION_HIGH;
import static io.dlanalyze.analyzer.EvidenceKeys.ACTIVATION_LOW;
import static io.dlanalyze.analyzer.EvidenceKeys.CONVERGENCE_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.DIRECTION;
import static io.dlanalyze.analyzer.EvidenceKeys.EFFECTIVE_LR;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_LAYER;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_LAYER_RMS;
import static io.dlanalyze.analyzer.EvidenceKeys.FIRST_NON_FINITE_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.GRADIENT_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH;
import static io.dlanalyze.analyzer.EvidenceKeys.GROWTH_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.INITIAL_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.INITIAL_ZERO_FRACTION;
import static io.dlanalyze.analyzer.EvidenceKeys.INPUT_MAX;
import static io.dlanalyze.analyzer.EvidenceKeys.INPUT_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.INPUT_MIN;
import static io.dlanalyze.analyzer.EvidenceKeys.INPUT_STD;
import static io.dlanalyze.analyzer.EvidenceKeys.LEARNING_RATE;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.MEAN_ZERO_FRACTION;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_ACTIVATION;
import static io.dlanalyze.analyzer.EvidenceKeys.RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.SUGGESTED_LEARNING_RATE;
import static io.dlanalyze.analyzer.EvidenceKeys.SWINGS;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MAX;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MIN;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_VALUE;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.ActivationKind;
import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.EvidenceKey;
import io.dlanalyze.analyzer.EvidenceKeys.ConvergenceRule;
import io.dlanalyze.analyzer.EvidenceKeys.Direction;
import io.dlanalyze.analyzer.EvidenceKeys.GradientRule;
import io.dlanalyze.analyzer.EvidenceKeys.TargetRule;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.analyzer.text.Phrases;
import io.dlanalyze.trace.TraceMetadata;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;

/**
 * Turns the ranked findings into one most likely cause with a concrete fix, plus the other
 * candidate causes. Starts from DeepDiagnosis' fix decision tree (docs/references.md#deepdiagnosis:
 * poor weights, then unnormalized inputs, then the learning rate, then the activation) and uses the
 * evidence the findings carry instead of a fixed order of guesses:
 *
 * <ol>
 *   <li>an output that cannot match its targets (target-range) explains everything after it;
 *   <li>gradients that grew by orders of magnitude before the first NaN/Inf point at the learning
 *       rate or the initialization, with the growth quoted;
 *   <li>NaN/Inf without such growth: where it was born (numerical-error's own hint);
 *   <li>unnormalized inputs that already blow up the first layer;
 *   <li>a loss that oscillates while weights grow or the learning rate is high: the learning rate;
 *   <li>dying ReLU units, saturated sigmoid/tanh units, vanishing gradients, with the fix chosen by
 *       the learning rate, the inputs and the activations;
 *   <li>a model that does not learn, converge or change: capacity, learning rate or optimizer.
 * </ol>
 *
 * The first rule whose findings are present (severity warning or more) gives the cause; later rules
 * that also match become the alternatives. The cause rests on one finding (its rank and symptom are
 * in the root cause); a hyperparameter cause (learning rate, initialization) has model scope even
 * when the finding is in a layer.
 */
final class RootCauseAnalysis {
  private static final int MAX_ALTERNATIVES = 3;

  private final List<Finding> findings;
  private final AnalysisContext context;
  private final TraceMetadata metadata;
  private final Causes causes;
  private final List<RootCause.Alternative> alternatives = new ArrayList<>();
  private RootCause primary;

  private RootCauseAnalysis(List<Finding> findings, AnalysisContext context) {
    this.findings = findings;
    this.context = context;
    this.metadata = context.metadata();
    this.causes = new Causes(context.options());
  }

  /** The root cause of ranked, resolved findings, or null when none is warning or more. */
  static RootCause analyze(List<Finding> ranked, AnalysisContext context) {
    return new RootCauseAnalysis(ranked, context).run();
  }

  private RootCause run() {
    Finding top = first(null, null);
    if (top == null) {
      return null;
    }
    targetMismatch();
    growthBeforeNonFinite();
    numericalError();
    unnormalizedInputs();
    learningRateTooHigh();
    dyingRelu();
    saturation();
    vanishing();
    deadOrUnchanged();
    notLearning();
    if (primary == null) {
      offer(top, layerScope(top), symptomCause(top), RootCauseSelector.suggestedFix(top));
    }
    return primary.withAlternatives(alternatives);
  }

  // ---- rules -------------------------------------------------------------------------------

  private void targetMismatch() {
    for (Finding f : atLeastWarning(DetectorIds.TARGET_RANGE)) {
      TargetRule rule = f.evidence().get(TARGET_RULE);
      String layer = f.layerName();
      if (rule == null) {
        continue;
      }
      switch (rule) {
        case CONSTANT_TARGETS ->
            offer(
                f,
                false,
                format(
                    ROOT,
                    "The targets are constant: every label in %d steps was %s, so nothing can be"
                        + " learned from them",
                    number(f, TARGET_STEPS),
                    Numbers.format(real(f, TARGET_VALUE))),
                "Fix the label preprocessing (a division or a cast that turned every label into the"
                    + " same value) so the targets keep their classes");
        case SINGLE_UNIT_SOFTMAX ->
            offer(
                f,
                true,
                format(
                    ROOT,
                    "Softmax over the single output unit of %s is always 1, so no gradient reaches"
                        + " any layer",
                    layer),
                metadata.task().orElse("").equals("regression")
                    ? format(
                        ROOT,
                        "Remove the softmax from %s: a regression output should be linear",
                        layer)
                    : format(
                        ROOT,
                        "Use sigmoid on the single output unit of %s (binary), or one output unit"
                            + " per class with softmax",
                        layer));
        case RELU_OUTPUT_CROSS_ENTROPY ->
            offer(
                f,
                true,
                format(
                    ROOT,
                    "The output layer %s uses ReLU under a %s loss: an all-zero output row gives"
                        + " log(0) or 0/0",
                    layer,
                    string(f, LOSS)),
                format(
                    ROOT,
                    "Use softmax (one unit per class) or sigmoid (binary) on %s instead of ReLU",
                    layer));
        case TARGETS_OUTSIDE_ACTIVATION_RANGE -> {
          String act = string(f, OUTPUT_ACTIVATION);
          offer(
              f,
              true,
              format(
                  ROOT,
                  "The output layer %s ends in %s, whose range is [%s, %s], but the targets span"
                      + " [%s, %s]",
                  layer,
                  act,
                  Numbers.format(real(f, ACTIVATION_LOW)),
                  Numbers.format(real(f, ACTIVATION_HIGH)),
                  Numbers.format(real(f, TARGET_MIN)),
                  Numbers.format(real(f, TARGET_MAX))),
              ActivationKind.parse(act) == ActivationKind.RELU
                  ? format(
                      ROOT,
                      "Use a linear (or tanh, for targets in [-1, 1]) output on %s instead of ReLU",
                      layer)
                  : format(
                      ROOT,
                      "Use a linear output on %s, or scale the targets into [%s, %s]",
                      layer,
                      Numbers.format(real(f, ACTIVATION_LOW)),
                      Numbers.format(real(f, ACTIVATION_HIGH))));
        }
      }
    }
  }

  private void growthBeforeNonFinite() {
    for (Finding f : atLeastWarning(DetectorIds.EXPLODING_GRADIENT)) {
      if (f.evidence().get(GRADIENT_RULE) != GradientRule.GROWTH) {
        continue;
      }
      Long nonFinite = f.evidence().get(FIRST_NON_FINITE_STEP);
      String tail =
          nonFinite != null ? format(ROOT, " before the first NaN/Inf at step %s", nonFinite) : "";
      long steps = number(f, GROWTH_STEPS);
      String growth =
          format(
              ROOT,
              "the gradient norm of %s grew %sx in %d %s%s",
              f.layerName(),
              magnitude(real(f, GROWTH)),
              steps,
              steps == 1 ? "step" : "steps",
              tail);
      OptionalDouble lr = learningRate();
      boolean early = f.firstStep() < 10;
      String lrFix =
          lr.isPresent()
              ? format(
                  ROOT,
                  "lower the learning rate from %s to about %s, or clip gradients at 1.0",
                  Numbers.format(lr.getAsDouble()),
                  Numbers.format(lr.getAsDouble() / 100))
              : "lower the learning rate about 100x, or clip gradients at 1.0";
      String initFix =
          "initialize the weights with He (ReLU) or Glorot (tanh/sigmoid) scaling and clip"
              + " gradients at 1.0";
      Finding inputs = strongest(DetectorIds.INPUT_RANGE);
      String scale =
          inputs == null
              ? ""
              : format(
                  ROOT,
                  "; the inputs are not normalized (range [%s, %s]), scale them too",
                  Numbers.format(real(inputs, INPUT_MIN)),
                  Numbers.format(real(inputs, INPUT_MAX)));
      if (early && lr.isPresent() && lr.getAsDouble() < 0.05) {
        offer(
            f,
            false,
            "Weights initialized too large: "
                + growth
                + " from the first steps at a small learning rate ("
                + Numbers.format(lr.getAsDouble())
                + ")",
            Phrases.capitalize(initFix) + scale);
        offer(f, false, "Learning rate too high: " + growth, Phrases.capitalize(lrFix) + scale);
      } else {
        offer(f, false, "Learning rate too high: " + growth, Phrases.capitalize(lrFix) + scale);
        offer(
            f,
            false,
            "Weights initialized too large: " + growth,
            Phrases.capitalize(initFix) + scale);
      }
    }
  }

  private void numericalError() {
    for (Finding f : atLeastWarning(DetectorIds.NUMERICAL_ERROR)) {
      offer(f, layerScope(f), symptomCause(f), RootCauseSelector.suggestedFix(f));
    }
  }

  private void unnormalizedInputs() {
    for (Finding f : atLeastWarning(DetectorIds.INPUT_RANGE)) {
      offer(
          f,
          false,
          format(
              ROOT,
              "The inputs are not normalized: they range over [%s, %s] (mean %s, std %s) and the"
                  + " outputs of %s reached an RMS of %s",
              Numbers.format(real(f, INPUT_MIN)),
              Numbers.format(real(f, INPUT_MAX)),
              Numbers.format(real(f, INPUT_MEAN)),
              Numbers.format(real(f, INPUT_STD)),
              string(f, FIRST_LAYER),
              Numbers.format(real(f, FIRST_LAYER_RMS))),
          real(f, INPUT_MIN) >= 0 && real(f, INPUT_MAX) > 1
              ? format(
                  ROOT,
                  "Scale the inputs into [0, 1] (divide by %s) or standardize them to mean 0, std"
                      + " 1",
                  Numbers.format(real(f, INPUT_MAX)))
              : "Standardize the inputs to mean 0, std 1 (e.g. StandardScaler) before training");
    }
  }

  private void learningRateTooHigh() {
    Finding oscillation = strongest(DetectorIds.OSCILLATING_LOSS);
    Finding weights = highWeights();
    Finding effective = effectiveLr(Direction.HIGH);
    OptionalDouble lr = learningRate();
    boolean highLr = lr.isPresent() && lr.getAsDouble() >= 0.1 && !adaptive();
    if (oscillation == null || !(weights != null || effective != null || highLr)) {
      return;
    }
    StringBuilder why =
        new StringBuilder(
            format(
                ROOT,
                "the loss rose %s times by %s or more of its start (between %s and %s)",
                oscillation.evidence().get(SWINGS),
                Numbers.percent(0.5),
                Numbers.format(real(oscillation, MIN_BLOCK_LOSS)),
                Numbers.format(real(oscillation, MAX_BLOCK_LOSS))));
    if (weights != null) {
      why.append(
          format(
              ROOT,
              "; the weight variance of %s grew from %s to %s",
              weights.layerName(),
              Numbers.format(real(weights, INITIAL_VARIANCE)),
              Numbers.format(real(weights, MAX_VARIANCE))));
    }
    Finding dying = strongest(DetectorIds.DYING_RELU);
    Finding anchor = dying != null ? dying : oscillation;
    if (dying != null) {
      why.append(
          format(
              ROOT,
              "; %s of the ReLU units of %s died from step %d",
              Numbers.percent(real(dying, MEAN_ZERO_FRACTION)),
              dying.layerName(),
              dying.firstStep()));
    }
    offer(anchor, dying != null, "Learning rate too high: " + why, lrFix(10));
  }

  private void dyingRelu() {
    for (Finding f : atLeastWarning(DetectorIds.DYING_RELU)) {
      String cause =
          format(
              ROOT,
              "The ReLU units of %s died: %s of its outputs were exactly zero for %d steps from"
                  + " step %d (%s at the start)",
              f.layerName(),
              Numbers.percent(real(f, MEAN_ZERO_FRACTION)),
              number(f, RUN_STEPS),
              f.firstStep(),
              Numbers.percent(real(f, INITIAL_ZERO_FRACTION)));
      OptionalDouble lr = learningRate();
      if (lr.isPresent() && lr.getAsDouble() >= 0.1 && !adaptive()) {
        offer(
            f,
            true,
            cause
                + format(
                    ROOT, " under a high learning rate (%s)", Numbers.format(lr.getAsDouble())),
            lrFix(10) + format(ROOT, "; or use LeakyReLU in %s", f.layerName()));
      } else {
        offer(
            f,
            true,
            cause,
            format(
                ROOT,
                "Use LeakyReLU (or ELU) in %s, He initialization, and check that its inputs are"
                    + " normalized",
                f.layerName()));
      }
    }
  }

  private void saturation() {
    for (Finding f : atLeastWarning(DetectorIds.SATURATION)) {
      Finding inputs = strongest(DetectorIds.INPUT_RANGE);
      String cause =
          format(
              ROOT,
              "The %s layer %s saturated from step %d: %s",
              string(f, ACTIVATION),
              f.layerName(),
              f.firstStep(),
              Causes.saturation(f));
      String fix =
          inputs != null
              ? format(
                  ROOT,
                  "Normalize the inputs (they range over [%s, %s])",
                  Numbers.format(real(inputs, INPUT_MIN)),
                  Numbers.format(real(inputs, INPUT_MAX)))
              : f.layerIndex() == context.layerCount() - 1
                  ? format(
                      ROOT,
                      "Check that the output activation of %s matches the loss and the targets; a"
                          + " regression output should be linear",
                      f.layerName())
                  : format(
                      ROOT,
                      "Replace %s in %s with ReLU, or add BatchNorm before it and use Glorot"
                          + " initialization",
                      string(f, ACTIVATION),
                      f.layerName());
      offer(f, true, cause, fix);
    }
  }

  private void vanishing() {
    for (Finding f : atLeastWarning(DetectorIds.VANISHING_GRADIENT)) {
      int saturating = 0;
      for (int i = 0; i < context.layerCount() - 1; i++) {
        String a = context.layer(i).activation();
        if (a != null && (a.equalsIgnoreCase("sigmoid") || a.equalsIgnoreCase("tanh"))) {
          saturating++;
        }
      }
      String cause = "Vanishing gradients: " + causes.of(f);
      String fix =
          saturating >= 2
              ? format(
                  ROOT,
                  "Replace the sigmoid/tanh activations of the %d hidden layers with ReLU and use"
                      + " He initialization, or add BatchNorm or residual connections",
                  saturating)
              : "Add BatchNorm or residual connections, or make the network shallower";
      offer(f, true, cause, fix);
    }
  }

  private void deadOrUnchanged() {
    for (String id : List.of(DetectorIds.DEAD_OR_ZERO, DetectorIds.UNCHANGED_VALUES)) {
      for (Finding f : atLeastWarning(id)) {
        offer(f, true, symptomCause(f), RootCauseSelector.suggestedFix(f));
      }
    }
  }

  private void notLearning() {
    Finding low = effectiveLr(Direction.LOW);
    for (Finding f : atLeastWarning(DetectorIds.NOT_CONVERGING)) {
      if (f.evidence().get(CONVERGENCE_RULE) == ConvergenceRule.LOSS_AT_TARGET_VARIANCE
          && !hasNonlinearHiddenLayer()) {
        offer(
            f,
            false,
            "The model is too simple for the data: "
                + causes.of(f)
                + format(
                    ROOT, "; its %d layer(s) have no hidden non-linearity", context.layerCount()),
            "Add a hidden layer with a non-linear activation (e.g. ReLU) between the input and the"
                + " output");
      } else {
        offer(f, false, symptomCause(f), notLearningFix(low));
      }
    }
    for (String id :
        List.of(
            DetectorIds.NOT_LEARNING,
            DetectorIds.SLOW_CONVERGENCE,
            DetectorIds.EFFECTIVE_LEARNING_RATE,
            DetectorIds.OSCILLATING_LOSS,
            DetectorIds.WEIGHT_VARIANCE)) {
      for (Finding f : atLeastWarning(id)) {
        String fix =
            id.equals(DetectorIds.OSCILLATING_LOSS)
                    || id.equals(DetectorIds.WEIGHT_VARIANCE)
                    || f.evidence().get(DIRECTION) == Direction.HIGH
                ? lrFix(10)
                : notLearningFix(low);
        offer(f, false, symptomCause(f), fix);
      }
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  private String notLearningFix(Finding low) {
    OptionalDouble lr = learningRate();
    Double suggested = low == null ? null : low.evidence().get(SUGGESTED_LEARNING_RATE);
    if (suggested != null && lr.isPresent()) {
      return format(
          ROOT,
          "Raise the learning rate from %s to about %s (the updates are %s of the weights), or"
              + " switch to Adam",
          Numbers.format(lr.getAsDouble()),
          Numbers.format(suggested),
          Numbers.format(real(low, EFFECTIVE_LR)));
    }
    return "Check the learning rate and the optimizer, and that the loss matches the output"
        + " activation and the targets";
  }

  private String lrFix(double factor) {
    OptionalDouble lr = learningRate();
    return lr.isPresent()
        ? format(
            ROOT,
            "Lower the learning rate from %s to about %s",
            Numbers.format(lr.getAsDouble()),
            Numbers.format(lr.getAsDouble() / factor))
        : format(ROOT, "Lower the learning rate about %sx", Numbers.format(factor));
  }

  private void offer(Finding anchor, boolean layerScope, String cause, String fix) {
    int rank = findings.indexOf(anchor) + 1;
    boolean layer = layerScope && !anchor.isModelLevel();
    if (primary == null) {
      primary =
          new RootCause(
              layer ? RootCause.LAYER : RootCause.MODEL,
              layer ? anchor.layerIndex() : -1,
              layer ? anchor.layerName() : "model",
              cause,
              fix,
              anchor.symptom().wireName(),
              rank,
              List.of());
      return;
    }
    if (alternatives.size() >= MAX_ALTERNATIVES || cause.equals(primary.cause())) {
      return;
    }
    for (RootCause.Alternative a : alternatives) {
      if (a.cause().equals(cause)) {
        return;
      }
    }
    alternatives.add(new RootCause.Alternative(cause, fix, anchor.symptom().wireName(), rank));
  }

  /**
   * "Vanishing gradients: the gradient norm of fc0 stayed below ...": the symptom class, then what
   * the finding says in its data ({@link Causes}). A finding it has no words for (a plug-in's) is
   * quoted: its message without the final period.
   */
  private String symptomCause(Finding f) {
    String clause = causes.of(f);
    if (clause == null) {
      String message = f.message();
      clause = message.endsWith(".") ? message.substring(0, message.length() - 1) : message;
    }
    return RootCauseSelector.symptomPhrase(f.symptom()) + ": " + clause;
  }

  private static boolean layerScope(Finding f) {
    return !f.isModelLevel();
  }

  private List<Finding> atLeastWarning(String detector) {
    List<Finding> out = new ArrayList<>();
    for (Finding f : findings) {
      if (f.detector().equals(detector) && f.severity().atLeast(Severity.WARNING)) {
        out.add(f);
      }
    }
    return out;
  }

  /** The first finding of a detector at any severity, or null. */
  private Finding strongest(String detector) {
    Finding best = null;
    for (Finding f : findings) {
      if (f.detector().equals(detector)
          && (best == null || f.severity().compareTo(best.severity()) > 0)) {
        best = f;
      }
    }
    return best;
  }

  private Finding first(String detector, Symptom symptom) {
    for (Finding f : findings) {
      if (f.severity().atLeast(Severity.WARNING)
          && (detector == null || f.detector().equals(detector))
          && (symptom == null || f.symptom() == symptom)) {
        return f;
      }
    }
    return null;
  }

  private Finding highWeights() {
    for (Finding f : findings) {
      if (f.detector().equals(DetectorIds.WEIGHT_VARIANCE)
          && f.evidence().get(DIRECTION) == Direction.HIGH) {
        return f;
      }
    }
    return null;
  }

  private Finding effectiveLr(Direction direction) {
    for (Finding f : findings) {
      if (f.detector().equals(DetectorIds.EFFECTIVE_LEARNING_RATE)
          && f.evidence().get(DIRECTION) == direction) {
        return f;
      }
    }
    return null;
  }

  private OptionalDouble learningRate() {
    for (Finding f : findings) {
      Double lr = f.evidence().get(LEARNING_RATE);
      if (lr != null) {
        return OptionalDouble.of(lr);
      }
    }
    return metadata.learningRate();
  }

  private boolean adaptive() {
    String optimizer = metadata.optimizer().orElse("").toLowerCase(Locale.ROOT);
    return optimizer.contains("adam")
        || optimizer.contains("rmsprop")
        || optimizer.contains("adagrad");
  }

  private boolean hasNonlinearHiddenLayer() {
    for (int i = 0; i < context.layerCount() - 1; i++) {
      Layer layer = context.layer(i);
      String a = layer.activation();
      if (a != null && !a.equalsIgnoreCase("linear") && !a.equalsIgnoreCase("identity")) {
        return true;
      }
      if (a == null && context.layerCount() > 1) {
        return true;
      }
    }
    return false;
  }

  private static String string(Finding f, EvidenceKey<String> key) {
    return Causes.text(f, key);
  }

  private static double real(Finding f, EvidenceKey<Double> key) {
    return Causes.real(f, key);
  }

  private static long number(Finding f, EvidenceKey<Long> key) {
    return Causes.number(f, key);
  }

  /** 3.7e4 as "10^4.6" would be unreadable: orders of magnitude above 1e4 read as 10^k. */
  static String magnitude(double factor) {
    if (factor >= 1e4 && Double.isFinite(factor)) {
      return "10^" + (long) Math.floor(Math.log10(factor));
    }
    return Numbers.format(factor);
  }
}
