package io.dlanalyze.trace.synthetic;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

/**
 * A fault the synthetic generator injects.
 *
 * @param kind what goes wrong
 * @param layer the layer it starts in (ignored by model-level kinds)
 * @param step the first step it shows in
 * @param rate growth per step for {@link Kind#EXPLODING_GRADIENT}; shrink factor per layer for
 *     {@link Kind#VANISHING_GRADIENT}; unused otherwise
 */
public record Fault(Kind kind, int layer, long step, double rate) {
  /** The kinds of injectable fault. */
  public enum Kind {
    /**
     * NaN born in {@code layer}'s forward pass at {@code step}: forward/activation of that layer
     * and later ones, the loss and every backward/gradient/weight row are NaN at that step; from
     * the next step every layer row and the loss are NaN. Accuracy stays a number near chance.
     */
    NAN,
    /** Like {@link #NAN} with +Inf in the layer where it is born (NaN downstream). */
    INF,
    /** The layer's activations are all zero from {@code step} on (a dead ReLU layer). */
    DEAD_LAYER,
    /** The layer's weights stop changing from {@code step} on (frozen weights). */
    FROZEN_WEIGHTS,
    /** The loss stops decreasing from {@code step} on and accuracy stops improving. */
    LOSS_PLATEAU,
    /**
     * Gradient norms of every layer grow by {@code rate} per step from {@code step} on, the loss
     * climbs, and once a value passes float32's range it becomes Inf and then NaN everywhere.
     */
    EXPLODING_GRADIENT,
    /**
     * From {@code step} on, the gradient of layer l is scaled by {@code rate^(L-1-l)}: the first
     * layers barely learn, and the loss plateaus high.
     */
    VANISHING_GRADIENT
  }

  public Fault {
    if (step < 0) {
      throw new IllegalArgumentException(format(ROOT, "step must not be negative: %s", step));
    }
    if ((kind == Kind.EXPLODING_GRADIENT || kind == Kind.VANISHING_GRADIENT)
        && !(rate > 0 && Double.isFinite(rate))) {
      throw new IllegalArgumentException(
          format(ROOT, "rate must be positive and finite: %s", rate));
    }
  }

  public static Fault nan(int layer, long step) {
    return new Fault(Kind.NAN, layer, step, 0);
  }

  public static Fault inf(int layer, long step) {
    return new Fault(Kind.INF, layer, step, 0);
  }

  public static Fault deadLayer(int layer, long step) {
    return new Fault(Kind.DEAD_LAYER, layer, step, 0);
  }

  public static Fault frozenWeights(int layer, long step) {
    return new Fault(Kind.FROZEN_WEIGHTS, layer, step, 0);
  }

  public static Fault lossPlateau(long step) {
    return new Fault(Kind.LOSS_PLATEAU, -1, step, 0);
  }

  public static Fault explodingGradient(long step, double growthPerStep) {
    return new Fault(Kind.EXPLODING_GRADIENT, -1, step, growthPerStep);
  }

  public static Fault vanishingGradient(long step, double shrinkPerLayer) {
    return new Fault(Kind.VANISHING_GRADIENT, -1, step, shrinkPerLayer);
  }

  /** A short description, as written to {@code dltrace.synthetic.faults}. */
  public String describe() {
    return switch (kind) {
      case NAN, INF, DEAD_LAYER, FROZEN_WEIGHTS ->
          format(ROOT, "%s layer=%d step=%d", kind.name().toLowerCase(ROOT), layer, step);
      case LOSS_PLATEAU -> format(ROOT, "loss_plateau step=%d", step);
      case EXPLODING_GRADIENT, VANISHING_GRADIENT ->
          format(ROOT, "%s step=%d rate=%s", kind.name().toLowerCase(ROOT), step, rate);
    };
  }

  /**
   * Parses the CLI spelling: {@code nan:LAYER:STEP}, {@code inf:LAYER:STEP}, {@code
   * dead:LAYER:STEP}, {@code frozen:LAYER:STEP}, {@code plateau:STEP}, {@code
   * exploding:STEP[:RATE]}, {@code vanishing:STEP[:RATE]}.
   */
  public static Fault parse(String spec) {
    String[] parts = spec.trim().split(":");
    try {
      return switch (parts[0]) {
        case "nan" -> nan(Integer.parseInt(parts[1]), Long.parseLong(parts[2]));
        case "inf" -> inf(Integer.parseInt(parts[1]), Long.parseLong(parts[2]));
        case "dead" -> deadLayer(Integer.parseInt(parts[1]), Long.parseLong(parts[2]));
        case "frozen" -> frozenWeights(Integer.parseInt(parts[1]), Long.parseLong(parts[2]));
        case "plateau" -> lossPlateau(Long.parseLong(parts[1]));
        case "exploding" ->
            explodingGradient(
                Long.parseLong(parts[1]), parts.length > 2 ? Double.parseDouble(parts[2]) : 1.5);
        case "vanishing" ->
            vanishingGradient(
                Long.parseLong(parts[1]), parts.length > 2 ? Double.parseDouble(parts[2]) : 1e-2);
        default ->
            throw new IllegalArgumentException(format(ROOT, "unknown fault kind: %s", parts[0]));
      };
    } catch (ArrayIndexOutOfBoundsException | NumberFormatException e) {
      throw new IllegalArgumentException(
          format(
              ROOT,
              "bad fault spec '%s': expected nan|inf|dead|frozen:LAYER:STEP, plateau:STEP or"
                  + " exploding|vanishing:STEP[:RATE]",
              spec),
          e);
    }
  }
}
