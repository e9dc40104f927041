package io.dlanalyze.analyzer.report;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.TraceSummary;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.io.IOException;
import java.io.Writer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The report as one self-contained HTML page: a verdict banner with the root cause and the fix,
 * the ranked findings, charts of the top findings' statistics, loss and accuracy curves with the
 * Keras baselines' stop steps, layer x step heatmaps, the Keras baselines, and the trace's
 * metadata and layers.
 *
 * <p>Self-contained and offline: CSS, JavaScript and SVG are inline, the heatmap cells are a PNG
 * in a data: URI, and a Content-Security-Policy meta tag ({@code default-src 'none'}) makes the
 * browser refuse any request the page might make. The charts are SVG written here; no chart
 * library. Every string from the trace is escaped ({@link Html}). The page also embeds the JSON
 * report ({@link JsonReportRenderer}) in a {@code <script type="application/json"
 * id="dl-report">} element, so a script can read the same data the page shows.
 *
 * <p>The charts need the trace's series ({@link TraceCharts#collect}); without them (the {@link
 * #HtmlReportRenderer(RenderOptions)} constructor, as {@link ReportFormat#HTML} makes it) the page
 * has every section but the charts, and says so. Output is deterministic: the same report and
 * trace give the same bytes (no timestamp unless {@link RenderOptions#timing()}).
 */
public final class HtmlReportRenderer implements ReportRenderer {
  private static final String CSP =
      "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";
  private static final String FAULT_COLOR = "#d62728";
  private static final String MAIN_COLOR = "#1f77b4";
  private static final String[] NEIGHBOUR_COLORS = {
    "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#e377c2", "#aec7e8", "#98df8a"
  };
  private static final String[] BASELINE_COLORS = {"#ff7f0e", "#9467bd", "#8c564b", "#2ca02c", "#17becf"};
  /** Layer names longer than this are cut in tables (the full name stays one click away). */
  private static final int NAME_CUT = 80;

  private final RenderOptions options;
  private final TraceCharts charts;

  /** A renderer without trace series: every section except the charts. */
  public HtmlReportRenderer(RenderOptions options) {
    this(options, null);
  }

  /**
   * A renderer with the series of the report's trace.
   *
   * @param charts the series read by {@link TraceCharts#collect}, or {@code null} for none
   */
  public HtmlReportRenderer(RenderOptions options, TraceCharts charts) {
    this.options = java.util.Objects.requireNonNull(options, "options is null");
    this.charts = charts;
  }

  @Override
  public void render(Report report, Writer out) throws IOException {
    StringBuilder html = new StringBuilder(64 * 1024);
    TraceSummary trace = report.trace();
    html.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.append("<meta http-equiv=\"Content-Security-Policy\" content=\"").append(CSP).append("\">\n");
    html.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.append("<meta name=\"generator\" content=\"dl-analyze\">\n");
    html.append("<link rel=\"icon\" href=\"data:,\">\n");
    html.append("<title>dl-analyze: ").append(report.verdict().wireName()).append(" - ")
        .append(Html.text(Html.shorten(trace.path(), 120))).append("</title>\n");
    html.append("<style>").append(CSS).append("</style>\n</head>\n<body>\n");
    banner(html, report);
    nav(html);
    html.append("<main>\n");
    summary(html, report);
    findings(html, report);
    topFindingCharts(html, report);
    curves(html, report);
    heatmaps(html, report);
    baselines(html, report);
    traceSection(html, report);
    html.append("</main>\n");
    footer(html, report);
    StringBuilderWriter json = new StringBuilderWriter();
    new JsonReportRenderer(options).render(report, json);
    html.append("<script type=\"application/json\" id=\"dl-report\">")
        .append(Html.scriptJson(json.toString().strip())).append("</script>\n");
    html.append("<script>").append(SCRIPT).append("</script>\n");
    html.append("</body>\n</html>\n");
    out.write(html.toString());
  }

  private static void banner(StringBuilder html, Report report) {
    Verdict verdict = report.verdict();
    html.append("<header class=\"banner ").append(verdict.wireName()).append("\">\n");
    html.append("<div class=\"verdict\"><span class=\"word\">").append(verdict.wireName().toUpperCase(ROOT))
        .append("</span> <span class=\"reason\">").append(Html.text(report.verdictReason())).append("</span></div>\n");
    RootCause root = report.rootCause();
    if (root == null) {
      html.append("<p class=\"root\">No root cause: no finding of severity warning or more.</p>\n");
    } else {
      html.append("<div class=\"root\"><h2>Root cause</h2><p><strong>");
      if (root.layerIndex() < 0) {
        html.append("model");
      } else {
        html.append(nameHtml(root.layerName(), NAME_CUT)).append(" (layer ").append(root.layerIndex()).append(')');
      }
      html.append("</strong>: ").append(Html.text(root.cause())).append("</p></div>\n");
      html.append("<div class=\"fix\"><h2>Suggested fix</h2><p>")
          .append(root.suggestedFix() == null ? "No fix hint for this finding." : Html.text(root.suggestedFix()))
          .append("</p></div>\n");
    }
    html.append("</header>\n");
  }

  private static void nav(StringBuilder html) {
    html.append("<nav><a href=\"#findings\">Findings</a><a href=\"#top-findings\">Top findings</a>")
        .append("<a href=\"#curves\">Loss and accuracy</a><a href=\"#heatmaps\">Heatmaps</a>")
        .append("<a href=\"#baselines\">Keras baselines</a><a href=\"#trace\">Trace</a></nav>\n");
  }

  private void summary(StringBuilder html, Report report) {
    TraceSummary trace = report.trace();
    html.append("<section id=\"summary\"><dl class=\"facts\">");
    fact(html, "trace", Html.text(trace.path()));
    fact(html, "format", Html.text(trace.format()));
    fact(html, "rows", Long.toString(trace.rows()));
    fact(html, "steps", trace.steps() + (trace.firstStep() < 0 ? "" : " (" + trace.firstStep() + "-" + trace.lastStep() + ")"));
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
      fact(html, "time", format(ROOT, "%d ms, %s rows/s", report.timing().elapsedNanos() / 1_000_000,
          Numbers.format(report.timing().rowsPerSecond())));
    }
    html.append("</dl></section>\n");
  }

  private static void fact(StringBuilder html, String term, String valueHtml) {
    html.append("<div><dt>").append(term).append("</dt><dd>").append(valueHtml).append("</dd></div>");
  }

  private static void findings(StringBuilder html, Report report) {
    List<Finding> findings = report.findings();
    html.append("<section id=\"findings\">\n<h2>Findings <span class=\"count\">").append(findings.size())
        .append(", in causal order</span></h2>\n");
    if (findings.isEmpty()) {
      html.append("<p>No finding.</p>\n</section>\n");
      return;
    }
    html.append("<div class=\"filters\"><label>Filter <input id=\"finding-filter\" type=\"search\" ")
        .append("placeholder=\"layer, detector, symptom, text\"></label> <label>Severity at least ")
        .append("<select id=\"severity-filter\">");
    for (Severity severity : Severity.values()) {
      html.append("<option value=\"").append(severity.ordinal()).append("\">").append(severity.wireName())
          .append("</option>");
    }
    html.append("</select></label> <span id=\"finding-shown\"></span></div>\n");
    html.append("<table class=\"findings\"><thead><tr><th>#</th><th>severity</th><th>detector / symptom</th>")
        .append("<th>where</th><th>steps</th><th>what</th></tr></thead>\n<tbody>\n");
    int rank = 1;
    for (Finding f : findings) {
      html.append("<tr class=\"finding\" id=\"rank-").append(rank).append("\" data-severity=\"")
          .append(f.severity().ordinal()).append("\"><td class=\"num\">").append(rank).append("</td>");
      html.append("<td><span class=\"sev ").append(f.severity().wireName()).append("\">")
          .append(f.severity().wireName()).append("</span></td>");
      html.append("<td><code>").append(Html.text(f.detector())).append("</code><br><span class=\"muted\">")
          .append(f.symptom().wireName()).append("</span></td>");
      html.append("<td>").append(where(f)).append("</td>");
      html.append("<td class=\"steps\">").append(f.firstStep() == f.lastStep()
          ? "step " + f.firstStep() : f.firstStep() + "&ndash;" + f.lastStep());
      html.append("<br><span class=\"muted\">epoch ").append(orDash(f.epoch())).append(", batch ")
          .append(orDash(f.batch())).append("<br>seen in ")
          .append(Phrases.count(f.occurrences(), "step", "steps")).append("</span></td>");
      html.append("<td><p class=\"msg\">").append(Html.text(f.message())).append("</p>");
      if (!f.evidence().isEmpty()) {
        html.append("<ul class=\"evidence\">");
        for (Map.Entry<String, Object> entry : f.evidence().asMap().entrySet()) {
          Object value = entry.getValue();
          String text = value instanceof Double d ? Numbers.format(d) : String.valueOf(value);
          html.append("<li><code>").append(Html.text(entry.getKey())).append("</code>=")
              .append(Html.text(text)).append("</li>");
        }
        html.append("</ul>");
      }
      if (!f.consequences().isEmpty()) {
        html.append("<details class=\"spread\"><summary>spread to ")
            .append(Phrases.count(f.consequences().size(), "place", "places")).append("</summary><ul>");
        for (Consequence c : f.consequences()) {
          html.append("<li>").append(c.layerIndex() < 0 ? "model" : nameHtml(c.layerName(), NAME_CUT) + " (" + c.layerIndex() + ")")
              .append(' ').append(c.phase().wireName()).append(" from step ").append(c.firstStep())
              .append(", ").append(Phrases.count(c.occurrences(), "step", "steps")).append("</li>");
        }
        html.append("</ul></details>");
      }
      if (f.suggestedFix() != null) {
        html.append("<p class=\"fix-hint\"><strong>Fix:</strong> ").append(Html.text(f.suggestedFix())).append("</p>");
      }
      html.append("</td></tr>\n");
      rank++;
    }
    html.append("</tbody></table>\n</section>\n");
  }

  private static String where(Finding f) {
    if (f.isModelLevel()) {
      return "model<br><span class=\"muted\">" + f.phase().wireName() + "</span>";
    }
    StringBuilder s = new StringBuilder();
    s.append(nameHtml(String.valueOf(f.layerName()), NAME_CUT)).append(" <span class=\"muted\">(")
        .append(f.layerIndex()).append(")</span>");
    if (f.layerType() != null) {
      s.append("<br><span class=\"muted\">").append(Html.text(Html.shorten(f.layerType(), NAME_CUT))).append("</span>");
    }
    s.append("<br>").append(f.phase().wireName());
    return s.toString();
  }

  private void topFindingCharts(StringBuilder html, Report report) {
    html.append("<section id=\"top-findings\">\n<h2>Top findings over time</h2>\n");
    if (!chartsAvailable(html)) {
      html.append("</section>\n");
      return;
    }
    List<Finding> findings = report.findings();
    int count = Math.min(findings.size(), charts.options().topFindings());
    if (count == 0) {
      html.append("<p>No finding to chart.</p>\n</section>\n");
      return;
    }
    html.append("<p class=\"sampling\">").append(samplingNote()).append("</p>\n");
    List<Layer> layers = report.trace().layers();
    for (int i = 0; i < count; i++) {
      Finding f = findings.get(i);
      html.append("<article class=\"finding-charts\" id=\"top-").append(i + 1).append("\"><h3>#").append(i + 1)
          .append(" <span class=\"sev ").append(f.severity().wireName()).append("\">").append(f.severity().wireName())
          .append("</span> <code>").append(Html.text(f.detector())).append("</code>: ");
      if (f.isModelLevel()) {
        html.append("model ").append(f.phase().wireName());
      } else {
        html.append(nameHtml(String.valueOf(f.layerName()), NAME_CUT)).append(" (layer ").append(f.layerIndex())
            .append(") ").append(f.phase().wireName());
      }
      html.append(", from step ").append(f.firstStep()).append("</h3>\n");
      html.append("<p class=\"msg\">").append(Html.text(f.message())).append("</p>\n");
      html.append("<div class=\"charts\">\n");
      List<String> missing = new ArrayList<>();
      List<String> constants = new ArrayList<>();
      for (ChartStat stat : ChartStat.values()) {
        LineChart chart = new LineChart(charts, LineChart.SMALL, stat.label() + " of " + streamName(f));
        List<String> legendItems = new ArrayList<>();
        int neighbour = 0;
        int from = f.isModelLevel() ? -1 : f.layerIndex() - charts.options().neighbours();
        int to = f.isModelLevel() ? -1 : f.layerIndex() + charts.options().neighbours();
        for (int layer = from; layer <= to; layer++) {
          BucketSeries series = charts.series(layer, f.phase(), stat);
          if (series == null || series.isEmpty()) {
            continue;
          }
          boolean main = layer == f.layerIndex() || f.isModelLevel();
          String color = main ? MAIN_COLOR : NEIGHBOUR_COLORS[neighbour++ % NEIGHBOUR_COLORS.length];
          String name = layer < 0 ? "model " + f.phase().wireName() : layerName(layers, layer) + " (" + layer + ")";
          chart.line(new LineChart.Line(name, series, color, main));
          legendItems.add(legendItem(color, name, main));
        }
        if (chart.isEmpty()) {
          missing.add(stat.label());
          continue;
        }
        double constant = chart.constantValue();
        if (!Double.isNaN(constant)) {
          constants.add(stat.label() + " = " + Numbers.format(constant));
          continue;
        }
        chart.marker(new LineChart.Marker(f.firstStep(), "first fault: step " + f.firstStep(), FAULT_COLOR));
        figure(html, stat.label(), chart, legendItems);
      }
      html.append("</div>\n");
      if (!constants.isEmpty()) {
        html.append("<p class=\"muted\">Constant at every step for every layer shown (not drawn): ")
            .append(Html.text(String.join(", ", constants))).append(".</p>\n");
      }
      if (!missing.isEmpty()) {
        html.append("<p class=\"muted\">Not in the trace for this stream: ")
            .append(Html.text(String.join(", ", missing))).append(".</p>\n");
      }
      html.append("</article>\n");
    }
    html.append("</section>\n");
  }

  private static String streamName(Finding f) {
    return f.isModelLevel() ? "model " + f.phase().wireName()
        : Html.shorten(String.valueOf(f.layerName()), 60) + " " + f.phase().wireName();
  }

  private void figure(StringBuilder html, String title, LineChart chart, List<String> legendItems) {
    StringBuilder svg = new StringBuilder();
    chart.render(svg);
    html.append("<figure class=\"chart-box\"><figcaption>").append(Html.text(title));
    if (chart.logScale()) {
      html.append(" <span class=\"muted\">(log scale)</span>");
    }
    html.append("</figcaption>").append(svg).append("<div class=\"legend\">");
    for (String item : legendItems) {
      html.append(item);
    }
    html.append("</div></figure>\n");
  }

  private static String legendItem(String color, String name, boolean main) {
    return "<span class=\"key" + (main ? " main" : "") + "\"><span class=\"swatch\" style=\"background:" + color
        + "\"></span>" + Html.text(Html.shorten(name, 48)) + "</span>";
  }

  private void curves(StringBuilder html, Report report) {
    html.append("<section id=\"curves\">\n<h2>Loss and accuracy</h2>\n");
    if (!chartsAvailable(html)) {
      html.append("</section>\n");
      return;
    }
    List<LineChart.Marker> markers = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    int color = 0;
    for (BaselineResult b : report.baselines()) {
      if (b.status() == BaselineResult.Status.STOPPED) {
        markers.add(new LineChart.Marker(b.stopStep(), shortCallback(b.callback()) + " stops: " + b.stopStep(),
            BASELINE_COLORS[color++ % BASELINE_COLORS.length]));
      } else {
        notes.add(b.callback() + ": " + TextSupport.baselineOutcome(b));
      }
    }
    Finding top = report.topFinding().orElse(null);
    if (top != null) {
      markers.add(0, new LineChart.Marker(top.firstStep(), "first finding: " + top.firstStep(), FAULT_COLOR));
    }
    html.append("<p class=\"sampling\">").append(samplingNote())
        .append(" Vertical lines: the first finding's step and the step after which each Keras callback"
            + " would have stopped training.</p>\n<div class=\"charts\">\n");
    boolean any = false;
    any |= curve(html, "loss", List.of(Phase.LOSS, Phase.VAL_LOSS), markers);
    any |= curve(html, "accuracy", List.of(Phase.ACCURACY, Phase.VAL_ACCURACY), markers);
    html.append("</div>\n");
    if (!any) {
      html.append("<p>The trace has no loss or accuracy rows.</p>\n");
    }
    if (!notes.isEmpty()) {
      html.append("<ul class=\"muted\">");
      for (String note : notes) {
        html.append("<li>").append(Html.text(note)).append("</li>");
      }
      html.append("</ul>\n");
    }
    html.append("</section>\n");
  }

  private boolean curve(StringBuilder html, String title, List<Phase> phases, List<LineChart.Marker> markers) {
    LineChart chart = new LineChart(charts, LineChart.WIDE, title + " over steps");
    List<String> legend = new ArrayList<>();
    boolean first = true;
    for (Phase phase : phases) {
      BucketSeries series = charts.series(-1, phase, ChartStat.MEAN);
      if (series == null || series.isEmpty()) {
        continue;
      }
      String color = first ? MAIN_COLOR : NEIGHBOUR_COLORS[0];
      chart.line(new LineChart.Line(phase.wireName(), series, color, first));
      legend.add(legendItem(color, phase.wireName(), first));
      first = false;
    }
    if (chart.isEmpty()) {
      return false;
    }
    for (LineChart.Marker marker : markers) {
      chart.marker(marker);
    }
    figure(html, title, chart, legend);
    return true;
  }

  private void heatmaps(StringBuilder html, Report report) {
    html.append("<section id=\"heatmaps\">\n<h2>Layer x step heatmaps</h2>\n");
    if (!chartsAvailable(html)) {
      html.append("</section>\n");
      return;
    }
    if (charts.heatmaps().isEmpty()) {
      html.append("<p>The trace has no layer rows to draw.</p>\n</section>\n");
      return;
    }
    for (HeatmapGrid grid : charts.heatmaps()) {
      html.append("<figure class=\"chart-box wide\"><figcaption>").append(grid.phase().wireName())
          .append(": log10 |mean| per layer and step</figcaption>\n");
      int rank = heatmapMark(report, grid.phase());
      Finding mark = rank < 0 ? null : report.findings().get(rank);
      int markLayer = mark != null && !mark.isModelLevel() ? mark.layerIndex() : -1;
      long markStep = mark != null ? mark.firstStep() : -1;
      double[] range =
          HeatmapChart.render(html, grid, report.trace().layers(), markLayer, markStep, charts.lastStep());
      HeatmapChart.legend(html, range);
      html.append("<p class=\"sampling\">");
      html.append(grid.stepsPerColumn() == 1 ? "One column per step"
          : "Each column covers " + grid.stepsPerColumn() + " steps");
      html.append(grid.layersPerRow() == 1 ? ", one row per layer" : ", each row " + grid.layersPerRow() + " layers");
      html.append(". A cell shows the largest log10 |mean| of its rows; red: a NaN/Inf value or count in the"
          + " cell; black: every row all zero (zero_fraction 1).");
      if (mark != null) {
        html.append(" Dashed line").append(markLayer >= 0 ? " and triangle" : "").append(": the first step")
            .append(markLayer >= 0 ? " and the layer" : "").append(" of finding #").append(rank + 1).append('.');
      }
      html.append(" Hover a row for the layer name.</p>\n</figure>\n");
    }
    html.append("</section>\n");
  }

  /**
   * The index of the finding a heatmap marks: the highest-ranked layer-level finding in the
   * heatmap's phase, else the highest-ranked layer-level finding, else the top finding; -1 when
   * there is none.
   */
  static int heatmapMark(Report report, Phase phase) {
    List<Finding> findings = report.findings();
    for (int i = 0; i < findings.size(); i++) {
      if (!findings.get(i).isModelLevel() && findings.get(i).phase() == phase) {
        return i;
      }
    }
    for (int i = 0; i < findings.size(); i++) {
      if (!findings.get(i).isModelLevel()) {
        return i;
      }
    }
    return findings.isEmpty() ? -1 : 0;
  }

  private static void baselines(StringBuilder html, Report report) {
    html.append("<section id=\"baselines\">\n<h2>Keras baselines <span class=\"count\">replayed on the same"
        + " trace</span></h2>\n");
    if (report.baselines().isEmpty()) {
      html.append("<p>None.</p>\n</section>\n");
      return;
    }
    html.append("<table><thead><tr><th>callback</th><th>checks per</th><th>outcome</th><th>detail</th></tr>"
        + "</thead><tbody>\n");
    for (BaselineResult b : report.baselines()) {
      html.append("<tr><td><code>").append(Html.text(b.callback())).append("</code></td><td>")
          .append(Html.text(b.level())).append("</td><td>").append(Html.text(TextSupport.baselineOutcome(b)))
          .append("</td><td>").append(Html.text(b.detail())).append("</td></tr>\n");
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
          html.append("<details><summary>").append(Html.text(Html.shorten(value, 100)))
              .append(" <span class=\"muted\">(").append(value.length()).append(" characters)</span></summary><pre>")
              .append(Html.text(value)).append("</pre></details>");
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
      List<LayerInfo> infos = charts != null ? charts.layerInfos() : List.of();
      int[] findingCount = new int[trace.layers().size()];
      for (Finding f : report.findings()) {
        if (f.layerIndex() >= 0 && f.layerIndex() < findingCount.length) {
          findingCount[f.layerIndex()]++;
        }
      }
      html.append("<table class=\"layers\"><thead><tr><th>index</th><th>name</th><th>type</th><th>activation</th>")
          .append("<th>trainable</th><th>parameters</th><th>findings</th></tr></thead><tbody>\n");
      for (Layer layer : trace.layers()) {
        long params = -1;
        for (LayerInfo info : infos) {
          if (info.index() == layer.index()) {
            params = info.params();
            break;
          }
        }
        html.append("<tr").append(findingCount[layer.index()] > 0 ? " class=\"has-finding\"" : "").append("><td class=\"num\">")
            .append(layer.index()).append("</td><td>").append(fullNameHtml(layer.name())).append("</td><td>")
            .append(layer.type() == null ? "<span class=\"muted\">-</span>" : Html.text(Html.shorten(layer.type(), NAME_CUT)))
            .append("</td><td>")
            .append(layer.activation() == null ? "<span class=\"muted\">-</span>" : Html.text(Html.shorten(layer.activation(), NAME_CUT)))
            .append("</td><td>").append(layer.trainable() ? "yes" : "no").append("</td><td class=\"num\">")
            .append(params < 0 ? "-" : Long.toString(params)).append("</td><td class=\"num\">")
            .append(findingCount[layer.index()]).append("</td></tr>\n");
      }
      html.append("</tbody></table>\n");
    }
    html.append("</section>\n");
  }

  private static void footer(StringBuilder html, Report report) {
    html.append("<footer><p>dl-analyze report, format version ").append(report.reportVersion())
        .append(", mode ").append(report.mode().wireName()).append(". Detectors: ")
        .append(Html.text(String.join(", ", report.detectors())))
        .append(".</p><p>This file is self-contained: it makes no network request. The JSON report is embedded in"
            + " the element <code>script#dl-report</code>.</p>");
    html.append("<details><summary>Thresholds</summary><table><tbody>");
    for (Map.Entry<String, Double> entry : report.thresholds().entrySet()) {
      html.append("<tr><th>").append(Html.text(entry.getKey())).append("</th><td class=\"num\">")
          .append(Numbers.format(entry.getValue(), 6)).append("</td></tr>");
    }
    html.append("</tbody></table></details></footer>\n");
  }

  /** Writes a note and returns false when the page has no trace series. */
  private boolean chartsAvailable(StringBuilder html) {
    if (charts == null) {
      html.append("<p class=\"muted\">Charts need the trace's series; this report was rendered without them.</p>\n");
      return false;
    }
    if (charts.buckets() == 0) {
      html.append("<p>The trace has no step to draw.</p>\n");
      return false;
    }
    return true;
  }

  private String samplingNote() {
    if (charts.stepsPerBucket() == 1) {
      return format(ROOT, "Sampling: every step from %d to %d is a point.", charts.firstStep(), charts.lastStep());
    }
    return format(ROOT, "Sampling: steps %d to %d in %d buckets of %d steps; the line is the last value of each"
        + " bucket and the shaded band its min-max (for the highlighted series). A strip along the top marks"
        + " buckets that held a NaN or Inf.", charts.firstStep(), charts.lastStep(), charts.buckets(),
        charts.stepsPerBucket());
  }

  /** {@code EarlyStopping(monitor='loss', patience=1)} as {@code EarlyStopping(loss)}, for chart labels. */
  static String shortCallback(String callback) {
    int open = callback.indexOf('(');
    if (open < 0) {
      return callback;
    }
    String name = callback.substring(0, open);
    int monitor = callback.indexOf("monitor='", open);
    if (monitor < 0) {
      return name;
    }
    int end = callback.indexOf('\'', monitor + 9);
    return end < 0 ? name : name + "(" + callback.substring(monitor + 9, end) + ")";
  }

  private static String layerName(List<Layer> layers, int index) {
    return index >= 0 && index < layers.size() ? layers.get(index).name() : "layer_" + index;
  }

  /** A name, escaped, cut to {@code max} characters with the full name in the title. */
  private static String nameHtml(String name, int max) {
    String shown = Html.shorten(name, max);
    if (shown.equals(name)) {
      return "<span class=\"name\">" + Html.text(name) + "</span>";
    }
    return "<span class=\"name\" title=\"" + Html.attribute(Html.shorten(name, 2000)) + "\">" + Html.text(shown)
        + "</span>";
  }

  /** A name in the layer table: cut, with the full text in a details element. */
  private static String fullNameHtml(String name) {
    String shown = Html.shorten(name, NAME_CUT);
    if (shown.equals(name)) {
      return "<span class=\"name\">" + Html.text(name) + "</span>";
    }
    return "<details class=\"name\"><summary>" + Html.text(shown) + " <span class=\"muted\">(" + name.length()
        + " characters)</span></summary><div class=\"full\">" + Html.text(name) + "</div></details>";
  }

  private static String orDash(long value) {
    return value < 0 ? "-" : Long.toString(value);
  }

  /** A Writer into a StringBuilder, for the embedded JSON. */
  private static final class StringBuilderWriter extends Writer {
    private final StringBuilder text = new StringBuilder();

    @Override
    public void write(char[] buffer, int offset, int length) {
      text.append(buffer, offset, length);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}

    @Override
    public String toString() {
      return text.toString();
    }
  }

  private static final String CSS =
      """
      :root{--fg:#1d2330;--muted:#5f6b7a;--line:#d8dde4;--bg:#fff;--soft:#f5f7fa}
      *{box-sizing:border-box}
      body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
      main,nav{max-width:1200px;margin:0 auto;padding:0 20px}
      h2{font-size:19px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
      h3{font-size:15px;margin:18px 0 6px}
      .count,.muted{color:var(--muted);font-weight:normal}
      code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
      .name,.msg,td,th,dd,summary,figcaption,.legend{overflow-wrap:anywhere}
      .banner{padding:18px 20px 12px;border-bottom:4px solid}
      .banner>*{max-width:1160px;margin-left:auto;margin-right:auto}
      .banner.buggy{background:#fdecea;border-color:#d62728}
      .banner.healthy{background:#e9f7ef;border-color:#2ca02c}
      .banner.inconclusive{background:#fff6e0;border-color:#e6a100}
      .verdict .word{font-size:26px;font-weight:700;letter-spacing:.04em;margin-right:8px}
      .buggy .word{color:#b71c1c}.healthy .word{color:#1b7a32}.inconclusive .word{color:#a66f00}
      .banner h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);border:0;margin:12px auto 2px;padding:0}
      .banner p{margin:2px auto;font-size:15px}
      nav{display:flex;gap:16px;flex-wrap:wrap;padding-top:10px;padding-bottom:6px}
      nav a{color:#1f5fa8;text-decoration:none}
      .facts{display:flex;flex-wrap:wrap;gap:6px 22px;margin:10px 0}
      .facts div{display:flex;gap:6px}.facts dt{color:var(--muted)}.facts dd{margin:0;font-weight:600}
      table{border-collapse:collapse;width:100%;margin:6px 0}
      th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}
      thead th{background:var(--soft);font-weight:600}
      td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
      .findings .msg{margin:0 0 4px}
      .findings th:nth-child(2),.findings td:nth-child(2){width:80px}
      .findings td:nth-child(3){min-width:150px}
      .findings td:nth-child(4){min-width:130px}
      .findings td:nth-child(5){min-width:120px}
      .evidence{margin:2px 0;padding:0;list-style:none;display:flex;flex-wrap:wrap;gap:2px 12px;color:var(--muted);font-size:12.5px}
      .spread ul{margin:4px 0;padding-left:18px;font-size:12.5px}
      .fix-hint{margin:4px 0;color:#1b5e20}
      .sev{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600;color:#fff}
      .sev.info{background:#1f77b4}.sev.warning{background:#c98a00}.sev.error{background:#d62728}.sev.critical{background:#7b1fa2}
      .filters{margin:6px 0}.filters input{width:280px;padding:3px 6px}
      tr.has-finding td{background:#fff4f4}
      .charts{display:flex;flex-wrap:wrap;gap:12px}
      .chart-box{margin:0;border:1px solid var(--line);border-radius:6px;padding:8px;background:#fff}
      .chart-box.wide{margin:10px 0}
      .chart-box figcaption{font-weight:600;margin-bottom:4px}
      svg.chart{display:block;max-width:100%;height:auto;font-size:10.5px;fill:var(--fg)}
      svg .plot{fill:#fbfcfd;stroke:var(--line)}
      svg .gl{stroke:#e9edf1}
      svg .axis line{stroke:#9aa3ad}
      svg .axis text{fill:var(--muted)}
      svg .line{fill:none;stroke-width:1.2;opacity:.85}
      svg .line.main{stroke-width:2;opacity:1}
      svg .band{opacity:.18;stroke:none}
      svg .nonfinite{stroke-width:3;fill:none}
      svg .nonfinite-label{fill:#d62728;font-size:9.5px}
      svg .marker{stroke-width:1.3;stroke-dasharray:4 3}
      svg .marker.hm{stroke:#00e5ff;stroke-width:1.5}
      svg .marker-label{font-size:10px;paint-order:stroke;stroke:#fff;stroke-width:3px}
      svg .pointer{fill:#00a5b8}
      svg .row{fill:transparent}
      svg .row:hover{fill:rgba(255,255,255,.25);stroke:#fff}
      svg.heatmap image{image-rendering:pixelated}
      .legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--muted);margin-top:4px;align-items:center}
      .legend .key.main{color:var(--fg);font-weight:600}
      .swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-2px;border:1px solid rgba(0,0,0,.15)}
      .hm-legend .gradient{display:inline-block;width:160px;height:12px;border-radius:2px}
      .sampling{color:var(--muted);font-size:12.5px}
      .finding-charts{margin:8px 0 22px}
      .metadata th{width:24%;font-weight:600;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
      pre{white-space:pre-wrap;overflow-wrap:anywhere;max-height:320px;overflow:auto;background:var(--soft);padding:6px;font-size:12px}
      details.name .full{max-height:200px;overflow:auto;font-size:12px}
      footer{max-width:1200px;margin:30px auto 40px;padding:0 20px;color:var(--muted);font-size:12.5px}
      @media print{nav,.filters{display:none}}
      """;

  /**
   * Reads the embedded JSON report, checks the findings table against it, wires the filters, and
   * marks the page rendered ({@code data-render-ok}, {@code data-chart-count} on the html element)
   * only when all of that ran without an error.
   */
  private static final String SCRIPT =
      """
      (function () {
        "use strict";
        var data = JSON.parse(document.getElementById("dl-report").textContent);
        var rows = Array.prototype.slice.call(document.querySelectorAll("tr.finding"));
        if (rows.length !== data.findings.length) {
          throw new Error("findings table has " + rows.length + " rows, report has " + data.findings.length);
        }
        var input = document.getElementById("finding-filter");
        var severity = document.getElementById("severity-filter");
        var shown = document.getElementById("finding-shown");
        function apply() {
          var query = input.value.trim().toLowerCase();
          var least = Number(severity.value);
          var count = 0;
          rows.forEach(function (row) {
            var visible = Number(row.getAttribute("data-severity")) >= least
                && (query === "" || row.textContent.toLowerCase().indexOf(query) >= 0);
            row.hidden = !visible;
            if (visible) { count++; }
          });
          shown.textContent = count === rows.length ? "" : count + " of " + rows.length + " shown";
        }
        if (input && severity) {
          input.addEventListener("input", apply);
          severity.addEventListener("change", apply);
        }
        var root = document.documentElement;
        root.setAttribute("data-chart-count", String(document.querySelectorAll("svg.chart").length));
        root.setAttribute("data-render-ok", "1");
      })();
      """;
}
