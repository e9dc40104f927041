package io.dlanalyze.analyzer.report;

import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.TraceSummary;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.analyzer.text.Phrases;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.TraceMetadata;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The report as one self-contained HTML page: a verdict banner with the root cause and the fix, the
 * ranked findings, charts of the top findings' statistics, loss and accuracy curves with the Keras
 * baselines' stop steps, layer x step heatmaps, the Keras baselines, and the trace's metadata and
 * layers.
 *
 * <p>Self-contained and offline: CSS, JavaScript and SVG are inline, the heatmap cells are a PNG in
 * a data: URI, and a Content-Security-Policy meta tag ({@code default-src 'none'}) makes the
 * browser refuse any request the page might make. The charts are SVG written here; no chart
 * library. Every string from the trace is escaped ({@link Html}). The page also embeds the JSON
 * report ({@link JsonReportRenderer}) in a {@code <script type="application/json" id="dl-report">}
 * element, so a script can read the same data the page shows.
 *
 * <p>The charts need the trace's series ({@link TraceCharts#collect}); without them (the {@link
 * #HtmlReportRenderer(RenderOptions)} constructor, as {@link ReportFormat#HTML} makes it) the page
 * has every section but the charts, and says so. Output is deterministic: the same report and trace
 * give the same bytes (no timestamp unless {@link RenderOptions#timing()}).
 */
public final class HtmlReportRenderer implements ReportRenderer {
  private static final String CSP =
      "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

  /**
   * The layer table lists the first this many layers and every layer with a finding: a page of
   * 300,000 table rows would take longer to open than the report is worth, and memory to write.
   */
  static final int MAX_LAYER_ROWS = 2000;

  /** A metadata value is shown up to this many characters (dltrace.layers can hold 64 MiB). */
  static final int MAX_METADATA_SHOWN = 64 * 1024;

  /** Layer names longer than this are cut in tables (the full name stays one click away). */
  static final int NAME_CUT = 80;

  private static final String CSS = resource("html-report.css");
  private static final String SCRIPT = resource("html-report.js");

  /** uPlot's version, from its webjar. */
  static final String UPLOT_VERSION = uplotVersion();

  private static final String UPLOT_DIR =
      "/META-INF/resources/webjars/uplot/" + UPLOT_VERSION + "/dist/";

  /**
   * uPlot's script with its banner (the project's URL) replaced by its version and license notice:
   * the page holds no URL.
   */
  private static final String UPLOT_SCRIPT =
      "/* uPlot "
          + UPLOT_VERSION
          + ", github.com/leeoniya/uPlot. The MIT License (MIT), Copyright (c) 2022 Leon Sorokin."
          + " */\n"
          + resource(UPLOT_DIR + "uPlot.iife.min.js").replaceFirst("^/\\*!.*?\\*/\\s*", "");

  private static final String UPLOT_CSS = resource(UPLOT_DIR + "uPlot.min.css");

  private final RenderOptions options;
  private final @Nullable TraceCharts charts;

  /** A renderer without trace series: every section except the charts. */
  public HtmlReportRenderer(RenderOptions options) {
    this(options, null);
  }

  /**
   * A renderer with the series of the report's trace.
   *
   * @param charts the series read by {@link TraceCharts#collect}, or {@code null} for none
   */
  public HtmlReportRenderer(RenderOptions options, @Nullable TraceCharts charts) {
    this.options = requireNonNull(options, "options is null");
    this.charts = charts;
  }

  @Override
  public void render(Report report, Writer out) throws IOException {
    StringBuilder html = new StringBuilder(64 * 1024);
    TraceSummary trace = report.trace();
    html.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.append("<meta http-equiv=\"Content-Security-Policy\" content=\"")
        .append(CSP)
        .append("\">\n");
    html.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.append("<meta name=\"generator\" content=\"dl-analyze\">\n");
    html.append("<link rel=\"icon\" href=\"data:,\">\n");
    html.append("<title>dl-analyze: ")
        .append(report.verdict().wireName())
        .append(" - ")
        .append(Html.text(Html.shorten(trace.path(), 120)))
        .append("</title>\n");
    html.append("<style>")
        .append(UPLOT_CSS)
        .append('\n')
        .append(CSS)
        .append("</style>\n</head>\n<body>\n");
    HtmlChartSections sections = new HtmlChartSections(charts);
    html.append("<header class=\"banner ")
        .append(report.verdict().wireName())
        .append("\">\n<div class=\"head\">\n<div class=\"verdict-col\">\n");
    banner(html, report);
    summary(html, report);
    html.append("</div>\n<div class=\"curves-col\">\n");
    sections.curves(html, report);
    html.append("</div>\n</div>\n</header>\n");
    nav(html);
    html.append(
        "<div class=\"zoombar\" hidden><span>Drag across a chart to zoom every time chart to those"
            + " steps; double-click or</span> <button type=\"button\" id=\"zoom-reset\">show all"
            + " steps</button> <span id=\"zoom-range\"></span></div>\n");
    html.append("<main>\n");
    sections.story(html, report);
    sections.heatmaps(html, report);
    sections.distributions(html, report);
    findings(html, report);
    baselines(html, report);
    drain(html, out);
    traceSection(html, report);
    html.append("</main>\n");
    footer(html, report);
    html.append("<script type=\"application/json\" id=\"dl-report\">");
    drain(html, out);
    // Streamed: the JSON report lists every layer, which for a trace of very many layers is the
    // largest part of the page.
    try (ScriptJsonWriter json = new ScriptJsonWriter(out)) {
      new JsonReportRenderer(options).render(report, json);
    }
    html.append("</script>\n");
    html.append("<script type=\"application/json\" id=\"dl-series\">")
        .append(Html.scriptJson(sections.chartData()))
        .append("</script>\n");
    html.append("<script>").append(UPLOT_SCRIPT).append("</script>\n");
    html.append("<script>").append(SCRIPT).append("</script>\n");
    html.append("</body>\n</html>\n");
    out.write(html.toString());
  }

  /** Writes what the page has so far and empties the buffer. */
  private static void drain(StringBuilder html, Writer out) throws IOException {
    out.append(html);
    html.setLength(0);
  }

  private static void banner(StringBuilder html, Report report) {
    Verdict verdict = report.verdict();
    html.append("<div class=\"verdict\"><span class=\"word\">")
        .append(verdict.wireName().toUpperCase(ROOT))
        .append("</span> <span class=\"reason\">")
        .append(Html.text(report.verdictReason()))
        .append("</span></div>\n");
    RootCause root = report.rootCause();
    if (root == null) {
      html.append("<p class=\"root\">No root cause: no finding of severity warning or more.</p>\n");
    } else {
      html.append("<div class=\"root\"><h2>Root cause</h2><p><strong>");
      if (root.layerIndex() < 0) {
        html.append("model");
      } else {
        html.append(Html.name(root.layerName(), NAME_CUT))
            .append(" (layer ")
            .append(root.layerIndex())
            .append(')');
      }
      html.append("</strong>: ").append(Html.text(root.cause())).append("</p></div>\n");
      html.append("<div class=\"fix\"><h2>Suggested fix</h2><p>")
          .append(
              root.suggestedFix() == null
                  ? "No fix hint for this finding."
                  : Html.text(root.suggestedFix()))
          .append("</p></div>\n");
    }
  }

  private static void nav(StringBuilder html) {
    html.append(
            "<nav><a href=\"#story\">Root cause over time</a><a href=\"#heatmaps\">Heatmaps</a>")
        .append("<a href=\"#distributions\">Distributions</a><a href=\"#findings\">Findings</a>")
        .append("<a href=\"#baselines\">Keras baselines</a><a href=\"#trace\">Trace</a></nav>\n");
  }

  private void summary(StringBuilder html, Report report) {
    TraceSummary trace = report.trace();
    html.append("<section id=\"summary\"><dl class=\"facts\">");
    fact(html, "trace", Html.text(trace.path()));
    fact(html, "format", Html.text(trace.format()));
    fact(html, "rows", Long.toString(trace.rows()));
    fact(
        html,
        "steps",
        trace.steps()
            + (trace.firstStep() < 0
                ? ""
                : " (" + trace.firstStep() + "-" + trace.lastStep() + ")"));
    fact(html, "epochs", Integer.toString(trace.epochs()));
    fact(html, "layers", Integer.toString(trace.layers().size()));
    fact(html, "mode", report.mode().wireName());
    if (trace.truncated()) {
      fact(html, "truncated", "yes: only the complete batches were read");
    }
    if (trace.stoppedAtStep() >= 0) {
      fact(html, "stopped at step", Long.toString(trace.stoppedAtStep()));
    }
    if (options.timing() && report.timing() != null) {
      fact(html, "time", Html.text(TextSupport.timing(report.timing())));
    }
    html.append("</dl></section>\n");
  }

  private static void fact(StringBuilder html, String term, String valueHtml) {
    html.append("<div><dt>")
        .append(term)
        .append("</dt><dd>")
        .append(valueHtml)
        .append("</dd></div>");
  }

  private static void findings(StringBuilder html, Report report) {
    List<Finding> findings = report.findings();
    html.append("<section id=\"findings\">\n<h2>Findings <span class=\"count\">")
        .append(findings.size())
        .append(", the root cause's first, then by what they explain; #: rank in causal order")
        .append("</span></h2>\n");
    if (findings.isEmpty()) {
      html.append("<p>No finding.</p>\n</section>\n");
      return;
    }
    html.append(
            "<div class=\"filters\"><label>Filter <input id=\"finding-filter\" type=\"search\" ")
        .append("placeholder=\"layer, detector, symptom, text\"></label> <label>Severity at least ")
        .append("<select id=\"severity-filter\">");
    for (Severity severity : Severity.values()) {
      html.append("<option value=\"")
          .append(severity.level())
          .append("\">")
          .append(severity.wireName())
          .append("</option>");
    }
    html.append("</select></label> <span id=\"finding-shown\"></span></div>\n");
    html.append(
            "<table class=\"findings\"><thead><tr><th>#</th><th>severity</th><th>detector /"
                + " symptom</th>")
        .append("<th>where</th><th>steps</th><th>what</th></tr></thead>\n<tbody>\n");
    for (ReportStory.Group group : ReportStory.of(report).groups()) {
      html.append("<tr class=\"group\"><th colspan=\"6\">")
          .append(group.kind().title())
          .append("</th></tr>\n");
      for (int rank : group.ranks()) {
        findingRow(html, findings.get(rank - 1), rank);
      }
    }
    html.append("</tbody></table>\n</section>\n");
  }

  private static void findingRow(StringBuilder html, Finding f, int rank) {
    {
      html.append("<tr class=\"finding\" id=\"rank-")
          .append(rank)
          .append("\" data-severity=\"")
          .append(f.severity().level())
          .append("\"><td class=\"num\">")
          .append(rank)
          .append("</td>");
      html.append("<td><span class=\"sev ")
          .append(f.severity().wireName())
          .append("\">")
          .append(f.severity().wireName())
          .append("</span></td>");
      html.append("<td><code>")
          .append(Html.text(f.detector()))
          .append("</code><br><span class=\"muted\">")
          .append(f.symptom().wireName())
          .append("</span></td>");
      html.append("<td>").append(where(f)).append("</td>");
      html.append("<td class=\"steps\">")
          .append(
              f.firstStep() == f.lastStep()
                  ? "step " + f.firstStep()
                  : f.firstStep() + "&ndash;" + f.lastStep());
      html.append("<br><span class=\"muted\">epoch ")
          .append(orDash(f.epoch()))
          .append(", batch ")
          .append(orDash(f.batch()))
          .append("<br>seen in ")
          .append(Phrases.count(f.occurrences(), "step", "steps"))
          .append("</span></td>");
      html.append("<td><p class=\"msg\">").append(Html.text(f.message())).append("</p>");
      if (!f.evidence().isEmpty()) {
        html.append("<ul class=\"evidence\">");
        for (Map.Entry<String, Object> entry : f.evidence().asMap().entrySet()) {
          Object value = entry.getValue();
          String text = value instanceof Double d ? Numbers.format(d) : String.valueOf(value);
          html.append("<li><code>")
              .append(Html.text(entry.getKey()))
              .append("</code>=")
              .append(Html.text(text))
              .append("</li>");
        }
        html.append("</ul>");
      }
      if (!f.consequences().isEmpty()) {
        html.append("<details class=\"spread\"><summary>spread to ")
            .append(Phrases.count(f.consequences().size(), "place", "places"))
            .append("</summary><ul>");
        for (Consequence c : f.consequences()) {
          html.append("<li>")
              .append(
                  c.layerIndex() < 0
                      ? "model"
                      : Html.name(c.layerName(), NAME_CUT) + " (" + c.layerIndex() + ")")
              .append(' ')
              .append(c.phase().wireName())
              .append(" from step ")
              .append(c.firstStep())
              .append(", ")
              .append(Phrases.count(c.occurrences(), "step", "steps"))
              .append("</li>");
        }
        html.append("</ul></details>");
      }
      if (f.suggestedFix() != null) {
        html.append("<p class=\"fix-hint\"><strong>Fix:</strong> ")
            .append(Html.text(f.suggestedFix()))
            .append("</p>");
      }
      html.append("</td></tr>\n");
    }
  }

  private static String where(Finding f) {
    if (f.isModelLevel()) {
      return "model<br><span class=\"muted\">" + f.phase().wireName() + "</span>";
    }
    StringBuilder s = new StringBuilder();
    s.append(Html.name(String.valueOf(f.layerName()), NAME_CUT))
        .append(" <span class=\"muted\">(")
        .append(f.layerIndex())
        .append(")</span>");
    if (f.layerType() != null) {
      s.append("<br><span class=\"muted\">")
          .append(Html.text(Html.shorten(f.layerType(), NAME_CUT)))
          .append("</span>");
    }
    s.append("<br>").append(f.phase().wireName());
    return s.toString();
  }

  private static void baselines(StringBuilder html, Report report) {
    html.append(
        "<section id=\"baselines\">\n<h2>Keras baselines <span class=\"count\">replayed on the same"
            + " trace</span></h2>\n");
    if (report.baselines().isEmpty()) {
      html.append("<p>None.</p>\n</section>\n");
      return;
    }
    html.append(
        "<table><thead><tr><th>callback</th><th>checks per</th><th>outcome</th><th>detail</th></tr>"
            + "</thead><tbody>\n");
    for (BaselineResult b : report.baselines()) {
      html.append("<tr><td><code>")
          .append(Html.text(b.callback()))
          .append("</code></td><td>")
          .append(Html.text(b.level()))
          .append("</td><td>")
          .append(Html.text(TextSupport.baselineOutcome(b)))
          .append("</td><td>")
          .append(Html.text(b.detail()))
          .append("</td></tr>\n");
    }
    html.append("</tbody></table>\n</section>\n");
  }

  private void traceSection(StringBuilder html, Report report) {
    TraceSummary trace = report.trace();
    html.append("<section id=\"trace\">\n<h2>Trace</h2>\n<p>Phases: ");
    List<String> phases = new ArrayList<>();
    for (String phase : trace.phases()) {
      phases.add(Html.text(phase));
    }
    html.append(phases.isEmpty() ? "none" : String.join(", ", phases)).append("</p>\n");
    if (!trace.warnings().isEmpty()) {
      html.append("<h3>Warnings</h3><ul class=\"warnings\">");
      for (String warning : trace.warnings()) {
        html.append("<li>").append(Html.text(warning)).append("</li>");
      }
      html.append("</ul>\n");
    }
    Map<String, String> metadata = charts != null ? charts.metadata() : trace.metadata();
    html.append("<h3>Metadata</h3>\n");
    if (metadata.isEmpty()) {
      html.append("<p>None.</p>\n");
    } else {
      html.append("<table class=\"metadata\"><tbody>\n");
      for (Map.Entry<String, String> entry : metadata.entrySet()) {
        html.append("<tr><th>").append(Html.text(entry.getKey())).append("</th><td>");
        String value = entry.getValue();
        if (value.length() > 300 || TraceMetadata.LAYERS.equals(entry.getKey())) {
          html.append("<details><summary>")
              .append(Html.text(Html.shorten(value, 100)))
              .append(" <span class=\"muted\">(")
              .append(value.length())
              .append(" characters)</span></summary><pre>");
          if (value.length() > MAX_METADATA_SHOWN) {
            html.append(Html.text(Html.shorten(value, MAX_METADATA_SHOWN)))
                .append("</pre><p class=\"muted\">")
                .append(
                    String.format(
                        ROOT,
                        "The first %,d of %,d characters; <code>dl-analyze inspect --format"
                            + " json</code> prints the whole value.",
                        MAX_METADATA_SHOWN,
                        value.length()))
                .append("</p></details>");
          } else {
            html.append(Html.text(value)).append("</pre></details>");
          }
        } else {
          html.append(Html.text(value));
        }
        html.append("</td></tr>\n");
      }
      html.append("</tbody></table>\n");
    }
    html.append("<h3>Layers</h3>\n");
    if (trace.layers().isEmpty()) {
      html.append("<p>None.</p>\n");
    } else {
      List<LayerInfo> listed = charts != null ? charts.layerInfos() : List.of();
      int[] findingCount = new int[trace.layers().size()];
      for (Finding f : report.findings()) {
        int position = Layer.position(trace.layers(), f.layerIndex());
        if (position >= 0) {
          findingCount[position]++;
        }
      }
      html.append(
              "<table"
                  + " class=\"layers\"><thead><tr><th>index</th><th>name</th><th>type</th><th>activation</th>")
          .append("<th>trainable</th><th>parameters</th><th>findings</th></tr></thead><tbody>\n");
      int rows = 0;
      for (int row = 0; row < trace.layers().size(); row++) {
        // The first MAX_LAYER_ROWS layers, and every layer with a finding after them.
        if (rows >= MAX_LAYER_ROWS && findingCount[row] == 0) {
          continue;
        }
        rows++;
        Layer layer = trace.layers().get(row);
        long parameters = params(listed, layer.index());
        html.append("<tr")
            .append(findingCount[row] > 0 ? " class=\"has-finding\"" : "")
            .append("><td class=\"num\">")
            .append(layer.index())
            .append("</td><td>")
            .append(fullNameHtml(layer.name()))
            .append("</td><td>")
            .append(
                layer.type() == null
                    ? "<span class=\"muted\">-</span>"
                    : Html.text(Html.shorten(layer.type(), NAME_CUT)))
            .append("</td><td>")
            .append(
                layer.activation() == null
                    ? "<span class=\"muted\">-</span>"
                    : Html.text(Html.shorten(layer.activation(), NAME_CUT)))
            .append("</td><td>")
            .append(layer.trainable() ? "yes" : "no")
            .append("</td><td class=\"num\">")
            .append(parameters < 0 ? "-" : Long.toString(parameters))
            .append("</td><td class=\"num\">")
            .append(findingCount[row])
            .append("</td></tr>\n");
      }
      html.append("</tbody></table>\n");
      int unlisted = trace.layers().size() - rows;
      if (unlisted > 0) {
        html.append("<p class=\"muted\">")
            .append(
                String.format(
                    ROOT,
                    "%,d more layers without findings are not listed here (the page lists the"
                        + " first %,d and every layer with a finding); the JSON report and"
                        + " <code>dl-analyze inspect</code> list every layer.",
                    unlisted,
                    MAX_LAYER_ROWS))
            .append("</p>\n");
      }
    }
    html.append("</section>\n");
  }

  private static void footer(StringBuilder html, Report report) {
    html.append("<footer><p>dl-analyze report, format version ")
        .append(report.reportVersion())
        .append(", mode ")
        .append(report.mode().wireName())
        .append(". Detectors: ")
        .append(Html.text(String.join(", ", report.detectors())))
        .append(
            ".</p><p>This file is self-contained: it makes no network request. The JSON report is"
                + " embedded in the element <code>script#dl-report</code>.</p>");
    html.append("<details><summary>Thresholds</summary><table><tbody>");
    for (Map.Entry<String, Double> entry : report.thresholds().entrySet()) {
      html.append("<tr><th>")
          .append(Html.text(entry.getKey()))
          .append("</th><td class=\"num\">")
          .append(Numbers.format(entry.getValue(), 6))
          .append("</td></tr>");
    }
    html.append("</tbody></table></details></footer>\n");
  }

  /** A name in the layer table: cut, with the full text in a details element. */
  private static String fullNameHtml(String name) {
    String shown = Html.shorten(name, NAME_CUT);
    if (shown.equals(name)) {
      return "<span class=\"name\">" + Html.text(name) + "</span>";
    }
    return "<details class=\"name\"><summary>"
        + Html.text(shown)
        + " <span class=\"muted\">("
        + name.length()
        + " characters)</span></summary><div class=\"full\">"
        + Html.text(name)
        + "</div></details>";
  }

  private static String orDash(long value) {
    return value < 0 ? "-" : Long.toString(value);
  }

  private static String uplotVersion() {
    java.util.Properties properties = new java.util.Properties();
    try (InputStream in =
        HtmlReportRenderer.class.getResourceAsStream(
            "/META-INF/maven/org.webjars.npm/uplot/pom.properties")) {
      if (in == null) {
        throw new IllegalStateException("uPlot's webjar is missing from the class path");
      }
      properties.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return properties.getProperty("version");
  }

  /** A text file beside this class (the page's CSS and script) or on the class path, read once. */
  private static String resource(String name) {
    try (InputStream in = HtmlReportRenderer.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("resource missing from the analyzer jar: " + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The params of a layer in {@code dltrace.layers} (sorted by index), or -1 when not listed. */
  private static long params(List<LayerInfo> byIndex, int index) {
    int low = 0;
    int high = byIndex.size() - 1;
    while (low <= high) {
      int mid = (low + high) >>> 1;
      int at = byIndex.get(mid).index();
      if (at < index) {
        low = mid + 1;
      } else if (at > index) {
        high = mid - 1;
      } else {
        return byIndex.get(mid).params();
      }
    }
    return -1;
  }
}
