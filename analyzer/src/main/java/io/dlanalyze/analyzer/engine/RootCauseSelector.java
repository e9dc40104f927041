package io.dlanalyze.analyzer.engine;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.text.Phrases;
import io.dlanalyze.trace.Phase;

/**
 * Turns the top-ranked finding into the report's root cause, with a fix hint per symptom and phase.
 * In deeplocalize mode there is no fix hint: DeepLocalize prints none.
 */
final class RootCauseSelector {
  private RootCauseSelector() {}

  /** The root cause named by {@code top}, the first finding of severity warning or more. */
  static RootCause select(Finding top, AnalysisMode mode) {
    String scope = top.isModelLevel() ? RootCause.MODEL : RootCause.LAYER;
    String where =
        top.isModelLevel()
            ? "model's " + Phrases.of(top.phase())
            : Phrases.of(top.phase()) + " of " + top.layerName();
    String cause =
        mode == AnalysisMode.DEEPLOCALIZE
            ? top.message()
            : format(
                ROOT,
                "%s in the %s from step %d (epoch %d, batch %d)",
                symptomPhrase(top.symptom()),
                where,
                top.firstStep(),
                top.epoch(),
                top.batch());
    String fix = null;
    if (mode == AnalysisMode.DEFAULT) {
      fix = top.suggestedFix() != null ? top.suggestedFix() : suggestedFix(top);
    }
    return new RootCause(scope, top.layerIndex(), top.resolvedLayerName(), cause, fix);
  }

  static String symptomPhrase(Symptom symptom) {
    return switch (symptom) {
      case NUMERICAL_ERROR -> "Numerical error (NaN/Inf)";
      case DEAD_OR_ZERO -> "All-zero values";
      case UNCHANGED_VALUES -> "Values stopped changing";
      case NOT_LEARNING -> "No learning progress";
      case EXPLODING_GRADIENT -> "Exploding gradients";
      case VANISHING_GRADIENT -> "Vanishing gradients";
      case SATURATION -> "Saturated activations";
      case OSCILLATION -> "Oscillating training curve";
      case SLOW_CONVERGENCE -> "Slow convergence";
      case LOSS_MISMATCH -> "Loss does not fit the output";
      case MISSING_ACTIVATION -> "No non-linearity";
    };
  }

  static String suggestedFix(Finding top) {
    String layer = top.layerName();
    return switch (top.symptom()) {
      case NUMERICAL_ERROR ->
          switch (top.phase()) {
            case FORWARD, ACTIVATION ->
                format(
                    ROOT,
                    "Check %s's activation and initialization; normalize the inputs and lower the"
                        + " learning rate",
                    layer);
            case LOSS, ACCURACY ->
                "Check the loss for log(0), a division by zero or an overflow (the exp of large"
                    + " scores, the square of huge outputs), and its pairing with the output"
                    + " activation (a linear output under a probability loss); lower the learning"
                    + " rate";
            case WEIGHT, GRADIENT, BACKWARD ->
                "Lower the learning rate or clip gradients; check the loss for log(0) or division"
                    + " by zero";
            case INPUT, TARGET -> "Clean the data: the batch holds NaN or Inf values";
            case EPISODE_RETURN ->
                "Check the environment's rewards: an episode's return is NaN or Inf";
            case LEARNING_RATE, VAL_LOSS, VAL_ACCURACY ->
                "Check the learning-rate schedule and the optimizer settings";
          };
      case DEAD_OR_ZERO ->
          format(
              ROOT,
              "Check %s's initialization and the learning rate; a leaky or other non-saturating"
                  + " activation avoids dead units",
              layer);
      case UNCHANGED_VALUES ->
          top.phase() == Phase.WEIGHT || top.phase() == Phase.GRADIENT
              ? format(
                  ROOT,
                  "Check that %s's parameters reach the optimizer and require gradients, and that"
                      + " the learning rate is not zero",
                  layer)
              : format(
                  ROOT,
                  "Check that %s gets varying inputs and that the layers before it learn",
                  layer);
      case NOT_LEARNING ->
          "Check the learning rate and the optimizer, and that the loss matches the output"
              + " activation";
      case EXPLODING_GRADIENT ->
          "Lower the learning rate, clip gradients, or add normalization layers";
      case VANISHING_GRADIENT ->
          "Use ReLU-like activations, residual connections or normalization layers";
      case SATURATION -> "Normalize the inputs or lower the initial weights of the saturated layer";
      case OSCILLATION -> "Lower the learning rate or increase the batch size";
      case SLOW_CONVERGENCE -> "Raise the learning rate or use an adaptive optimizer";
      case LOSS_MISMATCH ->
          "Pair the loss with the output: softmax + cross-entropy for one label among many,"
              + " sigmoid + binary cross-entropy for labels in [0, 1], a linear output + MSE for"
              + " regression; pass logits to losses that apply the softmax themselves";
      case MISSING_ACTIVATION ->
          "Add a non-linear activation (ReLU, tanh...) after each hidden layer";
    };
  }
}
