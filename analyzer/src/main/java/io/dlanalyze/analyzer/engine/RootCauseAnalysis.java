package io.dlanalyze.analyzer.engine;

import static io.dlanalyze.analyzer.EvidenceKeys.ACTIVATION;
import static io.dlanalyze.analyzer.EvidenceKeys.ACTIVATION_HIGH;
import static io.dlanalyze.analyzer.EvidenceKeys.ACTIVATION_LOW;
import static io.dlanalyze.analyzer.EvidenceKeys.BEFORE_FIRST_UPDATE;
import static io.dlanalyze.analyzer.EvidenceKeys.COLLAPSED_SHARE;
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
import static io.dlanalyze.analyzer.EvidenceKeys.KIND;
import static io.dlanalyze.analyzer.EvidenceKeys.LEARNING_RATE;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.LOSS_STALLED;
import static io.dlanalyze.analyzer.EvidenceKeys.LOWEST_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.MAX_VARIANCE;
import static io.dlanalyze.analyzer.EvidenceKeys.MEAN_ZERO_FRACTION;
import static io.dlanalyze.analyzer.EvidenceKeys.MIN_BLOCK_LOSS;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_ACTIVATION;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTSIDE_OPTIMIZER;
import static io.dlanalyze.analyzer.EvidenceKeys.RUN_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.SUGGESTED_LEARNING_RATE;
import static io.dlanalyze.analyzer.EvidenceKeys.SWINGS;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MAX;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_MIN;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_STD;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_VALUE;
import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.ActivationKind;
import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.EvidenceKey;
import io.dlanalyze.analyzer.EvidenceKeys.ConvergenceRule;
import io.dlanalyze.analyzer.EvidenceKeys.Direction;
import io.dlanalyze.analyzer.EvidenceKeys.GradientRule;
import io.dlanalyze.analyzer.EvidenceKeys.LossRule;
import io.dlanalyze.analyzer.EvidenceKeys.TargetRule;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.LossFunction;
import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.Optimizers;
import io.dlanalyze.analyzer.RecordedPhases;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.analyzer.text.Phrases;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalDouble;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Turns the ranked findings into one most likely cause with a concrete fix, plus the other
 * candidate causes. Starts from DeepDiagnosis' fix decision tree (docs/references.md#deepdiagnosis:
 * poor weights, then unnormalized inputs, then the learning rate, then the activation) and uses the
 * evidence the findings carry instead of a fixed order of guesses:
 *
 * <ol>
 *   <li>an output that cannot match its targets (target-range) explains everything after it;
 *   <li>weight gradients that add up across steps (gradient-accumulation) point at the training
 *       loop, a missing {@code zero_grad()};
 *   <li>gradients that grew by orders of magnitude before the first NaN/Inf point at the learning
 *       rate or the initialization, with the growth quoted;
 *   <li>outputs confidently wrong from the first step on inputs out of scale: the data scaling;
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

  /**
   * How far, as a share of the inputs' span, each end of the targets' range may lie from the
   * inputs' for both to count as the same data.
   */
  private static final double SAME_SPAN = 0.05;

  /** Layer-level harms that updates too large for the weights lead to. */
  private static final Set<String> LAYER_HARMS =
      Set.of(
          DetectorIds.VANISHING_GRADIENT,
          DetectorIds.DYING_RELU,
          DetectorIds.DEAD_OR_ZERO,
          DetectorIds.SATURATION,
          DetectorIds.UNCHANGED_VALUES);

  private final List<Finding> findings;
  private final AnalysisContext context;
  private final TraceMetadata metadata;
  private final Causes causes;
  private final List<RootCause.Alternative> alternatives = new ArrayList<>();
  private @Nullable RootCause primary;

  private RootCauseAnalysis(List<Finding> findings, AnalysisContext context) {
    this.findings = findings;
    this.context = context;
    this.metadata = context.metadata();
    this.causes = new Causes(context.options());
  }

  /** The root cause of ranked, resolved findings, or null when none is warning or more. */
  static @Nullable RootCause analyze(List<Finding> ranked, AnalysisContext context) {
    return new RootCauseAnalysis(ranked, context).run();
  }

  private @Nullable RootCause run() {
    Finding top = first(null, null);
    if (top == null) {
      return null;
    }
    targetMismatch(EnumSet.of(TargetRule.SINGLE_UNIT_SOFTMAX));
    lossDefinition();
    inferenceModeNormalization();
    dataScale();
    targetMismatch(EnumSet.complementOf(EnumSet.of(TargetRule.SINGLE_UNIT_SOFTMAX)));
    gradientAccumulation();
    optimizerHoldsNothing();
    growthBeforeNonFinite();
    updateBlewUp();
    confidentlyWrongOnUnscaledInputs();
    unscaledInputsOverflow();
    climbIntoNonFinite();
    numericalError();
    weightsPulledToZero();
    weightDecayTooStrong();
    unshuffledBatches();
    // After the numerical errors: stacked linear layers make a weak model, they do not make NaN.
    missingActivation();
    unnormalizedInputs();
    learningRateTooHigh();
    learningRateTooHighWithoutProgress();
    initialLoss();
    constantInitialization();
    learningRateCollapsed();
    dyingRelu();
    saturation();
    vanishing();
    nothingUpdates();
    deadOrUnchanged();
    // After the layers whose values stopped changing: one that was not frozen on purpose is the
    // more specific evidence.
    frozenLayer();
    notLearning();
    heldOutDivergence();
    if (primary == null) {
      offer(top, layerScope(top), symptomCause(top), RootCauseSelector.suggestedFix(top));
    }
    return requireNonNull(primary, "offer() sets it").withAlternatives(alternatives);
  }

  // ---- rules -------------------------------------------------------------------------------

  /** A loss that contradicts its own definition: the configuration, not a layer, is at fault. */
  private void lossDefinition() {
    for (Finding f : atLeastWarning(DetectorIds.LOSS_DEFINITION)) {
      LossRule rule = f.evidence().get(LOSS_RULE);
      if (rule == null) {
        continue;
      }
      String fix =
          switch (rule) {
            case BELOW_FLOOR ->
                "Check the labels and the output against the loss: a binary cross-entropy needs"
                    + " targets in [0, 1], NLLLoss needs log_softmax outputs, a categorical"
                    + " cross-entropy needs class indices or one-hot targets";
            case TARGETS_OUTSIDE_LOSS_RANGE ->
                "Map the labels into {0, 1} (e.g. y - 1 for labels 1 and 2), or use a"
                    + " categorical cross-entropy with one output unit per class";
            case LOGITS_LOSS_ON_PROBABILITIES ->
                "Remove the softmax/sigmoid from the output layer (the loss applies it), or use"
                    + " a loss that takes probabilities";
            case PROBABILITY_LOSS_ON_LOGITS ->
                LossFunction.of(metadata) == LossFunction.NLL_ON_LOG_PROBABILITIES
                    ? "End the model in log_softmax, or use CrossEntropyLoss on the raw scores"
                    : "End the model in softmax (sigmoid for one unit), or pass"
                        + " from_logits=True to the loss";
            case REGRESSION_LOSS_ON_SOFTMAX ->
                "Use a cross-entropy loss for classification (sparse/categorical"
                    + " cross-entropy, or CrossEntropyLoss on the raw scores)";
            case BINARY_LOSS_MULTICLASS ->
                "Use a categorical cross-entropy with one output unit per class (softmax, or"
                    + " CrossEntropyLoss on raw scores)";
          };
      offer(f, false, "Loss does not fit the model: " + uncapitalizedMessage(f), fix);
    }
  }

  /**
   * The weight gradients added up across steps: they are never reset (a missing {@code
   * optimizer.zero_grad()}), a fault of the training loop, so model scope. When layers with
   * gradients are outside the optimizer, its zero_grad() never resets them: the frozen-layer rule
   * says more.
   */
  private void gradientAccumulation() {
    for (Finding f : atLeastWarning(DetectorIds.GRADIENT_ACCUMULATION)) {
      String outside = f.evidence().get(OUTSIDE_OPTIMIZER);
      if (outside != null && !outside.isEmpty()) {
        continue;
      }
      offer(
          f,
          false,
          "Gradients are never reset between steps: " + uncapitalizedMessage(f),
          "Call optimizer.zero_grad() (or model.zero_grad()) once per step, before"
              + " loss.backward(); to accumulate on purpose over k micro-batches, step and zero"
              + " every k batches and divide the loss by k");
    }
  }

  /**
   * Every layer with recorded weights requires gradients, and the metadata says the optimizer holds
   * none of their parameters: it was built from other parameters (an earlier instance of the model,
   * or before the layers were replaced), so nothing trains. A model-level cause, whichever layer
   * shows it first.
   */
  private void optimizerHoldsNothing() {
    int layers = 0;
    for (Layer layer : context.layers()) {
      if (context.slot(layer.index(), Phase.WEIGHT) < 0) {
        continue;
      }
      LayerInfo info = metadata.layer(layer.index()).orElse(null);
      if (info == null || !info.trainable() || info.inOptimizer()) {
        return;
      }
      layers++;
    }
    if (layers == 0) {
      return;
    }
    for (Finding f : findings) {
      if (f.severity().atLeast(Severity.WARNING)
          && (f.symptom() == Symptom.UNCHANGED_VALUES || f.symptom() == Symptom.NOT_LEARNING)) {
        offer(
            f,
            false,
            Symptom.UNCHANGED_VALUES,
            format(
                ROOT,
                "The optimizer holds none of the model's parameters: the %d layers with weights"
                    + " all require gradients, and the optimizer updates none of them (%s)",
                layers,
                uncapitalizedMessage(f).replaceAll("[.]$", "")),
            "Build the optimizer from the parameters of the model that trains"
                + " (model.parameters()), after the model is final: not from an earlier instance,"
                + " and not before layers are replaced or added");
        return;
      }
    }
  }

  /** A normalization layer left in inference mode: the fault is in that layer. */
  private void inferenceModeNormalization() {
    for (Finding f : atLeastWarning(DetectorIds.LAYER_MODE)) {
      if (f.symptom() == Symptom.SATURATION) {
        offer(
            f,
            true,
            "Normalization disabled: " + uncapitalizedMessage(f),
            format(
                ROOT,
                "Let %s normalize with batch statistics while training (PyTorch: call"
                    + " model.train() before the training loop and do not switch the layer to"
                    + " eval(); Keras: keep it trainable and do not call it with"
                    + " training=False), or scale the inputs before it",
                f.layerName()));
      }
    }
  }

  /**
   * A run that does not learn, with frozen layers: the frozen output layer (nothing can adapt the
   * output), else the last frozen layer, is the suspect.
   */
  private void frozenLayer() {
    Finding frozen = null;
    for (Finding f : findings) {
      if (f.detector().equals(DetectorIds.LAYER_MODE) && f.symptom() == Symptom.UNCHANGED_VALUES) {
        frozen = f;
      }
    }
    if (frozen == null || frozen.isModelLevel()) {
      return;
    }
    boolean stuck = false;
    for (Finding f : findings) {
      stuck |=
          f.severity().atLeast(Severity.WARNING)
              && (f.symptom() == Symptom.NOT_LEARNING
                  || f.symptom() == Symptom.SLOW_CONVERGENCE
                  || f.symptom() == Symptom.UNCHANGED_VALUES);
    }
    if (!stuck) {
      return;
    }
    offer(
        frozen,
        true,
        format(
            ROOT,
            "A frozen layer: %s is never updated while the run does not learn (%s)",
            frozen.layerName(),
            uncapitalizedMessage(frozen)),
        format(
            ROOT,
            "Unfreeze %s (trainable=True / requires_grad=True, and create the optimizer after"
                + " adding it so that it holds its parameters); freeze only the pre-trained"
                + " layers",
            frozen.layerName()));
  }

  /**
   * A first loss far above a uniform guess's: the initialization (or, when the metadata lists a
   * weight penalty, the penalty itself, which Keras adds to the loss) is the model-level cause.
   */
  private void initialLoss() {
    for (Finding f : atLeastWarning(DetectorIds.INITIAL_LOSS)) {
      // Only a penalty the framework adds to the loss raises the first loss: a layer's kernel or
      // activity regularizer (Keras). An optimizer's weight_decay (PyTorch, Keras AdamW) changes
      // the update, not the loss value.
      boolean penalty = metadata.layers().stream().anyMatch(l -> l.regularizer() != null);
      if (penalty) {
        offer(
            f,
            false,
            Symptom.NOT_LEARNING,
            "Regularization dominates: "
                + uncapitalizedMessage(f).replaceAll("[.]$", "")
                + "; the weight penalty is part of that loss",
            "Lower the weight penalty (L2 factor or weight_decay) by 100x or more, to about 1e-4");
      } else {
        offer(
            f,
            false,
            "Initialization too large: " + uncapitalizedMessage(f),
            "Initialize the weights with He (ReLU) or Glorot (tanh/sigmoid) scaling, and check"
                + " that the inputs are standardized");
      }
    }
  }

  /**
   * A first loss far above a uniform guess's (initial-loss) while the inputs are not normalized
   * (input-range, at any severity) and no layer penalty is in the loss: the outputs were
   * confidently wrong from the first step because the inputs were out of scale, and that explains
   * what follows (a NaN a few steps later, dead or saturated units). initial-loss names two causes,
   * weights initialized too large or inputs out of scale; the trace tells them apart by the inputs.
   * Its symptom is {@link #harmOfUnscaledInputs}.
   */
  private void confidentlyWrongOnUnscaledInputs() {
    Finding inputs = strongest(DetectorIds.INPUT_RANGE);
    if (inputs == null || metadata.layers().stream().anyMatch(l -> l.regularizer() != null)) {
      return;
    }
    for (Finding f : atLeastWarning(DetectorIds.INITIAL_LOSS)) {
      offer(
          f,
          false,
          harmOfUnscaledInputs(),
          notNormalized(inputs) + ", and " + uncapitalizedMessage(f),
          scaleInputsFix(inputs));
    }
  }

  /** "The inputs are not normalized: they range over [min, max] (mean m, std s)". */
  private static String notNormalized(Finding inputs) {
    return format(
        ROOT,
        "The inputs are not normalized: they range over [%s, %s] (mean %s, std %s)",
        Numbers.format(real(inputs, INPUT_MIN)),
        Numbers.format(real(inputs, INPUT_MAX)),
        Numbers.format(real(inputs, INPUT_MEAN)),
        Numbers.format(real(inputs, INPUT_STD)));
  }

  /** Divide non-negative inputs by their maximum, else standardize them. */
  private static String scaleInputsFix(Finding inputs) {
    return real(inputs, INPUT_MIN) >= 0 && real(inputs, INPUT_MAX) > 1
        ? format(
            ROOT,
            "Scale the inputs into [0, 1] (divide by %s) or standardize them to mean 0, std 1",
            Numbers.format(real(inputs, INPUT_MAX)))
        : "Standardize the inputs to mean 0, std 1 (e.g. StandardScaler) before training";
  }

  /**
   * The symptom of a data-scaling cause (inputs, or a regression's targets): numerical_error when
   * values turned NaN/Inf, else saturation, whatever units died or gradients grew on the way:
   * inputs far outside the range the network expects are one class (the corpus's labelling rules),
   * so every run whose cause is the data's scale lands in one row of a results table.
   */
  private Symptom harmOfUnscaledInputs() {
    return first(DetectorIds.NUMERICAL_ERROR, null) != null
        ? Symptom.NUMERICAL_ERROR
        : Symptom.SATURATION;
  }

  /** Stacked linear layers: a model-level design fault. */
  private void missingActivation() {
    for (Finding f : atLeastWarning(DetectorIds.MISSING_ACTIVATION)) {
      offer(
          f,
          false,
          "No non-linearity: " + uncapitalizedMessage(f),
          "Add a non-linear activation (e.g. ReLU) after each hidden layer");
    }
  }

  /**
   * Unnormalized inputs whose range also covers the targets (an autoencoder, or a model that
   * predicts its own inputs): one data-scaling fix repairs both, so it comes before the output
   * layer's range. Inputs that blew up the first layer (input-range at warning) need only cover the
   * targets; inputs out of range at info must span the same range as the targets, each end within
   * {@link #SAME_SPAN} of the inputs' span: the same data, read and predicted.
   */
  private void dataScale() {
    Finding inputs = strongest(DetectorIds.INPUT_RANGE);
    if (inputs == null) {
      return;
    }
    boolean blewUp = inputs.severity().atLeast(Severity.WARNING);
    for (Finding f : atLeastWarning(DetectorIds.TARGET_RANGE)) {
      if (f.evidence().get(TARGET_RULE) != TargetRule.TARGETS_OUTSIDE_ACTIVATION_RANGE) {
        continue;
      }
      double inMin = real(inputs, INPUT_MIN);
      double inMax = real(inputs, INPUT_MAX);
      double tMin = real(f, TARGET_MIN);
      double tMax = real(f, TARGET_MAX);
      double span = Math.abs(inMax - inMin);
      double slack = 1e-6 * Math.max(1, span);
      boolean within = tMin >= inMin - slack && tMax <= inMax + slack;
      // The targets span what the inputs span: the same data are read and predicted (an
      // autoencoder, a forecaster of its own inputs), so their scale is the fault even when the
      // first layer took it without blowing up.
      boolean sameData =
          span > 0
              && Math.abs(tMin - inMin) <= SAME_SPAN * span
              && Math.abs(tMax - inMax) <= SAME_SPAN * span;
      if ((blewUp && within) || sameData) {
        offer(
            f,
            false,
            format(
                ROOT,
                "The data are not scaled: the inputs range over [%s, %s] and the targets over"
                    + " [%s, %s], beyond what the output layer %s (%s) can produce",
                Numbers.format(inMin),
                Numbers.format(inMax),
                Numbers.format(tMin),
                Numbers.format(tMax),
                f.layerName(),
                string(f, OUTPUT_ACTIVATION)),
            format(
                ROOT,
                "Scale the inputs and the targets into [0, 1] (divide by %s)",
                Numbers.format(
                    Math.max(
                        Math.max(Math.abs(inMax), Math.abs(inMin)),
                        Math.max(Math.abs(tMax), Math.abs(tMin))))));
      }
    }
  }

  /**
   * An output that cannot match its targets. A softmax over one unit comes first of all (no
   * gradient reaches any layer, whatever the loss); the other rules after the loss's own
   * definition.
   */
  private void targetMismatch(Set<TargetRule> rules) {
    for (Finding f : atLeastWarning(DetectorIds.TARGET_RANGE)) {
      TargetRule rule = f.evidence().get(TARGET_RULE);
      String layer = f.layerName();
      if (rule == null || !rules.contains(rule)) {
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
        case UNSCALED_REGRESSION_TARGETS ->
            offer(
                f,
                false,
                harmOfUnscaledInputs(),
                format(
                    ROOT,
                    "The regression targets are not scaled (mean %s, std %s in the first batch):"
                        + " the model starts that far off and the error's gradients are scaled by"
                        + " them",
                    Numbers.format(real(f, TARGET_MEAN)),
                    Numbers.format(real(f, TARGET_STD))),
                "Standardize the targets with the training split's mean and std (a"
                    + " StandardScaler, or dividing by a known unit), and scale the predictions"
                    + " back for reporting");
      }
    }
  }

  private void growthBeforeNonFinite() {
    Finding nan = first(DetectorIds.NUMERICAL_ERROR, null);
    for (Finding f : atLeastWarning(DetectorIds.EXPLODING_GRADIENT)) {
      if (f.evidence().get(GRADIENT_RULE) != GradientRule.GROWTH) {
        continue;
      }
      if (nan != null && nan.firstStep() < f.firstStep()) {
        // the values were NaN/Inf before the gradients grew: the growth did not make them
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
              Numbers.magnitude(real(f, GROWTH)),
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
      Double lowest = f.evidence().get(LOWEST_LOSS);
      if (lowest != null) {
        // How such a run shows: it minimizes a loss that measures nothing, so the model does not
        // learn its task; the growing gradients follow from the loss's scale.
        offer(
            f,
            false,
            Symptom.NOT_LEARNING,
            format(
                ROOT,
                "The loss has no lower bound: it fell to %s, and %s",
                Numbers.format(lowest),
                growth),
            "Check the loss's sign and its bound: a hinge (max(0, ...)) or clamp left out, or a"
                + " term subtracted that should be added, lets the loss fall forever and the"
                + " weights and gradients grow with it");
      }
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

  /**
   * NaN/Inf that first appears after an update, in a run whose weights had just grown by orders of
   * magnitude in one or a few updates: the update size (learning rate, no clipping) is the cause,
   * not the layer where the NaN surfaced.
   */
  private void updateBlewUp() {
    Finding nan = first(DetectorIds.NUMERICAL_ERROR, null);
    Finding growth = highWeights();
    Finding effective = effectiveLr(Direction.HIGH);
    if (nan == null || nan.firstStep() <= firstStep()) {
      return;
    }
    Finding evidence = effective != null ? effective : growth;
    if (evidence == null || evidence.firstStep() > nan.firstStep()) {
      return;
    }
    String why = uncapitalizedMessage(evidence).replaceAll("[.]$", "");
    offer(
        evidence,
        false,
        Symptom.EXPLODING_GRADIENT,
        evidence.evidence().get(FIRST_NON_FINITE_STEP) != null
            ? "Updates too large: " + why
            : format(
                ROOT,
                "Updates too large: %s, and the values turned NaN/Inf at step %d",
                why,
                nan.firstStep()),
        lrFix(100) + ", or clip gradients at 1.0");
  }

  /**
   * Every layer with parameters stopped changing (or never changed) from the same first steps: the
   * optimizer does not update the model (a learning rate of 0, a schedule that rounds to 0, a
   * missing optimizer.step(), everything frozen), a model-level cause.
   */
  private void nothingUpdates() {
    List<Finding> unchanged = new ArrayList<>();
    for (Finding f : atLeastWarning(DetectorIds.UNCHANGED_VALUES)) {
      if (f.phase() == Phase.WEIGHT && f.firstStep() <= firstStep() + 1) {
        unchanged.add(f);
      }
    }
    // a layer whose outputs stopped changing too has one finding, on its first phase, with its
    // weights among the consequences (an embedding table that nothing updates)
    for (Finding f : atLeastWarning(DetectorIds.UNCHANGED_VALUES)) {
      if (f.phase() != Phase.WEIGHT && weightsUnchangedFromTheStart(f)) {
        unchanged.add(f);
      }
    }
    if (!coversEveryParameterLayer(unchanged)) {
      someLayersNeverUpdate(unchanged);
      everyLayerStops();
      return;
    }
    OptionalDouble lr = learningRate();
    offer(
        unchanged.get(0),
        false,
        format(
            ROOT,
            "No layer's weights ever change: the weights of all %d layers with parameters stayed"
                + " the same from step %d (learning rate %s)",
            unchanged.size(),
            unchanged.get(0).firstStep(),
            lr.isPresent() ? Numbers.format(lr.getAsDouble()) : "not recorded"),
        "Check that the optimizer steps with a non-zero learning rate: a schedule or warm-up that"
            + " rounds the rate to 0 (integer division) or starts at 0 and is never stepped (a"
            + " missing scheduler.step()), a missing optimizer.step(), or every parameter frozen");
  }

  /**
   * Every layer with parameters trained for a while, then its weights stopped changing, all of them
   * within {@code window} observations of each other and none changing again to the end of the run:
   * one cause shared by the whole model, the learning rate taken away (a schedule decayed per batch
   * where it was meant per epoch, decay steps counted in epochs, a rate divided at every step), not
   * one layer cut off from its optimizer. A layer-level cause (a frozen or dead layer) stops its
   * own layer and leaves the others training. With the learning rate recorded,
   * effective-learning-rate names the schedule first; this rule is for traces without it.
   */
  private void everyLayerStops() {
    List<Finding> stopped = new ArrayList<>();
    for (Finding f : atLeastWarning(DetectorIds.UNCHANGED_VALUES)) {
      if (f.phase() == Phase.WEIGHT && f.occurrences() >= 2) {
        stopped.add(f);
      }
    }
    if (!coversEveryParameterLayer(stopped)) {
      return;
    }
    // the steps between two observations of a weight (the recorder may record every k steps)
    long interval = Long.MAX_VALUE;
    long first = Long.MAX_VALUE;
    long lastOnset = Long.MIN_VALUE;
    long end = Long.MIN_VALUE;
    for (Finding f : stopped) {
      interval =
          Math.min(interval, Math.max(1, (f.lastStep() - f.firstStep()) / (f.occurrences() - 1)));
      first = Math.min(first, f.firstStep());
      lastOnset = Math.max(lastOnset, f.firstStep());
      end = Math.max(end, f.lastStep());
    }
    long span = context.options().getInt(Thresholds.WINDOW) * interval;
    LossHistory history = context.lossHistory();
    long runEnd = history.size() > 0 ? Math.max(end, history.step(history.size() - 1)) : end;
    if (first <= firstStep() + 1 || lastOnset - first > span || end < runEnd - span) {
      return;
    }
    for (Finding f : stopped) {
      if (f.lastStep() < end - interval) {
        return; // a layer changed again after it stopped
      }
    }
    Finding anchor = stopped.get(0);
    OptionalDouble lr = learningRate();
    offer(
        anchor,
        false,
        format(
            ROOT,
            "Every layer stopped training at once: the weights of all %d layers with parameters"
                + " stopped changing between steps %d and %d and never changed again (configured"
                + " learning rate %s)",
            stopped.size(),
            first,
            lastOnset,
            lr.isPresent() ? Numbers.format(lr.getAsDouble()) : "not recorded"),
        "Check the learning-rate schedule: a decay stepped per batch where it was meant per epoch"
            + " (scheduler.step() inside the batch loop, Keras decay_steps given in epochs), or a"
            + " rate divided at every step, takes the rate to about 0 early in training; record"
            + " the learning rate to see it");
  }

  /**
   * True when the finding's consequences hold its own layer's weights, unchanged from the start.
   */
  private boolean weightsUnchangedFromTheStart(Finding f) {
    for (Consequence c : f.consequences()) {
      if (c.phase() == Phase.WEIGHT
          && c.layerIndex() == f.layerIndex()
          && c.firstStep() <= firstStep() + 1) {
        return true;
      }
    }
    return false;
  }

  /**
   * Two or more layers (not frozen in the metadata) whose weights never change from the first step,
   * while the others train: one cause shared by several layers sits where the parameters are handed
   * to the optimizer (parameter groups filtered by name or shape, a loop that sets requires_grad or
   * trainable on the wrong layers), a model-level cause. One such layer keeps its own finding.
   */
  private void someLayersNeverUpdate(List<Finding> unchanged) {
    List<Finding> layers = unfrozenLayers(unchanged);
    if (layers.size() < 2) {
      return;
    }
    List<String> names = names(layers);
    Finding anchor = layers.get(0);
    offer(
        anchor,
        false,
        format(
            ROOT,
            "%d layers are never updated: the weights of %s stayed the same from step %d while"
                + " the other layers trained",
            names.size(),
            String.join(", ", names),
            anchor.firstStep()),
        "Check how the parameters reach the optimizer: parameter groups built by a filter on names"
            + " or shapes that leaves these layers out, or a loop that sets requires_grad /"
            + " trainable on the wrong layers");
  }

  /**
   * Batches that are not random samples of the data (batch-order): the order of the training data,
   * a model-level cause that the swings of the loss, and units that die under them, follow from.
   */
  private void unshuffledBatches() {
    for (Finding f : atLeastWarning(DetectorIds.BATCH_ORDER)) {
      offer(
          f,
          false,
          "Training data not shuffled: " + uncapitalizedMessage(f),
          "Shuffle the training set every epoch: DataLoader(..., shuffle=True) in PyTorch;"
              + " model.fit(..., shuffle=True) on arrays, or dataset.shuffle(buffer) before"
              + " .batch() with a buffer as large as the data, in Keras; and never sort the data by"
              + " label before batching");
    }
  }

  /**
   * NaN/Inf from the first steps, while the first layer's outputs were abnormally large on inputs
   * that are not normalized (input-range at warning): the values overflowed in the first forward
   * passes, before updates could have grown them, so the data's scale is the cause, at model scope,
   * not the layer where the NaN surfaced. After the rules that blame an update that blew up.
   */
  private void unscaledInputsOverflow() {
    Finding nan = first(DetectorIds.NUMERICAL_ERROR, null);
    Finding inputs = strongest(DetectorIds.INPUT_RANGE);
    if (nan == null
        || inputs == null
        || !inputs.severity().atLeast(Severity.WARNING)
        || (inputs.evidence().get(FIRST_NON_FINITE_STEP) == null
            && nan.firstStep() > firstStep() + 1)) {
      return;
    }
    offer(
        nan,
        false,
        Symptom.NUMERICAL_ERROR,
        notNormalized(inputs)
            + format(
                ROOT,
                " and the outputs of %s reached an RMS of %s; the values turned NaN/Inf at step %d",
                string(inputs, FIRST_LAYER),
                Numbers.format(real(inputs, FIRST_LAYER_RMS)),
                nan.firstStep()),
        scaleInputsFix(inputs));
  }

  /**
   * The loss climbed several times above its start in the steps before the run turned NaN/Inf
   * (loss-divergence's climb into non-finite values): the updates diverged and the values
   * overflowed, so the cause is the update size at model scope, not the layer where the first NaN
   * surfaced.
   */
  private void climbIntoNonFinite() {
    for (Finding f : atLeastWarning(DetectorIds.LOSS_DIVERGENCE)) {
      if (f.evidence().get(FIRST_NON_FINITE_STEP) != null) {
        diverged(f);
      }
    }
  }

  /**
   * A loss that climbed away (loss-divergence at warning): at a learning rate far above any healthy
   * run's that rate is the cause; otherwise the updates were too large for another reason too:
   * gradients summed over steps, or not clipped.
   */
  private void diverged(Finding divergence) {
    boolean highLr = highLearningRate();
    offer(
        divergence,
        false,
        (highLr ? "Learning rate too high: " : "Updates too large: ")
            + uncapitalizedMessage(divergence),
        highLr
            ? lrFix(10)
            : lrFix(10)
                + "; check that the gradients are reset every step (optimizer.zero_grad())"
                + " and clip them (e.g. at a norm of 1.0)");
  }

  /**
   * Only the validation loss climbed away (loss-divergence on the held-out loss), after every rule
   * that reads the run's own curves: the update size or, when the training loss kept falling,
   * evaluation data unlike the training data.
   */
  private void heldOutDivergence() {
    for (Finding f : atLeastWarning(DetectorIds.LOSS_DIVERGENCE)) {
      if (f.phase() == Phase.VAL_LOSS) {
        offer(
            f,
            false,
            messageWithoutPeriod(f),
            lrFix(10)
                + "; check that the gradients are reset every step (optimizer.zero_grad()); if"
                + " the training loss kept falling, that the validation data are prepared as"
                + " the training data");
      }
    }
  }

  private void numericalError() {
    lossTurnedFirst();
    for (Finding f : atLeastWarning(DetectorIds.NUMERICAL_ERROR)) {
      if (Boolean.TRUE.equals(f.evidence().get(BEFORE_FIRST_UPDATE))) {
        bornBeforeFirstUpdate(f);
        continue;
      }
      String fix = f.suggestedFix();
      offer(
          f, layerScope(f), symptomCause(f), fix != null ? fix : RootCauseSelector.suggestedFix(f));
    }
  }

  /**
   * NaN/Inf born in a layer's output at the run's first step, before any update: the layer computed
   * from its initial weights, so neither a learning rate nor a trained weight made it non-finite,
   * and the layer's own arithmetic (a matrix product, a convolution, a normalization with its
   * epsilon) cannot turn finite inputs and fresh weights into NaN. An operation of the program's
   * forward code did: a log, square root or division of a value at or below zero, an exp that
   * overflows, a temperature or scale of zero, on the layer's input or inside a layer of its own.
   * Model scope, naming the layer where it showed.
   */
  private void bornBeforeFirstUpdate(Finding f) {
    String layer = f.resolvedLayerName();
    offer(
        f,
        false,
        format(
            ROOT,
            "Numerical error (NaN/Inf) in the forward code before any update: the output of %s was"
                + " %s at step %d, computed from its initial weights, so an operation of the"
                + " program (a log, square root or division of a value at or below 0, an exp"
                + " that overflows) produced it on the way into or inside %s",
            layer,
            f.evidence().get(KIND),
            f.firstStep(),
            layer),
        format(
            ROOT,
            "Look at the code that computes the input and the output of %s: guard logs and square"
                + " roots (log(x + 1e-6), sqrt(x + 1e-8), or clamp to a minimum), keep divisors and"
                + " temperatures away from 0, and apply the transform (exp, softplus) that keeps a"
                + " scale or rate positive",
            layer));
  }

  /**
   * NaN/Inf first seen in a layer's weights, gradients or output gradients at a step whose loss was
   * NaN/Inf already, in a trace without forward rows: the weights are recorded after the update,
   * the gradients after the loss, so the loss (or a forward pass the trace does not show) turned
   * first, and the layer whose update carried the NaN is not where it was born. Model scope: a
   * trace of weights and gradients cannot tell which layer's output, or which term of the loss,
   * overflowed. With forward rows the numerical-error finding already names the first layer whose
   * output turned, or the loss reading finite outputs.
   */
  private void lossTurnedFirst() {
    Finding nan = first(DetectorIds.NUMERICAL_ERROR, null);
    long lossTurned = context.lossHistory().firstNonFiniteStep();
    if (nan == null
        || nan.isModelLevel()
        || !EnumSet.of(Phase.WEIGHT, Phase.GRADIENT, Phase.BACKWARD).contains(nan.phase())
        || lossTurned < 0
        || lossTurned > nan.firstStep()
        || forwardRecorded()) {
      return;
    }
    offer(
        nan,
        false,
        Symptom.NUMERICAL_ERROR,
        format(
            ROOT,
            "Numerical error (NaN/Inf) in the forward pass or the loss: the loss was NaN/Inf at"
                + " step %d, before the %s of %s turned at that step (they are recorded after the"
                + " loss; the trace records no layer outputs to show where it started)",
            lossTurned,
            nan.phase() == Phase.WEIGHT ? "weights" : "gradients",
            nan.resolvedLayerName()),
        "Check the loss and the forward pass for log(0), a division by zero or an overflow in the"
            + " first steps: inputs that are not scaled, a learning rate too high, an output"
            + " activation the loss does not expect; record the forward pass (layer outputs) to"
            + " see which layer turns first");
  }

  /** True when the trace has forward or activation rows of some layer. */
  private boolean forwardRecorded() {
    for (Layer layer : context.layers()) {
      if (context.recorded(layer.index(), Phase.FORWARD)
          || context.recorded(layer.index(), Phase.ACTIVATION)) {
        return true;
      }
    }
    return false;
  }

  private void unnormalizedInputs() {
    for (Finding f : atLeastWarning(DetectorIds.INPUT_RANGE)) {
      offer(
          f,
          false,
          harmOfUnscaledInputs(),
          notNormalized(f)
              + format(
                  ROOT,
                  " and the outputs of %s reached an RMS of %s",
                  string(f, FIRST_LAYER),
                  Numbers.format(real(f, FIRST_LAYER_RMS))),
          scaleInputsFix(f));
    }
  }

  private void learningRateTooHigh() {
    Finding oscillation = strongest(DetectorIds.OSCILLATING_LOSS);
    Finding weights = highWeights();
    Finding effective = effectiveLr(Direction.HIGH);
    boolean highLr = highLearningRate();
    Finding divergence = first(DetectorIds.LOSS_DIVERGENCE, null);
    if (divergence != null && divergence.phase() == Phase.VAL_LOSS) {
      // Only the held-out loss climbed: the training loss says nothing of the update size, so the
      // causes that read the run's own curves come first (a training loss that fell while the
      // validation loss climbed is a loss that measures something else, not a step too large).
      divergence = null;
    }
    if (oscillation == null && divergence != null) {
      diverged(divergence); // a warning only for a run that did not come back
      return;
    }
    if (oscillation == null || !(weights != null || effective != null || highLr)) {
      return;
    }
    StringBuilder why =
        new StringBuilder(
            format(
                ROOT,
                "the loss rose %s times by %s or more of its start (between %s and %s)",
                oscillation.evidence().get(SWINGS),
                Numbers.percent(context.options().get(Thresholds.OSCILLATION_AMPLITUDE)),
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

  /**
   * Steps too large for the weights from the start, in a run that never learned: effective learning
   * rates above the band (effective-learning-rate, high) in a run whose loss did not improve (its
   * {@code loss_stalled}), from before any layer showed a harm (vanishing gradients, dead,
   * saturated or unchanged units), and with no layer frozen at its random initialization
   * (layer-mode's warning, a cause of its own). Those harms came after the updates that were too
   * large: they are its consequence, and lowering the rate is the fix. The symptom is the one the
   * loss shows, no learning; with swings in the loss, {@link #learningRateTooHigh} has named the
   * cause already.
   */
  private void learningRateTooHighWithoutProgress() {
    Finding effective = null;
    for (Finding f : findings) {
      if (f.detector().equals(DetectorIds.EFFECTIVE_LEARNING_RATE)
          && f.evidence().get(DIRECTION) == Direction.HIGH
          && Boolean.TRUE.equals(f.evidence().get(LOSS_STALLED))) {
        effective = f; // the band rule's, whose loss_stalled says the run never improved
        break;
      }
    }
    if (effective == null) {
      return;
    }
    for (Finding f : findings) {
      if (f.severity().atLeast(Severity.WARNING)
          && f.detector().equals(DetectorIds.LAYER_MODE)
          && f.symptom() == Symptom.UNCHANGED_VALUES) {
        return; // a layer frozen at its random initialization: a cause of its own
      }
      if (f != effective
          && LAYER_HARMS.contains(f.detector())
          && f.severity().atLeast(Severity.WARNING)
          && f.firstStep() <= effective.firstStep()) {
        return; // a harm as early as the large steps: they do not explain it
      }
    }
    offer(
        effective,
        false,
        Symptom.NOT_LEARNING,
        "Learning rate too high: " + uncapitalizedMessage(effective).replaceAll("[.]$", ""),
        lrFix(10));
  }

  /**
   * Every layer with parameters started with weights of variance 0 (all zeros, or one constant):
   * the units of a layer stay identical, and with ReLU they are dead from the first step. A
   * model-level initialization fault.
   */
  private void constantInitialization() {
    List<Finding> constant = new ArrayList<>();
    for (Finding f : findings) {
      Double initial = f.evidence().get(INITIAL_VARIANCE);
      if (f.detector().equals(DetectorIds.WEIGHT_VARIANCE)
          && f.evidence().get(DIRECTION) == Direction.LOW
          && initial != null
          && initial == 0) {
        constant.add(f);
      }
    }
    Finding dead = first(null, Symptom.DEAD_OR_ZERO);
    if (!coversEveryParameterLayer(constant)) {
      // Without activations (a trace of weights only) dead units cannot show; a run that does
      // not move is the same evidence. With activations, the units must be seen dead.
      Finding stuck = dead;
      if (stuck == null && !anyActivations()) {
        stuck = first(null, Symptom.UNCHANGED_VALUES);
        stuck = stuck != null ? stuck : first(null, Symptom.NOT_LEARNING);
      }
      if (stuck != null) {
        someLayersConstant(constant, stuck);
      }
      return;
    }
    if (dead == null) {
      return;
    }
    offer(
        dead,
        false,
        format(
            ROOT,
            "Initialization: the weights of all %d layers with parameters started with variance 0"
                + " (zeros or a constant), so the units of each layer are identical; %s",
            constant.size(),
            uncapitalizedMessage(dead)),
        "Initialize the weights randomly (He for ReLU, Glorot for tanh/sigmoid), not with zeros"
            + " or a constant");
  }

  /**
   * Two or more layers (not frozen in the metadata) whose weights started with variance 0, with
   * dead units (or, in a trace without activations, unchanged values or no learning): one
   * initializer setting shared by several layers (embedding tables or kernels built with zeros), a
   * model-level cause even when other layers were initialized randomly. One such layer keeps the
   * per-layer rules.
   */
  private void someLayersConstant(List<Finding> constant, Finding stuck) {
    List<String> names = names(unfrozenLayers(constant));
    if (names.size() < 2) {
      return;
    }
    offer(
        stuck,
        false,
        format(
            ROOT,
            "Initialization: the weights of %d layers (%s) started with variance 0 (zeros or a"
                + " constant), so their units are identical and get identical or zero gradients;"
                + " %s",
            names.size(),
            String.join(", ", names),
            uncapitalizedMessage(stuck)),
        "Initialize the weights of "
            + String.join(", ", names)
            + " randomly (a small normal or uniform for embeddings, He for ReLU, Glorot for"
            + " tanh/sigmoid), not with zeros or a constant");
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
      Finding grown = highWeights();
      Finding effective = effectiveLr(Direction.HIGH);
      if (highLearningRate()) {
        offer(
            f,
            false,
            swingOr(f),
            "Learning rate too high: "
                + Phrases.uncapitalize(cause)
                + format(
                    ROOT, " under a high learning rate (%s)", Numbers.format(lr.getAsDouble())),
            lrFix(10) + format(ROOT, "; or use LeakyReLU in %s", f.layerName()));
      } else if (real(f, INITIAL_ZERO_FRACTION) < 0.9
          && ((grown != null && grown.firstStep() <= f.lastStep())
              || (effective != null && effective.firstStep() <= f.lastStep()))) {
        Finding why = requireNonNull(effective != null ? effective : grown, "one of them is set");
        offer(
            f,
            false,
            swingOr(f),
            "Learning rate too high: "
                + Phrases.uncapitalize(cause)
                + "; "
                + uncapitalizedMessage(why).replaceAll("[.]$", ""),
            lrFix(10) + format(ROOT, "; or use LeakyReLU in %s", f.layerName()));
      } else if (real(f, INITIAL_ZERO_FRACTION) < 0.9
          && f.firstStep() > firstStep()
          && f.layerIndex() < context.layerCount() - 1
          && runInTrouble()) {
        // Alive at the first step, dead later, in a run that went wrong as a whole: an update
        // killed the units. A hidden layer's construction did not change during the run; what
        // trains it did (the learning rate, the scale of the inputs, gradients that are never
        // reset, a penalty that dominates). In a run that is otherwise fine, the layer is the
        // place to look.
        offer(
            f,
            false,
            swingOr(f),
            format(
                ROOT,
                "Units killed by training: the ReLU units of %s were alive at the first step (%s"
                    + " zero) and died from step %d (%s zero for %d steps), from an update, not"
                    + " from how the layer was built",
                f.layerName(),
                Numbers.percent(real(f, INITIAL_ZERO_FRACTION)),
                f.firstStep(),
                Numbers.percent(real(f, MEAN_ZERO_FRACTION)),
                number(f, RUN_STEPS)),
            lrFix(10)
                + "; check that the inputs are scaled, that the gradients are reset every step and"
                + " that no penalty dominates the loss; LeakyReLU in "
                + f.layerName()
                + " would hide the symptom, not the cause");
      } else if (coversEveryParameterLayer(atLeastWarning(DetectorIds.DYING_RELU))
          && real(f, INITIAL_ZERO_FRACTION) >= 0.9) {
        offer(
            f,
            false,
            "Initialization: every ReLU layer was dead from the first step ("
                + Phrases.uncapitalize(cause)
                + ")",
            "Initialize the weights randomly with He scaling (not zeros or a constant) and keep"
                + " the biases at 0");
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
    saturatedFromTheStart();
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

  /**
   * Every sigmoid/tanh hidden layer (two or more) saturated from the first recorded step: no layer
   * led, the weights' scale did it to all of them at once, so the initialization is the cause at
   * model scope (the inputs' scale, when they are not normalized, has its own rule before this).
   */
  private void saturatedFromTheStart() {
    Finding first = null;
    Set<String> saturated = new HashSet<>();
    for (Finding f : atLeastWarning(DetectorIds.SATURATION)) {
      if (f.firstStep() <= firstStep() + 1) {
        saturated.add(f.layerName());
        first = first == null ? f : first;
      }
    }
    if (first == null || saturated.size() < 2) {
      return;
    }
    List<String> hidden = saturatingHiddenLayers();
    if (hidden.size() < 2 || !saturated.containsAll(hidden)) {
      return;
    }
    offer(
        first,
        false,
        format(
            ROOT,
            "Initialization too large: every sigmoid/tanh hidden layer (%s) saturated from step %d;"
                + " in %s, %s",
            String.join(", ", hidden),
            first.firstStep(),
            first.layerName(),
            Causes.saturation(first)),
        "Initialize the weights smaller: Glorot (Xavier) for sigmoid/tanh layers, not N(0, 1) or"
            + " wider; and check that the inputs are standardized");
  }

  /**
   * The names of the sigmoid/tanh layers before the last one, over the layers the trace names (not
   * every index up to the largest).
   */
  private List<String> saturatingHiddenLayers() {
    List<String> hidden = new ArrayList<>();
    for (Layer layer : context.layers()) {
      String a = layer.activation();
      if (layer.index() < context.layerCount() - 1
          && a != null
          && (a.equalsIgnoreCase("sigmoid") || a.equalsIgnoreCase("tanh"))) {
        hidden.add(layer.name());
      }
    }
    return hidden;
  }

  private void vanishing() {
    for (Finding f : atLeastWarning(DetectorIds.VANISHING_GRADIENT)) {
      int saturating = saturatingHiddenLayers().size();
      String cause = "Vanishing gradients: " + causes.of(f);
      String fix =
          saturating >= 2
              ? format(
                  ROOT,
                  "Replace the sigmoid/tanh activations of the %d hidden layers with ReLU and use"
                      + " He initialization, or add BatchNorm or residual connections",
                  saturating)
              : "Add BatchNorm or residual connections, or make the network shallower";
      offer(f, saturating < 2, cause, fix);
    }
  }

  /**
   * A schedule that held the learning rate at 1/100 of its peak or less for most of a run that did
   * not learn: the layers that stopped changing are its consequence, the schedule is the cause.
   */
  private void learningRateCollapsed() {
    for (Finding f : atLeastWarning(DetectorIds.EFFECTIVE_LEARNING_RATE)) {
      if (f.evidence().get(COLLAPSED_SHARE) == null) {
        continue;
      }
      offer(
          f,
          false,
          "Learning rate schedule too fast: " + uncapitalizedMessage(f).replaceAll("[.]$", ""),
          "Check the schedule's units: Keras schedules count decay steps and boundaries in"
              + " batches, PyTorch schedulers in scheduler.step() calls (per batch or per epoch);"
              + " let the rate stay near its peak for most of training");
    }
  }

  /**
   * A weight decay at least {@link Optimizers#HIGH_WEIGHT_DECAY} (twice the largest of a healthy
   * dev run) in a run that shows a harm: the decay pulls every weight to zero, so what the layers
   * show (dead or vanishing units, weights that stop changing, a loss that does not fall) is its
   * consequence, at model scope. Before the per-layer rules, which would blame the layer where the
   * shrinking shows first.
   */
  private void weightDecayTooStrong() {
    OptionalDouble decay = metadata.weightDecay();
    Finding harm = first(null, null);
    if (decay.isEmpty() || decay.getAsDouble() < Optimizers.HIGH_WEIGHT_DECAY || harm == null) {
      return;
    }
    offer(
        harm,
        false,
        Symptom.NOT_LEARNING,
        format(
            ROOT,
            "Weight decay too strong: weight_decay = %s, %sx the largest of a healthy run (%s),"
                + " pulls the weights to zero; %s",
            Numbers.format(decay.getAsDouble()),
            Numbers.format(decay.getAsDouble() / (Optimizers.HIGH_WEIGHT_DECAY / 2)),
            Numbers.format(Optimizers.HIGH_WEIGHT_DECAY / 2),
            uncapitalizedMessage(harm)),
        "Lower weight_decay to 0.01 or below (PyTorch AdamW's default is 0.01, Keras AdamW's"
            + " 0.004)");
  }

  /**
   * Weights that training pulled toward zero (shrinking-weights) explain the dead, unchanged or
   * vanishing layers that follow: a penalty outweighs the loss. The cause names the penalty the
   * metadata declares (the layers' regularizers, the optimizer's weight_decay); without one, the
   * penalty was written into the loss by hand or the recorder did not see it.
   */
  private void weightsPulledToZero() {
    for (Finding f : atLeastWarning(DetectorIds.SHRINKING_WEIGHTS)) {
      List<String> penalized = new ArrayList<>();
      String penalty = null;
      for (LayerInfo layer : metadata.layers()) {
        if (layer.regularizer() != null) {
          penalized.add(layer.name());
          penalty = layer.regularizer();
        }
      }
      OptionalDouble decay = metadata.weightDecay();
      String declared;
      if (!penalized.isEmpty()) {
        declared =
            format(
                ROOT,
                "the weight penalty %s on %s",
                penalty,
                penalized.size() == 1
                    ? penalized.get(0)
                    : penalized.size() + " layers (" + String.join(", ", penalized) + ")");
      } else if (decay.isPresent() && decay.getAsDouble() > 0) {
        declared = "weight_decay = " + Numbers.format(decay.getAsDouble());
      } else {
        declared = "a weight penalty (an L2 term added to the loss, or weight decay)";
      }
      offer(
          f,
          false,
          Symptom.NOT_LEARNING,
          "Regularization dominates: "
              + declared
              + " outweighs the loss; "
              + uncapitalizedMessage(f),
          "Lower the weight penalty (L2 factor or weight_decay) by 100x or more, to about 1e-4,"
              + " or drop it until the model trains");
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
    for (Finding f : atLeastWarning(DetectorIds.RETURN_PROGRESS)) {
      offer(
          f,
          false,
          symptomCause(f),
          "Check what drives the agent: the sign of the policy loss (it must raise the"
              + " log-probability of actions with a positive advantage), the terminal mask of"
              + " bootstrapped targets, the target network's update, the reward itself, and the"
              + " learning rate");
    }
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
            DetectorIds.LITTLE_PROGRESS,
            DetectorIds.SLOW_CONVERGENCE,
            DetectorIds.EFFECTIVE_LEARNING_RATE,
            DetectorIds.OSCILLATING_LOSS,
            DetectorIds.WEIGHT_VARIANCE)) {
      for (Finding f : atLeastWarning(id)) {
        String fix =
            f.suggestedFix() != null
                ? f.suggestedFix()
                : id.equals(DetectorIds.OSCILLATING_LOSS)
                        || id.equals(DetectorIds.WEIGHT_VARIANCE)
                        || f.evidence().get(DIRECTION) == Direction.HIGH
                    ? lrFix(10)
                    : notLearningFix(low);
        offer(f, false, symptomCause(f), fix);
      }
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  private String notLearningFix(@Nullable Finding low) {
    OptionalDouble lr = learningRate();
    Double suggested = low == null ? null : low.evidence().get(SUGGESTED_LEARNING_RATE);
    if (low != null && suggested != null && lr.isPresent()) {
      return format(
          ROOT,
          "Raise the learning rate from %s to about %s (the updates are %s of the weights)%s",
          Numbers.format(lr.getAsDouble()),
          Numbers.format(suggested),
          Numbers.format(real(low, EFFECTIVE_LR)),
          Optimizers.adaptive(metadata) ? "" : ", or switch to Adam");
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
    offer(anchor, layerScope, anchor.symptom(), cause, fix);
  }

  /** Offers a cause whose symptom class differs from its anchor finding's. */
  private void offer(
      Finding anchor, boolean layerScope, Symptom symptom, String cause, String fix) {
    int rank = findings.indexOf(anchor) + 1;
    boolean layer = layerScope && !anchor.isModelLevel();
    if (primary == null) {
      primary =
          new RootCause(
              layer ? RootCause.LAYER : RootCause.MODEL,
              layer ? anchor.layerIndex() : -1,
              layer ? anchor.resolvedLayerName() : "model",
              cause,
              fix,
              symptom.wireName(),
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
    alternatives.add(new RootCause.Alternative(cause, fix, symptom.wireName(), rank));
  }

  /**
   * "Vanishing gradients: the gradient norm of fc0 stayed below ...": the symptom class, then what
   * the finding says in its data ({@link Causes}). A finding it has no words for (a plug-in's) is
   * quoted: its message without the final period.
   */
  private String symptomCause(Finding f) {
    String clause = causes.of(f);
    if (clause == null) {
      clause = messageWithoutPeriod(f);
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
  private @Nullable Finding strongest(String detector) {
    Finding best = null;
    for (Finding f : findings) {
      if (f.detector().equals(detector)
          && (best == null || f.severity().compareTo(best.severity()) > 0)) {
        best = f;
      }
    }
    return best;
  }

  private @Nullable Finding first(@Nullable String detector, @Nullable Symptom symptom) {
    for (Finding f : findings) {
      if (f.severity().atLeast(Severity.WARNING)
          && (detector == null || f.detector().equals(detector))
          && (symptom == null || f.symptom() == symptom)) {
        return f;
      }
    }
    return null;
  }

  private @Nullable Finding highWeights() {
    for (Finding f : findings) {
      if (f.detector().equals(DetectorIds.WEIGHT_VARIANCE)
          && f.evidence().get(DIRECTION) == Direction.HIGH) {
        return f;
      }
    }
    return null;
  }

  private @Nullable Finding effectiveLr(Direction direction) {
    for (Finding f : findings) {
      if (f.detector().equals(DetectorIds.EFFECTIVE_LEARNING_RATE)
          && f.evidence().get(DIRECTION) == direction) {
        return f;
      }
    }
    return null;
  }

  /**
   * The run's learning rate for the rules and the fixes: the one a finding quotes, else {@code
   * dltrace.learning_rate}; the peak of the {@code learning_rate} rows when it is higher (a warm-up
   * starts below the rate the run trains at, and the recorders write the first step's rate into the
   * metadata).
   */
  private OptionalDouble learningRate() {
    OptionalDouble configured = metadata.learningRate();
    for (Finding f : findings) {
      Double lr = f.evidence().get(LEARNING_RATE);
      if (lr != null) {
        configured = OptionalDouble.of(lr);
        break;
      }
    }
    return Optimizers.atPeak(configured, context.lossHistory());
  }

  private boolean highLearningRate() {
    return Optimizers.highLearningRate(metadata, learningRate());
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

  /**
   * One finding per layer named by {@code found} (the first), in layer order, leaving out
   * model-level findings and layers frozen in the metadata.
   */
  private List<Finding> unfrozenLayers(List<Finding> found) {
    List<Finding> byLayer = new ArrayList<>(found);
    byLayer.sort(Comparator.comparingInt(Finding::layerIndex));
    Set<Integer> seen = new HashSet<>();
    List<Finding> out = new ArrayList<>();
    for (Finding f : byLayer) {
      if (!f.isModelLevel() && !frozen(f.layerIndex()) && seen.add(f.layerIndex())) {
        out.add(f);
      }
    }
    return out;
  }

  /** True when the metadata says the layer is frozen ({@link LayerInfo#frozen()}). */
  private boolean frozen(int layer) {
    return metadata.layer(layer).map(LayerInfo::frozen).orElse(false);
  }

  private static List<String> names(List<Finding> layers) {
    List<String> names = new ArrayList<>();
    for (Finding f : layers) {
      names.add(f.layerName());
    }
    return names;
  }

  /**
   * The symptom of a model-level cause read off a layer's finding: what the run shows as a whole.
   * An oscillation when the loss swung (oscillating-loss at warning or more) or climbed away from
   * its start (loss-divergence); a model that stopped learning when the loss or the accuracy
   * stalled (not-learning, not-converging or little-progress at warning or more); else the
   * finding's own. The layer's finding is the mechanism, and the cause names it; a user meets the
   * fault as a loss that swings or stalls ("the accuracy stays at 10%"), and that is how the bug
   * reports of the corpus describe units killed by a learning rate too high.
   */
  private Symptom swingOr(Finding f) {
    boolean swung = !atLeastWarning(DetectorIds.OSCILLATING_LOSS).isEmpty();
    for (Finding d : findings) {
      // At any severity: the cause is established by other findings; this one says only what
      // the loss did.
      swung |= d.detector().equals(DetectorIds.LOSS_DIVERGENCE);
    }
    if (swung) {
      return Symptom.OSCILLATION;
    }
    boolean stalled =
        !atLeastWarning(DetectorIds.NOT_LEARNING).isEmpty()
            || !atLeastWarning(DetectorIds.NOT_CONVERGING).isEmpty()
            || !atLeastWarning(DetectorIds.LITTLE_PROGRESS).isEmpty();
    return stalled ? Symptom.NOT_LEARNING : f.symptom();
  }

  /**
   * False when the recorder says it left out the activations ({@code dltrace.record_phases}, as in
   * a Keras model recorded from a callback).
   */
  private boolean anyActivations() {
    return !RecordedPhases.leftOut(metadata).contains(Phase.ACTIVATION);
  }

  /** True when a model-level finding (the loss, the accuracy, the inputs...) is warning or more. */
  private boolean runInTrouble() {
    for (Finding f : findings) {
      if (f.isModelLevel() && f.severity().atLeast(Severity.WARNING)) {
        return true;
      }
    }
    return false;
  }

  /** The first step the analysis saw. */
  private long firstStep() {
    long first = Long.MAX_VALUE;
    for (Finding f : findings) {
      first = Math.min(first, f.firstStep());
    }
    LossHistory history = context.lossHistory();
    if (history.size() > 0) {
      first = Math.min(first, history.step(0));
    }
    return first == Long.MAX_VALUE ? 0 : first;
  }

  /**
   * True when the findings name at least two layers and every layer that has weights (a weight row
   * in the trace) and is not frozen in the metadata.
   */
  private boolean coversEveryParameterLayer(List<Finding> found) {
    Set<Integer> named = new HashSet<>();
    for (Finding f : found) {
      if (!f.isModelLevel()) {
        named.add(f.layerIndex());
      }
    }
    int parameterLayers = 0;
    for (Layer layer : context.layers()) {
      if (context.slot(layer.index(), Phase.WEIGHT) < 0) {
        continue;
      }
      if (frozen(layer.index())) {
        continue;
      }
      parameterLayers++;
      if (!named.contains(layer.index())) {
        return false;
      }
    }
    return parameterLayers >= 2;
  }

  private static String uncapitalizedMessage(Finding f) {
    return Phrases.uncapitalize(messageWithoutPeriod(f));
  }

  /** The finding's message as a clause: without its closing period. */
  private static String messageWithoutPeriod(Finding f) {
    String message = f.message();
    return message.endsWith(".") ? message.substring(0, message.length() - 1) : message;
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
}
