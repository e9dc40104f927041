package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.BuiltInDetectors;
import io.dlanalyze.analyzer.DetectorInfo;
import io.dlanalyze.analyzer.MetadataGaps;
import io.dlanalyze.analyzer.RecordedPhases;
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
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
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

  private static final JsonFactory JSON_FACTORY = new JsonFactory();

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
  public Integer call() throws IOException {
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
      List<String> detectors = new ArrayList<>();
      for (DetectorInfo info : BuiltInDetectors.forMode(AnalysisMode.DEFAULT)) {
        detectors.add(info.id());
      }
      warnings.addAll(RecordedPhases.notes(reader.metadata(), detectors));
      warnings.addAll(MetadataGaps.notes(reader.metadata()));
      if (format == Format.JSON) {
        json(out, reader, summary, warnings, problems);
      } else {
        text(out, reader, summary, warnings, problems);
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
  private record Layer(
      int index, String name, @Nullable String type, long rows, @Nullable LayerInfo listed) {}

  /**
   * Gives each layer of the table, by index: those in the data merged with the first entry of each
   * index in {@code dltrace.layers}. Nothing is collected, so a trace listing 300,000 layers costs
   * no more than its metadata already does.
   */
  private static void forEachLayer(
      TraceSummary summary,
      TraceDictionary dictionary,
      TraceMetadata metadata,
      Consumer<Layer> action) {
    List<LayerInfo> listed = metadata.layersByIndex();
    long[] rows = summary.layerRows;
    int slot = nextSlot(rows, 0);
    int next = 0;
    while (slot < rows.length || next < listed.size()) {
      int dataIndex = slot < rows.length ? slot - 1 : Integer.MAX_VALUE;
      LayerInfo info = next < listed.size() ? listed.get(next) : null;
      int index = info == null ? dataIndex : Math.min(dataIndex, info.index());
      LayerInfo match = info != null && info.index() == index ? info : null;
      if (match != null) {
        next++;
      }
      if (index == dataIndex) {
        String type =
            summary.layerType[slot] >= 0 ? dictionary.layerType(summary.layerType[slot]) : null;
        action.accept(
            new Layer(
                index, dictionary.layerName(summary.layerName[slot]), type, rows[slot], match));
        slot = nextSlot(rows, slot + 1);
      } else {
        LayerInfo only = requireNonNull(match, "an index not in the data is listed");
        action.accept(new Layer(index, only.name(), null, 0, only));
      }
    }
  }

  /** The first slot from {@code from} on with rows, or {@code rows.length}. */
  private static int nextSlot(long[] rows, int from) {
    int slot = from;
    while (slot < rows.length && rows[slot] == 0) {
      slot++;
    }
    return slot;
  }

  private static String[] layerRow(Layer layer) {
    LayerInfo listed = layer.listed();
    String type = layer.type() != null ? layer.type() : listed != null ? listed.type() : null;
    return new String[] {
      Integer.toString(layer.index()),
      shown(layer.name()),
      shown(type),
      shown(listed == null ? null : listed.activation()),
      listed == null || listed.params() < 0 ? "-" : Long.toString(listed.params()),
      listed == null ? "-" : listed.trainable() ? "yes" : "no",
      Long.toString(layer.rows()),
    };
  }

  /**
   * The text report, written as it goes: the layer table is walked twice (column widths, then the
   * rows) rather than held.
   */
  private void text(
      PrintWriter out,
      TraceReader reader,
      TraceSummary s,
      List<String> warnings,
      List<Problem> problems) {
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

    String[] header = {"index", "name", "type", "activation", "params", "trainable", "rows"};
    int[] widths = widths(new int[header.length], header);
    long[] inData = {0};
    forEachLayer(
        s,
        dictionary,
        metadata,
        layer -> {
          widths(widths, layerRow(layer));
          if (layer.rows() > 0 && layer.index() >= 0) {
            inData[0]++;
          }
        });
    out.print(
        format(
            ROOT,
            "%nlayers (%d in the data, %d in dltrace.layers; index -1 holds the model-level"
                + " rows)%n",
            inData[0],
            metadata.layers().size()));
    row(out, widths, header);
    forEachLayer(s, dictionary, metadata, layer -> row(out, widths, layerRow(layer)));

    out.print(format(ROOT, "%nphases%n"));
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
      out.print("  none\n");
    } else {
      table(out, phases);
    }

    int keyCount = metadata.asMap().size();
    out.print(format(ROOT, "%nmetadata (%d %s)%n", keyCount, keyCount == 1 ? "key" : "keys"));
    List<String[]> keys = new ArrayList<>();
    for (Map.Entry<String, String> entry : metadata.asMap().entrySet()) {
      keys.add(new String[] {shown(entry.getKey()), abbreviated(entry.getValue(), 100)});
    }
    if (keys.isEmpty()) {
      out.print("  none\n");
    } else {
      table(out, keys);
    }

    out.print(format(ROOT, "%nwarnings%n"));
    if (warnings.isEmpty()) {
      out.print("  none\n");
    }
    for (String warning : warnings) {
      out.print("  " + warning + "\n");
    }

    long errors = count(problems, Problem.Severity.ERROR);
    long warned = count(problems, Problem.Severity.WARNING);
    out.print(
        format(
            ROOT,
            "%nvalidation: %d %s, %d %s%n",
            errors,
            errors == 1 ? "error" : "errors",
            warned,
            warned == 1 ? "warning" : "warnings"));
    for (Problem problem : problems) {
      out.print(
          format(
              ROOT, "  %-8s %s%n", problem.severity().name().toLowerCase(ROOT), problem.message()));
    }
  }

  private static void line(PrintWriter out, String key, String value) {
    out.print(format(ROOT, "%-10s %s%n", key, value));
  }

  private static void table(PrintWriter out, List<String[]> rows) {
    int[] widths = new int[rows.get(0).length];
    for (String[] row : rows) {
      widths(widths, row);
    }
    for (String[] row : rows) {
      row(out, widths, row);
    }
  }

  /** Widens {@code widths} to fit {@code row}; returns {@code widths}. */
  private static int[] widths(int[] widths, String[] row) {
    for (int c = 0; c < row.length; c++) {
      widths[c] = Math.max(widths[c], row[c].length());
    }
    return widths;
  }

  private static void row(PrintWriter out, int[] widths, String[] row) {
    StringBuilder line = new StringBuilder("  ");
    for (int c = 0; c < row.length; c++) {
      line.append(row[c]);
      if (c < row.length - 1) {
        line.append(" ".repeat(widths[c] - row[c].length() + 2));
      }
    }
    out.print(line.toString().stripTrailing() + "\n");
  }

  /** A string for the text table: control characters escaped, long text cut, null as "-". */
  private static String shown(@Nullable String value) {
    return value == null ? "-" : abbreviated(value, MAX_TEXT);
  }

  private static String abbreviated(String value, int max) {
    StringBuilder out = new StringBuilder();
    // Escaping stops once the text is past the cut: a 34 MB dltrace.layers value is not copied.
    for (int i = 0; i < value.length() && out.length() <= max; i++) {
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

  /**
   * The JSON report, written as it goes with Jackson's streaming generator (a tree of the layers
   * and the text of it held whole took more than 600 MB for 300,000 layers).
   */
  private static void json(
      PrintWriter out,
      TraceReader reader,
      TraceSummary s,
      List<String> warnings,
      List<Problem> problems)
      throws IOException {
    TraceDictionary dictionary = reader.dictionary();
    TraceMetadata metadata = reader.metadata();
    try (JsonGenerator json =
        JSON_FACTORY.createGenerator(out).disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET)) {
      json.useDefaultPrettyPrinter();
      json.writeStartObject();
      json.writeStringField("file", reader.path().toString());
      json.writeStringField("format", reader.format().displayName());
      json.writeNumberField("rows", s.rows);
      json.writeObjectFieldStart("steps");
      json.writeNumberField("count", s.steps);
      range(json, s.rows > 0, s.minStep, s.maxStep);
      json.writeEndObject();
      json.writeObjectFieldStart("epochs");
      json.writeNumberField("count", s.epochs);
      range(json, s.rows > 0, s.minEpoch, s.maxEpoch);
      json.writeEndObject();
      json.writeArrayFieldStart("columns");
      for (Column column : Column.values()) {
        if (reader.columnsInFile().contains(column)) {
          json.writeString(column.wireName());
        }
      }
      json.writeEndArray();
      json.writeBooleanField("truncated", reader.truncated());
      json.writeArrayFieldStart("layers");
      try {
        forEachLayer(s, dictionary, metadata, layer -> writeLayer(json, layer));
      } catch (UncheckedIOException e) {
        throw e.getCause();
      }
      json.writeEndArray();
      json.writeArrayFieldStart("phases");
      for (int code = 0; code < s.phaseRows.length; code++) {
        if (s.phaseRows[code] > 0) {
          json.writeStartObject();
          json.writeStringField("name", dictionary.phaseName(code));
          json.writeNumberField("rows", s.phaseRows[code]);
          json.writeBooleanField("known", Phase.isKnown(code));
          json.writeBooleanField("core", Phase.isKnown(code) && Phase.ofCode(code).isCore());
          json.writeEndObject();
        }
      }
      json.writeEndArray();
      json.writeObjectFieldStart("metadata");
      for (Map.Entry<String, String> entry : metadata.asMap().entrySet()) {
        json.writeStringField(entry.getKey(), entry.getValue());
      }
      json.writeEndObject();
      json.writeArrayFieldStart("warnings");
      for (String warning : warnings) {
        json.writeString(warning);
      }
      json.writeEndArray();
      json.writeObjectFieldStart("validation");
      json.writeNumberField("errors", count(problems, Problem.Severity.ERROR));
      json.writeNumberField("warnings", count(problems, Problem.Severity.WARNING));
      json.writeArrayFieldStart("problems");
      for (Problem problem : problems) {
        json.writeStartObject();
        json.writeStringField("severity", problem.severity().name().toLowerCase(ROOT));
        json.writeStringField("rule", problem.rule());
        if (problem.row() < 0) {
          json.writeNullField("row");
        } else {
          json.writeNumberField("row", problem.row());
        }
        json.writeStringField("message", problem.message());
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeEndObject();
      json.writeEndObject();
    }
    out.print("\n");
  }

  private static void range(JsonGenerator json, boolean any, long min, long max)
      throws IOException {
    if (any) {
      json.writeNumberField("min", min);
      json.writeNumberField("max", max);
    } else {
      json.writeNullField("min");
      json.writeNullField("max");
    }
  }

  private static void writeLayer(JsonGenerator json, Layer layer) {
    try {
      json.writeStartObject();
      json.writeNumberField("index", layer.index());
      json.writeStringField("name", layer.name());
      json.writeStringField("type", layer.type());
      json.writeNumberField("rows", layer.rows());
      LayerInfo listed = layer.listed();
      if (listed == null) {
        json.writeNullField("listed");
      } else {
        json.writeObjectFieldStart("listed");
        json.writeStringField("name", listed.name());
        json.writeStringField("type", listed.type());
        json.writeStringField("activation", listed.activation());
        json.writeNumberField("params", listed.params());
        json.writeBooleanField("trainable", listed.trainable());
        json.writeEndObject();
      }
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
