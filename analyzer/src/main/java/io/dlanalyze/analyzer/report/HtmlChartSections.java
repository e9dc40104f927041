package io.dlanalyze.analyzer.report;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.analyzer.text.Phrases;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The chart sections of the HTML page ({@link HtmlReportRenderer}): the top findings' statistics,
 * the loss and accuracy curves, the heatmaps. Each section says when the page has no series.
 */
final class HtmlChartSections {
  private static final String FAULT_COLOR = "#d62728";
  private static final String MAIN_COLOR = "#1f77b4";
  private static final String[] NEIGHBOUR_COLORS = {
    "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#e377c2",
    "#aec7e8", "#98df8a"
  };
  private static final String[] BASELINE_COLORS = {
    "#ff7f0e", "#9467bd", "#8c564b", "#2ca02c", "#17becf"
  };

  /** Width and height of the loss and accuracy curves beside the verdict. */
  static final int CURVE_WIDTH = 420;

  static final int CURVE_HEIGHT = 160;

  private final @Nullable TraceCharts charts;
  private final ChartData data;

  /**
   * @param charts the trace's series, or {@code null} when the page is rendered without them
   */
  HtmlChartSections(@Nullable TraceCharts charts) {
    this.charts = charts;
    this.data = new ChartData(charts);
  }

  /** The JSON document of every time chart written so far ({@link ChartData}); call once. */
  String chartData() {
    return data.finish();
  }

  /**
   * The story over time: the charts of the root cause's finding first (the statistic that shows its
   * symptom first, its layer and neighbours, its first step marked), then those of the other
   * charted findings under the heading of their story group ({@link ReportStory}).
   */
  void story(StringBuilder html, Report report) {
    html.append("<section id=\"story\">\n<h2>The root cause over time</h2>\n");
    if (!chartsAvailable(html)) {
      html.append("</section>\n");
      return;
    }
    ReportStory story = ReportStory.of(report);
    int limit = charts().options().topFindings();
    if (story.groups().isEmpty() || limit == 0) {
      html.append("<p>No finding to chart.</p>\n</section>\n");
      return;
    }
    int charted = 0;
    for (ReportStory.Group group : story.groups()) {
      if (charted >= limit) {
        break;
      }
      if (charted > 0) {
        html.append("<h2 class=\"group\">").append(group.kind().title()).append("</h2>\n");
      }
      for (int rank : group.ranks()) {
        if (charted >= limit) {
          break;
        }
        findingCharts(html, report, rank, group.kind());
        charted++;
      }
    }
    int rest = report.findings().size() - charted;
    html.append("<p class=\"sampling\">").append(samplingNote());
    if (rest > 0) {
      html.append(" ")
          .append(Phrases.count(rest, "other finding is", "other findings are"))
          .append(" listed under <a href=\"#findings\">Findings</a>, not charted.");
    }
    html.append("</p>\n</section>\n");
  }

