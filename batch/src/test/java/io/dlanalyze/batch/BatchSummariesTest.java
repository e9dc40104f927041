package io.dlanalyze.batch;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BatchSummariesTest {
  static BatchResults results(int buggy) {
    List<TraceOutcome> outcomes = new ArrayList<>();
    for (int i = 0; i < buggy; i++) {
      outcomes.add(
          TraceOutcome.analyzed(
              new TraceAnalysis.Result(
                  ResultsTablesTest.okRow(
                      String.format(java.util.Locale.ROOT, "/runs/b%03d|x.arrows", i), "fc3"),
                  List.of())));
    }
    outcomes.add(TraceOutcome.skipped(ResultsTablesTest.errorRow("/runs/empty.arrows"), List.of()));
    return BatchResults.assemble(outcomes, PreviousResults.none(), "config", 1_500);
  }

  @Test
  void text_countsBuggyAndUnreadable() {
    String text = SummaryFormat.TEXT.render(results(2), "/out");

    assertThat(text)
        .startsWith("dl-analyze batch: 3 traces -> /out\n")
        .contains("this run: 2 analyzed, 1 unchanged and skipped, 0 removed, 0 new errors; 1.5 s")
        .contains("results:  0 healthy, 2 buggy, 0 inconclusive, 1 unreadable")
        .contains("critical numerical_error at fc3 (forward) from step 420")
        .contains("/runs/empty.arrows\n    empty: /runs/empty.arrows: file is empty (0 bytes)");
  }

  @Test
  void markdown_escapesPipesAndLimitsTheList() {
    String md = SummaryFormat.MARKDOWN.render(results(BatchSummaries.LIST_LIMIT + 3), "/out");

    assertThat(md).contains("| /runs/b000\\|x.arrows | critical |");
    assertThat(md).contains("... and 3 more in runs.parquet");
    assertThat(md.lines().filter(l -> l.startsWith("| /runs/b")))
        .hasSize(BatchSummaries.LIST_LIMIT);
  }

  @Test
  void json_listsEverythingWithCounts() throws Exception {
    JsonNode json =
        new ObjectMapper()
            .readTree(SummaryFormat.JSON.render(results(BatchSummaries.LIST_LIMIT + 3), "/out"));

    assertThat(json.get("summary_version").asInt()).isEqualTo(1);
    assertThat(json.get("health").asText()).isEqualTo("unreadable");
    assertThat(json.get("traces").asInt()).isEqualTo(BatchSummaries.LIST_LIMIT + 4);
    assertThat(json.get("results").get("buggy").asInt()).isEqualTo(BatchSummaries.LIST_LIMIT + 3);
    assertThat(json.get("buggy")).hasSize(BatchSummaries.LIST_LIMIT + 3);
    assertThat(json.get("errors").get(0).get("error_code").asText()).isEqualTo("empty");
    assertThat(json.get("this_run").get("elapsed_ms").asLong()).isEqualTo(1_500);
  }

  @Test
  void html_selfContainedEscapedAndLimited() {
    List<TraceOutcome> outcomes = new ArrayList<>();
    outcomes.add(
        TraceOutcome.analyzed(
            new TraceAnalysis.Result(
                ResultsTablesTest.okRow("/runs/<script>alert(1)</script>.arrows", "fc\"3'"),
                List.of())));
    outcomes.add(TraceOutcome.skipped(ResultsTablesTest.errorRow("/runs/a&b.arrows"), List.of()));
    String html =
        SummaryFormat.HTML.render(
            BatchResults.assemble(outcomes, PreviousResults.none(), "config", 10), "/out");

    assertThat(html)
        .startsWith("<!DOCTYPE html>")
        .contains("default-src 'none'")
        .doesNotContain("<script")
        .contains("/runs/&lt;script&gt;alert(1)&lt;/script&gt;.arrows")
        .contains("fc&quot;3&#39; (forward)")
        .contains("/runs/a&amp;b.arrows")
        .contains("<b>1</b>buggy")
        .contains("<b>1</b>unreadable")
        .endsWith("</html>\n");
    assertThat(SummaryFormat.HTML.render(results(BatchSummaries.LIST_LIMIT + 2), "/out"))
        .contains("... and 2 more in <code>runs.parquet</code>");
  }

  @Test
  void textAndMarkdown_hostileNames_controlCharactersVisibleOneLineEach() {
    String evil = "/runs/x\u001b[2J\nforged: line\u202e.arrows";
    List<TraceOutcome> outcomes = new ArrayList<>();
    outcomes.add(
        TraceOutcome.analyzed(
            new TraceAnalysis.Result(ResultsTablesTest.okRow(evil, "fc\u001b[31m"), List.of())));
    outcomes.add(TraceOutcome.skipped(ResultsTablesTest.errorRow(evil + "2"), List.of()));
    BatchResults results = BatchResults.assemble(outcomes, PreviousResults.none(), "config", 10);

    for (SummaryFormat format : List.of(SummaryFormat.TEXT, SummaryFormat.MARKDOWN)) {
      String summary = format.render(results, "/out\n");
      assertThat(summary).as(format.name()).doesNotContain("\u001b", "\u202e", "\nforged");
      assertThat(summary.lines()).as(format.name()).noneMatch(line -> line.startsWith("forged"));
      assertThat(summary).as(format.name()).contains("forged: line");
    }
    // Markdown doubles the backslash of an escape so that it renders as typed.
    assertThat(SummaryFormat.MARKDOWN.render(results, "/out\n"))
        .contains("| /runs/x\\\\e[2J\\\\nforged: line\\\\u202e.arrows |")
        .contains("results in `/out\\n`");
    assertThat(SummaryFormat.TEXT.render(results, "/out"))
        .contains("  /runs/x\\e[2J\\nforged: line\\u202e.arrows\n");
  }

  @Test
  void escape_controlCharactersAndLoneSurrogates_replaced() {
    assertThat(BatchSummaries.escape("a\u0001b\ud800c\ud83d\ude80"))
        .isEqualTo("a\ufffdb\ufffdc\ud83d\ude80");
  }
}
