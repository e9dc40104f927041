package io.dlanalyze.analyzer.report;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.compare.Comparison;
import io.dlanalyze.analyzer.compare.Comparison.Curve;
import io.dlanalyze.analyzer.compare.Comparison.Divergence;
import io.dlanalyze.analyzer.compare.Comparison.FindingMatch;
import io.dlanalyze.analyzer.compare.Comparison.Run;
import io.dlanalyze.analyzer.compare.ComparisonJson;
import io.dlanalyze.analyzer.compare.ComparisonText;
import io.dlanalyze.analyzer.text.Numbers;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A comparison as one self-contained HTML page (the report's CSS and line charts, no script): the
 * first divergence, the two runs overlaid in the loss and accuracy charts and in the statistics of
 * the earliest divergent layers, the divergence table, the findings by presence and the notes.
 */
public final class ComparisonHtmlRenderer {
  private static final String CSP =
      "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";
  private static final String COLOR_A = "#1f77b4";
  private static final String COLOR_B = "#d62728";
  private static final String CSS = resource("html-report.css");

  private ComparisonHtmlRenderer() {}

  public static String render(Comparison c) {
    long first = Long.MAX_VALUE;
    long last = -1;
    for (Run run : List.of(c.a(), c.b())) {
      if (run.steps() > 0) {
        first = Math.min(first, run.firstStep());
        last = Math.max(last, run.lastStep());
      }
    }
    TraceCharts axis = TraceCharts.axis(last < 0 ? -1 : first, last, 300);
    StringBuilder html = new StringBuilder(64 * 1024);
    html.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.append("<meta http-equiv=\"Content-Security-Policy\" content=\"")
        .append(CSP)
        .append("\">\n");
    html.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.append("<meta name=\"generator\" content=\"dl-analyze\">\n");
    html.append("<link rel=\"icon\" href=\"data:,\">\n");
    html.append("<title>dl-analyze compare: ")
        .append(Html.text(Html.shorten(c.a().path(), 60)))
        .append(" vs ")
        .append(Html.text(Html.shorten(c.b().path(), 60)))
        .append("</title>\n");
    html.append("<style>").append(CSS).append("</style>\n</head>\n<body>\n<main>\n");
    html.append("<h1>Comparison</h1>\n<dl class=\"facts\">");
    run(html, "a", c.a(), COLOR_A);
    run(html, "b", c.b(), COLOR_B);
    html.append("<dt>common steps</dt><dd>").append(c.commonSteps()).append("</dd>");
    html.append("<dt>band</dt><dd>")
        .append(Numbers.format(c.bandWidth()))
        .append(" typical step-to-step changes</dd></dl>\n");
    Divergence d = c.firstDivergence();
    html.append("<section id=\"first-divergence\">\n<h2>First divergence</h2>\n<p class=\"msg\">");
    html.append(
        d == null
            ? "None: every statistic stays within the other run's band."
            : Html.text(ComparisonText.sentence(d)));
    html.append("</p>\n</section>\n");
    html.append("<section id=\"curves\">\n<h2>Loss and accuracy</h2>\n<div class=\"charts\">\n");
    for (Curve curve : c.curves()) {
      chart(html, axis, curve, curve.name(), d, LineChart.WIDE);
    }
    html.append("</div>\n</section>\n");
    if (!c.layerSeries().isEmpty()) {
      html.append("<section id=\"layers\">\n<h2>Earliest divergent layers</h2>\n")
          .append("<div class=\"charts\">\n");
      for (Curve curve : c.layerSeries()) {
        chart(html, axis, curve, curve.statistic() + " of " + curve.name(), d, LineChart.SMALL);
      }
      html.append("</div>\n</section>\n");
    }
    divergences(html, c);
    findings(html, c);
    if (!c.notes().isEmpty()) {
      html.append("<section id=\"notes\">\n<h2>Notes</h2>\n<ul>\n");
      for (String note : c.notes()) {
        html.append("<li>").append(Html.text(note)).append("</li>\n");
      }
      html.append("</ul>\n</section>\n");
    }
    html.append("</main>\n");
    html.append("<script type=\"application/json\" id=\"dl-compare\">")
        .append(Html.scriptJson(ComparisonJson.render(c).strip()))
        .append("</script>\n</body>\n</html>\n");
    return html.toString();
  }

  private static void run(StringBuilder html, String name, Run run, String color) {
    html.append("<dt><span class=\"swatch\" style=\"background:")
        .append(color)
        .append("\"></span>")
        .append(name)
        .append("</dt><dd>")
        .append(Html.text(run.path()))
        .append(": ")
        .append(run.report().verdict().wireName())
        .append(", ")
        .append(run.report().findings().size())
        .append(" findings, ")
        .append(run.steps())
        .append(" steps</dd>");
  }

  private static void chart(
      StringBuilder html,
      TraceCharts axis,
      Curve curve,
      String title,
      @Nullable Divergence d,
      int width) {
    BucketSeries a = new BucketSeries(axis.buckets());
    BucketSeries b = new BucketSeries(axis.buckets());
    for (int i = 0; i < curve.steps().length; i++) {
      int bucket = (int) ((curve.steps()[i] - axis.firstStep()) / axis.stepsPerBucket());
      if (bucket < 0 || bucket >= axis.buckets()) {
        continue;
      }
      if (curve.hasA()[i]) {
        a.add(bucket, curve.a()[i]);
      }
      if (curve.hasB()[i]) {
        b.add(bucket, curve.b()[i]);
      }
    }
    LineChart chart = new LineChart(axis, width, title + ", a and b");
    chart.line(new LineChart.Line("a", a, COLOR_A, false));
    chart.line(new LineChart.Line("b", b, COLOR_B, false));
    if (d != null) {
      chart.marker(new LineChart.Marker(d.step(), "first divergence: step " + d.step(), "#555555"));
    }
    StringBuilder svg = new StringBuilder();
    chart.render(svg);
    html.append("<figure class=\"chart-box")
        .append(width == LineChart.WIDE ? " wide" : "")
        .append("\"><figcaption>")
        .append(Html.text(title))
        .append("</figcaption>")
        .append(svg)
        .append("<div class=\"legend\">")
        .append(key(COLOR_A, "a"))
        .append(key(COLOR_B, "b"))
        .append("</div><div class=\"chart-sampling\">")
        .append(
            axis.stepsPerBucket() == 1
                ? "every step"
                : "last value of every " + axis.stepsPerBucket() + " steps")
        .append("</div></figure>\n");
  }

  private static String key(String color, String name) {
    return "<span class=\"key\"><span class=\"swatch\" style=\"background:"
        + color
        + "\"></span>"
        + name
        + "</span>";
  }

  private static void divergences(StringBuilder html, Comparison c) {
    html.append("<section id=\"divergences\">\n<h2>First divergence per layer and phase</h2>\n");
    if (c.divergences().isEmpty()) {
      html.append("<p>None.</p>\n</section>\n");
      return;
    }
    html.append("<table>\n<thead><tr><th>step</th><th>layer</th><th>phase</th>")
        .append("<th>statistic</th><th>a</th><th>b</th><th>band left</th></tr></thead>\n<tbody>\n");
    for (Divergence d : c.divergences()) {
      html.append(
          format(
              ROOT,
              "<tr><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                  + "<td>%s [%s, %s]</td></tr>\n",
              d.step(),
              Html.text(d.layer()),
              d.phase().wireName(),
              Html.text(d.statistic()),
              Numbers.format(d.valueA()),
              Numbers.format(d.valueB()),
              Html.text(d.left()),
              Numbers.format(d.low()),
              Numbers.format(d.high())));
    }
    html.append("</tbody>\n</table>\n</section>\n");
  }

  private static void findings(StringBuilder html, Comparison c) {
    html.append("<section id=\"findings\">\n<h2>Findings</h2>\n");
    if (c.findings().isEmpty()) {
      html.append("<p>None in either run.</p>\n</section>\n");
      return;
    }
    html.append("<table>\n<thead><tr><th>presence</th><th>severity</th><th>detector</th>")
        .append("<th>layer</th><th>phase</th><th>first step in a</th><th>first step in b</th>")
        .append("</tr></thead>\n<tbody>\n");
    for (FindingMatch f : c.findings()) {
      html.append(
          format(
              ROOT,
              "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                  + "</tr>\n",
              f.presence(),
              f.severity(),
              Html.text(f.detector()),
              Html.text(f.layer()),
              f.phase().wireName(),
              f.firstStepA() < 0 ? "-" : Long.toString(f.firstStepA()),
              f.firstStepB() < 0 ? "-" : Long.toString(f.firstStepB())));
    }
    html.append("</tbody>\n</table>\n</section>\n");
  }

  private static String resource(String name) {
    try (InputStream in = ComparisonHtmlRenderer.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("resource missing from the analyzer jar: " + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
