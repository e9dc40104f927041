package io.dlanalyze.cli.eval;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;
import static java.util.Objects.requireNonNullElse;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.Printable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The ground truth of a benchmark of traces ({@code sample-traces/manifest.json}): per case the
 * trace, whether the run is buggy, the expected symptom class and root-cause location, its twin,
 * and the labels an evaluation groups cases by (family, split, framework, architecture).
 *
 * @param path the manifest file
 * @param cases in file order
 */
public record Manifest(Path path, List<Case> cases) {
  public Manifest {
    requireNonNull(path, "path is null");
    cases = List.copyOf(cases);
  }

  /**
   * The expected root cause: a layer ({@code layerIndex >= 0}) or the model as a whole ({@code
   * layerIndex == -1}, {@code layerName == "model"}).
   */
  public record Location(int layerIndex, String layerName) {
    public static final Location MODEL = new Location(-1, "model");

    public Location {
      requireNonNull(layerName, "layerName is null");
      if (layerIndex < -1) {
        throw new IllegalArgumentException(
            format(ROOT, "layerIndex must be -1 or more: %s", layerIndex));
      }
    }

    public boolean isModel() {
      return layerIndex < 0;
    }

    @Override
    public String toString() {
      return isModel() ? "model" : format(ROOT, "%s (#%d)", layerName, layerIndex);
    }
  }

  /**
   * One case of the manifest.
   *
   * @param id unique id
   * @param trace the trace, resolved against the manifest's directory
   * @param buggy whether the run has the bug
   * @param symptom the expected symptom class of a buggy run, {@code null} for a healthy one
   * @param acceptableSymptoms other symptom classes that also count as right
   * @param rootCause the expected root-cause location of a buggy run, {@code null} otherwise
   * @param origin where the case comes from (Stack Overflow post, GitHub repository)
   * @param description what the run does wrong, or what the fix changed
   * @param twin the id of the buggy/fixed counterpart, or {@code null}
   * @param labels the case's family, split, framework and architecture
   */
  public record Case(
      String id,
      Path trace,
      boolean buggy,
      @Nullable Symptom symptom,
      List<Symptom> acceptableSymptoms,
      @Nullable Location rootCause,
      @Nullable String origin,
      @Nullable String description,
      @Nullable String twin,
      Labels labels) {
    public Case {
      requireNonNull(id, "id is null");
      requireNonNull(trace, "trace is null");
      acceptableSymptoms = List.copyOf(acceptableSymptoms);
      requireNonNull(labels, "labels is null");
      if (buggy && (symptom == null || rootCause == null)) {
        throw new IllegalArgumentException(
            format(ROOT, "buggy case %s needs a symptom and a root cause", id));
      }
    }

    /** The case's split ({@code "dev"}, {@code "test"}), or {@code null}: only in "all". */
    public @Nullable String split() {
      return labels.split();
    }

    public @Nullable String framework() {
      return labels.framework();
    }

    public @Nullable String architecture() {
      return labels.architecture();
    }

    public @Nullable String family() {
      return labels.family();
    }

    /** The expected symptom of a buggy case, which the record requires. */
    public Symptom expectedSymptom() {
      return requireNonNull(symptom, "not a buggy case");
    }

    /** The expected root cause of a buggy case, which the record requires. */
    public Location expectedRootCause() {
      return requireNonNull(rootCause, "not a buggy case");
    }

    /** True when {@code actual} is the expected symptom or one of the acceptable ones. */
    public boolean symptomMatches(@Nullable Symptom actual) {
      return actual != null && (actual == symptom || acceptableSymptoms.contains(actual));
    }
  }

  /**
   * What an evaluation groups a case by; each is optional ({@code null} when the manifest does not
   * say) and, when present, a non-blank string without control characters.
   *
   * @param family the bug family (cases of one family share a program and a split)
   * @param split {@code "dev"} or {@code "test"} (any other name is kept as it is); a case without
   *     one belongs to no split, only to the whole manifest
   * @param framework {@code "pytorch"}, {@code "keras"}, ...
   * @param architecture {@code "mlp"}, {@code "cnn"}, ...
   */
  public record Labels(
      @Nullable String family,
      @Nullable String split,
      @Nullable String framework,
      @Nullable String architecture) {
    public static final Labels NONE = new Labels(null, null, null, null);

    public Labels {
      for (String label : new String[] {family, split, framework, architecture}) {
        if (label != null && (label.isBlank() || label.chars().anyMatch(Character::isISOControl))) {
          throw new IllegalArgumentException("a label must have text and no control character");
        }
      }
    }
  }

  /** The largest manifest read (16 MiB): about 40,000 cases; larger is an error. */
  public static final int MAX_BYTES = 16 << 20;

  /** Longest text of the manifest (an id, a path, a symptom) quoted back in an error. */
  private static final int EXCERPT = Printable.QUOTE;

  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .build();

