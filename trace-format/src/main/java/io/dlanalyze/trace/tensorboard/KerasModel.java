package io.dlanalyze.trace.tensorboard;

import static java.util.Locale.ROOT;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What the model config that Keras' TensorBoard callback writes ({@code write_graph=True}, the
 * default: tag {@code keras}, plugin {@code graph_keras_model}) tells about the run: the model's
 * name, its layers in order with their class, activation and trainable flag, the optimizer, its
 * learning rate and the loss. A config this class does not understand gives an empty model.
 *
 * @param name the model's name ({@code sequential}), or null
 * @param layers the top-level layers except the input layer, in the config's order
 * @param optimizer the optimizer's class ({@code SGD}), or null
 * @param learningRate the optimizer's initial learning rate when it is a number, else NaN
 * @param loss the loss's name, or null
 */
record KerasModel(
    @Nullable String name,
    List<Layer> layers,
    @Nullable String optimizer,
    double learningRate,
    @Nullable String loss) {
  /**
   * One layer.
   *
   * @param units the {@code units} of a Dense layer, else -1
   */
  record Layer(
      String name,
      @Nullable String type,
      @Nullable String activation,
      boolean trainable,
      int units) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  KerasModel {
    layers = List.copyOf(layers);
  }

  static KerasModel empty() {
    return new KerasModel(null, List.of(), null, Double.NaN, null);
  }

  /** Parses the config; anything unexpected gives what could be read, never an error. */
  static KerasModel parse(String json) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      return empty();
    }
    if (root == null || !root.isObject()) {
      return empty();
    }
    JsonNode config = root.path("config");
    String name = text(config.get("name"));
    List<Layer> layers = new ArrayList<>();
    for (JsonNode layer : config.path("layers")) {
      String type = text(layer.get("class_name"));
      JsonNode layerConfig = layer.path("config");
      String layerName = text(layerConfig.get("name"));
      if (layerName == null) {
        layerName = text(layer.get("name"));
      }
      if (layerName == null || "InputLayer".equals(type)) {
        continue;
      }
      layers.add(
          new Layer(
              layerName,
              type,
              activation(type, layerConfig.get("activation")),
              layerConfig.path("trainable").asBoolean(true),
              layerConfig.path("units").isInt() ? layerConfig.path("units").asInt() : -1));
    }
    JsonNode compile = root.path("compile_config");
    if (compile.isMissingNode()) {
      compile = root.path("training_config");
    }
    JsonNode optimizer = compile.path("optimizer");
    JsonNode optimizerConfig = optimizer.path("config");
    JsonNode rate = optimizerConfig.get("learning_rate");
    if (rate == null) {
      rate = optimizerConfig.get("lr");
    }
    return new KerasModel(
        name,
        layers,
        text(optimizer.get("class_name")),
        rate != null && rate.isNumber() ? rate.asDouble() : Double.NaN,
        lossName(compile.get("loss")));
  }

  /** The index of the layer with this name, or -1. */
  int indexOf(String layerName) {
    for (int i = 0; i < layers.size(); i++) {
      if (layers.get(i).name().equals(layerName)) {
        return i;
      }
    }
    return -1;
  }

  /**
   * The number of classes of a classifier: the units of the last layer when it is a Dense with a
   * softmax (or sigmoid with one unit: 2), else -1.
   */
  int classes() {
    if (layers.isEmpty()) {
      return -1;
    }
    Layer last = layers.get(layers.size() - 1);
    if ("softmax".equals(last.activation()) && last.units() >= 2) {
      return last.units();
    }
    if ("sigmoid".equals(last.activation()) && last.units() == 1) {
      return 2;
    }
    return -1;
  }

  /** classification or regression, from the loss's name, or null. */
  @Nullable String task() {
    if (loss == null) {
      return null;
    }
    String lower = loss.toLowerCase(ROOT);
    if (lower.contains("crossentropy") || lower.contains("hinge")) {
      return "classification";
    }
    if (lower.contains("squared") || lower.equals("mse") || lower.equals("mae")) {
      return "regression";
    }
    return null;
  }

  private static @Nullable String activation(@Nullable String type, @Nullable JsonNode node) {
    if ("ReLU".equals(type)) {
      return "relu";
    }
    if ("Softmax".equals(type)) {
      return "softmax";
    }
    if (node == null || node.isNull()) {
      return null;
    }
    if (node.isTextual()) {
      return node.asText();
    }
    // a serialized activation object: {"class_name": "function", "config": "relu", ...}
    JsonNode config = node.get("config");
    if (config != null && config.isTextual()) {
      return config.asText();
    }
    return text(node.get("class_name"));
  }

  private static @Nullable String lossName(@Nullable JsonNode node) {
    if (node == null || node.isNull()) {
      return null;
    }
    if (node.isTextual()) {
      return node.asText();
    }
    JsonNode config = node.path("config");
    String name = text(config.get("name"));
    return name != null ? name : text(node.get("class_name"));
  }

  private static @Nullable String text(@Nullable JsonNode node) {
    return node == null || !node.isTextual() ? null : node.asText();
  }
}
