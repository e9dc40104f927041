package io.dlanalyze.analyzer.report;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.trace;
import static io.dlanalyze.analyzer.report.HtmlReports.count;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.HostileTraces.Markup;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.MemoryTrace.Stats;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HtmlReportRendererTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String JSON_OPEN = "<script type=\"application/json\" id=\"dl-report\">";

  @Test
  void render_nanTrace_bannerWithVerdictRootCauseAndFix() {
    SyntheticTrace trace = trace(Fault.nan(3, 400));
    Report report = analyze(trace);

    String html = HtmlReports.render(trace);

    assertThat(html).startsWith("<!DOCTYPE html>\n").endsWith("</html>\n");
    assertThat(html)
        .contains("<header class=\"banner buggy\">", "<span class=\"word\">BUGGY</span>");
    assertThat(html)
        .contains("<h2>Root cause</h2>", "(layer 3)", Html.text(report.rootCause().cause()));
    assertThat(html)
        .contains("<h2>Suggested fix</h2>", Html.text(report.rootCause().suggestedFix()));
  }

  @Test
  void render_healthyTrace_healthyBannerWithoutRootCause() {
    String html = HtmlReports.render(trace());

    assertThat(html)
        .contains("<header class=\"banner healthy\">", "No root cause")
        .doesNotContain("<h2>Root cause</h2>");
    assertThat(html).contains("<p>No finding.</p>");
  }

  @Test
  void render_findings_oneRowPerFindingWithMessageAndEvidence() {
    SyntheticTrace trace = trace(Fault.nan(3, 400), Fault.nan(1, 700));
    Report report = analyze(trace);

    String html = HtmlReports.render(trace);

    assertThat(count(html, "<tr class=\"finding\"")).isEqualTo(report.findings().size());
    assertThat(html).contains(Html.text(report.findings().get(0).message()));
    assertThat(html).contains("<li><code>affected_layers</code>=");
    assertThat(html).contains("<details class=\"spread\"><summary>spread to ");
  }

  @Test
  void render_withCharts_statChartsCurvesAndHeatmapsWithMarkers() {
    String html = HtmlReports.render(trace(Fault.nan(3, 400)));

    // 4 statistics for the one finding (zero_fraction is 0 throughout), loss and accuracy, the
    // distributions of the root cause's layers; every time chart also has its numbers for the
    // page's script
    int timeCharts = count(html, "<svg class=\"chart\"");
    assertThat(timeCharts).isGreaterThanOrEqualTo(7);
    assertThat(count(html, "<figure class=\"chart-box\" data-chart=\"")).isEqualTo(timeCharts);
    assertThat(html).contains("(not drawn): zero_fraction = 0.");
    assertThat(count(html, "<svg class=\"chart heatmap\"")).isBetween(3, 7);
    // the root cause's symptom (NaN) picks the first map
    assertThat(html.indexOf("data-metric=\"non_finite\""))
        .isPositive()
        .isLessThan(html.indexOf("data-metric=\"log_mean\""));
    assertThat(html).contains("id=\"distributions\"", "<figcaption>fc3 (3) forward</figcaption>");
    assertThat(html).contains("<image ", "href=\"data:image/png;base64,");
    assertThat(html)
        .contains(
            "starts: step 400",
            "root cause: 400",
            "TerminateOnNaN stops: 400",
            "EarlyStopping(loss) stops: 499");
    assertThat(html)
        .contains(
            "<figcaption>mean</figcaption>",
            "<figcaption>nan_count + inf_count</figcaption>",
            "<figcaption>loss</figcaption>",
            "<figcaption>accuracy</figcaption>");
    assertThat(html).contains("forward: log10 |mean| per layer and step");
    assertThat(
            count(
                html,
                "<div class=\"chart-sampling\">last value of every 5 steps; band: min-max</div>"))
        .isGreaterThanOrEqualTo(6);
    assertThat(html)
        .contains(
            "Sampling: steps 0 to 999 in 200 buckets of 5 steps",
            "Each column covers 5 steps, one row per layer.");
  }

  @Test
  void render_statisticConstantForEveryLayer_notedInsteadOfDrawn() {
    String html = HtmlReports.render(trace(Fault.deadLayer(2, 300)));

    assertThat(html)
        .contains(
            "Constant at every step for every layer shown (not drawn): nan_count + inf_count = 0.");
    assertThat(html)
        .doesNotContain("<figcaption>nan_count + inf_count</figcaption>")
        .contains("<figcaption>zero_fraction</figcaption>");
  }

  @Test
  void render_rootCauseConstantInEveryStatistic_stillDrawsItsFlatLine() {
    // Layer 2's weights never change from step 0: every statistic of the root cause's stream is
    // flat, and with no neighbours shown nothing else would be drawn for it.
    String html =
        HtmlReports.render(
            trace(Fault.frozenWeights(2, 0)), new TraceCharts.Options(3, 0, 300, 7, 400, 200));

    int start = html.indexOf("data-group=\"root_cause\"");
    assertThat(start).isPositive();
    String article = html.substring(start, html.indexOf("</article>", start));
    assertThat(article).contains("(constant)</figcaption>", "starts: step ");
    assertThat(count(article, "<figure class=\"chart-box\"")).isEqualTo(1);
    // a flat line still gets a y range: no NaN coordinates in its SVG
    assertThat(article).doesNotContain("NaN");
    assertThat(article).contains("Constant at every step for every layer shown (not drawn):");
  }

  @Test
  void render_runBlownUpEarly_xAxisEndsAfterTheLastFiniteValue() {
    String html = HtmlReports.render(trace(Fault.nan(3, 100)));

    // every layer is NaN from step 101 on: the charts end shortly after, the strips run to the edge
    assertThat(html)
        .contains(
            "last value of every 5 steps; band: min-max; drawn to step 124 of 999, no finite"
                + " value after");
  }

  @Test
  void render_shortRun_everyStepIsAPoint() {
    SyntheticTrace trace =
        SyntheticTrace.builder().layers(4).steps(120).seed(5).fault(Fault.nan(2, 60)).build();

    String html = HtmlReports.render(trace);

    assertThat(html)
        .contains(
            "Sampling: every step from 0 to 119 is a point.",
            "One column per step",
            "<div class=\"chart-sampling\">every step</div>");
  }

  @Test
  void render_embeddedJson_isTheJsonReport() throws Exception {
    SyntheticTrace trace = trace(Fault.nan(3, 400));
    Report report = analyze(trace);

    String html = HtmlReports.render(trace);

    JsonNode embedded = MAPPER.readTree(embeddedJson(html));
    assertThat(embedded)
        .isEqualTo(MAPPER.readTree(new JsonReportRenderer(RenderOptions.plain()).render(report)));
  }

  @Test
  void render_selfContained_noReferenceOutsideThePage() {
    String html = HtmlReports.render(trace(Fault.nan(3, 400)));

    assertThat(html)
        .contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"
                + " style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">");
    Matcher reference =
        Pattern.compile("(?i)\\b(src|href|xlink:href|action|srcset|poster)\\s*=\\s*\"([^\"]*)\"")
            .matcher(html);
    List<String> references = new ArrayList<>();
    while (reference.find()) {
      references.add(reference.group(2));
    }
    assertThat(references)
        .isNotEmpty()
        .allSatisfy(url -> assertThat(url).matches("#[a-z0-9-]+|data:.*"));
    assertThat(html.toLowerCase(java.util.Locale.ROOT))
        .doesNotContain(
            "http:",
            "https:",
            "url(",
            "@import",
            "fetch(",
            "xmlhttprequest",
            "<iframe",
            "<object",
            "<embed",
            "<link rel=\"stylesheet\"");
  }

  @Test
  void render_anAgentsEpisodeReturns_getTheirOwnCurve(@TempDir Path dir) {
    MemoryTrace.Builder agent =
        MemoryTrace.scripted(200)
            .meta(TraceMetadata.OBJECTIVE, "temporal_difference")
            .layer("fc1", "relu")
            .layer("q", "linear")
            .model(Phase.LOSS, step -> Stats.scalar(0.1 + 0.01 * step))
            .model(Phase.EPISODE_RETURN, step -> step % 10 == 9 ? Stats.scalar(20.0 + step) : null);
    String html =
        HtmlReports.render(
            agent.build().write(dir.resolve("agent.parquet"), WriteOptions.defaults()));

    assertThat(html).contains("episode return over steps", ">episode_return<");

    MemoryTrace.Builder supervised =
        MemoryTrace.scripted(200)
            .layer("fc1", "relu")
            .layer("out", "linear")
            .model(Phase.LOSS, step -> Stats.scalar(2.0 - 0.005 * step));
    assertThat(
            HtmlReports.render(
                supervised.build().write(dir.resolve("plain.parquet"), WriteOptions.defaults())))
        .doesNotContain("episode return over steps");
  }

  @Test
  void render_hostileNames_appearOnlyAsEscapedText(@TempDir Path dir) throws Exception {
    Path trace = Markup.write(dir.resolve("hostile.arrows"));

    String html = HtmlReports.render(trace);

    // markup outside the embedded JSON is escaped for HTML; the JSON has no < > & at all
    String json = embeddedJson(html);
    String series = embeddedSeries(html);
    String page = html.replace(json, "").replace(series, "");
    for (String hostile : Markup.all()) {
      assertThat(page).doesNotContain(hostile);
    }
    assertThat(json).doesNotContain("<", ">", "&", "\u2028", "\u2029");
    assertThat(series).doesNotContain("<", ">", "&", "\u2028", "\u2029");
    assertThat(MAPPER.readTree(series).get("charts").size()).isPositive();
    // the JSON report, the charts' numbers, uPlot, the page's script
    assertThat(count(html, "<script")).isEqualTo(4);
    assertThat(count(html, "</script>")).isEqualTo(4);
    String lower = html.toLowerCase(java.util.Locale.ROOT);
    for (String tag :
        List.of("<img", "<iframe", "<svg onload", "<b>", "<phase", "<relu", "</textarea", "<!--")) {
      assertThat(lower).as(tag).doesNotContain(tag);
    }
    assertOnlyOwnMarkup(html);
    // the names are there, as text: in the findings, the layer table and the charts
    assertThat(html).contains(Html.text(Markup.NAMES.get(Markup.NAN_LAYER)));
    assertThat(html).contains(Html.text(Markup.NAMES.get(0)));
    assertThat(html).contains(Html.text(Markup.NAMES.get(5)));
    assertThat(html).contains("couche_\u00e9t\u00e9_\u5c42_\ud83d\ude80 \u05e9\u05db\u05d1\u05d4");
    assertThat(html)
        .contains(
            Html.text(Markup.META_KEY),
            Html.text(Markup.META_VALUE),
            Html.text(Markup.PHASE),
            Html.text(Markup.TYPE));
    assertThat(html).doesNotContain("\u0000", "\u001b");
    assertThat(html.getBytes(StandardCharsets.UTF_8)).hasSizeLessThan(1_000_000);
    JsonNode embedded = MAPPER.readTree(embeddedJson(html));
    List<String> names = new ArrayList<>();
    embedded.get("trace").get("layers").forEach(layer -> names.add(layer.get("name").asText()));
    assertThat(names).containsExactlyElementsOf(Markup.NAMES);
  }

  @Test
  void render_withoutCharts_everySectionSaysChartsAreMissing() {
    Report report = analyze(trace(Fault.nan(3, 400)));

    String html = ReportFormat.fromWireName("html").renderer(RenderOptions.plain()).render(report);

    assertThat(count(html, "Charts need the trace's series")).isEqualTo(4);
    assertThat(html).doesNotContain("<svg").contains("<tr class=\"finding\"", "id=\"dl-report\"");
  }

  @Test
  void render_sameReportTwice_identicalBytes() {
    SyntheticTrace trace = trace(Fault.nan(3, 400));

    assertThat(HtmlReports.render(trace)).isEqualTo(HtmlReports.render(trace));
  }

  @Test
  void render_40000Steps_reportStaysSmall() {
    SyntheticTrace trace =
        SyntheticTrace.builder()
            .layers(12)
            .steps(40_000)
            .stepsPerEpoch(400)
            .seed(11)
            .fault(Fault.explodingGradient(30_000, 1.01))
            .build();

    String html = HtmlReports.render(trace);

    assertThat(html).contains("buckets of 200 steps", "Each column covers 100 steps");
    assertThat(html.getBytes(StandardCharsets.UTF_8).length).isLessThan(600_000);
  }

  @Test
  void shortCallback_kerasCallbacks_shortLabels() {
    assertThat(HtmlChartSections.shortCallback("EarlyStopping(monitor='loss', patience=1)"))
        .isEqualTo("EarlyStopping(loss)");
    assertThat(HtmlChartSections.shortCallback("TerminateOnNaN()")).isEqualTo("TerminateOnNaN");
    assertThat(HtmlChartSections.shortCallback("Custom")).isEqualTo("Custom");
  }

  /**
   * Tags the renderer writes; a tag outside this list (or an on* attribute) came from the trace.
   */
  private static final java.util.Set<String> OWN_TAGS =
      java.util.Set.of(
          "html",
          "head",
          "meta",
          "link",
          "title",
          "style",
          "body",
          "header",
          "nav",
          "main",
          "section",
          "article",
          "footer",
          "div",
          "span",
          "p",
          "h2",
          "h3",
          "strong",
          "a",
          "dl",
          "dt",
          "dd",
          "table",
          "thead",
          "tbody",
          "tr",
          "th",
          "td",
          "code",
          "br",
          "ul",
          "li",
          "details",
          "output",
          "button",
          "summary",
          "label",
          "input",
          "select",
          "option",
          "figure",
          "figcaption",
          "svg",
          "g",
          "rect",
          "line",
          "text",
          "path",
          "image",
          "pre",
          "script");

  static void assertOnlyOwnMarkup(String html) {
    // the bodies of the page's own scripts (uPlot, the page script) are constants, not markup
    String markup = html.replaceAll("(?s)<script>.*?</script>", "<script></script>");
    Matcher tag = Pattern.compile("<(/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>").matcher(markup);
    int tags = 0;
    while (tag.find()) {
      tags++;
      assertThat(OWN_TAGS).as("tag %s", tag.group()).contains(tag.group(2));
      // attribute names only: values are double-quoted, and a quote inside a value is &quot;
      String names = tag.group(3).replaceAll("\"[^\"]*\"", "\"\"");
      assertThat(names)
          .as("attributes of %s", tag.group())
          .doesNotContainPattern("(?i)\\son[a-z]+\\s*=")
          .doesNotContain("'");
    }
    assertThat(tags).isGreaterThan(100);
  }

  /** The charts' numbers the page's script draws from. */
  static String embeddedSeries(String html) {
    String open = "<script type=\"application/json\" id=\"dl-series\">";
    int start = html.indexOf(open) + open.length();
    return html.substring(start, html.indexOf("</script>", start));
  }

  static String embeddedJson(String html) {
    int start = html.indexOf(JSON_OPEN) + JSON_OPEN.length();
    return html.substring(start, html.indexOf("</script>", start));
  }
}