  /**
   * Reads a manifest.
   *
   * @throws ManifestException when the file is missing, larger than {@link #MAX_BYTES}, not JSON,
   *     or breaks the schema (the message names the file and the case)
   */
  public static Manifest read(Path path) {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(path)) {
      bytes = in.readNBytes(MAX_BYTES + 1);
    } catch (NoSuchFileException e) {
      throw new ManifestException(path, "no such file");
    } catch (IOException e) {
      throw new ManifestException(path, "cannot read: " + e.getMessage());
    }
    if (bytes.length > MAX_BYTES) {
      throw new ManifestException(
          path, format(ROOT, "larger than %d MiB: not a manifest", MAX_BYTES >> 20));
    }
    return parse(path, bytes);
  }

  /**
   * Parses the bytes of a manifest file; trace paths are resolved against {@code path}'s directory.
   *
   * @throws ManifestException as {@link #read}
   */
  public static Manifest parse(Path path, byte[] bytes) {
    JsonNode root;
    try {
      root = JSON.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw new ManifestException(
          path,
          "not valid JSON: "
              + Printable.excerpt(
                  io.dlanalyze.trace.TraceMetadata.jsonProblem(e.getOriginalMessage()), 200));
    } catch (IOException e) {
      throw new ManifestException(path, "cannot read: " + e.getMessage());
    }
    if (root == null || !root.isObject() || !root.path("cases").isArray()) {
      throw new ManifestException(path, "expected a JSON object with a \"cases\" array");
    }
    Path base = requireNonNull(path.toAbsolutePath().getParent(), "a file is in a directory");
    List<Case> cases = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    int position = 0;
    for (JsonNode node : root.get("cases")) {
      String where = format(ROOT, "cases[%d]", position);
      String id = requiredText(path, node, "id", where);
      where = format(ROOT, "cases[%d] (%s)", position, Printable.excerpt(id, EXCERPT));
      if (!ids.add(id)) {
        throw new ManifestException(path, where + ": duplicate id");
      }
      String trace = requiredText(path, node, "trace", where);
      JsonNode buggyNode = node.get("buggy");
      if (buggyNode == null || !buggyNode.isBoolean()) {
        throw new ManifestException(path, where + ": \"buggy\" must be true or false");
      }
      boolean buggy = buggyNode.booleanValue();
      Symptom symptom = null;
      List<Symptom> acceptable = new ArrayList<>();
      Location location = null;
      if (buggy) {
        symptom = symptom(path, requiredText(path, node, "symptom", where), where);
        for (JsonNode s : node.path("acceptable_symptoms")) {
          acceptable.add(symptom(path, s.asText(), where));
        }
        location = location(path, node.get("root_cause"), where);
      }
      Path tracePath;
      try {
        tracePath = base.resolve(trace).normalize();
      } catch (InvalidPathException e) {
        throw new ManifestException(
            path,
            format(
                ROOT,
                "%s: \"trace\" is not a valid path: %s (%s)",
                where,
                Printable.excerpt(trace, EXCERPT),
                e.getReason()));
      }
      cases.add(
          new Case(
              id,
              tracePath,
              buggy,
              symptom,
              acceptable,
              location,
              text(path, node, "origin", where, false),
              text(path, node, "description", where, false),
              text(path, node, "twin", where, false),
              new Labels(
                  label(path, node, "family", where),
                  split(path, node, where),
                  label(path, node, "framework", where),
                  label(path, node, "architecture", where))));
      position++;
    }
    return new Manifest(path, cases);
  }

  /** {@link #text} of a field the manifest must have. */
  private static String requiredText(Path path, JsonNode node, String field, String where) {
    return requireNonNull(text(path, node, field, where, true), "text() throws when it is missing");
  }

  private static @Nullable String text(
      Path path, JsonNode node, String field, String where, boolean required) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      if (required) {
        throw new ManifestException(path, format(ROOT, "%s: missing \"%s\"", where, field));
      }
      return null;
    }
    if (!value.isTextual()) {
      throw new ManifestException(path, format(ROOT, "%s: \"%s\" must be a string", where, field));
    }
    return value.textValue();
  }

  /** The split label; "all" names the whole manifest in eval's tables, so no split may take it. */
  private static @Nullable String split(Path path, JsonNode node, String where) {
    String split = label(path, node, "split", where);
    if ("all".equals(split)) {
      throw new ManifestException(
          path,
          where
              + ": \"split\" must not be \"all\" (that names the whole manifest; omit the split"
              + " for a case that belongs to none)");
    }
    return split;
  }

  /**
   * An optional label: absent or null is {@code null}; otherwise a string with some text and no
   * control character (labels are printed in headings, table cells and one-line errors).
   */
  private static @Nullable String label(Path path, JsonNode node, String field, String where) {
    String value = text(path, node, field, where, false);
    if (value != null && value.isBlank()) {
      throw new ManifestException(
          path,
          format(ROOT, "%s: \"%s\" must not be blank (omit it or give a name)", where, field));
    }
    if (value != null && value.chars().anyMatch(Character::isISOControl)) {
      throw new ManifestException(
          path,
          format(
              ROOT,
              "%s: \"%s\" must not contain control characters (a line break, a tab...)",
              where,
              field));
    }
    return value;
  }

  private static Symptom symptom(Path path, String name, String where) {
    try {
      return Symptom.fromWireName(name);
    } catch (IllegalArgumentException e) {
      throw new ManifestException(
          path,
          where
              + ": "
              + Printable.excerpt(requireNonNullElse(e.getMessage(), "unknown symptom"), 400));
    }
  }

  private static Location location(Path path, JsonNode node, String where) {
    if (node != null && node.isTextual() && node.textValue().equals("model")) {
      return Location.MODEL;
    }
    if (node != null
        && node.isObject()
        && node.path("layer_index").isInt()
        && node.path("layer_name").isTextual()) {
      int index = node.get("layer_index").intValue();
      if (index >= 0) {
        return new Location(index, node.get("layer_name").textValue());
      }
    }
    throw new ManifestException(
        path,
        where
            + ": \"root_cause\" must be \"model\" or {\"layer_name\": ..., \"layer_index\": n >="
            + " 0}");
  }
}
