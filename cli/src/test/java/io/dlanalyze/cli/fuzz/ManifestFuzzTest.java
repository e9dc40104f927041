package io.dlanalyze.cli.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Fuzz tests of the eval manifest parser, {@code Manifest.parse}. In {@code mvn verify} Jazzer runs
 * them over the committed corpus ({@code ManifestFuzzTestInputs/}), and {@link
 * #mutatedCorpus_fixedSeed} runs a bounded, fixed-seed mutation of it. Longer, coverage-guided:
 * {@code JAZZER_FUZZ=1 mvn -B -pl cli -am test -Dtest=ManifestFuzzTest#manifest
 * -Dsurefire.failIfNoSpecifiedTests=false -Djazzer.max_duration=30m} (docs/cli.md, "Fuzz tests").
 */
public class ManifestFuzzTest {
  static final List<String> TOKENS =
      List.of(
          "{",
          "}",
          "[",
          "]",
          ",",
          ":",
          "\"",
          "\\u0000",
          "\\\"",
          "\u0000",
          "null",
          "true",
          "false",
          "1e999",
          "-1",
          "0",
          "\"cases\"",
          "\"id\"",
          "\"trace\"",
          "\"buggy\"",
          "\"symptom\"",
          "\"root_cause\"",
          "\"model\"",
          "\"layer_index\"",
          "\"layer_name\"",
          "\"twin\"",
          "\"acceptable_symptoms\"",
          "\"family\"",
          "\"split\"",
          "\"framework\"",
          "\"architecture\"",
          "\"dev\"",
          "\" \"",
          "\"\\n\"",
          "\"numerical_error\"",
          "\"../../etc/passwd\"",
          "\"/dev/zero\"",
          "\"\"");

  @FuzzTest(maxDuration = "30s")
  void manifest(byte[] data) {
    FuzzTargets.manifest(data);
  }

  @Test
  void mutatedCorpus_fixedSeed() {
    Mutator mutator =
        new Mutator(20261203L, Corpus.seeds(ManifestFuzzTest.class, "manifest"), TOKENS);
    for (int i = 0; i < 1_000; i++) {
      FuzzTargets.manifest(mutator.next());
    }
  }
}
