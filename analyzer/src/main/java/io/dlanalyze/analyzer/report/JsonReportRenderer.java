package io.dlanalyze.analyzer.report;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.TraceSummary;
import io.dlanalyze.analyzer.text.Numbers;
import java.io.IOException;
import java.io.Writer;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The report as JSON, in the layout {@code docs/report-format.md} documents: fixed key order,
 * two-space indentation, {@code \n} line ends, numbers with at most six significant digits,
 * non-finite numbers as the strings {@code "NaN"}, {@code "Inf"}, {@code "-Inf"}.
 */
public final class JsonReportRenderer implements ReportRenderer {
  private static final JsonFactory FACTORY = new JsonFactory();

  private final RenderOptions options;

  public JsonReportRenderer(RenderOptions options) {
    this.options = options;
  }

  @Override
  public void render(Report report, Writer out) throws IOException {
    try (JsonGenerator json = FACTORY.createGenerator(out)) {
      json.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
      DefaultIndenter indenter = new DefaultIndenter("  ", "\n");
      Separators separators =
          Separators.createDefaultInstance()
              .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
              .withObjectEmptySeparator("")
              .withArrayEmptySeparator("");
      json.setPrettyPrinter(
          new DefaultPrettyPrinter(separators)
              .withObjectIndenter(indenter)
              .withArrayIndenter(indenter));
      write(report, json);
    }
    out.write('\n');
  }

