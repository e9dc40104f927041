package io.dlanalyze.analyzer;

import static java.util.Locale.ROOT;

import org.jspecify.annotations.Nullable;

/**
 * The activation function applied after a layer, as far as the trace tells: from the {@code
 * activation} of {@code dltrace.layers}, else from a layer type that is itself an activation
 * ({@code ReLU}, {@code Sigmoid}, {@code Tanh}, {@code Softmax}). Carries the function's output
 * range, which the saturation and target-range rules compare against. A {@link Layer} knows its own
 * ({@link Layer#activationKind()}).
 */
public enum ActivationKind {
  RELU(0, Double.POSITIVE_INFINITY),
  SIGMOID(0, 1),
  TANH(-1, 1),
  SOFTMAX(0, 1),
  LINEAR(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY),
  /** Known but none of the above (elu, gelu, leaky_relu...). */
  OTHER(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY),
  UNKNOWN(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY);

  private final double low;
  private final double high;

  ActivationKind(double low, double high) {
    this.low = low;
    this.high = high;
  }

  /** Smallest value the function can output. */
  public double low() {
    return low;
  }

  /** Largest value the function can output. */
  public double high() {
    return high;
  }

  /** True for sigmoid and tanh, whose gradient vanishes away from zero. */
  public boolean saturates() {
    return this == SIGMOID || this == TANH;
  }

  /** The kind of a layer: {@code layer.activationKind()}. */
  public static ActivationKind of(Layer layer) {
    return layer.activationKind();
  }

  /** The kind named by an activation, else by a layer type that is itself an activation. */
  static ActivationKind of(@Nullable String activation, @Nullable String type) {
    ActivationKind kind = parse(activation);
    if (kind == UNKNOWN && type != null) {
      ActivationKind byType = parse(type);
      if (byType != LINEAR && byType != OTHER) {
        return byType;
      }
    }
    return kind;
  }

  /** The kind an activation name stands for: case, underscores and dashes do not matter. */
  public static ActivationKind parse(@Nullable String name) {
    if (name == null || name.isBlank()) {
      return UNKNOWN;
    }
    String n = name.toLowerCase(ROOT).replace("_", "").replace("-", "");
    return switch (n) {
      case "relu", "relu6" -> RELU;
      case "sigmoid", "logistic" -> SIGMOID;
      case "tanh" -> TANH;
      case "softmax" -> SOFTMAX;
      case "linear", "identity", "none" -> LINEAR;
      default -> OTHER;
    };
  }

  /** The name used in messages: {@code relu}, {@code sigmoid}... */
  public String wireName() {
    return name().toLowerCase(ROOT);
  }
}
