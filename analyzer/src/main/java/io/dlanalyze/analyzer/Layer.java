package io.dlanalyze.analyzer;

import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

/**
 * A layer as the analysis knows it, from the trace's rows and its {@code dltrace.layers} metadata.
 *
 * @param index 0-based position in forward execution order
 * @param name the layer's name ({@code "layer_<index>"} when no row or metadata named it)
 * @param type the framework's class name, or {@code null}
 * @param activation the activation applied after the layer, or {@code null}
 * @param trainable false for layers marked frozen in {@code dltrace.layers}
 */
public record Layer(int index, String name, String type, String activation, boolean trainable) {
  public Layer {
    requireNonNull(name, "name is null");
  }

  /** A layer nothing is known about. */
  public static Layer unknown(int index) {
    return new Layer(index, "layer_" + index, null, null, true);
  }

  /**
   * True when the layer's output is a softmax: activation {@code softmax}, or a type named {@code
   * Softmax}. Its mean is 1/K for every batch by construction.
   */
  public boolean isSoftmax() {
    return "softmax".equals(lower(activation)) || "softmax".equals(lower(type));
  }

  /**
   * True for normalization layers (the type contains {@code norm}: BatchNorm2d, LayerNorm,
   * BatchNormalization, GroupNorm...): their output statistics are pinned by construction.
   */
  public boolean isNormalization() {
    String t = lower(type);
    return t != null && t.contains("norm");
  }

  /**
   * True for flatten/reshape layers, which DeepLocalize skips: the type or the name contains
   * {@code flatten}.
   */
  public boolean isFlatten() {
    String t = lower(type);
    return t != null && t.contains("flatten") || lower(name).contains("flatten");
  }

  /**
   * True for fully connected layers, the only ones DeepLocalize checks weights and weight
   * gradients of: the type contains {@code dense} or {@code linear} (Dense, Linear, LazyLinear,
   * QuantizedLinear), or, when the type is unknown, the name contains {@code dense} (Keras'
   * default names), as DeepLocalize's own name test does.
   */
  public boolean isDenseLike() {
    String t = lower(type);
    if (t != null) {
      return t.contains("dense") || t.contains("linear");
    }
    return lower(name).contains("dense");
  }

  private static String lower(String text) {
    return text == null ? null : text.toLowerCase(ROOT);
  }
}
