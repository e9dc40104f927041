package io.dlanalyze.analyzer.report;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.HostileTraces.Markup;
import io.dlanalyze.trace.Printable;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Text and Markdown reports of a trace whose names carry escape sequences, newlines and markup. */
class TextReportRendererTest {
  @TempDir Path dir;

  private Report hostileReport() {
    Path trace = Markup.write(dir.resolve("hostile.arrows"));
    return new Analyzer().analyze(trace, AnalysisOptions.defaults()).withoutTiming();
  }

  private static String render(ReportRenderer renderer, Report report) throws IOException {
    StringWriter out = new StringWriter();
    renderer.render(report, out);
    return out.toString();
  }

  /** Fails on any control character but the renderer's own line ends. */
  private static void assertOnlyLineEndsAreControls(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      assertThat(c == '\n' || !Printable.needsEscape(c))
          .as("character U+%04X at %d in:%n%s", (int) c, i, text)
          .isTrue();
    }
  }

  @Test
  void text_hostileNames_escapedAndOnOneLine() throws IOException {
    Report report = hostileReport();
    String text = render(new TextReportRenderer(RenderOptions.plain()), report);

    assertOnlyLineEndsAreControls(text);
    String hostile = Markup.NAMES.get(7);
    assertThat(text)
        .contains(Printable.escape(hostile))
        .contains("\\e[31m")
        .contains("\\nforged: line");
    assertThat(text.lines()).noneMatch(line -> line.startsWith("forged"));
    assertThat(text).contains(Printable.escape(Markup.NAMES.get(6)));
  }

  @Test
  void text_colour_onlyTheRenderersOwnEscapeSequences() throws IOException {
    Report report = hostileReport();
    String text = render(new TextReportRenderer(new RenderOptions(true, false)), report);

    String withoutOwnCodes = text.replaceAll("\u001B\\[(0|1|31|32|33|35|36)m", "");
    assertThat(withoutOwnCodes).isNotEqualTo(text);
    assertOnlyLineEndsAreControls(withoutOwnCodes);
  }

  @Test
  void markdown_hostileNames_escapedAndCodeSpansClosed() throws IOException {
    Report report = hostileReport();
    String md = render(new MarkdownReportRenderer(RenderOptions.plain()), report);

    assertOnlyLineEndsAreControls(md);
    assertThat(md.lines()).noneMatch(line -> line.startsWith("forged"));
    // Outside code spans (where Markdown renders no HTML) every '<' of a name is escaped.
    String prose = md.replaceAll("(`+)[^`].*?\\1", "");
    assertThat(prose).contains("\\<img src=x").contains("\\<svg onload");
    assertThat(prose.replace("\\<", "")).doesNotContain("<");
    for (String line : md.lines().toList()) {
      if (line.startsWith("|")) {
        // every table row of the findings table keeps its 12 cells: no hostile '|' splits one
        assertThat(line.replace("\\|", "").chars().filter(c -> c == '|').count())
            .as(line)
            .isIn(5L, 13L);
      }
    }
  }
}
