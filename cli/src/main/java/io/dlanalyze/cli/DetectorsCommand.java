package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.BuiltInDetectors;
import io.dlanalyze.analyzer.DetectorInfo;
import io.dlanalyze.analyzer.Threshold;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code dl-analyze detectors}: lists every built-in detector with its id, modes, symptom class,
 * default severity, the thresholds it reads with their defaults, and where its rule comes from.
 */
@Command(
    name = "detectors",
    mixinStandardHelpOptions = true,
    versionProvider = ManifestVersionProvider.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Lists every built-in detector: id, modes, symptom class, default severity, the thresholds"
          + " it reads with their defaults (set them with --set KEY=VALUE or a --config file), and"
          + " the source of its rule.",
    })
final class DetectorsCommand implements Callable<Integer> {
  /** Output format. */
  enum Format {
    TEXT,
    JSON
  }

  @Spec CommandSpec spec;

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      defaultValue = "text",
      description = "text or json (default: text).")
  Format format;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    switch (format) {
      case TEXT -> text(out);
      case JSON -> json(out);
    }
    out.flush();
    return ExitCodes.OK;
  }

  private static void text(PrintWriter out) {
    for (DetectorInfo info : BuiltInDetectors.all()) {
      out.println(
          format(
              ROOT,
              "%s  [%s, %s, %s]",
              info.id(),
              info.symptom().wireName(),
              info.severity().wireName(),
              modes(info)));
      out.println("  " + info.summary());
      List<String> defaults = new ArrayList<>();
      for (Threshold threshold : info.thresholds()) {
        defaults.add(threshold.key() + "=" + plain(threshold.defaultValue()));
      }
      out.println("  defaults: " + (defaults.isEmpty() ? "none" : String.join(", ", defaults)));
      out.println("  source: " + info.source());
      if (info.needsCorroboration()) {
        out.println("  decides the verdict only beside another detector's warning");
      }
      out.println();
    }
  }

  private static void json(PrintWriter out) throws Exception {
    ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ArrayNode array = mapper.createArrayNode();
    for (DetectorInfo info : BuiltInDetectors.all()) {
      ObjectNode node = array.addObject();
      node.put("id", info.id());
      node.put("symptom", info.symptom().wireName());
      node.put("severity", info.severity().wireName());
      ArrayNode modes = node.putArray("modes");
      for (AnalysisMode mode : AnalysisMode.values()) {
        if (info.runsIn(mode)) {
          modes.add(mode.wireName());
        }
      }
      node.put("summary", info.summary());
      ObjectNode thresholds = node.putObject("thresholds");
      for (Threshold threshold : info.thresholds()) {
        if (threshold.integral()) {
          thresholds.put(threshold.key(), (long) threshold.defaultValue());
        } else {
          thresholds.put(threshold.key(), threshold.defaultValue());
        }
      }
      node.put("source", info.source());
      node.put("needs_corroboration", info.needsCorroboration());
    }
    out.println(mapper.writeValueAsString(array));
  }

  private static String modes(DetectorInfo info) {
    List<String> modes = new ArrayList<>();
    for (AnalysisMode mode : AnalysisMode.values()) {
      if (info.runsIn(mode)) {
        modes.add(mode.wireName());
      }
    }
    return String.join("+", modes);
  }

  private static String plain(double value) {
    return value == Math.rint(value) && Math.abs(value) < 1e15
        ? Long.toString((long) value)
        : Double.toString(value);
  }
}
