package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.cli.eval.Manifest;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The committed benchmark: every manifest entry points at a committed trace with a twin. (That
 * {@code dl-analyze eval sample-traces/manifest.json --format markdown} prints the tables
 * docs/evaluation.md shows is {@link EvaluationDocTest}'s.)
 */
class SampleTracesEvalTest {

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
}
