package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNullElse;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.jspecify.annotations.Nullable;

/**
 * The key-value metadata of a trace (Parquet footer, Arrow schema metadata or the CSV sidecar
 * JSON), in file order, with typed accessors for the keys of the contract.
 */
public final class TraceMetadata {
  public static final String VERSION = "dltrace.version";
  public static final String RUN_ID = "dltrace.run_id";
  public static final String MODEL = "dltrace.model";
  public static final String FRAMEWORK = "dltrace.framework";
  public static final String OPTIMIZER = "dltrace.optimizer";
  public static final String LEARNING_RATE = "dltrace.learning_rate";
  public static final String BATCH_SIZE = "dltrace.batch_size";
  public static final String TASK = "dltrace.task";
  public static final String LOSS = "dltrace.loss";
  public static final String LAYERS = "dltrace.layers";

  /** Extension: batches per epoch, when the recorder knows it. */
  public static final String STEPS_PER_EPOCH = "dltrace.steps_per_epoch";

  /** Extension: the number of output classes of a classifier. */
  public static final String NUM_CLASSES = "dltrace.num_classes";

  /** The format version this library writes. */
  /** Extension: {@code true} when the loss takes logits, {@code false} when probabilities. */
  public static final String LOSS_FROM_LOGITS = "dltrace.loss_from_logits";

  /** Extension: the optimizer's weight decay. */
  public static final String WEIGHT_DECAY = "dltrace.weight_decay";

  /** Extension: the optimizer's momentum. */
  public static final String MOMENTUM = "dltrace.momentum";

  /**
   * Extension: the phases the recorder recorded, comma-separated (absent: all of them); the others
   * were left out on purpose, not lost.
   */
  public static final String RECORD_PHASES = "dltrace.record_phases";

  /**
   * Extension: how the recorder recorded; {@code callback}: a Keras model with its own train step,
   * read from a callback at each batch end (weights and the logged scalars only).
   */
  public static final String RECORD_MODE = "dltrace.record_mode";

  /**
   * Extension: the run scaled its loss (mixed precision), and the recorder divided the gradient
   * rows by the scale of their step; {@code dynamic}: a scaler that lowers the scale and skips the
   * update of a step whose gradients overflow (PyTorch's GradScaler, Keras' LossScaleOptimizer),
   * {@code static}: a fixed factor (Keras' {@code loss_scale_factor}).
   */
  public static final String LOSS_SCALING = "dltrace.loss_scaling";

  /**
   * Extension: {@code true} when the loss weights its terms: a class weight ({@code
   * BCEWithLogitsLoss(pos_weight=...)}, {@code CrossEntropyLoss(weight=...)}, {@code
   * NLLLoss(weight=...)}) or per-example sample weights (Keras' {@code class_weight=} and {@code
   * sample_weight=}). Absent: unweighted, or not known.
   */
  public static final String LOSS_WEIGHTED = "dltrace.loss_weighted";

  /**
   * Extension: {@code true} when the recorded loss holds terms that layers add beside the loss
   * function (Keras {@code add_loss}: a KL term, an activity penalty, a mixture of experts'
   * load-balancing loss). Absent: none, or not known.
   */
  public static final String LOSS_ADDED = "dltrace.loss_added";

  /**
   * Extension: the index of the layer whose output the recorded loss was computed from, when the
   * recorder could tell (PyTorch: from the first step's autograd graph). A program that records
   * several networks (an adversarial autoencoder's encoder, decoder and discriminator) may list the
   * loss's layer before others. Absent: the last layer, or not known.
   */
  public static final String OUTPUT_LAYER = "dltrace.output_layer";

  /** Extension: what a converted trace was converted from ({@code tensorboard}). */
  public static final String SOURCE = "dltrace.source";

  /**
   * Extension: how often the log a trace was converted from held its values, {@code epoch} or
   * {@code step}.
   */
  public static final String SOURCE_GRANULARITY = "dltrace.source.granularity";

