package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code compare} on two real PyTorch runs from the same seed that part at a known step: run b is
 * run a with the weights of fc2 tripled just before the forward pass of step 40. Up to step 39 the
 * two runs are the same computation, so compare must name step 40, fc2's forward pass (the first
 * place the change shows in DeepLocalize's order), and nothing earlier; fc1, whose weights change
 * only through the gradients of step 40, cannot part before its weights do.
 */
class CompareEndToEndTest {
  private static final int CHANGE_AT = 40;

  @TempDir Path dir;

  @BeforeAll
  static void needsTorch() {
    Python.requireFrameworks();
  }

  @Test
  void twoRealRunsThatPartAtAKnownStep_divergeThereInTheChangedLayer() throws Exception {
    Python.Result run =
        Python.run(
            List.of(
                Python.interpreter(),
                Python.repoRoot().resolve("cli/src/test/resources/e2e/train_pair.py").toString(),
                Python.repoRoot().toString(),
                dir.toString(),
                "--change-at",
                Integer.toString(CHANGE_AT),
                "--steps",
                "80"),
            dir,
            300);
    assertThat(run.exitCode()).as(run.output()).isZero();
    Path a = dir.resolve("a.arrows");
    Path b = dir.resolve("b.arrows");
    CliRun compare = CliRun.of("compare", a.toString(), b.toString(), "--format", "json");
    assertThat(compare.code()).as(compare.err()).isZero();
    JsonNode json = new ObjectMapper().readTree(compare.out());
    assertThat(json.path("common_steps").asLong()).isEqualTo(80);
    JsonNode first = json.path("first_divergence");
    assertThat(first.path("step").asLong()).as(compare.out()).isEqualTo(CHANGE_AT);
    assertThat(first.path("layer").asText()).isEqualTo("fc2");
    assertThat(first.path("phase").asText()).isEqualTo("forward");
    for (JsonNode divergence : json.path("divergences")) {
      assertThat(divergence.path("step").asLong())
          .as("%s %s parts no earlier than the change", divergence.path("layer"), divergence)
          .isGreaterThanOrEqualTo(CHANGE_AT);
      if (divergence.path("layer").asText().equals("fc1")
          && divergence.path("phase").asText().equals("forward")) {
        assertThat(divergence.path("step").asLong()).isGreaterThan(CHANGE_AT);
      }
    }
    assertThat(CliRun.of("compare", a.toString(), b.toString()).out())
        .contains("First divergence: step " + CHANGE_AT + ", fc2 forward, ");
    // the unchanged run against itself does not part at all
    JsonNode same =
        new ObjectMapper()
            .readTree(CliRun.of("compare", a.toString(), a.toString(), "--format", "json").out());
    assertThat(same.path("first_divergence").isNull()).isTrue();
  }
}
