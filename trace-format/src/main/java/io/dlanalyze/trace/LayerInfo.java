package io.dlanalyze.trace;

import static java.util.Objects.requireNonNull;

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
 */
public record LayerInfo(
    int index, String name, String type, String activation, long params, boolean trainable) {
  /**
   * The largest layer index a trace may use (2^20), in rows and in {@code dltrace.layers}: larger
   * values are rejected rather than sizing per-layer tables by them.
   */
  public static final int MAX_INDEX = 1 << 20;

  public LayerInfo {
    requireNonNull(name, "name is null");
  }
}