  /**
   * Extension: how many updates (optimizer steps after the first, or with no optimizer the loop's
   * steps after the first) the recorder judged for {@link #CARRIED_UPDATES}. Known only at the end
   * of the run: written where the format takes metadata after the start (Parquet's footer, an Arrow
   * stream's last record batch, a CSV trace's sidecar). Absent: not watched (Keras, whose training
   * step computes fresh gradients; an Arrow IPC file; a run of one update).
   */
  public static final String UPDATES = "dltrace.updates";

  /**
   * Extension: of {@link #UPDATES}, how many were carried over: the gradients they applied still
   * held those of earlier updates, because no backward pass since the previous update found them
   * reset ({@code optimizer.zero_grad()} never called, or called less often than the optimizer
   * steps).
   */
  public static final String CARRIED_UPDATES = "dltrace.carried_updates";

  /**
   * Extension: what training does with the recorded loss. {@code minimize} (also when absent): the
   * loss measures progress and falls as the model learns. {@code adversarial}: one player's loss in
   * a two-player game (a GAN's generator or discriminator), which stays level or rises while both
   * players improve. {@code policy_gradient}: a surrogate such as REINFORCE's {@code -log pi(a|s) x
   * advantage}, whose value and sign carry no measure of progress. {@code temporal_difference}: a
   * value function's bootstrapped error, which grows as the values learn the returns. {@code
   * self_training}: a loss against targets the model derives from its own predictions and refreshes
   * as it trains (Deep Embedded Clustering's target distribution), which jumps at each refresh. Any
   * value but {@code minimize} keeps the loss from being judged by its trend.
   */
  public static final String OBJECTIVE = "dltrace.objective";

  /** The {@link #OBJECTIVE} of a loss that measures progress, the default. */
  public static final String OBJECTIVE_MINIMIZE = "minimize";

  public static final String CURRENT_VERSION = "1";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Map<String, String> values;
  private final List<LayerInfo> layers;

  /** The first entry of each index in {@code dltrace.layers}, sorted by index. */
  private final LayerInfo[] byIndex;

  private final int[] sortedIndex;

  private TraceMetadata(Map<String, String> values, List<LayerInfo> layers) {
    this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    this.layers = List.copyOf(layers);
    LayerInfo[] sorted = this.layers.toArray(new LayerInfo[0]);
    // A stable sort keeps the first entry of an index first.
    Arrays.sort(sorted, Comparator.comparingInt(LayerInfo::index));
    int n = 0;
    for (LayerInfo layer : sorted) {
      if (n == 0 || sorted[n - 1].index() != layer.index()) {
        sorted[n++] = layer;
      }
    }
    this.byIndex = Arrays.copyOf(sorted, n);
    this.sortedIndex = new int[n];
    for (int i = 0; i < n; i++) {
      sortedIndex[i] = byIndex[i].index();
    }
  }

  public static TraceMetadata empty() {
    return new TraceMetadata(Map.of(), List.of());
  }

  /**
   * Metadata from raw key-value pairs. A {@code dltrace.layers} value that is not a JSON array of
   * layer objects is an error: the caller names the file.
   *
   * @throws IllegalArgumentException when {@code dltrace.layers} cannot be parsed
   */
  public static TraceMetadata of(Map<String, String> values) {
    for (Map.Entry<String, String> entry : values.entrySet()) {
      checkSize(entry.getKey(), entry.getValue());
    }
    return new TraceMetadata(values, parseLayers(values.get(LAYERS)));
  }

  /** Keys and values within {@link Limits}; an {@link IllegalArgumentException} otherwise. */
  private static void checkSize(String key, @Nullable String value) {
    if (key.length() > Limits.MAX_METADATA_KEY_CHARS) {
      throw new IllegalArgumentException(
          format(
              ROOT,
              "a metadata key of %d characters is longer than the limit of %d",
              key.length(),
              Limits.MAX_METADATA_KEY_CHARS));
    }
    int limit = key.equals(LAYERS) ? Limits.MAX_LAYERS_JSON_CHARS : Limits.MAX_METADATA_VALUE_CHARS;
    if (value != null && value.length() > limit) {
      throw new IllegalArgumentException(
          format(
              ROOT,
              "metadata key '%s' holds %d characters, more than the limit of %d",
              Printable.escape(key),
              value.length(),
              limit));
    }
  }

