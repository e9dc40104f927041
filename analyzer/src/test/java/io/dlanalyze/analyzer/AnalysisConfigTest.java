package io.dlanalyze.analyzer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.synthetic.Fault;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AnalysisConfigTest {
  @TempDir Path dir;

  private Path file(String name, String text) throws Exception {
    Path path = dir.resolve(name);
    Files.writeString(path, text);
    return path;
  }

  @Test
  void decodeThreads_defaultToAHelperOnlyWhereAProcessorIsFreeForIt() {
    // the read-ahead and analysis threads keep two processors busy
    assertThat(AnalysisOptions.defaultDecodeThreads(1)).isEqualTo(1);
    assertThat(AnalysisOptions.defaultDecodeThreads(2)).isEqualTo(1);
    assertThat(AnalysisOptions.defaultDecodeThreads(3)).isEqualTo(1);
    assertThat(AnalysisOptions.defaultDecodeThreads(4)).isEqualTo(2);
    assertThat(AnalysisOptions.defaultDecodeThreads(64)).isEqualTo(2);
    assertThat(AnalysisOptions.defaults().decodeThreads())
        .isEqualTo(AnalysisOptions.defaultDecodeThreads());
  }

  @Test
  void yaml_setsThresholdsDetectorsAndExclusions() throws Exception {
    Path config =
        file(
            "dl.yaml",
            """
            mode: default
            fail-on: error
            thresholds:
              window: 30
            exclude-layers: ["backbone.*"]
            detectors:
              oscillating-loss: false
              dying-relu:
                exclude-layers: head
                thresholds:
                  dying-relu-fraction: 0.9
            """);

    AnalysisOptions options = AnalysisConfig.apply(config, AnalysisOptions.builder()).build();

    assertThat(options.get(Thresholds.WINDOW)).isEqualTo(30);
    assertThat(options.get(Thresholds.DYING_RELU_FRACTION)).isEqualTo(0.9);
    assertThat(options.isEnabled("oscillating-loss")).isFalse();
    assertThat(options.isEnabled("dying-relu")).isTrue();
    assertThat(options.failOn()).contains(Severity.ERROR);
    assertThat(options.isExcluded("saturation", "backbone.layer1")).isTrue();
    assertThat(options.isExcluded("saturation", "head")).isFalse();
    assertThat(options.isExcluded("dying-relu", "head")).isTrue();
  }

  @Test
  void json_isReadToo() throws Exception {
    Path config =
        file(
            "dl.json",
            "{\"thresholds\": {\"exploding-ratio\": 100}, \"detectors\": {\"slow-convergence\":"
                + " {\"enabled\": false}}}");

    AnalysisOptions options = AnalysisConfig.apply(config, AnalysisOptions.builder()).build();

    assertThat(options.get(Thresholds.EXPLODING_RATIO)).isEqualTo(100);
    assertThat(options.isEnabled("slow-convergence")).isFalse();
  }

  @Test
  void unknownTopLevelKey_namesKeyAndFile() throws Exception {
    Path config = file("bad.yaml", "treshold:\n  window: 3\n");

    assertThatThrownBy(() -> AnalysisConfig.apply(config, AnalysisOptions.builder()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(config.toString())
        .hasMessageContaining("treshold: unknown key");
  }

  @Test
  void unknownDetectorOrThresholdOrNestedKey_namesTheirPath() throws Exception {
    Path detector = file("d.yaml", "detectors:\n  exploding-gradients: false\n");
    Path threshold = file("t.yaml", "thresholds:\n  windw: 3\n");
    Path nested = file("n.yaml", "detectors:\n  dying-relu:\n    enable: false\n");

    assertThatThrownBy(() -> AnalysisConfig.apply(detector, AnalysisOptions.builder()))
        .hasMessageContaining(
            "detectors.exploding-gradients: unknown detector exploding-gradients");
    assertThatThrownBy(() -> AnalysisConfig.apply(threshold, AnalysisOptions.builder()))
        .hasMessageContaining("thresholds.windw: unknown threshold");
    assertThatThrownBy(() -> AnalysisConfig.apply(nested, AnalysisOptions.builder()))
        .hasMessageContaining("detectors.dying-relu.enable: unknown key");
  }

  @Test
  void outOfRangeThreshold_namesKeyFileAndRange() throws Exception {
    Path config = file("r.yaml", "thresholds:\n  dying-relu-fraction: 2\n");

    assertThatThrownBy(() -> AnalysisConfig.apply(config, AnalysisOptions.builder()))
        .hasMessageContaining(config.toString())
        .hasMessageContaining("dying-relu-fraction must be in [0.5, 1]: 2");
  }

  @Test
  void exclusion_dropsFindingsOnMatchingLayers_andSaysSo() {
    AnalysisOptions all = AnalysisOptions.defaults();
    AnalysisOptions excluded = AnalysisOptions.builder().excludeLayers("fc?").build();

    Report with = Analyses.analyze(Analyses.trace(Fault.deadLayer(2, 300)), all);
    Report without = Analyses.analyze(Analyses.trace(Fault.deadLayer(2, 300)), excluded);

    assertThat(with.findings()).extracting(Finding::layerName).contains("fc2");
    assertThat(without.findings()).extracting(Finding::layerName).doesNotContain("fc2");
    assertThat(without.trace().warnings())
        .anyMatch(w -> w.contains("excluded layers were dropped"));
  }

  @Test
  void perDetectorExclusion_keepsOtherDetectorsFindings() {
    AnalysisOptions options = AnalysisOptions.builder().excludeLayers("dying-relu", "fc2").build();

    Report report = Analyses.analyze(Analyses.trace(Fault.deadLayer(2, 300)), options);

    assertThat(report.findings()).noneMatch(f -> f.detector().equals("dying-relu"));
    assertThat(report.findings())
        .anyMatch(f -> f.detector().equals("dead-or-zero") && f.layerName().equals("fc2"));
  }

  @Test
  void globs_matchExactNamesStarAndQuestionMark() {
    assertThat(AnalysisOptions.globMatches("encoder.*", "encoder.layer.0")).isTrue();
    assertThat(AnalysisOptions.globMatches("fc?", "fc1")).isTrue();
    assertThat(AnalysisOptions.globMatches("fc?", "fc10")).isFalse();
    assertThat(AnalysisOptions.globMatches("a.b", "axb")).isFalse();
    assertThat(List.of("head")).allMatch(n -> AnalysisOptions.globMatches("head", n));
  }

  @Test
  void documentedExample_parses() {
    AnalysisOptions options =
        AnalysisConfig.apply(
                Path.of("..", "docs", "dl-analyze.example.yaml"), AnalysisOptions.builder())
            .build();

    assertThat(options.isEnabled("weight-variance")).isFalse();
    assertThat(options.get(Thresholds.LR_HIGH)).isEqualTo(0.2);
    assertThat(options.isExcluded("effective-learning-rate", "encoder.layer.3")).isTrue();
    assertThat(options.isExcluded("saturation", "backbone.conv1")).isTrue();
  }

  @Test
  void globs_hostilePattern_matchInBoundedSteps_andAgreeWithTheRegexReading() {
    String glob = "*a*a*a*a*a*a*a*a*b";
    String name = "a".repeat(40);

    AnalysisOptions.GlobMatch match = AnalysisOptions.matchGlob(glob, name);

    // a backtracking regex (.*a.*a...) takes about 10^10 steps here; the matcher at most g x n
    assertThat(match.matches()).isFalse();
    assertThat(match.steps()).isLessThanOrEqualTo((glob.length() + 1L) * (name.length() + 1L));
    java.util.Random random = new java.util.Random(17);
    for (int i = 0; i < 5_000; i++) {
      String g = randomText(random, "ab*?", 6);
      String n = randomText(random, "ab\n", 8);
      String regex = g.replace("?", "[\\s\\S]").replace("*", "[\\s\\S]*");
      assertThat(AnalysisOptions.globMatches(g, n)).as("%s ~ %s", g, n).isEqualTo(n.matches(regex));
    }
  }

  private static String randomText(java.util.Random random, String alphabet, int max) {
    StringBuilder text = new StringBuilder();
    for (int i = random.nextInt(max + 1); i > 0; i--) {
      text.append(alphabet.charAt(random.nextInt(alphabet.length())));
    }
    return text.toString();
  }

  @Test
  void yaml_secondDocument_isAnErrorNamingTheFile() throws Exception {
    Path config = file("two.yaml", "thresholds:\n  window: 30\n---\nthresholds:\n  window: 40\n");

    assertThatThrownBy(() -> AnalysisConfig.apply(config, AnalysisOptions.builder()))
        .hasMessage(
            config + ": more than one YAML document (a second '---'): put every setting in one");
  }

  @Test
  void json_trailingValueOrDuplicateKey_isAnError() throws Exception {
    Path trailing = file("t.json", "{\"mode\": \"default\"} {\"mode\": \"deeplocalize\"}");
    Path duplicate = file("d.json", "{\"mode\": \"default\", \"mode\": \"deeplocalize\"}");

    assertThatThrownBy(() -> AnalysisConfig.apply(trailing, AnalysisOptions.builder()))
        .hasMessage(trailing + ": more than one JSON value: put every setting in one object");
    assertThatThrownBy(() -> AnalysisConfig.apply(duplicate, AnalysisOptions.builder()))
        .hasMessageStartingWith(duplicate + ": not valid JSON: Duplicate field 'mode'");
  }

  @Test
  void everyError_startsWithTheFile() throws Exception {
    Path mode = file("m.yaml", "mode: fastest\n");
    Path glob = file("g.yaml", "exclude-layers: \"\"\n");
    Path detector = file("x.yaml", "detectors:\n  dying-relu:\n    exclude-layers: \"\"\n");

    assertThatThrownBy(() -> AnalysisConfig.apply(mode, AnalysisOptions.builder()))
        .hasMessageStartingWith(mode + ": mode: ");
    assertThatThrownBy(() -> AnalysisConfig.apply(glob, AnalysisOptions.builder()))
        .hasMessage(glob + ": exclude-layers: layer glob is empty");
    assertThatThrownBy(() -> AnalysisConfig.apply(detector, AnalysisOptions.builder()))
        .hasMessage(detector + ": detectors.dying-relu.exclude-layers: layer glob is empty");
  }

  @Test
  void largeFile_isRefusedBeforeParsing_andLongValuesAreQuotedAsExcerpts() throws Exception {
    Path huge = file("huge.yaml", "mode: " + "x".repeat(3_000_000) + "\n");
    Path longValue = file("long.yaml", "thresholds:\n  window: " + "y".repeat(100_000) + "\n");

    assertThatThrownBy(() -> AnalysisConfig.apply(huge, AnalysisOptions.builder()))
        .hasMessage(
            huge
                + ": the config file is larger than 256 KiB: it holds thresholds, detectors and"
                + " layer exclusions, not data");
    assertThatThrownBy(() -> AnalysisConfig.apply(longValue, AnalysisOptions.builder()))
        .hasMessage(
            longValue
                + ": thresholds.window: expected a number: \""
                + "y".repeat(59)
                + "... (100002 characters)");
    assertThatThrownBy(
            () ->
                AnalysisConfig.apply(
                    "batch.yaml", "mode: " + "x".repeat(300_000), AnalysisOptions.builder()))
        .hasMessageStartingWith("batch.yaml: the config file is larger than 256 KiB");
  }

  @Test
  void notUtf8_isAnErrorNamingTheFile() throws Exception {
    Path latin1 = dir.resolve("latin1.yaml");
    Files.write(latin1, new byte[] {'m', 'o', 'd', 'e', ':', ' ', (byte) 0xE9, '\n'});

    assertThatThrownBy(() -> AnalysisConfig.apply(latin1, AnalysisOptions.builder()))
        .hasMessage(latin1 + ": the config file is not UTF-8 text");
  }
}
