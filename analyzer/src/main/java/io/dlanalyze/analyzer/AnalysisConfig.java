package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads an analysis configuration file (JSON, or YAML for {@code .yaml}/{@code .yml}) into an
 * {@link AnalysisOptions.Builder}: thresholds, detectors on and off, and layers to exclude, for all
 * detectors or one. Unknown keys, detector ids and threshold keys are errors that name the key and
 * the file.
 *
 * <pre>{@code
 * mode: default
 * fail-on: warning
 * thresholds:
 *   window: 30
 * exclude-layers: ["backbone.*"]      # every detector
 * detectors:
 *   oscillating-loss: false           # off
 *   dying-relu:
 *     enabled: true
 *     exclude-layers: [relu_out]      # this detector only
 *     thresholds:
 *       dying-relu-fraction: 0.9
 * }</pre>
 */
public final class AnalysisConfig {
  private static final List<String> TOP_KEYS =
      List.of("mode", "fail-on", "thresholds", "exclude-layers", "detectors");
  private static final List<String> DETECTOR_KEYS =
      List.of("enabled", "exclude-layers", "thresholds");

  /** The file's name as given: error messages start with it; its extension picks YAML or JSON. */
  private final String file;

  private AnalysisConfig(String file) {
    this.file = file;
  }

  /**
   * Applies the file's settings to {@code builder} and returns it.
   *
   * @throws IllegalArgumentException naming the file and the key for anything unknown or invalid,
   *     or when the file cannot be read
   */
  public static AnalysisOptions.Builder apply(Path file, AnalysisOptions.Builder builder) {
    return apply(file.toString(), read(file), builder);
  }

  /**
   * Applies the settings of a config file read before (the batch reads it once and ships the text
   * to every analysis, also to Spark tasks that cannot see the file).
   *
   * @param name the file's name as given, for error messages and the format ({@code .yaml} or
   *     {@code .yml}: YAML, otherwise JSON)
   * @param content the file's text
   * @throws IllegalArgumentException naming the file and the key for anything unknown or invalid
   */
  public static AnalysisOptions.Builder apply(
      String name, String content, AnalysisOptions.Builder builder) {
    requireNonNull(content, "content is null");
    return new AnalysisConfig(requireNonNull(name, "name is null")).read(content, builder);
  }

  /**
   * The text of a config file (UTF-8).
   *
   * @throws IllegalArgumentException naming the file when it is missing or cannot be read
   */
  public static String read(Path file) {
    try {
      return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new IllegalArgumentException(format(ROOT, "%s: config file not found", file));
    } catch (IOException e) {
      throw new IllegalArgumentException(
          format(ROOT, "%s: cannot read the config file: %s", file, firstLine(e.getMessage())));
    }
  }

