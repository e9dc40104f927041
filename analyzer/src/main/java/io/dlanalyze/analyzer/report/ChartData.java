package io.dlanalyze.analyzer.report;

import static java.util.Locale.ROOT;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import org.jspecify.annotations.Nullable;

/**
 * The numbers behind the page's time charts, as one JSON document the page's script draws
 * interactive charts from (zoom, smoothing): the bucket layout once, then per chart its series
 * (last value per bucket, 4 significant digits, null for none), its bands and its markers. The SVG
 * of each chart stays in the page, so it renders without the script.
 */
final class ChartData {
  private static final JsonFactory JSON = new JsonFactory();

  private final @Nullable TraceCharts charts;
  private final StringWriter text = new StringWriter();
  private final JsonGenerator json;
  private int count;

  ChartData(@Nullable TraceCharts charts) {
    this.charts = charts;
    try {
      json = JSON.createGenerator(text);
      json.writeStartObject();
      json.writeNumberField("x0", charts == null ? 0 : charts.firstStep());
      json.writeNumberField("dx", charts == null ? 1 : charts.stepsPerBucket());
      json.writeNumberField("n", charts == null ? 0 : charts.buckets());
      json.writeArrayFieldStart("charts");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Adds a chart already rendered as SVG ({@link LineChart#render} chose its scale) and returns its
   * index.
   *
   * @param kind {@code curve} (loss and accuracy: smoothing applies), {@code stat} or {@code dist}
   */
  int add(LineChart chart, String kind) {
    try {
      json.writeStartObject();
      json.writeStringField("kind", kind);
      json.writeStringField("scale", chart.scale().name().toLowerCase(ROOT));
      json.writeNumberField("unit", chart.symlogUnit());
      json.writeNumberField("xh", chart.xHigh());
      json.writeArrayFieldStart("series");
      for (LineChart.Line line : chart.lines()) {
        BucketSeries s = line.series();
        json.writeStartObject();
        json.writeStringField("name", Html.shorten(line.name(), 60));
        json.writeStringField("color", line.color());
        json.writeBooleanField("main", line.emphasis());
        json.writeBooleanField("sparse", LineChart.sparse(s));
        json.writeFieldName("v");
        json.writeStartArray();
        for (int b = 0; b < s.buckets(); b++) {
          number(s.hasFinite(b) ? s.last(b) : Double.NaN);
        }
        json.writeEndArray();
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeArrayFieldStart("bands");
      for (LineChart.Band band : chart.bands()) {
        writeBand(band.name(), band.color(), band.opacity(), band.lo(), band.hi());
      }
      if (charts != null && charts.stepsPerBucket() > 1) {
        for (LineChart.Line line : chart.lines()) {
          if (line.emphasis()) {
            BucketSeries s = line.series();
            double[] lo = new double[s.buckets()];
            double[] hi = new double[s.buckets()];
            for (int b = 0; b < s.buckets(); b++) {
              lo[b] = s.hasFinite(b) ? s.min(b) : Double.NaN;
              hi[b] = s.hasFinite(b) ? s.max(b) : Double.NaN;
            }
            writeBand(line.name() + " min-max", line.color(), 0.18, lo, hi);
          }
        }
      }
      json.writeEndArray();
      json.writeArrayFieldStart("markers");
      for (LineChart.Marker marker : chart.markers()) {
        json.writeStartObject();
        json.writeNumberField("x", marker.step());
        json.writeStringField("label", marker.label());
        json.writeStringField("color", marker.color());
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return count++;
  }

  private void writeBand(String name, String color, double opacity, double[] lo, double[] hi)
      throws IOException {
    json.writeStartObject();
    json.writeStringField("name", Html.shorten(name, 60));
    json.writeStringField("color", color);
    json.writeNumberField("opacity", opacity);
    json.writeFieldName("lo");
    json.writeStartArray();
    for (double v : lo) {
      number(v);
    }
    json.writeEndArray();
    json.writeFieldName("hi");
    json.writeStartArray();
    for (double v : hi) {
      number(v);
    }
    json.writeEndArray();
    json.writeEndObject();
  }

  /** A finite value with 4 significant digits, else null. */
  private void number(double v) throws IOException {
    if (!Double.isFinite(v)) {
      json.writeNull();
      return;
    }
    json.writeRawValue(compact(v));
  }

  /** {@code v} with 4 significant digits, as short as JSON allows. */
  static String compact(double v) {
    if (v == 0) {
      return "0";
    }
    String s = String.format(ROOT, "%.4g", v);
    int e = s.indexOf('e');
    String mantissa = e < 0 ? s : s.substring(0, e);
    String exponent = e < 0 ? "" : s.substring(e);
    if (mantissa.indexOf('.') >= 0) {
      mantissa = mantissa.replaceAll("0+$", "");
      if (mantissa.endsWith(".")) {
        mantissa = mantissa.substring(0, mantissa.length() - 1);
      }
    }
    if (!exponent.isEmpty()) {
      exponent = exponent.replace("e+0", "e").replace("e-0", "e-").replace("e+", "e");
    }
    return mantissa + exponent;
  }

  /** The document, ended; call once. */
  String finish() {
    try {
      json.writeEndArray();
      json.writeEndObject();
      json.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return text.toString();
  }
}
