package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.cli.eval.Manifest;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The committed benchmark: every manifest entry points at a committed trace with a twin, and {@code
 * dl-analyze eval sample-traces/manifest.json --format markdown} prints exactly the table
 * docs/evaluation.md shows between its {@code <!-- eval:begin -->} and {@code <!-- eval:end -->}
 * markers.
 */
class SampleTracesEvalTest {
  private static final String BEGIN = "<!-- eval:begin -->\n";
  private static final String END = "<!-- eval:end -->";

  @Test
  void manifest_everyCaseHasItsTraceAndATwinOfTheOtherKind() {
    Manifest manifest = Manifest.read(Python.repoRoot().resolve("sample-traces/manifest.json"));

    Map<String, Manifest.Case> byId = new HashMap<>();
    for (Manifest.Case c : manifest.cases()) {
      byId.put(c.id(), c);
    }
    assertThat(manifest.cases()).hasSizeGreaterThanOrEqualTo(32);
    for (Manifest.Case c : manifest.cases()) {
      assertThat(c.trace()).as(c.id()).isRegularFile();
      assertThat(c.trace().getFileName().toString()).as(c.id()).endsWith(".parquet");
      Manifest.Case twin = byId.get(c.twin());
      assertThat(twin).as(c.id() + "'s twin").isNotNull();
      assertThat(twin.buggy()).as(c.id() + "'s twin").isNotEqualTo(c.buggy());
      assertThat(twin.twin()).isEqualTo(c.id());
    }
  }

  @Test
  void eval_sampleTraces_matchesTheTableInDocsEvaluation() throws IOException {
    Path root = Python.repoRoot();
    String doc = Files.readString(root.resolve("docs/evaluation.md"));
    int begin = doc.indexOf(BEGIN);
    int end = doc.indexOf(END);
    assertThat(begin).as("docs/evaluation.md has an eval:begin marker").isNotNegative();
    assertThat(end).as("docs/evaluation.md has an eval:end marker").isGreaterThan(begin);
    String documented = doc.substring(begin + BEGIN.length(), end);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int code =
        DlAnalyze.run(
            new PrintWriter(out),
            new PrintWriter(err),
            "eval",
            root.resolve("sample-traces/manifest.json").toString(),
            "--format",
            "markdown");

    assertThat(code).as(err.toString()).isZero();
    assertThat(out.toString())
        .as(
            "docs/evaluation.md is out of date: regenerate its table with"
                + " ./dl-analyze eval sample-traces/manifest.json --format markdown"
                + " and explain what changed")
        .isEqualTo(documented);
  }
}