  private AnalysisOptions.Builder read(String content, AnalysisOptions.Builder builder) {
    JsonNode root;
    try {
      String name = file.toLowerCase(Locale.ROOT);
      ObjectMapper mapper =
          name.endsWith(".yaml") || name.endsWith(".yml")
              ? new ObjectMapper(new YAMLFactory())
              : new ObjectMapper();
      root = mapper.readTree(content);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          format(ROOT, "%s: not valid JSON or YAML: %s", file, firstLine(e.getMessage())));
    }
    if (root == null || root.isMissingNode() || root.isNull()) {
      return builder;
    }
    if (!root.isObject()) {
      throw error("", "the config must be a mapping of keys to values");
    }
    checkKeys(root, "", TOP_KEYS);
    if (root.has("mode")) {
      builder.mode(AnalysisMode.fromWireName(text(root.get("mode"), "mode")));
    }
    if (root.has("fail-on")) {
      String failOn = text(root.get("fail-on"), "fail-on");
      if (failOn.equalsIgnoreCase("never")) {
        builder.neverFail();
      } else {
        try {
          builder.failOn(Severity.fromWireName(failOn));
        } catch (IllegalArgumentException e) {
          throw error("fail-on", e.getMessage());
        }
      }
    }
    if (root.has("thresholds")) {
      thresholds(root.get("thresholds"), "thresholds", builder);
    }
    for (String glob : globs(root.get("exclude-layers"), "exclude-layers")) {
      builder.excludeLayers(glob);
    }
    if (root.has("detectors")) {
      detectors(root.get("detectors"), builder);
    }
    return builder;
  }

  private void detectors(JsonNode node, AnalysisOptions.Builder builder) {
    if (!node.isObject()) {
      throw error("detectors", "expected a mapping of detector ids");
    }
    List<String> known = new ArrayList<>();
    for (DetectorInfo info : BuiltInDetectors.all()) {
      known.add(info.id());
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      String id = entry.getKey();
      String path = "detectors." + id;
      if (!known.contains(id)) {
        throw error(
            path, format(ROOT, "unknown detector %s (known: %s)", id, String.join(", ", known)));
      }
      JsonNode value = entry.getValue();
      if (value.isBoolean()) {
        enable(builder, id, value.booleanValue());
        continue;
      }
      if (!value.isObject()) {
        throw error(path, "expected true, false or a mapping");
      }
      checkKeys(value, path, DETECTOR_KEYS);
      if (value.has("enabled")) {
        JsonNode enabled = value.get("enabled");
        if (!enabled.isBoolean()) {
          throw error(path + ".enabled", "expected true or false");
        }
        enable(builder, id, enabled.booleanValue());
      }
      for (String glob : globs(value.get("exclude-layers"), path + ".exclude-layers")) {
        builder.excludeLayers(id, glob);
      }
      if (value.has("thresholds")) {
        thresholds(value.get("thresholds"), path + ".thresholds", builder);
      }
    }
  }

  private static void enable(AnalysisOptions.Builder builder, String id, boolean on) {
    if (on) {
      builder.enable(id);
    } else {
      builder.disable(id);
    }
  }

  private void thresholds(JsonNode node, String path, AnalysisOptions.Builder builder) {
    if (!node.isObject()) {
      throw error(path, "expected a mapping of threshold keys to numbers");
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      String key = path + "." + entry.getKey();
      if (Thresholds.byKey(entry.getKey()).isEmpty()) {
        List<String> keys = new ArrayList<>();
        for (Threshold threshold : Thresholds.all()) {
          keys.add(threshold.key());
        }
        throw error(key, format(ROOT, "unknown threshold (known: %s)", String.join(", ", keys)));
      }
      if (!entry.getValue().isNumber()) {
        throw error(key, format(ROOT, "expected a number: %s", entry.getValue()));
      }
      try {
        builder.set(entry.getKey(), entry.getValue().doubleValue());
      } catch (IllegalArgumentException e) {
        throw error(key, e.getMessage());
      }
    }
  }

  private List<String> globs(JsonNode node, String path) {
    List<String> globs = new ArrayList<>();
    if (node == null || node.isNull()) {
      return globs;
    }
    if (node.isTextual()) {
      globs.add(node.asText());
      return globs;
    }
    if (!node.isArray()) {
      throw error(path, "expected a layer name or glob, or a list of them");
    }
    for (JsonNode element : node) {
      if (!element.isTextual() || element.asText().isEmpty()) {
        throw error(path, format(ROOT, "expected a layer name or glob: %s", element));
      }
      globs.add(element.asText());
    }
    return globs;
  }

  private void checkKeys(JsonNode node, String path, List<String> allowed) {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!allowed.contains(key)) {
        throw error(
            path.isEmpty() ? key : path + "." + key,
            format(ROOT, "unknown key (known: %s)", String.join(", ", allowed)));
      }
    }
  }

  private String text(JsonNode node, String path) {
    if (!node.isTextual()) {
      throw error(path, format(ROOT, "expected a string: %s", node));
    }
    return node.asText();
  }

  private IllegalArgumentException error(String key, String detail) {
    return new IllegalArgumentException(
        key.isEmpty()
            ? format(ROOT, "%s: %s", file, detail)
            : format(ROOT, "%s: %s: %s", file, key, detail));
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "unreadable";
    }
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }
}