  /**
   * The problem {@link #of} found, from its {@link IllegalArgumentException}: the message it always
   * has.
   */
  public static String problem(IllegalArgumentException e) {
    return requireNonNullElse(e.getMessage(), "dltrace metadata is not valid");
  }

  /** All key-value pairs, in file order. */
  public Map<String, String> asMap() {
    return values;
  }

  public Optional<String> get(String key) {
    return Optional.ofNullable(values.get(key));
  }

  public Optional<String> version() {
    return get(VERSION);
  }

  public Optional<String> runId() {
    return get(RUN_ID);
  }

  public Optional<String> model() {
    return get(MODEL);
  }

  public Optional<String> framework() {
    return get(FRAMEWORK);
  }

  public Optional<String> optimizer() {
    return get(OPTIMIZER);
  }

  public Optional<String> task() {
    return get(TASK);
  }

  /**
   * The loss function's name ({@code dltrace.loss}), reduced to the bare name when a recorder wrote
   * what Python prints for the loss: {@code <function sparse_categorical_crossentropy at 0x7f..>}
   * and {@code <keras.src.losses.losses.SparseCategoricalCrossentropy object at 0x7f..>} give the
   * function's or class's name, {@code torch.nn.CrossEntropyLoss} its last part, and {@code
   * CrossEntropyLoss(label_smoothing=0.1)} the name before its arguments.
   */
  public Optional<String> loss() {
    return get(LOSS).map(TraceMetadata::bareName).filter(name -> !name.isEmpty());
  }

  /** A Python repr or qualified name of a function or class reduced to its own name. */
  static String bareName(String written) {
    String name = written.strip();
    if (name.startsWith("<") && name.endsWith(">")) {
      name = name.substring(1, name.length() - 1).strip();
      int at = name.indexOf(" at 0x");
      if (at >= 0) {
        name = name.substring(0, at).strip();
      }
      for (String prefix : new String[] {"function ", "class ", "bound method "}) {
        if (name.startsWith(prefix)) {
          name = name.substring(prefix.length()).strip();
        }
      }
      if (name.endsWith(" object")) {
        name = name.substring(0, name.length() - " object".length()).strip();
      }
      name = name.replace("'", "").replace("\"", "");
    }
    int call = name.indexOf('(');
    if (call > 0) {
      name = name.substring(0, call).strip();
    }
    int dot = name.lastIndexOf('.');
    return dot >= 0 && dot < name.length() - 1 ? name.substring(dot + 1) : name;
  }

  public OptionalDouble learningRate() {
    return parseDouble(values.get(LEARNING_RATE));
  }

  public OptionalInt batchSize() {
    return parseInt(values.get(BATCH_SIZE));
  }

  public OptionalInt stepsPerEpoch() {
    return parseInt(values.get(STEPS_PER_EPOCH));
  }

  public OptionalInt numClasses() {
    return parseInt(values.get(NUM_CLASSES));
  }

  /** Whether the loss takes logits ({@code dltrace.loss_from_logits}), if the recorder knew. */
  public Optional<Boolean> lossFromLogits() {
    String text = values.get(LOSS_FROM_LOGITS);
    if (text == null) {
      return Optional.empty();
    }
    return switch (text.trim().toLowerCase(ROOT)) {
      case "true" -> Optional.of(Boolean.TRUE);
      case "false" -> Optional.of(Boolean.FALSE);
      default -> Optional.empty();
    };
  }

  /**
   * The run's {@link #OBJECTIVE}, trimmed and lower-cased; {@link #OBJECTIVE_MINIMIZE} when absent
   * or blank.
   */
  public String objective() {
    String text = values.get(OBJECTIVE);
    return text == null || text.isBlank() ? OBJECTIVE_MINIMIZE : text.trim().toLowerCase(ROOT);
  }

