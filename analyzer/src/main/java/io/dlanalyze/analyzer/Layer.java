package io.dlanalyze.analyzer;

import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A layer as the analysis knows it, from the trace's rows and its {@code dltrace.layers} metadata.
 * Immutable; the kind tests ({@link #isSoftmax()}...) are computed once, since detectors ask them
 * for every layer in every step.
 */
public final class Layer {
  private final int index;
  private final String name;
  private final @Nullable String type;
  private final @Nullable String activation;
  private final boolean trainable;
  private final boolean softmax;
  private final boolean normalization;
  private final boolean flatten;
  private final boolean denseLike;
  private final boolean embedding;
  private final ActivationKind activationKind;

  /**
   * @param index 0-based position in forward execution order (-1 for the model)
   * @param name the layer's name ({@code "layer_<index>"} when no row or metadata named it)
   * @param type the framework's class name, or {@code null}
   * @param activation the activation applied after the layer, or {@code null}
   * @param trainable false for layers marked frozen in {@code dltrace.layers}
   */
  public Layer(
      int index,
      String name,
      @Nullable String type,
      @Nullable String activation,
      boolean trainable) {
    this.index = index;
    this.name = requireNonNull(name, "name is null");
    this.type = type;
    this.activation = activation;
    this.trainable = trainable;
    String t = type == null ? null : type.toLowerCase(ROOT);
    String n = name.toLowerCase(ROOT);
    this.softmax =
        "softmax".equals(activation == null ? null : activation.toLowerCase(ROOT))
            || "softmax".equals(t);
    this.normalization = t != null && t.contains("norm");
    this.flatten = (t != null && t.contains("flatten")) || n.contains("flatten");
    this.denseLike = t != null ? t.contains("dense") || t.contains("linear") : n.contains("dense");
    this.embedding = t != null && t.contains("embedding");
    this.activationKind = ActivationKind.of(activation, type);
  }

  /**
   * The position of the layer with {@code index} in a list sorted by index (a report's layers,
   * which leave out indexes nothing names), or -1.
   */
  public static int position(List<Layer> layers, int index) {
    int low = 0;
    int high = layers.size() - 1;
    while (low <= high) {
      int mid = (low + high) >>> 1;
      int at = layers.get(mid).index;
      if (at < index) {
        low = mid + 1;
      } else if (at > index) {
        high = mid - 1;
      } else {
        return mid;
      }
    }
    return -1;
  }

  /** The name of the layer with {@code index} in a list sorted by index, else its placeholder. */
  public static String nameIn(List<Layer> layers, int index) {
    int position = position(layers, index);
    return position >= 0 ? layers.get(position).name : "layer_" + index;
  }

  /** A layer nothing is known about. */
  public static Layer unknown(int index) {
    return new Layer(index, "layer_" + index, null, null, true);
  }

  public int index() {
    return index;
  }

  public String name() {
    return name;
  }

  /** The framework's class name, or {@code null}. */
  public @Nullable String type() {
    return type;
  }

  /** The activation applied after the layer ("relu", "softmax"...), or {@code null}. */
  public @Nullable String activation() {
    return activation;
  }

  /** The activation after the layer, from its activation or else its type. */
  public ActivationKind activationKind() {
    return activationKind;
  }

  /** False for layers marked trainable=false in {@code dltrace.layers}. */
  public boolean trainable() {
    return trainable;
  }

  /**
   * True when the layer's output is a softmax: activation {@code softmax}, or a type named {@code
   * Softmax}. Its mean is 1/K for every batch by construction.
   */
  public boolean isSoftmax() {
    return softmax;
  }

  /**
   * True for normalization layers (the type contains {@code norm}: BatchNorm2d, LayerNorm,
   * BatchNormalization, GroupNorm...): their output statistics are pinned by construction.
   */
  public boolean isNormalization() {
    return normalization;
  }

  /**
   * True for a lookup table (PyTorch's {@code Embedding} and {@code EmbeddingBag}, Keras' {@code
   * Embedding}): its inputs are indices, not values.
   */
  public boolean isEmbedding() {
    return embedding;
  }

  /**
   * True for flatten layers, which DeepLocalize skips: the type or the name contains {@code
   * flatten}.
   */
  public boolean isFlatten() {
    return flatten;
  }

  /**
   * True for fully connected layers, the only ones DeepLocalize checks weights and weight gradients
   * of: the type contains {@code dense} or {@code linear} (Dense, Linear, LazyLinear,
   * QuantizedLinear), or, when the type is unknown, the name contains {@code dense} (Keras' default
   * names), as DeepLocalize's own name test does.
   */
  public boolean isDenseLike() {
    return denseLike;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Layer that
        && index == that.index
        && trainable == that.trainable
        && name.equals(that.name)
        && Objects.equals(type, that.type)
        && Objects.equals(activation, that.activation);
  }

  @Override
  public int hashCode() {
    return Objects.hash(index, name, type, activation, trainable);
  }

  @Override
  public String toString() {
    return "Layer[index="
        + index
        + ", name="
        + name
        + ", type="
        + type
        + ", activation="
        + activation
        + ", trainable="
        + trainable
        + "]";
  }
}
