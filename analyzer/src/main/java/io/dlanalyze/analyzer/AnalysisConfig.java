package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.dlanalyze.trace.Printable;
import io.dlanalyze.trace.TraceMetadata;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

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
  private static final ObjectMapper JSON =
      JsonMapper.builder().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION).build();
  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION));

  private static final List<String> TOP_KEYS =
      List.of("mode", "fail-on", "thresholds", "exclude-layers", "detectors");
  private static final List<String> DETECTOR_KEYS =
      List.of("enabled", "exclude-layers", "thresholds");

  /**
   * The largest config file read: 256 KiB, ample for thresholds, detectors and a few thousand layer
   * names to exclude; a larger file is an error before it is parsed.
   */
  public static final int MAX_BYTES = 256 * 1024;

  /** Longest piece of the file (a key, a value) quoted back in an error message. */
  static final int EXCERPT = Printable.QUOTE;

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
    AnalysisConfig config = new AnalysisConfig(requireNonNull(name, "name is null"));
    if (content.length() > MAX_BYTES) {
      throw config.error("", tooLarge());
    }
    return config.read(content, builder);
  }

  /**
   * The text of a config file (UTF-8), at most {@link #MAX_BYTES}.
   *
   * @throws IllegalArgumentException naming the file when it is missing, cannot be read, is larger
   *     than {@link #MAX_BYTES} or is not UTF-8 text
   */
  public static String read(Path file) {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_BYTES + 1);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new IllegalArgumentException(format(ROOT, "%s: config file not found", file));
    } catch (IOException e) {
      throw new IllegalArgumentException(
          format(ROOT, "%s: cannot read the config file: %s", file, firstLine(e.getMessage())));
    }
    if (bytes.length > MAX_BYTES) {
      throw new IllegalArgumentException(format(ROOT, "%s: %s", file, tooLarge()));
    }
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(
          format(ROOT, "%s: the config file is not UTF-8 text", file), e);
    }
  }

  private static String tooLarge() {
    return format(
        ROOT,
        "the config file is larger than %d KiB: it holds thresholds, detectors and layer"
            + " exclusions, not data",
        MAX_BYTES / 1024);
  }

  private AnalysisOptions.Builder read(String content, AnalysisOptions.Builder builder) {
    JsonNode root;
    String name = file.toLowerCase(Locale.ROOT);
    boolean yaml = name.endsWith(".yaml") || name.endsWith(".yml");
    ObjectMapper mapper = yaml ? YAML : JSON;
    try (JsonParser parser = mapper.createParser(content)) {
      root = mapper.readTree(parser);
      if (parser.nextToken() != null) {
        throw error(
            "",
            yaml
                ? "more than one YAML document (a second '---'): put every setting in one"
                : "more than one JSON value: put every setting in one object");
      }
    } catch (IOException e) {
      String problem =
          e instanceof JsonProcessingException jpe
              ? TraceMetadata.jsonProblem(jpe.getOriginalMessage())
              : firstLine(e.getMessage());
      throw error(
          "", "not valid " + (yaml ? "YAML" : "JSON") + ": " + Printable.excerpt(problem, 200));
    }
    if (root == null || root.isMissingNode() || root.isNull()) {
      return builder;
    }
    if (!root.isObject()) {
      throw error("", "the config must be a mapping of keys to values");
    }
    checkKeys(root, "", TOP_KEYS);
    if (root.has("mode")) {
      try {
        builder.mode(AnalysisMode.fromWireName(text(root.get("mode"), "mode")));
      } catch (IllegalArgumentException e) {
        throw error("mode", e.getMessage());
      }
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
      try {
        builder.excludeLayers(glob);
      } catch (IllegalArgumentException e) {
        throw error("exclude-layers", e.getMessage());
      }
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
    for (Map.Entry<String, JsonNode> entry : node.properties()) {
      String id = entry.getKey();
      String path = "detectors." + id;
      if (!known.contains(id)) {
        throw error(
            path,
            format(
                ROOT,
                "unknown detector %s (known: %s)",
                Printable.excerpt(id, EXCERPT),
                String.join(", ", known)));
      }
      JsonNode value = entry.getValue();
      if (value.isBoolean()) {
        enable(builder, path, id, value.booleanValue());
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
        enable(builder, path, id, enabled.booleanValue());
      }
      for (String glob : globs(value.get("exclude-layers"), path + ".exclude-layers")) {
        try {
          builder.excludeLayers(id, glob);
        } catch (IllegalArgumentException e) {
          throw error(path + ".exclude-layers", e.getMessage());
        }
      }
      if (value.has("thresholds")) {
        thresholds(value.get("thresholds"), path + ".thresholds", builder);
      }
    }
  }

  private void enable(AnalysisOptions.Builder builder, String path, String id, boolean on) {
    try {
      if (on) {
        builder.enable(id);
      } else {
        builder.disable(id);
      }
    } catch (IllegalArgumentException e) {
      throw error(path, e.getMessage());
    }
  }

  private void thresholds(JsonNode node, String path, AnalysisOptions.Builder builder) {
    if (!node.isObject()) {
      throw error(path, "expected a mapping of threshold keys to numbers");
    }
    for (Map.Entry<String, JsonNode> entry : node.properties()) {
      String key = path + "." + entry.getKey();
      if (Thresholds.byKey(entry.getKey()).isEmpty()) {
        List<String> keys = new ArrayList<>();
        for (Threshold threshold : Thresholds.all()) {
          keys.add(threshold.key());
        }
        throw error(key, format(ROOT, "unknown threshold (known: %s)", String.join(", ", keys)));
      }
      if (!entry.getValue().isNumber()) {
        throw error(key, format(ROOT, "expected a number: %s", excerpt(entry.getValue())));
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
        throw error(path, format(ROOT, "expected a layer name or glob: %s", excerpt(element)));
      }
      globs.add(element.asText());
    }
    return globs;
  }

  private void checkKeys(JsonNode node, String path, List<String> allowed) {
    for (Map.Entry<String, JsonNode> entry : node.properties()) {
      String key = entry.getKey();
      if (!allowed.contains(key)) {
        throw error(
            path.isEmpty() ? key : path + "." + key,
            format(ROOT, "unknown key (known: %s)", String.join(", ", allowed)));
      }
    }
  }

  private String text(JsonNode node, String path) {
    if (!node.isTextual()) {
      throw error(path, format(ROOT, "expected a string: %s", excerpt(node)));
    }
    return node.asText();
  }

  /**
   * An error that names the file, then the key (cut to a short excerpt), then the problem; on one
   * line whatever the key or a value quoted in the problem holds (control characters escaped).
   */
  private IllegalArgumentException error(String key, @Nullable String detail) {
    return new IllegalArgumentException(
        Printable.escapeText(
            key.isEmpty()
                ? format(ROOT, "%s: %s", file, detail)
                : format(ROOT, "%s: %s: %s", file, Printable.excerpt(key, 2 * EXCERPT), detail)));
  }

  private static String excerpt(JsonNode value) {
    return Printable.excerpt(value.toString(), EXCERPT);
  }

  private static String firstLine(@Nullable String message) {
    if (message == null) {
      return "unreadable";
    }
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }
}