  /**
   * True unless {@link #OBJECTIVE} names an objective other than {@code minimize}: only a minimized
   * loss falls as the model learns, so only its trend says whether training progressed.
   */
  public boolean lossMeasuresProgress() {
    return objective().equals(OBJECTIVE_MINIMIZE);
  }

  /**
   * True when {@code dltrace.loss_weighted} says {@code true} (any case and spacing): the loss is
   * class- or sample-weighted, so a uniform guess has no fixed loss (log K times the mean weight of
   * the examples) and minimizing it asks for balanced, not majority-class, predictions.
   */
  public boolean lossWeighted() {
    String text = values.get(LOSS_WEIGHTED);
    return text != null && text.trim().equalsIgnoreCase("true");
  }

  /**
   * True when {@code dltrace.loss_added} says {@code true} (any case and spacing): the loss holds
   * terms added beside the loss function, so a uniform guess's loss is not the loss's start or
   * floor.
   */
  public boolean lossAdded() {
    String text = values.get(LOSS_ADDED);
    return text != null && text.trim().equalsIgnoreCase("true");
  }

  /** The updates the recorder judged ({@link #UPDATES}), if it watched them. */
  public OptionalLong updates() {
    return parseLong(values.get(UPDATES));
  }

  /** The updates whose gradients were carried over ({@link #CARRIED_UPDATES}), if watched. */
  public OptionalLong carriedUpdates() {
    return parseLong(values.get(CARRIED_UPDATES));
  }

  /** The index of the layer whose output the loss was computed from ({@link #OUTPUT_LAYER}). */
  public OptionalInt outputLayer() {
    return parseInt(values.get(OUTPUT_LAYER));
  }

  /**
   * True when {@link #OUTPUT_LAYER} is {@code none}: the loss was computed from comparisons between
   * a layer's outputs (a product of two computed matrices: a query's similarity to a support set,
   * contrastive logits), so no layer's output is what the loss takes.
   */
  public boolean noOutputLayer() {
    String text = values.get(OUTPUT_LAYER);
    return text != null && text.trim().equalsIgnoreCase("none");
  }

  public OptionalDouble weightDecay() {
    return parseDouble(values.get(WEIGHT_DECAY));
  }

  public OptionalDouble momentum() {
    return parseDouble(values.get(MOMENTUM));
  }

  /** The layers listed in {@code dltrace.layers}, or an empty list when the key is absent. */
  public List<LayerInfo> layers() {
    return layers;
  }

  /** The layer with this index in {@code dltrace.layers} (its first entry), if listed. */
  public Optional<LayerInfo> layer(int index) {
    int found = Arrays.binarySearch(sortedIndex, index);
    return found < 0 ? Optional.empty() : Optional.of(byIndex[found]);
  }

  /**
   * The first entry of each index in {@code dltrace.layers}, sorted by index: what {@link
   * #layer(int)} finds for each listed index.
   */
  public List<LayerInfo> layersByIndex() {
    return Collections.unmodifiableList(Arrays.asList(byIndex));
  }

  /** A copy with one key set (or replaced). */
  public TraceMetadata with(String key, String value) {
    Map<String, String> copy = new LinkedHashMap<>(values);
    copy.put(key, value);
    return of(copy);
  }

