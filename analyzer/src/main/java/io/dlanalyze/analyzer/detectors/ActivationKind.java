package io.dlanalyze.analyzer.detectors;

import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.Layer;

/**
 * The activation function applied after a layer, as far as the trace tells: from the {@code
 * activation} of {@code dltrace.layers}, else from a layer type that is itself an activation
 * ({@code ReLU}, {@code Sigmoid}, {@code Tanh}, {@code Softmax}). Carries the function's output
 * range, which the saturation and target-range rules compare against.
 */
enum ActivationKind {
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
  double low() {
    return low;
  }

  /** Largest value the function can output. */
  double high() {
    return high;
  }

  /** True for sigmoid and tanh, whose gradient vanishes away from zero. */
  boolean saturates() {
    return this == SIGMOID || this == TANH;
  }

  static ActivationKind of(Layer layer) {
    ActivationKind kind = parse(layer.activation());
    if (kind == UNKNOWN && layer.type() != null) {
      ActivationKind byType = parse(layer.type());
      if (byType != LINEAR && byType != OTHER) {
        return byType;
      }
    }
    return kind;
  }

  static ActivationKind parse(String name) {
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

  /**
   * {@link #of(Layer)} remembered per layer, for detectors that ask once per layer and step: the
   * parse lower-cases and copies strings, while a layer's description changes at most a few times
   * in a trace (the engine hands out the same {@link Layer} object until it learns more about it).
   */
  static final class PerLayer {
    private Layer[] layers = new Layer[0];
    private ActivationKind[] kinds = new ActivationKind[0];

    ActivationKind of(Layer layer) {
      int index = layer.index();
      if (index < 0) {
        return ActivationKind.of(layer);
      }
      if (index >= layers.length) {
        int n = Math.max(index + 1, 2 * layers.length);
        layers = java.util.Arrays.copyOf(layers, n);
        kinds = java.util.Arrays.copyOf(kinds, n);
      }
      if (layers[index] != layer) {
        layers[index] = layer;
        kinds[index] = ActivationKind.of(layer);
      }
      return kinds[index];
    }
  }

  /** The name used in messages: {@code relu}, {@code sigmoid}... */
  String wireName() {
    return name().toLowerCase(ROOT);
  }
}
