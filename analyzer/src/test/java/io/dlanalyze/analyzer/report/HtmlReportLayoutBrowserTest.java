package io.dlanalyze.analyzer.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTML report of the dying-ReLU sample trace in a real headless Chromium, driven as a user
 * drives it (DevTools protocol): at 1280x900 and 800x900 the root cause's chart and the loss and
 * accuracy curves are in the first screen, the charts follow the report's story, badges, numbers
 * and heatmap labels are neither wrapped nor cut, and dragging the mouse across a chart zooms every
 * time chart to the same, narrower step range.
 *
 * <p>With {@code -Dreport.screenshots=DIR} it also writes the screenshots of docs/img (four sample
 * traces, both widths) into DIR: {@code bench/report-screenshots.sh} runs it so.
 */
class HtmlReportLayoutBrowserTest {
  private static final String DYING_RELU = "dying-relu-buggy.parquet";

  /** The sample traces of docs/img, by the symptom they show. */
  private static final List<String> SCREENSHOT_TRACES =
      List.of(
          "dying-relu-buggy.parquet",
          "exploding-gradient-buggy.parquet",
          "gh-melbourne-buggy.parquet",
          "so-59325381-buggy.parquet");

  @TempDir Path dir;

  @Test
  void sampleReport_firstScreenStoryOrderLayoutAndZoom() throws Exception {
    Path page = write(DYING_RELU);
    try (DevToolsBrowser browser =
        DevToolsBrowser.launch(HtmlReportBrowserTest.chromium(), dir.resolve("browser"))) {
      for (int width : new int[] {1280, 800}) {
        browser.viewport(width, 900);
        browser.open(page);
        checkStoryAndFirstScreen(browser, width);
        checkNothingWrappedOrCut(browser, width);
        java.awt.image.BufferedImage shot =
            javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(browser.screenshot()));
        assertThat(shot.getWidth()).isEqualTo(width);
        assertThat(shot.getHeight()).isEqualTo(900);
      }
      browser.viewport(1280, 900);
      browser.open(page);
      checkZoom(browser);
      checkSmoothing(browser);
      String target = System.getProperty("report.screenshots");
      if (target != null && !target.isBlank()) {
        screenshots(browser, Files.createDirectories(Path.of(target)));
      }
    }
  }

  private static void checkStoryAndFirstScreen(DevToolsBrowser browser, int width)
      throws Exception {
    JsonNode report =
        browser.evaluate("JSON.parse(document.getElementById('dl-report').textContent)");
    List<Integer> story = new ArrayList<>();
    report.path("story").forEach(group -> group.path("ranks").forEach(r -> story.add(r.asInt())));
    int rootRank = report.path("root_cause").path("finding_rank").asInt();
    assertThat(story.get(0)).isEqualTo(rootRank);
    JsonNode charted =
        browser.evaluate(
            "Array.from(document.querySelectorAll('article[data-finding-rank]'))"
                + ".map(a => Number(a.getAttribute('data-finding-rank')))");
    List<Integer> chartedRanks = new ArrayList<>();
    charted.forEach(r -> chartedRanks.add(r.asInt()));
    assertThat(chartedRanks).as("charted findings in story order").isNotEmpty();
    assertThat(story).startsWith(chartedRanks.toArray(Integer[]::new));
    // in document order: the curves beside the verdict, then the root cause's charts, then the
    // heatmaps (the symptom's map first), the distributions and the findings table
    JsonNode order =
        browser.evaluate(
            "Array.from(document.querySelectorAll('#curves figure, article[data-finding-rank],"
                + " #heatmaps figure, #distributions figure, #findings')).map(e => e.id ==="
                + " 'findings' ? 'findings' : e.hasAttribute('data-finding-rank') ? 'rank-' +"
                + " e.getAttribute('data-finding-rank') : e.closest('section').id)");
    List<String> sections = new ArrayList<>();
    order.forEach(e -> sections.add(e.asText()));
    assertThat(sections.subList(0, 3)).containsExactly("curves", "curves", "rank-" + rootRank);
    assertThat(sections.indexOf("heatmaps"))
        .isGreaterThan(sections.lastIndexOf("rank-" + chartedRanks.get(chartedRanks.size() - 1)));
    assertThat(sections.indexOf("distributions")).isGreaterThan(sections.indexOf("heatmaps"));
    assertThat(sections.get(sections.size() - 1)).isEqualTo("findings");
    assertThat(
            browser
                .evaluate("document.querySelector('#heatmaps figure').getAttribute('data-metric')")
                .asText())
        .as("dying ReLU: the zero_fraction map first")
        .isEqualTo("zero_fraction");
    // the first screen: the loss and accuracy curves, and the start of the root cause's first
    // chart (its plot's top half)
    double curvesBottom =
        browser
            .evaluate(
                "Math.max(...Array.from(document.querySelectorAll('#curves figure'))"
                    + ".map(f => f.getBoundingClientRect().bottom))")
            .asDouble();
    assertThat(curvesBottom).as("curves' bottom at width %d", width).isLessThanOrEqualTo(900);
    JsonNode rootPlot =
        browser.evaluate(
            "(() => { const r = document.querySelector('article[data-group=root_cause]"
                + " figure .u-over').getBoundingClientRect();"
                + " return [r.top, r.bottom]; })()");
    double middle = (rootPlot.get(0).asDouble() + rootPlot.get(1).asDouble()) / 2;
    assertThat(middle).as("root cause's first plot, middle, at width %d", width).isLessThan(900);
    assertThat(browser.evaluate("window.scrollY").asDouble()).isZero();
  }

  private static void checkNothingWrappedOrCut(DevToolsBrowser browser, int width)
      throws Exception {
    // a text on one line has one client rect per text node
    JsonNode wrapped =
        browser.evaluate(
            "Array.from(document.querySelectorAll('.sev, td.num, td.steps, .verdict"
                + " .word')).filter(e => e.offsetParent !== null && e.firstChild).filter(e => {"
                + " const r = document.createRange(); r.selectNodeContents(e.firstChild.nodeType"
                + " === 3 ? e.firstChild : e); const lines = new"
                + " Set(Array.from(r.getClientRects()).map(q => Math.round(q.top))); return"
                + " lines.size > 1; }).map(e => e.outerHTML.slice(0, 80))");
    assertThat(wrapped).as("wrapped badges or numbers at width %d", width).isEmpty();
    JsonNode cut =
        browser.evaluate(
            "Array.from(document.querySelectorAll('svg.heatmap .axis text'))"
                + ".filter(t => { const s = t.ownerSVGElement.getBoundingClientRect();"
                + " const r = t.getBoundingClientRect(); return r.left < s.left - 0.5"
                + " || r.right > s.right + 0.5; }).map(t => t.textContent)");
    assertThat(cut).as("heatmap labels cut at width %d", width).isEmpty();
    double overflow =
        browser
            .evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            .asDouble();
    assertThat(overflow).as("horizontal overflow at width %d", width).isLessThanOrEqualTo(0);
  }

  private static void checkZoom(DevToolsBrowser browser) throws Exception {
    int live =
        browser
            .evaluate("Number(document.documentElement.getAttribute('data-live-charts'))")
            .asInt();
    int figures =
        browser.evaluate("document.querySelectorAll('figure[data-chart]').length").asInt();
    assertThat(live).as("interactive charts").isEqualTo(figures).isPositive();
    String ranges =
        "Array.from(document.querySelectorAll('figure[data-chart]')).map(f =>"
            + " [Number(f.getAttribute('data-x-min')), Number(f.getAttribute('data-x-max'))])";
    JsonNode before = browser.evaluate(ranges);
    double fullMin = before.get(0).get(0).asDouble();
    double fullMax = before.get(0).get(1).asDouble();
    assertThat(fullMax - fullMin).isGreaterThan(100);
    JsonNode over =
        browser.evaluate(
            "(() => { const o = document.querySelector('article[data-group=root_cause] .u-over');"
                + " o.scrollIntoView({block: 'center'}); const r = o.getBoundingClientRect();"
                + " return [r.left, r.right, (r.top + r.bottom) / 2]; })()");
    double left = over.get(0).asDouble();
    double right = over.get(1).asDouble();
    double y = over.get(2).asDouble();

    browser.drag(left + (right - left) * 0.3, left + (right - left) * 0.6, y);

    JsonNode after = browser.evaluate(ranges);
    double min = after.get(0).get(0).asDouble();
    double max = after.get(0).get(1).asDouble();
    assertThat(max - min).as("zoomed step range").isLessThan((fullMax - fullMin) * 0.5);
    assertThat(min).isGreaterThan(fullMin);
    assertThat(max).isLessThan(fullMax);
    for (JsonNode range : after) {
      assertThat(range.get(0).asDouble()).as("every time chart zoomed alike").isEqualTo(min);
      assertThat(range.get(1).asDouble()).isEqualTo(max);
    }
    assertThat(browser.evaluate("document.getElementById('zoom-range').textContent").asText())
        .isEqualTo("steps " + (long) min + " to " + (long) max);

    browser.evaluate("document.getElementById('zoom-reset').click()");

    JsonNode reset = browser.evaluate(ranges);
    assertThat(reset.get(0).get(0).asDouble()).isEqualTo(fullMin);
    assertThat(reset.get(0).get(1).asDouble()).isGreaterThanOrEqualTo(fullMax);
  }

  /**
   * Moving the smoothing slider redraws the loss and accuracy curves (their canvases change, the
   * value is shown) and leaves the other charts alone; back at 0 the curves are the raw values
   * again, pixel for pixel.
   */
  private static void checkSmoothing(DevToolsBrowser browser) throws Exception {
    String canvases =
        "Array.from(document.querySelectorAll('figure[data-chart] canvas')).map(c =>"
            + " c.toDataURL())";
    String slide =
        "(() => { const s = document.getElementById('smoothing'); s.value = '%s';"
            + " s.dispatchEvent(new Event('input')); return"
            + " document.getElementById('smoothing-value').textContent; })()";
    assertThat(browser.evaluate("document.querySelector('.smoothing').hidden").asBoolean())
        .isFalse();
    JsonNode raw = browser.evaluate(canvases);

    assertThat(browser.evaluate(String.format(java.util.Locale.ROOT, slide, "0.9")).asText())
        .isEqualTo("0.90");
    JsonNode smooth = browser.evaluate(canvases);

    int changed = 0;
    for (int i = 0; i < raw.size(); i++) {
      if (!raw.get(i).asText().equals(smooth.get(i).asText())) {
        changed++;
      }
    }
    assertThat(changed).as("curves redrawn smoothed").isPositive().isLessThan(raw.size());

    assertThat(browser.evaluate(String.format(java.util.Locale.ROOT, slide, "0")).asText())
        .isEqualTo("0.00");
    assertThat(browser.evaluate(canvases)).as("back to the raw curves").isEqualTo(raw);
  }

  /** The screenshots of docs/img ({@code -Dreport.screenshots=DIR}). */
  private void screenshots(DevToolsBrowser browser, Path out) throws Exception {
    for (String trace : SCREENSHOT_TRACES) {
      Path page = write(trace);
      for (int width : new int[] {1280, 800}) {
        browser.viewport(width, 900);
        browser.open(page);
        String name = trace.replace("-buggy.parquet", "") + "-" + width + "x900.png";
        Files.write(out.resolve("report-" + name), browser.screenshot());
      }
    }
  }

  private Path write(String trace) throws Exception {
    Path page = dir.resolve(trace + ".html");
    Files.writeString(
        page,
        HtmlReports.render(
            HtmlReportBrowserTest.repoRoot().resolve("sample-traces/traces").resolve(trace)),
        StandardCharsets.UTF_8);
    return page;
  }
}