  private void findingCharts(StringBuilder html, Report report, int rank, ReportStory.Kind kind) {
    Finding f = report.findings().get(rank - 1);
    List<Layer> layers = report.trace().layers();
    html.append("<article class=\"finding-charts\" id=\"chart-rank-")
        .append(rank)
        .append("\" data-finding-rank=\"")
        .append(rank)
        .append("\" data-group=\"")
        .append(kind.wireName())
        .append("\"><h3>")
        .append(kind == ReportStory.Kind.ROOT_CAUSE ? "Root cause: " : "")
        .append("<a href=\"#rank-")
        .append(rank)
        .append("\">#")
        .append(rank)
        .append("</a> <span class=\"sev ")
        .append(f.severity().wireName())
        .append("\">")
        .append(f.severity().wireName())
        .append("</span> <code>")
        .append(Html.text(f.detector()))
        .append("</code>: ");
    if (f.isModelLevel()) {
      html.append("model ").append(f.phase().wireName());
    } else {
      html.append(Html.name(String.valueOf(f.layerName()), HtmlReportRenderer.NAME_CUT))
          .append(" (layer ")
          .append(f.layerIndex())
          .append(") ")
          .append(f.phase().wireName());
    }
    html.append(", from step ").append(f.firstStep()).append("</h3>\n");
    html.append("<p class=\"msg\">").append(Html.text(f.message())).append("</p>\n");
    html.append("<div class=\"charts\">\n");
    List<String> missing = new ArrayList<>();
    List<String> constants = new ArrayList<>();
    int drawn = 0;
    // the first statistic that stayed constant, drawn after all if it is the root cause's only one
    Flat flat = null;
    for (ChartStat stat : ChartStat.orderFor(f.symptom())) {
      LineChart chart =
          new LineChart(charts(), LineChart.SMALL, stat.label() + " of " + streamName(f));
      List<String> legendItems = new ArrayList<>();
      int neighbour = 0;
      int from = f.isModelLevel() ? -1 : f.layerIndex() - charts().options().neighbours();
      int to = f.isModelLevel() ? -1 : f.layerIndex() + charts().options().neighbours();
      for (int layer = from; layer <= to; layer++) {
        BucketSeries series = charts().series(layer, f.phase(), stat);
        if (series == null || series.isEmpty()) {
          continue;
        }
        boolean main = layer == f.layerIndex() || f.isModelLevel();
        String color = main ? MAIN_COLOR : NEIGHBOUR_COLORS[neighbour++ % NEIGHBOUR_COLORS.length];
        String name =
            layer < 0
                ? "model " + f.phase().wireName()
                : layerName(layers, layer) + " (" + layer + ")";
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
        if (flat == null) {
          flat = new Flat(chart, legendItems, stat.label());
        }
        continue;
      }
      chart.marker(
          new LineChart.Marker(f.firstStep(), "starts: step " + f.firstStep(), FAULT_COLOR));
      figure(html, stat.label(), chart, legendItems, "stat");
      drawn++;
    }
    if (drawn == 0 && flat != null && kind == ReportStory.Kind.ROOT_CAUSE) {
      // A root cause whose every statistic stayed constant (weights that never change): the flat
      // line is the evidence, so the first one is drawn rather than only named.
      LineChart chart = flat.chart();
      chart.marker(
          new LineChart.Marker(f.firstStep(), "starts: step " + f.firstStep(), FAULT_COLOR));
      figure(html, flat.label() + " (constant)", chart, flat.legend(), "stat");
      constants.remove(0);
    }
    html.append("</div>\n");
    if (!constants.isEmpty()) {
      html.append("<p class=\"muted\">Constant at every step for every layer shown (not drawn): ")
          .append(Html.text(String.join(", ", constants)))
          .append(".</p>\n");
    }
    if (!missing.isEmpty()) {
      html.append("<p class=\"muted\">Not in the trace for this stream: ")
          .append(Html.text(String.join(", ", missing)))
          .append(".</p>\n");
    }
    html.append("</article>\n");
  }

  /** A statistic's chart whose every line stayed constant, with its legend and label. */
  private record Flat(LineChart chart, List<String> legend, String label) {}

  private static String streamName(Finding f) {
    return f.isModelLevel()
        ? "model " + f.phase().wireName()
        : Html.shorten(String.valueOf(f.layerName()), 60) + " " + f.phase().wireName();
  }

  private void figure(
      StringBuilder html, String title, LineChart chart, List<String> legendItems, String kind) {
    StringBuilder svg = new StringBuilder();
    chart.render(svg);
    int index = data.add(chart, kind);
    html.append("<figure class=\"chart-box\" data-chart=\"")
        .append(index)
        .append("\"><figcaption>")
        .append(Html.text(title));
    switch (chart.scale()) {
      case LOG -> html.append(" <span class=\"muted\">(log scale)</span>");
      case SYMLOG -> html.append(" <span class=\"muted\">(symmetric log scale)</span>");
      case LINEAR -> {}
    }
    html.append("</figcaption>").append(svg).append("<div class=\"legend\">");
    for (String item : legendItems) {
      html.append(item);
    }
    html.append("</div><div class=\"chart-sampling\">")
        .append(chartSampling(chart))
        .append("</div></figure>\n");
  }

  /** The sampling in a few words, under each chart. */
  private String chartSampling(LineChart chart) {
    String sampling =
        charts().stepsPerBucket() == 1
            ? "every step"
            : "last value of every " + charts().stepsPerBucket() + " steps; band: min-max";
    List<String> sparse = new ArrayList<>();
    for (LineChart.Line line : chart.lines()) {
      if (LineChart.sparse(line.series())) {
        sparse.add(Html.text(Html.shorten(line.name(), 40)));
      }
    }
    if (!sparse.isEmpty()) {
      sampling += "; dots: " + String.join(", ", sparse) + " (few points, joined across gaps)";
    }
    if (chart.clippedAt() >= 0) {
      sampling +=
          "; drawn to step "
              + chart.clippedAt()
              + " of "
              + charts().lastStep()
              + ", no finite value after";
    }
    return sampling;
  }

