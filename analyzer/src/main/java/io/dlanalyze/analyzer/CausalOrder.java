package io.dlanalyze.analyzer;

import io.dlanalyze.trace.Phase;

/**
 * The order in which symptoms inside one step are taken to cause one another, following
 * DeepLocalize's Algorithm 1 check order (docs/references.md#deeplocalize-checks): forward (the
 * layer output; activation sits right after forward of the same layer) from the first layer to the
 * last, weights from the last layer to the first, loss, accuracy, weight gradients from the last
 * layer to the first, backward (output gradients) from the last layer to the first.
 *
 * <p>Phases outside Algorithm 1 are placed where they act: input and target before the forward
 * pass, the learning rate after the weights, validation metrics after everything else.
 */
public final class CausalOrder {
  private CausalOrder() {}

  /** Rank of a phase in the check order; lower comes first. */
  public static int phaseRank(Phase phase) {
    return switch (phase) {
      case INPUT -> 0;
      case TARGET -> 1;
      case FORWARD, ACTIVATION -> 2;
      case WEIGHT -> 3;
      case LEARNING_RATE -> 4;
      case LOSS -> 5;
      case ACCURACY -> 6;
      case GRADIENT -> 7;
      case BACKWARD -> 8;
      case VAL_LOSS -> 9;
      case VAL_ACCURACY -> 10;
      case EPISODE_RETURN -> 11;
    };
  }

  /**
   * Order inside a phase rank: forward and activation run from the first layer to the last (forward
   * before activation of the same layer); weights, gradients and backward run from the last layer
   * to the first; model-level phases have one stream.
   */
  public static long executionOrder(int layerIndex, Phase phase) {
    return switch (phase) {
      case FORWARD -> 2L * layerIndex;
      case ACTIVATION -> 2L * layerIndex + 1;
      case WEIGHT, GRADIENT, BACKWARD -> -(long) layerIndex;
      case INPUT, TARGET, LEARNING_RATE, LOSS, ACCURACY, VAL_LOSS, VAL_ACCURACY, EPISODE_RETURN ->
          layerIndex;
    };
  }

  /**
   * Compares two observations (step, layer, phase) in causal order: earlier step first, then phase
   * rank, then execution order.
   */
  public static int compare(
      long stepA, int layerA, Phase phaseA, long stepB, int layerB, Phase phaseB) {
    int c = Long.compare(stepA, stepB);
    if (c != 0) {
      return c;
    }
    c = Integer.compare(phaseRank(phaseA), phaseRank(phaseB));
    if (c != 0) {
      return c;
    }
    return Long.compare(executionOrder(layerA, phaseA), executionOrder(layerB, phaseB));
  }
}
