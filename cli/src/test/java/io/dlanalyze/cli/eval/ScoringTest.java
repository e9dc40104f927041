package io.dlanalyze.cli.eval;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.cli.eval.Evaluation.CaseResult;
import io.dlanalyze.cli.eval.Evaluation.Firing;
import io.dlanalyze.cli.eval.Evaluation.Outcome;
import io.dlanalyze.cli.eval.Evaluation.Role;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The scoring rules that real traces reach only by chance: info-only firings, a case that could not
 * be analysed (in no denominator, and its pair gone), split order, a split-free case.
 * EvalStatisticsTest covers the rest on real trace files.
 */
class ScoringTest {
  private static final Path MANIFEST = Path.of("/m/manifest.json");

  private static Manifest.Case testCase(String id, boolean buggy, String twin, String split) {
    return new Manifest.Case(
        id,
        Path.of("/m/" + id + ".parquet"),
        buggy,
        buggy ? Symptom.NUMERICAL_ERROR : null,
        List.of(),
        buggy ? Manifest.Location.MODEL : null,
        null,
        null,
        twin,
        new Manifest.Labels(null, split, null, null));
  }

  /** Every tool says the same: detected or not; right place and symptom when detected. */
  private static CaseResult result(
      Manifest.Case c, Role role, boolean detected, Firing... firings) {
    Map<Tool, Outcome> outcomes = new EnumMap<>(Tool.class);
    for (Tool tool : Tool.values()) {
      Boolean right = c.buggy() ? detected : null;
      outcomes.put(
          tool,
          new Outcome(
              detected,
              detected ? 3 : -1,
              detected ? "buggy" : "healthy",
              detected ? "model" : null,
              detected ? "numerical_error" : null,
              right,
              right));
    }
    return new CaseResult(c, role, 10, outcomes, List.of(firings), null);
  }

  private static CaseResult failed(Manifest.Case c, Role role) {
    return new CaseResult(c, role, 0, Map.of(), List.of(), "gone.parquet: no such file");
  }

  @Test
  void summarize_infoOnlyFiringsErrorsAndSplitOrder() {
    List<CaseResult> results = new ArrayList<>();
    Manifest.Case b1 = testCase("b1", true, "f1", "test");
    Manifest.Case f1 = testCase("f1", false, "b1", "test");
    Manifest.Case b2 = testCase("b2", true, "f2", "holdout");
    Manifest.Case f2 = testCase("f2", false, "b2", "holdout");
    Manifest.Case h1 = testCase("h1", false, null, "dev");
    Manifest.Case h2 = testCase("h2", false, null, null);
    results.add(result(b1, Role.BUGGY, true, new Firing("nan", Severity.CRITICAL, true)));
    results.add(result(f1, Role.FIXED_TWIN, false, new Firing("nan", Severity.INFO, null)));
    results.add(result(b2, Role.BUGGY, true, new Firing("nan", Severity.WARNING, false)));
    results.add(failed(f2, Role.FIXED_TWIN));
    results.add(result(h1, Role.EXTRA_HEALTHY, false));
    results.add(result(h2, Role.EXTRA_HEALTHY, true, new Firing("other", Severity.ERROR, null)));
    Manifest manifest = new Manifest(MANIFEST, List.of(b1, f1, b2, f2, h1, h2));

    Evaluation.Result result =
        Scoring.summarize(manifest, Evaluation.Selection.ALL, results, List.of("nan", "quiet"));

    assertThat(result.scopes())
        .extracting(Scope::name)
        .containsExactly("dev", "test", "holdout", "all");
    assertThat(result.errors()).isEqualTo(1);
    // b2's twin could not be analysed: not a pair, and f2 in no denominator
    Scope holdout = result.scope("holdout");
    assertThat(holdout.pairs()).isZero();
    assertThat(holdout.errors()).isEqualTo(1);
    assertThat(holdout.tool(Tool.DEFAULT).get(Figure.PAIRS_RIGHT)).isEqualTo(Proportion.EMPTY);
    assertThat(holdout.tool(Tool.DEFAULT).get(Figure.FALSE_ALARMS)).isEqualTo(Proportion.EMPTY);
    Scope all = result.scope("all");
    assertThat(all.buggy()).isEqualTo(2);
    assertThat(all.healthy()).isEqualTo(3);
    assertThat(all.tool(Tool.DEFAULT).get(Figure.PAIRS_RIGHT)).isEqualTo(new Proportion(1, 1));
    assertThat(all.tool(Tool.DEFAULT).get(Figure.FALSE_ALARMS_EXTRA_HEALTHY))
        .isEqualTo(new Proportion(1, 2));

    // the registry's detectors first (also one that never fired), then any other that fired
    assertThat(all.detectors())
        .extracting(Scope.DetectorFigures::id)
        .containsExactly("nan", "quiet", "other");
    Scope.DetectorFigures nan = all.detectors().get(0);
    assertThat(nan.healthyWarning()).isEqualTo(new Proportion(0, 3));
    assertThat(nan.healthyInfoOnly()).isEqualTo(new Proportion(1, 3));
    assertThat(nan.buggyWarning()).isEqualTo(new Proportion(2, 2));
    assertThat(nan.buggyAtExpectedPlace()).isEqualTo(new Proportion(1, 2));
    assertThat(all.detectors().get(1).buggyWarning()).isEqualTo(new Proportion(0, 2));
    assertThat(all.detectors().get(2).healthyWarning()).isEqualTo(new Proportion(1, 3));
    // dev and test both present: compared, on the figures that apply to each tool
    assertThat(result.devVsTest()).hasSize(5 + 5 + 2 + 2 + 2);
    Scope.Comparison detected = result.devVsTest().get(0);
    assertThat(detected.dev()).isEqualTo(Proportion.EMPTY);
    assertThat(detected.difference()).isNull();
    assertThat(detected.differs()).isFalse();
  }

  @Test
  void median_oddEvenAndEmpty() {
    assertThat(Scoring.median(List.of())).isNull();
    assertThat(Scoring.median(List.of(5L, 1L, 3L))).isEqualTo(3.0);
    assertThat(Scoring.median(List.of(4L, 1L, 2L, 3L))).isEqualTo(2.5);
  }
}