  private static String legendItem(String color, String name, boolean main) {
    return "<span class=\"key"
        + (main ? " main" : "")
        + "\"><span class=\"swatch\" style=\"background:"
        + color
        + "\"></span>"
        + Html.text(Html.shorten(name, 48))
        + "</span>";
  }

  /**
   * The loss and accuracy curves with the top finding's step and the Keras baselines' stop steps.
   */
  void curves(StringBuilder html, Report report) {
    html.append("<section id=\"curves\">\n<h2>Loss and accuracy</h2>\n");
    if (!chartsAvailable(html)) {
      html.append("</section>\n");
      return;
    }
    html.append(
        "<div class=\"smoothing\" hidden><label>Smoothing (EMA) <input id=\"smoothing\""
            + " type=\"range\" min=\"0\" max=\"0.99\" step=\"0.01\" value=\"0\"></label>"
            + " <output id=\"smoothing-value\">0</output></div>\n");
    List<LineChart.Marker> markers = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    int color = 0;
    for (BaselineResult b : report.baselines()) {
      if (b.status() == BaselineResult.Status.STOPPED) {
        markers.add(
            new LineChart.Marker(
                b.stopStep(),
                shortCallback(b.callback()) + " stops: " + b.stopStep(),
                BASELINE_COLORS[color++ % BASELINE_COLORS.length]));
      } else {
        notes.add(b.callback() + ": " + TextSupport.baselineOutcome(b));
      }
    }
    Finding top = ReportStory.of(report).leading().orElse(null);
    if (top != null) {
      markers.add(
          0, new LineChart.Marker(top.firstStep(), "root cause: " + top.firstStep(), FAULT_COLOR));
    }
    html.append("<div class=\"charts\">\n");
    boolean any = false;
    any |= curve(html, "loss", List.of(Phase.LOSS, Phase.VAL_LOSS), markers);
    any |= curve(html, "accuracy", List.of(Phase.ACCURACY, Phase.VAL_ACCURACY), markers);
    any |= curve(html, "episode return", List.of(Phase.EPISODE_RETURN), markers);
    html.append("</div>\n");
    if (!any) {
      html.append("<p>The trace has no loss or accuracy rows.</p>\n");
    } else {
      html.append("<p class=\"sampling\">")
          .append(samplingNote())
          .append(
              " Vertical lines: the root cause's first step and the step after which each Keras"
                  + " callback would have stopped training.</p>\n");
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

  private boolean curve(
      StringBuilder html, String title, List<Phase> phases, List<LineChart.Marker> markers) {
    LineChart chart = new LineChart(charts(), CURVE_WIDTH, CURVE_HEIGHT, title + " over steps");
    List<String> legend = new ArrayList<>();
    boolean first = true;
    for (Phase phase : phases) {
      BucketSeries series = charts().series(-1, phase, ChartStat.MEAN);
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
    figure(html, title, chart, legend, "curve");
    return true;
  }

  /** The layer x step heatmaps. */
  void heatmaps(StringBuilder html, Report report) {
    html.append("<section id=\"heatmaps\">\n<h2>Layer x step heatmaps</h2>\n");
    if (!chartsAvailable(html)) {
      html.append("</section>\n");
      return;
    }
    if (charts().heatmaps().isEmpty()) {
      html.append("<p>The trace has no layer rows to draw.</p>\n</section>\n");
      return;
    }
    List<String> clean = new ArrayList<>();
    for (HeatmapGrid grid : charts().heatmaps()) {
      if (grid.metric() == HeatmapGrid.Metric.NON_FINITE && !grid.hasNonFinite()) {
        clean.add(grid.phase().wireName());
        continue;
      }
      html.append("<figure class=\"chart-box wide heatmap-box\" data-metric=\"")
          .append(grid.metric().name().toLowerCase(ROOT))
          .append("\" data-phase=\"")
          .append(grid.phase().wireName())
          .append("\"><figcaption>")
          .append(grid.phase().wireName())
          .append(": ")
          .append(grid.metric().title())
          .append(" per layer and step</figcaption>\n");
      int rank = heatmapMark(report, grid.phase());
      Finding mark = rank < 0 ? null : report.findings().get(rank);
      int markLayer = mark != null && !mark.isModelLevel() ? mark.layerIndex() : -1;
      long markStep = mark != null ? mark.firstStep() : -1;
      double[] range =
          HeatmapChart.render(
              html, grid, report.trace().layers(), markLayer, markStep, charts().lastStep());
      HeatmapChart.legend(html, range, grid.metric());
      html.append("<p class=\"sampling\">");
      html.append(
          grid.stepsPerColumn() == 1
              ? "One column per step"
              : "Each column covers " + grid.stepsPerColumn() + " steps");
      html.append(
          grid.layersPerRow() == 1
              ? ", one row per layer"
              : ", each row " + grid.layersPerRow() + " layers");
      html.append(". ").append(cellNote(grid.metric()));
      if (mark != null) {
        html.append(" Dashed line")
            .append(markLayer >= 0 ? " and triangle" : "")
            .append(": the first step")
            .append(markLayer >= 0 ? " and the layer" : "")
            .append(" of finding #")
            .append(rank + 1)
            .append('.');
      }
      html.append(" Hover a row for the layer name.</p>\n</figure>\n");
    }
    if (!clean.isEmpty()) {
      html.append("<p class=\"muted\">No NaN or Inf in ")
          .append(String.join(", ", clean))
          .append(": its NaN/Inf count map is not drawn.</p>\n");
    }
    html.append("</section>\n");
  }

  private static String cellNote(HeatmapGrid.Metric metric) {
    return switch (metric) {
      case LOG_MEAN ->
          "A cell shows the largest log10 |mean| of its rows; red: a NaN/Inf value or count in"
              + " the cell; black: every row all zero (zero_fraction 1).";
      case ZERO_FRACTION ->
          "A cell shows the largest zero_fraction of its rows, from 0 (dark) to 1 (yellow): the"
              + " share of exact zeros, dead units and zero gradients.";
      case LOG_L2 ->
          "A cell shows the largest log10 l2_norm of its rows; red: a NaN/Inf value or count;"
              + " black: l2_norm 0.";
      case NON_FINITE ->
          "A cell shows log10 of the largest nan_count + inf_count of its rows; white: none.";
      case LOG_STD ->
          "A cell shows the largest log10 std of its rows (a collapsing std is a saturated or dead"
              + " layer); red: a NaN/Inf value or count; black: std 0.";
    };
  }

  /**
   * Per-layer distributions over time of the layers the root cause's finding names (its own and
   * those its consequences reach): min to max (light band), mean ± std (darker band) and the mean.
   */
  void distributions(StringBuilder html, Report report) {
    html.append("<section id=\"distributions\">\n<h2>Distributions over time</h2>\n");
    if (!chartsAvailable(html)) {
      html.append("</section>\n");
      return;
    }
    List<TraceCharts.Key> keys =
        TraceCharts.distributionKeys(report, layerCount(report.trace().layers()));
    int drawn = 0;
    html.append("<div class=\"charts\">\n");
    for (TraceCharts.Key key : keys) {
      BucketSeries mean = charts().series(key.layer(), key.phase(), ChartStat.MEAN);
      if (mean == null || !mean.hasAnyFinite()) {
        continue;
      }
      BucketSeries std = charts().series(key.layer(), key.phase(), ChartStat.STD);
      BucketSeries min = charts().series(key.layer(), key.phase(), ChartStat.MIN);
      BucketSeries max = charts().series(key.layer(), key.phase(), ChartStat.MAX);
      String name =
          layerName(report.trace().layers(), key.layer())
              + " ("
              + key.layer()
              + ") "
              + key.phase().wireName();
      LineChart chart = new LineChart(charts(), LineChart.SMALL, "distribution of " + name);
      int n = mean.buckets();
      List<String> legend = new ArrayList<>();
      if (min != null && max != null && min.hasAnyFinite() && max.hasAnyFinite()) {
        double[] lo = new double[n];
        double[] hi = new double[n];
        for (int b = 0; b < n; b++) {
          lo[b] = min.hasFinite(b) ? min.min(b) : Double.NaN;
          hi[b] = max.hasFinite(b) ? max.max(b) : Double.NaN;
        }
        chart.band(new LineChart.Band("min to max", lo, hi, MAIN_COLOR, 0.15));
        legend.add(bandItem(0.15, "min to max"));
      }
      if (std != null && std.hasAnyFinite()) {
        double[] lo = new double[n];
        double[] hi = new double[n];
        for (int b = 0; b < n; b++) {
          boolean both = mean.hasFinite(b) && std.hasFinite(b);
          lo[b] = both ? mean.last(b) - std.last(b) : Double.NaN;
          hi[b] = both ? mean.last(b) + std.last(b) : Double.NaN;
        }
        chart.band(new LineChart.Band("mean \u00b1 std", lo, hi, MAIN_COLOR, 0.35));
        legend.add(bandItem(0.35, "mean \u00b1 std"));
      }
      chart.line(new LineChart.Line("mean", mean, MAIN_COLOR, false));
      legend.add(legendItem(MAIN_COLOR, "mean", true));
      Finding leading = ReportStory.of(report).leading().orElse(null);
      if (leading != null) {
        chart.marker(
            new LineChart.Marker(
                leading.firstStep(), "root cause: " + leading.firstStep(), FAULT_COLOR));
      }
      figure(html, name, chart, legend, "dist");
      drawn++;
    }
    html.append("</div>\n");
    if (drawn == 0) {
      html.append(
          "<p class=\"muted\">Nothing to draw: the root cause is model-level, or the trace has no"
              + " mean for its layers.</p>\n");
    } else {
      html.append(
          "<p class=\"sampling\">Per bucket: the smallest min and largest max of its rows (light"
              + " band), the last mean \u00b1 the last std (darker band) and the last mean (line),"
              + " as TensorBoard's distributions show them; the line marks the root cause's first"
              + " step.</p>\n");
    }
    html.append("</section>\n");
  }

  private static int layerCount(List<Layer> layers) {
    return layers.isEmpty() ? 0 : layers.get(layers.size() - 1).index() + 1;
  }

  private static String bandItem(double opacity, String name) {
    return "<span class=\"key\"><span class=\"swatch\" style=\"background:"
        + MAIN_COLOR
        + ";opacity:"
        + opacity * 2
        + "\"></span>"
        + Html.text(name)
        + "</span>";
  }

  /**
   * The index of the finding a heatmap marks: the root cause's finding when it is layer-level and
   * in the heatmap's phase, else the highest-ranked layer-level finding in the heatmap's phase,
   * else the highest-ranked layer-level finding, else the top finding; -1 when there is none.
   */
  static int heatmapMark(Report report, Phase phase) {
    List<Finding> findings = report.findings();
    Finding leading = ReportStory.of(report).leading().orElse(null);
    if (leading != null && !leading.isModelLevel() && leading.phase() == phase) {
      return ReportStory.of(report).leadingRank() - 1;
    }
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

  /** The trace's series, which every section reads after {@link #chartsAvailable}. */
  private TraceCharts charts() {
    return requireNonNull(charts, "the page has no trace series");
  }

  /** Writes a note and returns false when the page has no trace series. */
  private boolean chartsAvailable(StringBuilder html) {
    if (charts == null) {
      html.append(
          "<p class=\"muted\">Charts need the trace's series; this report was rendered without"
              + " them.</p>\n");
      return false;
    }
    if (charts.buckets() == 0) {
      html.append("<p>The trace has no step to draw.</p>\n");
      return false;
    }
    return true;
  }

  private String samplingNote() {
    if (charts().stepsPerBucket() == 1) {
      return format(
          ROOT,
          "Sampling: every step from %d to %d is a point.",
          charts().firstStep(),
          charts().lastStep());
    }
    return format(
        ROOT,
        "Sampling: steps %d to %d in %d buckets of %d steps; the line is the last value of each"
            + " bucket and the shaded band its min-max (for the highlighted series). A strip along"
            + " the top marks buckets that held a NaN or Inf.",
        charts().firstStep(),
        charts().lastStep(),
        charts().buckets(),
        charts().stepsPerBucket());
  }

  /**
   * {@code EarlyStopping(monitor='loss', patience=1)} as {@code EarlyStopping(loss)}, for chart
   * labels.
   */
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
    return Layer.nameIn(layers, index);
  }
}
