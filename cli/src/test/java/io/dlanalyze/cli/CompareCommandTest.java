package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompareCommandTest {
  @TempDir Path dir;

  private static String sample(String name) {
    return Python.repoRoot().resolve("sample-traces/traces/" + name).toString();
  }

  @Test
  void compare_buggyAndFixed_textJsonAndHtml() throws Exception {
    String a = sample("so-48385830-buggy.parquet");
    String b = sample("so-48385830-fixed.parquet");
    CliRun text = CliRun.of("compare", a, b);
    assertThat(text.code()).as(text.err()).isZero();
    assertThat(text.out())
        .contains("First divergence: step 0, fc1 activation, mean:")
        .contains("Loss and accuracy side by side:")
        .contains("only a  error    exploding-gradient       fc1");
    CliRun json = CliRun.of("compare", a, b, "--format", "json");
    JsonNode node = new ObjectMapper().readTree(json.out());
    assertThat(node.path("first_divergence").path("step").asLong()).isZero();
    assertThat(node.path("a").path("verdict").asText()).isEqualTo("buggy");
    assertThat(node.path("b").path("verdict").asText()).isEqualTo("healthy");
    Path html = dir.resolve("compare.html");
    assertThat(CliRun.of("compare", a, b, "--format", "html", "-o", html.toString()).code())
        .isZero();
    assertThat(Files.readString(html, StandardCharsets.UTF_8)).contains("<svg class=\"chart");
  }

  @Test
  void compare_missingTraceOrBadBand_oneLineErrors() {
    String a = sample("so-48385830-buggy.parquet");
    Path missing = dir.resolve("missing.parquet");
    CliRun.of("compare", a, missing.toString())
        .failsWith(ExitCodes.BAD_INPUT, "dl-analyze: error: " + missing + ": no such file");
    CliRun bad = CliRun.of("compare", a, a, "--band", "0");
    assertThat(bad.code()).isEqualTo(ExitCodes.USAGE);
    assertThat(bad.errorLine()).contains("--band must be a positive number: 0.0");
  }
}
