package io.dlanalyze.analyzer.engine;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.text.Numbers;
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
public final class RootCauseAnalysis {
  private static final int MAX_ALTERNATIVES = 3;

  private final List<Finding> findings;
  private final AnalysisContext context;
  private final TraceMetadata metadata;
  private final List<RootCause.Alternative> alternatives = new ArrayList<>();
  private RootCause primary;

  private RootCauseAnalysis(List<Finding> findings, AnalysisContext context) {
    this.findings = findings;
    this.context = context;
    this.metadata = context.metadata();
  }

  /** The root cause of ranked, resolved findings, or null when none is warning or more. */
  public static RootCause analyze(List<Finding> ranked, AnalysisContext context) {
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
      offer(
          top,
          layerScope(top),
          RootCauseSelector.symptomPhrase(top.symptom()) + ": " + top.message(),
          RootCauseSelector.suggestedFix(top));
    }
    return primary.withAlternatives(alternatives);
  }

  // ---- rules -------------------------------------------------------------------------------

  private void targetMismatch() {
    for (Finding f : atLeastWarning("target-range")) {
      String rule = string(f, "rule");
      String layer = f.layerName();
      switch (rule) {
        case "constant_targets" ->
            offer(
                f,
                false,
                format(
                    ROOT,
                    "The targets are constant: every label in %d steps was %s, so nothing can be"
                        + " learned from them",
                    number(f, "target_steps"),
                    Numbers.format(real(f, "target_value"))),
                "Fix the label preprocessing (a division or a cast that turned every label into the"
                    + " same value) so the targets keep their classes");
        case "single_unit_softmax" ->
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
        case "relu_output_cross_entropy" ->
            offer(
                f,
                true,
                format(
                    ROOT,
                    "The output layer %s uses ReLU under a %s loss: an all-zero output row gives"
                        + " log(0) or 0/0",
                    layer,
                    string(f, "loss")),
                format(
                    ROOT,
                    "Use softmax (one unit per class) or sigmoid (binary) on %s instead of ReLU",
                    layer));
        case "targets_outside_activation_range" -> {
          String act = string(f, "output_activation");
          offer(
              f,
              true,
              format(
                  ROOT,
                  "The output layer %s ends in %s, whose range is [%s, %s], but the targets span"
                      + " [%s, %s]",
                  layer,
                  act,
                  Numbers.format(real(f, "activation_low")),
                  Numbers.format(real(f, "activation_high")),
                  Numbers.format(real(f, "target_min")),
                  Numbers.format(real(f, "target_max"))),
              act.equals("relu")
                  ? format(
                      ROOT,
                      "Use a linear (or tanh, for targets in [-1, 1]) output on %s instead of ReLU",
                      layer)
                  : format(
                      ROOT,
                      "Use a linear output on %s, or scale the targets into [%s, %s]",
                      layer,
                      Numbers.format(real(f, "activation_low")),
                      Numbers.format(real(f, "activation_high"))));
        }
        default -> {}
      }
    }
  }

  private void growthBeforeNonFinite() {
    for (Finding f : atLeastWarning("exploding-gradient")) {
      if (!"growth".equals(string(f, "rule"))) {
        continue;
      }
      Object nonFinite = f.evidence().get("first_non_finite_step");
      String tail =
          nonFinite != null ? format(ROOT, " before the first NaN/Inf at step %s", nonFinite) : "";
      long steps = number(f, "growth_steps");
      String growth =
          format(
              ROOT,
              "the gradient norm of %s grew %sx in %d %s%s",
              f.layerName(),
              magnitude(real(f, "growth")),
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
      Finding inputs = strongest("input-range");
      String scale =
          inputs == null
              ? ""
              : format(
                  ROOT,
                  "; the inputs are not normalized (range [%s, %s]), scale them too",
                  Numbers.format(real(inputs, "input_min")),
                  Numbers.format(real(inputs, "input_max")));
      if (early && lr.isPresent() && lr.getAsDouble() < 0.05) {
        offer(
            f,
            false,
            "Weights initialized too large: "
                + growth
                + " from the first steps at a small learning rate ("
                + Numbers.format(lr.getAsDouble())
                + ")",
            capitalize(initFix) + scale);
        offer(f, false, "Learning rate too high: " + growth, capitalize(lrFix) + scale);
      } else {
        offer(f, false, "Learning rate too high: " + growth, capitalize(lrFix) + scale);
        offer(f, false, "Weights initialized too large: " + growth, capitalize(initFix) + scale);
      }
    }
  }

  private void numericalError() {
    for (Finding f : atLeastWarning("numerical-error")) {
      offer(
          f,
          layerScope(f),
          RootCauseSelector.symptomPhrase(f.symptom())
              + ": "
              + lowerFirst(stripPeriod(f.message())),
          RootCauseSelector.suggestedFix(f));
    }
  }

  private void unnormalizedInputs() {
    for (Finding f : atLeastWarning("input-range")) {
      offer(
          f,
          false,
          format(
              ROOT,
              "The inputs are not normalized: they range over [%s, %s] (mean %s, std %s) and the"
                  + " outputs of %s reached an RMS of %s",
              Numbers.format(real(f, "input_min")),
              Numbers.format(real(f, "input_max")),
              Numbers.format(real(f, "input_mean")),
              Numbers.format(real(f, "input_std")),
              string(f, "first_layer"),
              Numbers.format(real(f, "first_layer_rms"))),
          real(f, "input_min") >= 0 && real(f, "input_max") > 1
              ? format(
                  ROOT,
                  "Scale the inputs into [0, 1] (divide by %s) or standardize them to mean 0, std"
                      + " 1",
                  Numbers.format(real(f, "input_max")))
              : "Standardize the inputs to mean 0, std 1 (e.g. StandardScaler) before training");
    }
  }

  private void learningRateTooHigh() {
    Finding oscillation = strongest("oscillating-loss");
    Finding weights = highWeights();
    Finding effective = effectiveLr("high");
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
                oscillation.evidence().get("swings"),
                Numbers.percent(0.5),
                Numbers.format(real(oscillation, "min_block_loss")),
                Numbers.format(real(oscillation, "max_block_loss"))));
    if (weights != null) {
      why.append(
          format(
              ROOT,
              "; the weight variance of %s grew from %s to %s",
              weights.layerName(),
              Numbers.format(real(weights, "initial_variance")),
              Numbers.format(real(weights, "max_variance"))));
    }
    Finding dying = strongest("dying-relu");
    Finding anchor = dying != null ? dying : oscillation;
    if (dying != null) {
      why.append(
          format(
              ROOT,
              "; %s of the ReLU units of %s died from step %d",
              Numbers.percent(real(dying, "mean_zero_fraction")),
              dying.layerName(),
              dying.firstStep()));
    }
    offer(anchor, dying != null, "Learning rate too high: " + why, lrFix(10));
  }

  private void dyingRelu() {
    for (Finding f : atLeastWarning("dying-relu")) {
      String cause =
          format(
              ROOT,
              "The ReLU units of %s died: %s of its outputs were exactly zero for %d steps from"
                  + " step %d (%s at the start)",
              f.layerName(),
              Numbers.percent(real(f, "mean_zero_fraction")),
              number(f, "run_steps"),
              f.firstStep(),
              Numbers.percent(real(f, "initial_zero_fraction")));
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
    for (Finding f : atLeastWarning("saturation")) {
      Finding inputs = strongest("input-range");
      String cause =
          format(
              ROOT,
              "The %s layer %s saturated from step %d: %s",
              string(f, "activation"),
              f.layerName(),
              f.firstStep(),
              lowerFirst(stripPeriod(f.message().substring(f.message().indexOf(':') + 2))));
      String fix =
          inputs != null
              ? format(
                  ROOT,
                  "Normalize the inputs (they range over [%s, %s])",
                  Numbers.format(real(inputs, "input_min")),
                  Numbers.format(real(inputs, "input_max")))
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
                      string(f, "activation"),
                      f.layerName());
      offer(f, true, cause, fix);
    }
  }

  private void vanishing() {
    for (Finding f : atLeastWarning("vanishing-gradient")) {
      int saturating = 0;
      for (int i = 0; i < context.layerCount() - 1; i++) {
        String a = context.layer(i).activation();
        if (a != null && (a.equalsIgnoreCase("sigmoid") || a.equalsIgnoreCase("tanh"))) {
          saturating++;
        }
      }
      String cause = "Vanishing gradients: " + lowerFirst(stripPeriod(f.message()));
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
    for (Finding f : atLeastWarning("dead-or-zero")) {
      offer(
          f,
          true,
          RootCauseSelector.symptomPhrase(f.symptom())
              + ": "
              + lowerFirst(stripPeriod(f.message())),
          RootCauseSelector.suggestedFix(f));
    }
    for (Finding f : atLeastWarning("unchanged-values")) {
      offer(
          f,
          true,
          RootCauseSelector.symptomPhrase(f.symptom())
              + ": "
              + lowerFirst(stripPeriod(f.message())),
          RootCauseSelector.suggestedFix(f));
    }
  }

  private void notLearning() {
    Finding low = effectiveLr("low");
    for (Finding f : atLeastWarning("not-converging")) {
      if ("loss_at_target_variance".equals(string(f, "rule")) && !hasNonlinearHiddenLayer()) {
        offer(
            f,
            false,
            "The model is too simple for the data: "
                + lowerFirst(stripPeriod(f.message()))
                + format(
                    ROOT, "; its %d layer(s) have no hidden non-linearity", context.layerCount()),
            "Add a hidden layer with a non-linear activation (e.g. ReLU) between the input and the"
                + " output");
      } else {
        offer(
            f,
            false,
            RootCauseSelector.symptomPhrase(f.symptom())
                + ": "
                + lowerFirst(stripPeriod(f.message())),
            notLearningFix(low));
      }
    }
    for (String id :
        List.of(
            "not-learning",
            "slow-convergence",
            "effective-learning-rate",
            "oscillating-loss",
            "weight-variance")) {
      for (Finding f : atLeastWarning(id)) {
        String fix =
            id.equals("oscillating-loss")
                    || id.equals("weight-variance")
                    || "high".equals(string(f, "direction"))
                ? lrFix(10)
                : notLearningFix(low);
        offer(
            f,
            false,
            RootCauseSelector.symptomPhrase(f.symptom())
                + ": "
                + lowerFirst(stripPeriod(f.message())),
            fix);
      }
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  private String notLearningFix(Finding low) {
    OptionalDouble lr = learningRate();
    if (low != null
        && low.evidence().get("suggested_learning_rate") instanceof Double suggested
        && lr.isPresent()) {
      return format(
          ROOT,
          "Raise the learning rate from %s to about %s (the updates are %s of the weights), or"
              + " switch to Adam",
          Numbers.format(lr.getAsDouble()),
          Numbers.format(suggested),
          Numbers.format(real(low, "effective_lr")));
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
              stripPeriod(cause),
              fix,
              anchor.symptom().wireName(),
              rank,
              List.of());
      return;
    }
    if (alternatives.size() >= MAX_ALTERNATIVES || stripPeriod(cause).equals(primary.cause())) {
      return;
    }
    for (RootCause.Alternative a : alternatives) {
      if (a.cause().equals(stripPeriod(cause))) {
        return;
      }
    }
    alternatives.add(
        new RootCause.Alternative(stripPeriod(cause), fix, anchor.symptom().wireName(), rank));
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
      if (f.detector().equals("weight-variance") && "high".equals(string(f, "direction"))) {
        return f;
      }
    }
    return null;
  }

  private Finding effectiveLr(String direction) {
    for (Finding f : findings) {
      if (f.detector().equals("effective-learning-rate")
          && direction.equals(string(f, "direction"))) {
        return f;
      }
    }
    return null;
  }

  private OptionalDouble learningRate() {
    for (Finding f : findings) {
      if (f.evidence().get("learning_rate") instanceof Double lr) {
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

  private static String string(Finding f, String name) {
    Object v = f.evidence().get(name);
    return v == null ? "" : v.toString();
  }

  private static double real(Finding f, String name) {
    return f.evidence().get(name) instanceof Number n ? n.doubleValue() : Double.NaN;
  }

  private static long number(Finding f, String name) {
    return f.evidence().get(name) instanceof Number n ? n.longValue() : -1;
  }

  /** 3.7e4 as "10^4.6" would be unreadable: orders of magnitude above 1e4 read as 10^k. */
  static String magnitude(double factor) {
    if (factor >= 1e4 && Double.isFinite(factor)) {
      return "10^" + (long) Math.floor(Math.log10(factor));
    }
    return Numbers.format(factor);
  }

  private static String stripPeriod(String text) {
    return text.endsWith(".") ? text.substring(0, text.length() - 1) : text;
  }

  private static String capitalize(String text) {
    return text.isEmpty() ? text : Character.toUpperCase(text.charAt(0)) + text.substring(1);
  }

  private static String lowerFirst(String text) {
    if (text.length() > 1
        && Character.isUpperCase(text.charAt(0))
        && !Character.isUpperCase(text.charAt(1))) {
      return Character.toLowerCase(text.charAt(0)) + text.substring(1);
    }
    return text;
  }
}
