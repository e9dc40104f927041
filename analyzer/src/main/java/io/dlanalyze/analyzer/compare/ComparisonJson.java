package io.dlanalyze.analyzer.compare;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import io.dlanalyze.analyzer.compare.Comparison.Curve;
import io.dlanalyze.analyzer.compare.Comparison.Divergence;
import io.dlanalyze.analyzer.compare.Comparison.FindingMatch;
import io.dlanalyze.analyzer.compare.Comparison.LayerMatch;
import io.dlanalyze.analyzer.compare.Comparison.Run;
import io.dlanalyze.trace.Phase;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;

/**
 * A comparison as JSON ({@code docs/cli.md}, compare): fixed key order, curves with at most {@link
 * #MAX_POINTS} points (every n-th step), non-finite numbers as the strings "NaN", "Inf", "-Inf".
 */
public final class ComparisonJson {
  /** Points per curve in JSON. */
  static final int MAX_POINTS = 300;

  private static final JsonFactory FACTORY = new JsonFactory();

  private ComparisonJson() {}

  public static String render(Comparison c) {
    StringWriter out = new StringWriter();
    try (JsonGenerator json = FACTORY.createGenerator(out)) {
      DefaultIndenter indenter = new DefaultIndenter("  ", "\n");
      json.setPrettyPrinter(
          new DefaultPrettyPrinter().withObjectIndenter(indenter).withArrayIndenter(indenter));
      json.writeStartObject();
      json.writeNumberField("compare_version", 1);
      run(json, "a", c.a());
      run(json, "b", c.b());
      number(json, "band_width", c.bandWidth());
      json.writeNumberField("common_steps", c.commonSteps());
      json.writeFieldName("first_divergence");
      if (c.firstDivergence() == null) {
        json.writeNull();
      } else {
        divergence(json, c.firstDivergence());
      }
      json.writeArrayFieldStart("divergences");
      for (Divergence d : c.divergences()) {
        divergence(json, d);
      }
      json.writeEndArray();
      json.writeArrayFieldStart("layers");
      for (LayerMatch m : c.layers()) {
        json.writeStartObject();
        json.writeNumberField("index_a", m.indexA());
        json.writeStringField("name_a", m.nameA());
        json.writeNumberField("index_b", m.indexB());
        json.writeStringField("name_b", m.nameB());
        json.writeStringField("type", m.type());
        json.writeStringField("paired_by", m.how().wireName());
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeArrayFieldStart("findings");
      for (FindingMatch f : c.findings()) {
        json.writeStartObject();
        json.writeStringField("presence", f.presence());
        json.writeStringField("detector", f.detector());
        json.writeStringField("layer", f.layer());
        json.writeStringField("phase", f.phase().wireName());
        json.writeStringField("severity", f.severity());
        json.writeNumberField("first_step_a", f.firstStepA());
        json.writeNumberField("first_step_b", f.firstStepB());
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeArrayFieldStart("curves");
      for (Curve curve : c.curves()) {
        curve(json, curve);
      }
      json.writeEndArray();
      json.writeArrayFieldStart("notes");
      for (String note : c.notes()) {
        json.writeString(note);
      }
      json.writeEndArray();
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out + "\n";
  }

  private static void run(JsonGenerator json, String name, Run run) throws IOException {
    json.writeObjectFieldStart(name);
    json.writeStringField("path", run.path());
    json.writeStringField("verdict", run.report().verdict().wireName());
    json.writeNumberField("findings", run.report().findings().size());
    json.writeNumberField("first_finding_step", firstFindingStep(run));
    json.writeNumberField("steps", run.steps());
    json.writeNumberField("first_step", run.firstStep());
    json.writeNumberField("last_step", run.lastStep());
    json.writeArrayFieldStart("phases");
    for (Phase phase : run.phases()) {
      json.writeString(phase.wireName());
    }
    json.writeEndArray();
    json.writeEndObject();
  }

  /** The earliest first step of the run's findings, or -1. */
  public static long firstFindingStep(Run run) {
    long first = -1;
    for (var f : run.report().findings()) {
      if (first < 0 || f.firstStep() < first) {
        first = f.firstStep();
      }
    }
    return first;
  }

  private static void divergence(JsonGenerator json, Divergence d) throws IOException {
    json.writeStartObject();
    json.writeNumberField("step", d.step());
    json.writeStringField("layer", d.layer());
    json.writeNumberField("layer_index_a", d.layerIndexA());
    json.writeStringField("phase", d.phase().wireName());
    json.writeStringField("statistic", d.statistic());
    number(json, "a", d.valueA());
    number(json, "b", d.valueB());
    number(json, "band_low", d.low());
    number(json, "band_high", d.high());
    json.writeStringField("left", d.left());
    json.writeEndObject();
  }

  private static void curve(JsonGenerator json, Curve curve) throws IOException {
    json.writeStartObject();
    json.writeStringField("name", curve.name());
    int n = curve.steps().length;
    int every = Math.max(1, (n + MAX_POINTS - 1) / MAX_POINTS);
    json.writeNumberField("every", every);
    json.writeArrayFieldStart("points");
    for (int i = 0; i < n; i += every) {
      json.writeStartArray();
      json.writeNumber(curve.steps()[i]);
      value(json, curve.hasA()[i], curve.a()[i]);
      value(json, curve.hasB()[i], curve.b()[i]);
      json.writeEndArray();
    }
    json.writeEndArray();
    json.writeEndObject();
  }

  private static void value(JsonGenerator json, boolean has, double v) throws IOException {
    if (!has) {
      json.writeNull();
    } else if (Double.isFinite(v)) {
      json.writeNumber(Double.parseDouble(String.format(java.util.Locale.ROOT, "%.6g", v)));
    } else {
      json.writeString(Double.isNaN(v) ? "NaN" : v > 0 ? "Inf" : "-Inf");
    }
  }

  private static void number(JsonGenerator json, String field, double v) throws IOException {
    json.writeFieldName(field);
    value(json, true, v);
  }
}
