package io.dlanalyze.analyzer.report;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.trace;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.synthetic.Fault;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class JsonReportRendererTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @Test
  void render_buggyReport_hasDocumentedFieldsInOrder() throws Exception {
    Report report = analyze(trace(Fault.nan(3, 420)));

    JsonNode json = MAPPER.readTree(new JsonReportRenderer(RenderOptions.plain()).render(report));

    List<String> fields = new ArrayList<>();
    json.fieldNames().forEachRemaining(fields::add);
    assertThat(fields)
        .containsExactly(
            "report_version",
            "mode",
            "verdict",
            "verdict_reason",
            "root_cause",
            "story",
            "findings",
            "baselines",
            "trace",
            "options");
    assertThat(json.get("report_version").asInt()).isEqualTo(2);
    List<String> rootFields = new ArrayList<>();
    json.get("root_cause").fieldNames().forEachRemaining(rootFields::add);
    assertThat(rootFields)
        .containsExactly(
            "scope",
            "layer_index",
            "layer_name",
            "cause",
            "suggested_fix",
            "symptom",
            "finding_rank",
            "alternatives");
    assertThat(json.get("root_cause").get("finding_rank").asInt()).isPositive();
    assertThat(json.get("verdict").asText()).isEqualTo("buggy");
    assertThat(json.get("root_cause").get("scope").asText()).isEqualTo("layer");
    JsonNode finding = json.get("findings").get(0);
    List<String> findingFields = new ArrayList<>();
    finding.fieldNames().forEachRemaining(findingFields::add);
    assertThat(findingFields)
        .containsExactly(
            "rank",
            "detector",
            "symptom",
            "severity",
            "layer_index",
            "layer_name",
            "layer_type",
            "phase",
            "first_step",
            "epoch",
            "batch",
            "last_step",
            "occurrences",
            "evidence",
            "message",
            "consequences",
            "suggested_fix");
    assertThat(finding.get("rank").asInt()).isEqualTo(1);
    assertThat(finding.get("symptom").asText()).isEqualTo("numerical_error");
    assertThat(finding.get("evidence").get("mean").asText()).isEqualTo("NaN");
    assertThat(json.get("trace").get("steps").asLong()).isEqualTo(1000);
  }

  @Test
  void render_healthyReport_rootCauseNullAndNoTiming() throws Exception {
    String text = new JsonReportRenderer(RenderOptions.plain()).render(analyze(trace()));

    JsonNode json = MAPPER.readTree(text);
    assertThat(json.get("root_cause").isNull()).isTrue();
    assertThat(json.get("verdict").asText()).isEqualTo("healthy");
    assertThat(json.has("timing")).isFalse();
    assertThat(text).doesNotContain("\r").endsWith("}\n");
  }

  @Test
  void render_sameReportTwice_identicalBytes() {
    Report report = analyze(trace(Fault.nan(3, 420)));
    JsonReportRenderer renderer = new JsonReportRenderer(RenderOptions.plain());

    assertThat(renderer.render(report))
        .isEqualTo(renderer.render(analyze(trace(Fault.nan(3, 420)))));
  }
}
