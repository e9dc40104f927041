package io.dlanalyze.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.HostileTraces;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.parquet.schema.MessageType;
import org.junit.jupiter.api.Test;

class ResultsTablesTest {
  static RunRow okRow(String path, String layer) {
    return new RunRow(
        path,
        "arrow-stream",
        new Fingerprint(1234, 1_700_000_000_123L, "sha256:ab"),
        "config",
        RunStatus.OK,
        null,
        null,
        "buggy",
        "a reason",
        "layer",
        3,
        layer,
        "cause, \"quoted\"\nsecond line",
        "fix it",
        "numerical-error",
        "numerical_error",
        "critical",
        3,
        layer,
        "forward",
        420L,
        3,
        0,
        1,
        0,
        2,
        4_000L,
        200L,
        false,
        1,
        "run-7",
        15,
        1_700_000_100_000L);
  }

  static RunRow errorRow(String path) {
    return RunRow.error(
        path,
        null,
        Fingerprint.unavailable(0, 0),
        "config",
        "empty",
        path + ": file is empty (0 bytes)",
        0,
        1_700_000_100_001L);
  }

  @Test
  void runs_roundTrip_keepsEveryValueAndNull() throws IOException {
    List<RunRow> rows = new ArrayList<>();
    for (String name : HostileTraces.NAMES) {
      rows.add(okRow("/data/" + name + ".arrows", name));
    }
    rows.add(errorRow("/data/empty.arrows"));

    List<RunRow> read = ResultsTables.readRuns(ResultsTables.writeRuns(rows), "runs.parquet");

    assertThat(read).isEqualTo(rows);
  }

  @Test
  void findings_roundTrip_keepsEveryValueAndNull() throws IOException {
    List<FindingRow> rows =
        List.of(
            new FindingRow(
                "/a",
                1,
                "numerical-error",
                "numerical_error",
                "critical",
                2,
                "fc2",
                "Linear",
                "forward",
                10,
                20,
                0,
                10,
                11,
                3,
                "NaN first seen in fc2",
                "lower the learning rate",
                "{\"nan_count\":12,\"mean\":\"NaN\"}"),
            new FindingRow(
                "/a",
                2,
                "x",
                "not_learning",
                "warning",
                -1,
                null,
                null,
                "loss",
                5,
                5,
                0,
                5,
                1,
                0,
                "the loss stays",
                null,
                "{}"));

    assertThat(ResultsTables.readFindings(ResultsTables.writeFindings(rows), "findings.parquet"))
        .isEqualTo(rows);
  }

  @Test
  void runs_emptyTable_roundTrips() throws IOException {
    assertThat(ResultsTables.readRuns(ResultsTables.writeRuns(List.of()), "runs.parquet"))
        .isEmpty();
  }

  @Test
  void readRuns_findingsFile_throwsNamingTheSchema() {
    byte[] findings = ResultsTables.writeFindings(List.of());

    assertThatThrownBy(() -> ResultsTables.readRuns(findings, "runs.parquet"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("runs.parquet")
        .hasMessageContaining("runs/1");
  }

  @Test
  void readRuns_notParquet_throwsIoException() {
    assertThatThrownBy(
            () ->
                ResultsTables.readRuns(
                    "not parquet".getBytes(java.nio.charset.StandardCharsets.UTF_8),
                    "runs.parquet"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("runs.parquet");
  }

  @Test
  void classPath_hasNoHadoop() {
    // Surefire drops hadoop-client-api, so every table test here also proves the batch needs no
    // Hadoop.
    assertThatThrownBy(() -> Class.forName("org.apache.hadoop.conf.Configuration"))
        .isInstanceOf(ClassNotFoundException.class);
  }

  @Test
  void schemas_areTheDocumentedColumns() {
    assertThat(names(ResultsTables.RUNS))
        .containsExactly(
            "path",
            "format",
            "size_bytes",
            "modified",
            "content_hash",
            "config",
            "status",
            "error_code",
            "error",
            "verdict",
            "verdict_reason",
            "root_scope",
            "root_layer_index",
            "root_layer",
            "root_cause",
            "suggested_fix",
            "top_detector",
            "top_symptom",
            "top_severity",
            "top_layer_index",
            "top_layer",
            "top_phase",
            "top_first_step",
            "findings",
            "findings_info",
            "findings_warning",
            "findings_error",
            "findings_critical",
            "rows",
            "steps",
            "truncated",
            "warnings",
            "run_id",
            "analysis_ms",
            "analyzed_at");
    assertThat(names(ResultsTables.FINDINGS))
        .containsExactly(
            "path",
            "rank",
            "detector",
            "symptom",
            "severity",
            "layer_index",
            "layer",
            "layer_type",
            "phase",
            "first_step",
            "last_step",
            "epoch",
            "batch",
            "occurrences",
            "consequences",
            "message",
            "suggested_fix",
            "evidence");
  }

  private static List<String> names(MessageType schema) {
    List<String> names = new ArrayList<>();
    schema.getFields().forEach(f -> names.add(f.getName()));
    return names;
  }
}
