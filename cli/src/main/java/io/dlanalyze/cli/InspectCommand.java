package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dlanalyze.analyzer.MetadataGaps;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.InputFiles;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.validate.Problem;
import io.dlanalyze.trace.validate.TraceValidator;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code dl-analyze inspect TRACE}: reads a trace once and prints what is in it (format, rows,
 * steps, epochs, layers, phases, metadata), the reader's warnings (truncation, missing metadata)
 * and the validator's findings. Exits with 4 when the trace breaks the contract.
 */
@Command(
    name = "inspect",
    mixinStandardHelpOptions = true,
    versionProvider = ManifestVersionProvider.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Reads a trace (Parquet, Arrow IPC file or stream, CSV) in one pass and prints its format,"
          + " row, step and epoch counts, layers with their types (from the data and from"
          + " dltrace.layers), the phases present with their row counts, the metadata, truncation"
          + " and other warnings, and every contract violation found by the validator.",
      "Exits with 4 when the validator finds an error (warnings alone exit with 0).",
    })
final class InspectCommand implements Callable<Integer> {
  /** Output format. */
  enum Format {
    TEXT,
    JSON
  }

  private static final int MAX_TEXT = 60;

  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "TRACE",
      description = "The trace file (or a directory of part files).")
  Path trace;

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      defaultValue = "text",
      description = "Output format: text or json (default: ${DEFAULT-VALUE}).")
  Format format;

  @Override
  public Integer call() {
    TraceSummary summary = new TraceSummary();
    List<Problem> problems;
    InputFiles.requireReadable(trace);
    try (TraceReader reader = TraceReaders.open(trace, ReadOptions.all())) {
      TraceValidator validator = new TraceValidator(reader.path(), reader.metadata());
      while (reader.next()) {
        summary.accept(reader.batch());
        validator.accept(reader.batch());
      }
      problems = validator.finish();
      PrintWriter out = spec.commandLine().getOut();
      // The validator reports unknown phases with the row they start at; the reader's own
      // unknown-phase lines would say the same again.
      List<String> warnings = new ArrayList<>();
      for (String warning : reader.warnings()) {
        if (!warning.startsWith("unknown phase '")) {
          warnings.add(warning);
        }
      }
      warnings.addAll(MetadataGaps.notes(reader.metadata()));
      if (format == Format.JSON) {
        out.print(json(reader, summary, warnings, problems));
      } else {
        out.print(text(reader, summary, warnings, problems));
      }
      out.flush();
    }
    long errors = count(problems, Problem.Severity.ERROR);
    if (errors > 0) {
      throw new CliException(
          ExitCodes.BAD_INPUT,
          format(
              ROOT,
              "%s: %d contract %s (see the validation section)",
              trace,
              errors,
              errors == 1 ? "violation" : "violations"));
    }
    return ExitCodes.OK;
  }

  private static long count(List<Problem> problems, Problem.Severity severity) {
    long n = 0;
    for (Problem problem : problems) {
      if (problem.severity() == severity) {
        n++;
      }
    }
    return n;
  }

  /** A layer row of the table: data and/or dltrace.layers. */
  private record Layer(int index, String name, String type, long rows, LayerInfo listed) {}

  private static List<Layer> layers(
      TraceSummary summary, TraceDictionary dictionary, TraceMetadata metadata) {
    Set<Integer> indices = new TreeSet<>();
    for (int slot = 0; slot < summary.layerRows.length; slot++) {
      if (summary.layerRows[slot] > 0) {
        indices.add(slot - 1);
      }
    }
    // The first entry of each index, as TraceMetadata.layer(index) finds it, in one pass: looking
    // each index up in the list would take time quadratic in the number of entries.
    Map<Integer, LayerInfo> listedByIndex = new HashMap<>();
    for (LayerInfo layer : metadata.layers()) {
      indices.add(layer.index());
      listedByIndex.putIfAbsent(layer.index(), layer);
    }
    List<Layer> layers = new ArrayList<>();
    for (int index : indices) {
      int slot = index + 1;
      boolean inData = slot >= 0 && slot < summary.layerRows.length && summary.layerRows[slot] > 0;
      LayerInfo listed = listedByIndex.get(index);
      String name = inData ? dictionary.layerName(summary.layerName[slot]) : listed.name();
      String type =
          inData && summary.layerType[slot] >= 0
              ? dictionary.layerType(summary.layerType[slot])
              : null;
      layers.add(new Layer(index, name, type, inData ? summary.layerRows[slot] : 0, listed));
    }
    return layers;
  }

  private String text(
      TraceReader reader, TraceSummary s, List<String> warnings, List<Problem> problems) {
    StringBuilder out = new StringBuilder();
    TraceDictionary dictionary = reader.dictionary();
    TraceMetadata metadata = reader.metadata();
    Set<Column> columns = reader.columnsInFile();
    List<String> absent = new ArrayList<>();
    for (Column column : Column.values()) {
      if (!columns.contains(column)) {
        absent.add(column.wireName());
      }
    }
    line(out, "file", reader.path().toString());
    line(out, "format", reader.format().displayName());
    line(out, "rows", Long.toString(s.rows));
    line(
        out,
        "steps",
        s.rows == 0 ? "0" : format(ROOT, "%d (%d to %d)", s.steps, s.minStep, s.maxStep));
    line(
        out,
        "epochs",
        s.rows == 0 ? "0" : format(ROOT, "%d (%d to %d)", s.epochs, s.minEpoch, s.maxEpoch));
    line(
        out,
        "columns",
        format(
            ROOT,
            "%d of %d%s",
            columns.size(),
            Column.COUNT,
            absent.isEmpty() ? "" : " (absent: " + String.join(", ", absent) + ")"));
    line(out, "truncated", reader.truncated() ? "yes (see warnings)" : "no");

    List<Layer> layers = layers(s, dictionary, metadata);
    long inData = 0;
    for (Layer layer : layers) {
      if (layer.rows() > 0 && layer.index() >= 0) {
        inData++;
      }
    }
    out.append(
        format(
            ROOT,
            "%nlayers (%d in the data, %d in dltrace.layers; index -1 holds the model-level"
                + " rows)%n",
            inData,
            metadata.layers().size()));
    List<String[]> table = new ArrayList<>();
    table.add(new String[] {"index", "name", "type", "activation", "params", "trainable", "rows"});
    for (Layer layer : layers) {
      LayerInfo listed = layer.listed();
      String type = layer.type() != null ? layer.type() : listed != null ? listed.type() : null;
      table.add(
          new String[] {
            Integer.toString(layer.index()),
            shown(layer.name()),
            shown(type),
            shown(listed == null ? null : listed.activation()),
            listed == null || listed.params() < 0 ? "-" : Long.toString(listed.params()),
            listed == null ? "-" : listed.trainable() ? "yes" : "no",
            Long.toString(layer.rows()),
          });
    }
    table(out, table);

    out.append(format(ROOT, "%nphases%n"));
    List<String[]> phases = new ArrayList<>();
    for (int code = 0; code < s.phaseRows.length; code++) {
      if (s.phaseRows[code] > 0) {
        String note =
            !Phase.isKnown(code) ? "unknown" : Phase.ofCode(code).isCore() ? "" : "optional";
        phases.add(
            new String[] {
              shown(dictionary.phaseName(code)), Long.toString(s.phaseRows[code]), note
            });
      }
    }
    if (phases.isEmpty()) {
      out.append("  none\n");
    } else {
      table(out, phases);
    }

    int keyCount = metadata.asMap().size();
    out.append(format(ROOT, "%nmetadata (%d %s)%n", keyCount, keyCount == 1 ? "key" : "keys"));
    List<String[]> keys = new ArrayList<>();
    for (Map.Entry<String, String> entry : metadata.asMap().entrySet()) {
      keys.add(new String[] {shown(entry.getKey()), abbreviated(entry.getValue(), 100)});
    }
    if (keys.isEmpty()) {
      out.append("  none\n");
    } else {
      table(out, keys);
    }

    out.append(format(ROOT, "%nwarnings%n"));
    if (warnings.isEmpty()) {
      out.append("  none\n");
    }
    for (String warning : warnings) {
      out.append("  ").append(warning).append('\n');
    }

    long errors = count(problems, Problem.Severity.ERROR);
    long warned = count(problems, Problem.Severity.WARNING);
    out.append(
        format(
            ROOT,
            "%nvalidation: %d %s, %d %s%n",
            errors,
            errors == 1 ? "error" : "errors",
            warned,
            warned == 1 ? "warning" : "warnings"));
    for (Problem problem : problems) {
      out.append(
          format(
              ROOT, "  %-8s %s%n", problem.severity().name().toLowerCase(ROOT), problem.message()));
    }
    return out.toString();
  }

  private static void line(StringBuilder out, String key, String value) {
    out.append(format(ROOT, "%-10s %s%n", key, value));
  }

  private static void table(StringBuilder out, List<String[]> rows) {
    int[] widths = new int[rows.get(0).length];
    for (String[] row : rows) {
      for (int c = 0; c < row.length; c++) {
        widths[c] = Math.max(widths[c], row[c].length());
      }
    }
    for (String[] row : rows) {
      StringBuilder line = new StringBuilder("  ");
      for (int c = 0; c < row.length; c++) {
        line.append(row[c]);
        if (c < row.length - 1) {
          line.append(" ".repeat(widths[c] - row[c].length() + 2));
        }
      }
      out.append(line.toString().stripTrailing()).append('\n');
    }
  }

  /** A string for the text table: control characters escaped, long text cut, null as "-". */
  private static String shown(String value) {
    return value == null ? "-" : abbreviated(value, MAX_TEXT);
  }

  private static String abbreviated(String value, int max) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (Character.isISOControl(c)) {
            out.append(format(ROOT, "\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    if (value.isEmpty()) {
      return "\"\"";
    }
    return out.length() > max
        ? out.substring(0, max - 3) + format(ROOT, "... (%d characters)", value.length())
        : out.toString();
  }

  private String json(
      TraceReader reader, TraceSummary s, List<String> warnings, List<Problem> problems) {
    ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ObjectNode root = mapper.createObjectNode();
    TraceDictionary dictionary = reader.dictionary();
    TraceMetadata metadata = reader.metadata();
    root.put("file", reader.path().toString());
    root.put("format", reader.format().displayName());
    root.put("rows", s.rows);
    ObjectNode steps = root.putObject("steps");
    steps.put("count", s.steps);
    ObjectNode epochs = root.putObject("epochs");
    epochs.put("count", s.epochs);
    if (s.rows > 0) {
      steps.put("min", s.minStep).put("max", s.maxStep);
      epochs.put("min", s.minEpoch).put("max", s.maxEpoch);
    } else {
      steps.putNull("min").putNull("max");
      epochs.putNull("min").putNull("max");
    }
    ArrayNode columns = root.putArray("columns");
    for (Column column : Column.values()) {
      if (reader.columnsInFile().contains(column)) {
        columns.add(column.wireName());
      }
    }
    root.put("truncated", reader.truncated());
    ArrayNode layers = root.putArray("layers");
    for (Layer layer : layers(s, dictionary, metadata)) {
      ObjectNode node = layers.addObject();
      node.put("index", layer.index());
      node.put("name", layer.name());
      node.put("type", layer.type());
      node.put("rows", layer.rows());
      LayerInfo listed = layer.listed();
      if (listed == null) {
        node.putNull("listed");
      } else {
        ObjectNode info = node.putObject("listed");
        info.put("name", listed.name());
        info.put("type", listed.type());
        info.put("activation", listed.activation());
        info.put("params", listed.params());
        info.put("trainable", listed.trainable());
      }
    }
    ArrayNode phases = root.putArray("phases");
    for (int code = 0; code < s.phaseRows.length; code++) {
      if (s.phaseRows[code] > 0) {
        ObjectNode node = phases.addObject();
        node.put("name", dictionary.phaseName(code));
        node.put("rows", s.phaseRows[code]);
        node.put("known", Phase.isKnown(code));
        node.put("core", Phase.isKnown(code) && Phase.ofCode(code).isCore());
      }
    }
    ObjectNode meta = root.putObject("metadata");
    for (Map.Entry<String, String> entry : metadata.asMap().entrySet()) {
      meta.put(entry.getKey(), entry.getValue());
    }
    ArrayNode warningNodes = root.putArray("warnings");
    warnings.forEach(warningNodes::add);
    ObjectNode validation = root.putObject("validation");
    validation.put("errors", count(problems, Problem.Severity.ERROR));
    validation.put("warnings", count(problems, Problem.Severity.WARNING));
    ArrayNode list = validation.putArray("problems");
    for (Problem problem : problems) {
      ObjectNode node = list.addObject();
      node.put("severity", problem.severity().name().toLowerCase(ROOT));
      node.put("rule", problem.rule());
      if (problem.row() < 0) {
        node.putNull("row");
      } else {
        node.put("row", problem.row());
      }
      node.put("message", problem.message());
    }
    try {
      return mapper.writeValueAsString(root) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot render JSON", e);
    }
  }
}
