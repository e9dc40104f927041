package io.dlanalyze.trace;

import static java.util.Objects.requireNonNull;

import org.jspecify.annotations.Nullable;

/**
 * One entry of the {@code dltrace.layers} metadata: a layer as the recorder saw it.
 *
 * @param index 0-based position in forward execution order
 * @param name the layer's name in the model
 * @param type the framework's class name, or {@code null} when not known
 * @param activation the activation applied after the layer ("relu", "softmax", "linear"...), or
 *     {@code null} when not known
 * @param params number of parameters, or -1 when not known
 * @param trainable whether the optimizer updates the layer; frozen layers are {@code false}
 * @param training {@code Boolean.FALSE} when the layer ran in inference mode while the model
 *     trained (a BatchNorm or Dropout layer left in eval mode), {@code null} when not known
 * @param inOptimizer {@code false} when the optimizer holds none of the layer's parameters (they
 *     require gradients but are never updated), {@code true} when it does or when not known
 * @param fanIn inputs per unit of the layer's first kernel, or -1 when not known
 * @param fanOut outputs per input of the layer's first kernel, or -1 when not known
 * @param regularizer the layer's weight penalty as written by the recorder (e.g. {@code
 *     {"l2":0.01}}), or {@code null} when it has none or it is not known
 * @param constant {@code true} when the layer holds statistics of the data rather than weights (an
 *     adapted Keras {@code Normalization} layer's mean and variance): nothing of it trains, by
 *     design, so it is neither trainable nor frozen
 */
public record LayerInfo(
    int index,
    String name,
    @Nullable String type,
    @Nullable String activation,
    long params,
    boolean trainable,
    @Nullable Boolean training,
    boolean inOptimizer,
    long fanIn,
    long fanOut,
    @Nullable String regularizer,
    boolean constant) {
  /**
   * The largest layer index a trace may use (2^20), in rows and in {@code dltrace.layers}: larger
   * values are rejected rather than sizing per-layer tables by them.
   */
  public static final int MAX_INDEX = 1 << 20;

  public LayerInfo {
    requireNonNull(name, "name is null");
  }

  /** A layer that is not {@linkplain #constant() constant}. */
  public LayerInfo(
      int index,
      String name,
      @Nullable String type,
      @Nullable String activation,
      long params,
      boolean trainable,
      @Nullable Boolean training,
      boolean inOptimizer,
      long fanIn,
      long fanOut,
      @Nullable String regularizer) {
    this(
        index,
        name,
        type,
        activation,
        params,
        trainable,
        training,
        inOptimizer,
        fanIn,
        fanOut,
        regularizer,
        false);
  }

  /** A layer with the core fields only (the optional extension fields not known). */
  public LayerInfo(
      int index,
      String name,
      @Nullable String type,
      @Nullable String activation,
      long params,
      boolean trainable) {
    this(index, name, type, activation, params, trainable, null, true, -1, -1, null);
  }

  /**
   * True when the layer's weights cannot change during training: not trainable, or trainable but
   * absent from the optimizer. A constant layer, or one with no parameters (a pooling or flatten
   * layer, which a Keras recorder may list as not trainable), has no weights to freeze and is never
   * frozen.
   */
  public boolean frozen() {
    return !constant && params != 0 && (!trainable || !inOptimizer);
  }
}
