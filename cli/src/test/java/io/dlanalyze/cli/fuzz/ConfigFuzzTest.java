package io.dlanalyze.cli.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Fuzz tests of the analysis config file (YAML and JSON), {@code AnalysisConfig}. In {@code mvn
 * verify} Jazzer runs them over the committed corpus ({@code ConfigFuzzTestInputs/}), and {@link
 * #mutatedCorpus_fixedSeed} runs a bounded, fixed-seed mutation of it. Longer, coverage-guided:
 * {@code JAZZER_FUZZ=1 mvn -B -pl cli -am test -Dtest=ConfigFuzzTest#yaml
 * -Dsurefire.failIfNoSpecifiedTests=false -Djazzer.max_duration=30m} (docs/cli.md, "Fuzz tests").
 */
public class ConfigFuzzTest {
  static final List<String> TOKENS =
      List.of(
          "\n",
          "  ",
          ": ",
          "- ",
          "---\n",
          "...\n",
          "[",
          "]",
          "{",
          "}",
          ",",
          "\"",
          "'",
          "#",
          "&a ",
          "*a",
          "!!binary ",
          "!!str ",
          "? ",
          "|\n",
          ">\n",
          "\t",
          "\u0000",
          "\u00e9",
          "1e999",
          "-0",
          "NaN",
          ".inf",
          "null",
          "true",
          "~",
          "0x10",
          "mode",
          "default",
          "deeplocalize",
          "fail-on",
          "never",
          "thresholds",
          "window",
          "exclude-layers",
          "detectors",
          "enabled",
          "dying-relu",
          "*",
          "?",
          "fc*",
          "*a*a*a*a*b",
          "{\"mode\": \"default\"}");

  @FuzzTest(maxDuration = "30s")
  void yaml(byte[] data) {
    FuzzTargets.config(FuzzTargets.YAML_NAME, data);
  }

  @FuzzTest(maxDuration = "30s")
  void json(byte[] data) {
    FuzzTargets.config(FuzzTargets.JSON_NAME, data);
  }

  @Test
  void mutatedCorpus_fixedSeed() {
    List<byte[]> seeds = new java.util.ArrayList<>(Corpus.seeds(ConfigFuzzTest.class, "yaml"));
    seeds.addAll(Corpus.seeds(ConfigFuzzTest.class, "json"));
    Mutator mutator = new Mutator(20261203L, seeds, TOKENS);
    for (int i = 0; i < 1_000; i++) {
      byte[] input = mutator.next();
      FuzzTargets.config(i % 2 == 0 ? FuzzTargets.YAML_NAME : FuzzTargets.JSON_NAME, input);
    }
  }
}
