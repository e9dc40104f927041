package io.dlanalyze.cli.eval;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.analyzer.Symptom;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The ground truth of a benchmark of traces ({@code sample-traces/manifest.json}): per case the
 * trace, whether the run is buggy, the expected symptom class and root-cause location, and its
 * twin.
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
   */
  public record Case(
      String id,
      Path trace,
      boolean buggy,
      Symptom symptom,
      List<Symptom> acceptableSymptoms,
      Location rootCause,
      String origin,
      String description,
      String twin) {
    public Case {
      requireNonNull(id, "id is null");
      requireNonNull(trace, "trace is null");
      acceptableSymptoms = List.copyOf(acceptableSymptoms);
      if (buggy && (symptom == null || rootCause == null)) {
        throw new IllegalArgumentException(
            format(ROOT, "buggy case %s needs a symptom and a root cause", id));
      }
    }

    /** True when {@code actual} is the expected symptom or one of the acceptable ones. */
    public boolean symptomMatches(Symptom actual) {
      return actual != null && (actual == symptom || acceptableSymptoms.contains(actual));
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Reads a manifest.
   *
   * @throws ManifestException when the file is missing, not JSON, or breaks the schema (the message
   *     names the file and the case)
   */
  public static Manifest read(Path path) {
    JsonNode root;
    try {
      root = JSON.readTree(Files.readString(path));
    } catch (NoSuchFileException e) {
      throw new ManifestException(path, "no such file");
    } catch (JsonProcessingException e) {
      throw new ManifestException(
          path,
          "not valid JSON: "
              + io.dlanalyze.trace.TraceMetadata.jsonProblem(e.getOriginalMessage()));
    } catch (IOException e) {
      throw new ManifestException(path, "cannot read: " + e.getMessage());
    }
    if (root == null || !root.isObject() || !root.path("cases").isArray()) {
      throw new ManifestException(path, "expected a JSON object with a \"cases\" array");
    }
    Path base = path.toAbsolutePath().getParent();
    List<Case> cases = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    int position = 0;
    for (JsonNode node : root.get("cases")) {
      String where = format(ROOT, "cases[%d]", position);
      String id = text(path, node, "id", where, true);
      where = format(ROOT, "cases[%d] (%s)", position, id);
      if (!ids.add(id)) {
        throw new ManifestException(path, where + ": duplicate id");
      }
      String trace = text(path, node, "trace", where, true);
      JsonNode buggyNode = node.get("buggy");
      if (buggyNode == null || !buggyNode.isBoolean()) {
        throw new ManifestException(path, where + ": \"buggy\" must be true or false");
      }
      boolean buggy = buggyNode.booleanValue();
      Symptom symptom = null;
      List<Symptom> acceptable = new ArrayList<>();
      Location location = null;
      if (buggy) {
        symptom = symptom(path, text(path, node, "symptom", where, true), where);
        for (JsonNode s : node.path("acceptable_symptoms")) {
          acceptable.add(symptom(path, s.asText(), where));
        }
        location = location(path, node.get("root_cause"), where);
      }
      cases.add(
          new Case(
              id,
              base.resolve(trace).normalize(),
              buggy,
              symptom,
              acceptable,
              location,
              text(path, node, "origin", where, false),
              text(path, node, "description", where, false),
              text(path, node, "twin", where, false)));
      position++;
    }
    return new Manifest(path, cases);
  }

  private static String text(
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

  private static Symptom symptom(Path path, String name, String where) {
    try {
      return Symptom.fromWireName(name);
    } catch (IllegalArgumentException e) {
      throw new ManifestException(path, where + ": " + e.getMessage());
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