  private void write(Report report, JsonGenerator json) throws IOException {
    json.writeStartObject();
    json.writeNumberField("report_version", report.reportVersion());
    json.writeStringField("mode", report.mode().wireName());
    json.writeStringField("verdict", report.verdict().wireName());
    json.writeStringField("verdict_reason", report.verdictReason());
    json.writeFieldName("root_cause");
    RootCause root = report.rootCause();
    if (root == null) {
      json.writeNull();
    } else {
      json.writeStartObject();
      json.writeStringField("scope", root.scope());
      json.writeNumberField("layer_index", root.layerIndex());
      json.writeStringField("layer_name", root.layerName());
      json.writeStringField("cause", root.cause());
      nullableString(json, "suggested_fix", root.suggestedFix());
      nullableString(json, "symptom", root.symptom());
      json.writeNumberField("finding_rank", root.findingRank());
      json.writeArrayFieldStart("alternatives");
      for (RootCause.Alternative alternative : root.alternatives()) {
        json.writeStartObject();
        json.writeStringField("cause", alternative.cause());
        nullableString(json, "suggested_fix", alternative.suggestedFix());
        json.writeStringField("symptom", alternative.symptom());
        json.writeNumberField("finding_rank", alternative.findingRank());
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeEndObject();
    }
    json.writeArrayFieldStart("story");
    for (ReportStory.Group group : ReportStory.of(report).groups()) {
      json.writeStartObject();
      json.writeStringField("group", group.kind().wireName());
      json.writeArrayFieldStart("ranks");
      for (int r : group.ranks()) {
        json.writeNumber(r);
      }
      json.writeEndArray();
      json.writeEndObject();
    }
    json.writeEndArray();
    json.writeArrayFieldStart("findings");
    int rank = 1;
    for (Finding finding : report.findings()) {
      writeFinding(json, finding, rank++);
    }
    json.writeEndArray();
    json.writeArrayFieldStart("baselines");
    for (BaselineResult baseline : report.baselines()) {
      json.writeStartObject();
      json.writeStringField("name", baseline.name());
      json.writeStringField("callback", baseline.callback());
      json.writeStringField("level", baseline.level());
      json.writeStringField("status", baseline.status().wireName());
      nullableLong(json, "stop_step", baseline.stopStep());
      nullableLong(json, "epoch", baseline.epoch());
      nullableLong(json, "batch", baseline.batch());
      json.writeFieldName("steps_after_first_finding");
      if (baseline.stepsAfterFirstFinding() == null) {
        json.writeNull();
      } else {
        json.writeNumber(baseline.stepsAfterFirstFinding());
      }
      json.writeStringField("detail", baseline.detail());
      json.writeEndObject();
    }
    json.writeEndArray();
    writeTrace(json, report.trace());
    json.writeObjectFieldStart("options");
    json.writeObjectFieldStart("thresholds");
    for (Map.Entry<String, Double> entry : report.thresholds().entrySet()) {
      json.writeFieldName(entry.getKey());
      boolean integral = Thresholds.byKey(entry.getKey()).map(t -> t.integral()).orElse(false);
      if (integral) {
        json.writeNumber(Math.round(entry.getValue()));
      } else {
        number(json, entry.getValue());
      }
    }
    json.writeEndObject();
    json.writeArrayFieldStart("detectors");
    for (String id : report.detectors()) {
      json.writeString(id);
    }
    json.writeEndArray();
    json.writeEndObject();
    if (options.timing() && report.timing() != null) {
      json.writeObjectFieldStart("timing");
      json.writeNumberField("elapsed_ms", report.timing().elapsedNanos() / 1_000_000);
      json.writeNumberField("rows", report.timing().rows());
      json.writeBooleanField("stopped_early", report.timing().stoppedEarly());
      if (report.timing().stoppedEarly()) {
        json.writeNullField("rows_per_second");
      } else {
        json.writeNumberField("rows_per_second", Math.round(report.timing().rowsPerSecond()));
      }
      json.writeEndObject();
    }
    json.writeEndObject();
  }

  private static void writeFinding(JsonGenerator json, Finding finding, int rank)
      throws IOException {
    json.writeStartObject();
    json.writeNumberField("rank", rank);
    json.writeStringField("detector", finding.detector());
    json.writeStringField("symptom", finding.symptom().wireName());
    json.writeStringField("severity", finding.severity().wireName());
    json.writeNumberField("layer_index", finding.layerIndex());
    json.writeStringField("layer_name", finding.layerName());
    nullableString(json, "layer_type", finding.layerType());
    json.writeStringField("phase", finding.phase().wireName());
    json.writeNumberField("first_step", finding.firstStep());
    nullableLong(json, "epoch", finding.epoch());
    nullableLong(json, "batch", finding.batch());
    json.writeNumberField("last_step", finding.lastStep());
    json.writeNumberField("occurrences", finding.occurrences());
    json.writeObjectFieldStart("evidence");
    EvidenceJson.writeFields(json, finding.evidence());
    json.writeEndObject();
    json.writeStringField("message", finding.message());
    json.writeArrayFieldStart("consequences");
    for (Consequence consequence : finding.consequences()) {
      json.writeStartObject();
      json.writeNumberField("layer_index", consequence.layerIndex());
      json.writeStringField("layer_name", consequence.layerName());
      json.writeStringField("phase", consequence.phase().wireName());
      json.writeNumberField("first_step", consequence.firstStep());
      json.writeNumberField("occurrences", consequence.occurrences());
      json.writeEndObject();
    }
    json.writeEndArray();
    nullableString(json, "suggested_fix", finding.suggestedFix());
    json.writeEndObject();
  }

  private static void writeTrace(JsonGenerator json, TraceSummary trace) throws IOException {
    json.writeObjectFieldStart("trace");
    json.writeStringField("path", trace.path());
    json.writeStringField("format", trace.format());
    json.writeNumberField("rows", trace.rows());
    json.writeNumberField("steps", trace.steps());
    nullableLong(json, "first_step", trace.firstStep());
    nullableLong(json, "last_step", trace.lastStep());
    json.writeNumberField("epochs", trace.epochs());
    json.writeArrayFieldStart("layers");
    for (Layer layer : trace.layers()) {
      json.writeStartObject();
      json.writeNumberField("index", layer.index());
      json.writeStringField("name", layer.name());
      nullableString(json, "type", layer.type());
      nullableString(json, "activation", layer.activation());
      json.writeBooleanField("trainable", layer.trainable());
      json.writeEndObject();
    }
    json.writeEndArray();
    json.writeArrayFieldStart("phases");
    for (String phase : trace.phases()) {
      json.writeString(phase);
    }
    json.writeEndArray();
    json.writeObjectFieldStart("metadata");
    for (Map.Entry<String, String> entry : trace.metadata().entrySet()) {
      json.writeStringField(entry.getKey(), entry.getValue());
    }
    json.writeEndObject();
    json.writeBooleanField("truncated", trace.truncated());
    nullableLong(json, "stopped_at_step", trace.stoppedAtStep());
    json.writeArrayFieldStart("warnings");
    for (String warning : trace.warnings()) {
      json.writeString(warning);
    }
    json.writeEndArray();
    json.writeEndObject();
  }

  private static void number(JsonGenerator json, double value) throws IOException {
    if (Double.isFinite(value)) {
      json.writeNumber(Numbers.precise(value));
    } else {
      json.writeString(Numbers.format(value));
    }
  }

  private static void nullableString(JsonGenerator json, String field, @Nullable String value)
      throws IOException {
    if (value == null) {
      json.writeNullField(field);
    } else {
      json.writeStringField(field, value);
    }
  }

  /** Writes a step, epoch or batch, or null when it is -1 (unknown). */
  private static void nullableLong(JsonGenerator json, String field, long value)
      throws IOException {
    if (value < 0) {
      json.writeNullField(field);
    } else {
      json.writeNumberField(field, value);
    }
  }
}