  /**
   * Serializes a layer list the way {@code dltrace.layers} holds it, entry by entry (no tree of the
   * whole list: {@code generate --layers 1048577} writes a million entries).
   */
  public static String layersJson(List<LayerInfo> layers) {
    StringWriter text = new StringWriter();
    try (JsonGenerator json = JSON.getFactory().createGenerator(text)) {
      json.writeStartArray();
      for (LayerInfo layer : layers) {
        json.writeStartObject();
        json.writeNumberField("index", layer.index());
        json.writeStringField("name", layer.name());
        json.writeStringField("type", layer.type());
        json.writeStringField("activation", layer.activation());
        json.writeNumberField("params", layer.params());
        json.writeBooleanField("trainable", layer.trainable());
        if (layer.training() != null) {
          json.writeBooleanField("training", layer.training());
        }
        if (!layer.inOptimizer()) {
          json.writeBooleanField("in_optimizer", false);
        }
        if (layer.constant()) {
          json.writeBooleanField("constant", true);
        }
        if (layer.fanIn() >= 0) {
          json.writeNumberField("fan_in", layer.fanIn());
        }
        if (layer.fanOut() >= 0) {
          json.writeNumberField("fan_out", layer.fanOut());
        }
        if (layer.regularizer() != null) {
          json.writeFieldName("regularizer");
          json.writeRawValue(layer.regularizer());
        }
        json.writeEndObject();
      }
      json.writeEndArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return text.toString();
  }

  /**
   * Parses {@code dltrace.layers} one entry at a time: a tree of the whole array would take tens of
   * times the text's size (300,000 entries ran out of a 320 MB heap before anything was read).
   * Types and activations repeat from layer to layer and are kept once.
   */
  private static List<LayerInfo> parseLayers(@Nullable String json) {
    if (json == null || json.isBlank()) {
      return List.of();
    }
    List<LayerInfo> layers = new ArrayList<>();
    Map<String, String> shared = new HashMap<>();
    try (JsonParser parser = JSON.createParser(json)) {
      if (parser.nextToken() != JsonToken.START_ARRAY) {
        JSON.readTree(parser); // a syntax error is reported as such, not as "not an array"
        throw new IllegalArgumentException(format(ROOT, "%s must be a JSON array", LAYERS));
      }
      int position = 0;
      for (JsonToken token = parser.nextToken();
          token != JsonToken.END_ARRAY;
          token = parser.nextToken()) {
        if (token == null) {
          throw new IllegalArgumentException(
              format(ROOT, "%s is not valid JSON: the array is not closed", LAYERS));
        }
        if (token != JsonToken.START_OBJECT) {
          JSON.readTree(parser);
          throw new IllegalArgumentException(
              format(ROOT, "%s[%d] must be a JSON object", LAYERS, position));
        }
        if (position >= Limits.MAX_LAYER_ENTRIES) {
          throw tooManyLayers(parser, position);
        }
        layers.add(layer(JSON.readTree(parser), position, shared));
        position++;
      }
      if (parser.nextToken() != null) {
        throw new IllegalArgumentException(
            format(ROOT, "%s is not valid JSON: text after the end of the array", LAYERS));
      }
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          format(ROOT, "%s is not valid JSON: %s", LAYERS, jsonProblem(e.getOriginalMessage())), e);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          format(ROOT, "%s is not valid JSON: %s", LAYERS, jsonProblem(e.getMessage())), e);
    }
    return layers;
  }

  /** The error for an array past {@link Limits#MAX_LAYER_ENTRIES}, with its entries counted. */
  private static IllegalArgumentException tooManyLayers(JsonParser parser, int counted)
      throws IOException {
    long entries = counted;
    for (JsonToken token = parser.currentToken();
        token != null && token != JsonToken.END_ARRAY;
        token = parser.nextToken()) {
      entries++;
      parser.skipChildren();
    }
    return new IllegalArgumentException(
        format(
            ROOT,
            "%s lists %d layers, more than the limit of %d (one per layer index 0 to %d)",
            LAYERS,
            entries,
            Limits.MAX_LAYER_ENTRIES,
            LayerInfo.MAX_INDEX));
  }

  private static LayerInfo layer(JsonNode node, int position, Map<String, String> shared) {
    int index = node.path("index").asInt(position);
    if ((node.path("index").isNumber() && !node.path("index").canConvertToInt())
        || index > LayerInfo.MAX_INDEX) {
      throw new IllegalArgumentException(
          format(
              ROOT,
              "%s[%d] has index %s, above the limit %d",
              LAYERS,
              position,
              node.path("index").asText(),
              LayerInfo.MAX_INDEX));
    }
    String name = node.path("name").asText(null);
    if (name == null) {
      throw new IllegalArgumentException(format(ROOT, "%s[%d] has no name", LAYERS, position));
    }
    for (String field : new String[] {"name", "type", "activation"}) {
      JsonNode value = node.get(field);
      if (value != null && value.asText("").length() > Limits.MAX_NAME_CHARS) {
        throw new IllegalArgumentException(
            format(
                ROOT,
                "%s[%d] has a %s of %d characters, longer than the limit of %d",
                LAYERS,
                position,
                field,
                value.asText("").length(),
                Limits.MAX_NAME_CHARS));
      }
    }
    return new LayerInfo(
        index,
        name,
        shared(shared, textOrNull(node.get("type"))),
        shared(shared, textOrNull(node.get("activation"))),
        node.path("params").asLong(-1),
        node.path("trainable").asBoolean(true),
        node.path("training").isBoolean() ? node.get("training").booleanValue() : null,
        node.path("in_optimizer").asBoolean(true),
        node.path("fan_in").canConvertToLong() ? node.path("fan_in").asLong(-1) : -1,
        node.path("fan_out").canConvertToLong() ? node.path("fan_out").asLong(-1) : -1,
        shared(shared, regularizer(node.get("regularizer"))),
        node.path("constant").asBoolean(false));
  }

  /** One instance of each distinct type, activation or regularizer text. */
  private static @Nullable String shared(Map<String, String> seen, @Nullable String text) {
    return text == null ? null : seen.computeIfAbsent(text, t -> t);
  }

  /**
   * The regularizer as compact JSON (an object of factors, or a quoted name), or null for none:
   * absent, null, empty, or longer than a name may be.
   */
  private static @Nullable String regularizer(@Nullable JsonNode node) {
    if (node == null || node.isNull() || (node.isContainerNode() && node.isEmpty())) {
      return null;
    }
    String text = node.toString();
    if (text.length() > Limits.MAX_NAME_CHARS) {
      return null;
    }
    return text;
  }

  private static @Nullable String textOrNull(@Nullable JsonNode node) {
    return node == null || node.isNull() ? null : node.asText();
  }

  private static OptionalDouble parseDouble(@Nullable String text) {
    if (text == null) {
      return OptionalDouble.empty();
    }
    try {
      return OptionalDouble.of(Double.parseDouble(text.trim()));
    } catch (NumberFormatException e) {
      return OptionalDouble.empty();
    }
  }

  private static OptionalLong parseLong(@Nullable String text) {
    if (text == null) {
      return OptionalLong.empty();
    }
    try {
      long value = Long.parseLong(text.trim());
      return value >= 0 ? OptionalLong.of(value) : OptionalLong.empty();
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  private static OptionalInt parseInt(@Nullable String text) {
    if (text == null) {
      return OptionalInt.empty();
    }
    try {
      return OptionalInt.of(Integer.parseInt(text.trim()));
    } catch (NumberFormatException e) {
      return OptionalInt.empty();
    }
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof TraceMetadata that && values.equals(that.values);
  }

  @Override
  public int hashCode() {
    return values.hashCode();
  }

  @Override
  public String toString() {
    return values.toString();
  }

  /**
   * A JSON parser's message for a user: on one line, without the parser's "(start marker at
   * [Source: ...])" note, which names no file and tells nothing the message does not.
   */
  public static String jsonProblem(@Nullable String parserMessage) {
    String text = parserMessage == null ? "" : parserMessage;
    return JSON_SOURCE_NOTE
        .matcher(text)
        .replaceAll("")
        .replace('\n', ' ')
        .replace('\r', ' ')
        .strip();
  }

  private static final java.util.regex.Pattern JSON_SOURCE_NOTE =
      java.util.regex.Pattern.compile("\\s*\\(start marker at \\[Source: [^\\]]*\\][^)]*\\)");
}
