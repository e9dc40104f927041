package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** {@code --timing}: a rate for a full pass, the rows and no rate for a first-fault stop. */
class TimingOptionTest {
  private static final String SAMPLE =
      Python.repoRoot().resolve("sample-traces/traces/so-48385830-buggy.parquet").toString();

  private static String lastLine(String text) {
    String[] lines = text.strip().split("\n");
    return lines[lines.length - 1];
  }

  @Test
  void firstFaultStop_saysItStoppedAndGivesNoRate() {
    CliRun run = CliRun.of(SAMPLE, "--first-fault", "--timing");

    assertThat(run.code()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(lastLine(run.out()))
        .matches("Time: \\d+ ms for \\d+ rows \\(stopped at the first fault; no rate\\)");
    assertThat(run.out()).doesNotContain("rows/s");
  }

  @Test
  void fullPass_givesTheRate() {
    CliRun run = CliRun.of(SAMPLE, "--timing");

    assertThat(lastLine(run.out())).matches("Time: \\d+ ms, [0-9.e+]+ rows/s");
  }

  @Test
  void json_rowsAnalysedAndNullRateWhenStoppedEarly() throws Exception {
    ObjectMapper mapper = new ObjectMapper();
    JsonNode stopped =
        mapper
            .readTree(CliRun.of(SAMPLE, "--first-fault", "--timing", "--format", "json").out())
            .get("timing");
    JsonNode full =
        mapper.readTree(CliRun.of(SAMPLE, "--timing", "--format", "json").out()).get("timing");

    assertThat(stopped.get("stopped_early").asBoolean()).isTrue();
    assertThat(stopped.get("rows_per_second").isNull()).isTrue();
    assertThat(full.get("stopped_early").asBoolean()).isFalse();
    assertThat(full.get("rows_per_second").asLong()).isPositive();
    assertThat(stopped.get("rows").asLong()).isPositive().isLessThan(full.get("rows").asLong());
  }

  @Test
  void markdown_sameLineAsText() {
    CliRun run = CliRun.of(SAMPLE, "--first-fault", "--timing", "--format", "markdown");

    assertThat(run.out()).containsPattern("- Time: \\d+ ms for \\d+ rows \\(stopped at the first");
  }
}
