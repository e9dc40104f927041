package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.batch.ResultsTables;
import io.dlanalyze.batch.RunRow;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The analyze report (JSON, text, Markdown, HTML), the batch summaries and runs.parquet lead with
 * the same finding: the one the root cause rests on. The dying-ReLU sample trace is the case where
 * that finding is not the top-ranked one (an oscillating loss starts earlier).
 */
class LeadingFindingAgreementTest {
  private static final String TRACE = "dying-relu-buggy.parquet";

  @TempDir Path dir;

  private String run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    DlAnalyze.run(new PrintWriter(out), new PrintWriter(err), args);
    return out.toString();
  }

  @Test
  void analyzeReportBatchSummaryAndRunsParquet_leadWithTheRootCausesFinding() throws Exception {
    Path root = Path.of(System.getProperty("repo.root", "..")).toAbsolutePath().normalize();
    Path trace = dir.resolve("in").resolve(TRACE);
    Files.createDirectories(trace.getParent());
    Files.copy(root.resolve("sample-traces/traces").resolve(TRACE), trace);
    ObjectMapper mapper = new ObjectMapper();

    JsonNode report = mapper.readTree(run(trace.toString(), "--format", "json"));
    int rank = report.path("root_cause").path("finding_rank").asInt();
    assertThat(rank).as("this trace's root cause is not its top-ranked finding").isGreaterThan(1);
    JsonNode leading = report.path("findings").get(rank - 1);
    assertThat(report.path("story").get(0).path("group").asText()).isEqualTo("root_cause");
    assertThat(report.path("story").get(0).path("ranks").get(0).asInt()).isEqualTo(rank);

    String text = run(trace.toString(), "--format", "text");
    Matcher firstTextFinding = Pattern.compile("(?m)^ +(\\d+)\\. \\[").matcher(text);
    assertThat(firstTextFinding.find()).isTrue();
    assertThat(Integer.parseInt(firstTextFinding.group(1))).isEqualTo(rank);
    String markdown = run(trace.toString(), "--format", "markdown");
    assertThat(markdown).containsPattern("\\|---:\\|[^\\n]*\\n\\| " + rank + " \\| Root cause \\|");
    Path html = dir.resolve("report.html");
    run(trace.toString(), "--format", "html", "--output", html.toString());
    Matcher firstChart =
        Pattern.compile("data-finding-rank=\"(\\d+)\"")
            .matcher(Files.readString(html, StandardCharsets.UTF_8));
    assertThat(firstChart.find()).as("the HTML charts a finding").isTrue();
    assertThat(Integer.parseInt(firstChart.group(1))).isEqualTo(rank);

    Path out = dir.resolve("out");
    run("batch", dir.resolve("in").toString(), "--out", out.toString(), "--progress", "none");
    List<RunRow> runs =
        ResultsTables.readRuns(Files.readAllBytes(out.resolve("runs.parquet")), "runs.parquet");
    assertThat(runs).hasSize(1);
    RunRow row = runs.get(0);
    assertThat(row.topDetector()).isEqualTo(leading.path("detector").asText());
    // top_symptom is the leading finding's class; the root cause may name another (here the
    // loss's oscillation, read off the dead layer the finding is about).
    assertThat(row.topSymptom()).isEqualTo(leading.path("symptom").asText());
    assertThat(report.path("root_cause").path("symptom").asText()).isEqualTo("oscillation");
    assertThat(row.topLayer()).isEqualTo(leading.path("layer_name").asText());
    assertThat(row.topLayerIndex()).isEqualTo(leading.path("layer_index").asInt());
    assertThat(row.topPhase()).isEqualTo(leading.path("phase").asText());
    assertThat(row.topFirstStep()).isEqualTo(leading.path("first_step").asLong());
    assertThat(row.rootLayer()).isEqualTo(report.path("root_cause").path("layer_name").asText());

    JsonNode summary = mapper.readTree(out.resolve("summary.json").toFile());
    JsonNode buggy = summary.findValue("top_detector");
    assertThat(buggy).as("summary.json names the leading finding").isNotNull();
    assertThat(buggy.asText()).isEqualTo(leading.path("detector").asText());
    assertThat(summary.findValue("top_first_step").asLong())
        .isEqualTo(leading.path("first_step").asLong());
    assertThat(Files.readString(out.resolve("summary.txt")))
        .contains(
            leading.path("severity").asText()
                + " "
                + leading.path("symptom").asText()
                + " at "
                + leading.path("layer_name").asText()
                + " ("
                + leading.path("phase").asText()
                + ") from step "
                + leading.path("first_step").asLong());
  }
}
