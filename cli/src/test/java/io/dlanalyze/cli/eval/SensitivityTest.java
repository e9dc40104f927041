package io.dlanalyze.cli.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Threshold;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.trace.synthetic.Fault;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.assertj.core.data.Offset;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SensitivityTest {
  @TempDir Path dir;

  @Test
  void variants_halveAndDoubleTheValue() {
    assertThat(Sensitivity.variants(Thresholds.WINDOW, 50)).containsExactly(25.0, 100.0);
    assertThat(Sensitivity.variants(Thresholds.CHANCE_MARGIN, 0.1)).containsExactly(0.05, 0.2);
    // converged-drop 0.5 is not above 0.5: plain halving and doubling
    assertThat(Sensitivity.variants(Thresholds.CONVERGED_DROP, 0.5)).containsExactly(0.25, 1.0);
  }

  @Test
  void variants_ofAShareNearOne_doubleAndHalveItsDistanceToOne() {
    assertThat(Sensitivity.variants(Thresholds.ZERO_FRACTION, 0.999))
        .hasSize(2)
        .satisfies(v -> assertThat(v.get(0)).isCloseTo(0.998, Offset.offset(1e-12)))
        .satisfies(v -> assertThat(v.get(1)).isCloseTo(0.9995, Offset.offset(1e-12)));
    assertThat(Sensitivity.variants(Thresholds.DYING_RELU_FRACTION, 0.95).get(0))
        .isCloseTo(0.9, Offset.offset(1e-12));
  }

  @Test
  void variants_roundWholeNumbers_clampToTheRange_andSkipTheCurrentValue() {
    // min-epochs is 2 or more: 3 / 2 rounds to 2, 3 * 2 is 6
    assertThat(Sensitivity.variants(Thresholds.MIN_EPOCHS, 3)).containsExactly(2.0, 6.0);
    // at its minimum, halving gives the same value: only doubling is tried
    assertThat(Sensitivity.variants(Thresholds.MIN_EPOCHS, 2)).containsExactly(4.0);
    // a share at 1 is at no distance from 1: nothing to double or halve
    assertThat(Sensitivity.variants(Thresholds.CONVERGED_DROP, 1.0)).isEmpty();
    Threshold atZero = Threshold.real("at-zero", 0, 0, 10, "A threshold at zero");
    assertThat(Sensitivity.variants(atZero, 0)).isEmpty();
  }

  @Test
  void thresholds_areThoseTheDefaultModesDetectorsRead_inDocumentationOrder() {
    Sensitivity sensitivity = new Sensitivity(new Analyzer(), AnalysisOptions.defaults());

    List<String> keys = sensitivity.thresholds(List.of()).stream().map(Threshold::key).toList();

    assertThat(keys).startsWith("window").contains("chance-margin", "accumulation-drawdown");
    // read by the deeplocalize mode and by the baselines, not by the default mode
    assertThat(keys).doesNotContain("dl-window", "dl-zero-ratio", "es-patience");
    assertThat(sensitivity.thresholds(List.of("chance-margin", "window")))
        .extracting(Threshold::key)
        .containsExactly("window", "chance-margin");
  }

  @Test
  void thresholds_thatTheDefaultModeDoesNotRead_areRefusedWithTheKeysItReads() {
    Sensitivity sensitivity = new Sensitivity(new Analyzer(), AnalysisOptions.defaults());

    assertThatThrownBy(() -> sensitivity.thresholds(List.of("dl-window")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--sensitivity dl-window: no detector of the default mode reads it")
        .hasMessageContaining("window");
  }

  /**
   * fc1 dies at step 130 of 200: 70 dead steps are found with the default window of 50, not with a
   * window of 100. Each row must say so, name the case, and agree with scoring the varied threshold
   * directly.
   */
  @Test
  void run_reportsWhatEachVariantChanges_asScoringItDirectlyWould() throws IOException {
    Files.createDirectories(dir.resolve("traces"));
    EvalTraces.write(dir.resolve("traces/dead-buggy.arrows"), Fault.deadLayer(1, 130));
    EvalTraces.write(dir.resolve("traces/dead-fixed.arrows"));
    Path path =
        Files.writeString(
            dir.resolve("manifest.json"),
            """
            {"version": 1, "cases": [
              {"id": "dead-buggy", "trace": "traces/dead-buggy.arrows", "buggy": true,
               "symptom": "dead_or_zero", "root_cause": {"layer_name": "fc1", "layer_index": 1},
               "twin": "dead-fixed", "split": "dev"},
              {"id": "dead-fixed", "trace": "traces/dead-fixed.arrows", "buggy": false,
               "twin": "dead-buggy", "split": "dev"}
            ]}
            """);
    Manifest manifest = Manifest.read(path);
    Analyzer analyzer = new Analyzer();
    Sensitivity sensitivity = new Sensitivity(analyzer, AnalysisOptions.defaults());

    Sensitivity.Result result =
        sensitivity.run(manifest, Evaluation.Selection.ALL, 2, List.of(Thresholds.WINDOW));

    Scope base = result.base().scope("dev");
    assertThat(base.tool(Tool.DEFAULT).get(Figure.PAIRS_RIGHT)).isEqualTo(new Proportion(1, 1));
    // one row per value and scope (dev, all)
    assertThat(result.rows())
        .extracting(Sensitivity.Row::value, Sensitivity.Row::scope)
        .containsExactly(
            Tuple.tuple(25.0, "dev"),
            Tuple.tuple(25.0, "all"),
            Tuple.tuple(100.0, "dev"),
            Tuple.tuple(100.0, "all"));
    Sensitivity.Row longer = result.rows().get(2);
    assertThat(longer.pairsLost()).containsExactly("dead-buggy");
    assertThat(longer.pairsGained()).isEmpty();
    assertThat(longer.pairsRight()).isEqualTo(new Proportion(0, 1));
    for (Sensitivity.Row row : result.rows()) {
      AnalysisOptions varied = AnalysisOptions.builder().set(row.threshold(), row.value()).build();
      Scope direct =
          new Evaluation(analyzer, varied)
              .run(manifest, Evaluation.Selection.ALL, 1)
              .scope(row.scope());
      assertThat(row.pairsRight()).isEqualTo(direct.tool(Tool.DEFAULT).get(Figure.PAIRS_RIGHT));
      assertThat(row.falseAlarms()).isEqualTo(direct.tool(Tool.DEFAULT).get(Figure.FALSE_ALARMS));
      int basePairs =
          result.base().scope(row.scope()).tool(Tool.DEFAULT).get(Figure.PAIRS_RIGHT).k();
      assertThat(row.pairsRight().k())
          .isEqualTo(basePairs + row.pairsGained().size() - row.pairsLost().size());
    }

    String text = SensitivityRenderer.render(result, EvalFormat.TEXT);
    assertThat(text)
        .contains("dev 1/1 pairs fully right, 0/1 false alarms")
        .containsPattern("window +100 +50 +dev +0/1 +-1 +0/1 +0 +lost: dead-buggy");
  }
}
