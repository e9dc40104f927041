package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.cli.eval.EvalTraces;
import io.dlanalyze.cli.eval.Proportion;
import io.dlanalyze.trace.synthetic.Fault;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The statistics of {@code eval} on a hand-made manifest of real trace files (synthetic runs
 * written to Arrow streams): the rates per split, the pair figure, the symptom confusion, the
 * per-framework and per-architecture groups, the per-detector figures, dev against test, and the
 * {@code --split} and {@code --framework} filters.
 *
 * <p>What the default mode says on each trace (checked in {@link #traces_defaultModeVerdicts}):
 * clean.arrows healthy; nan.arrows numerical_error in layer 2; dead.arrows dead_or_zero in layer 1
 * (with unchanged-values and dying-relu findings there too); frozen.arrows unchanged_values in
 * layer 1. The cases below label these traces so that every branch of the scoring is taken:
 *
 * <pre>
 * split  case       trace   label                               framework arch  default mode
 * dev    p1-buggy   nan     numerical_error @ layer 2           pytorch   mlp   right
 * dev    p1-fixed   clean   twin of p1                          pytorch   mlp   quiet      -> pair right
 * dev    p2-buggy   dead    dead_or_zero @ layer 1              keras     cnn   right
 * dev    p2-fixed   frozen  twin of p2                          keras     cnn   false alarm -> pair wrong
 * dev    h1         clean   extra healthy                       keras     cnn   quiet
 * test   p3-buggy   nan     numerical_error @ layer 0           pytorch   mlp   wrong place
 * test   p3-fixed   clean   twin of p3                          pytorch   mlp   quiet      -> pair wrong
 * test   p4-buggy   clean   not_learning @ model                keras     cnn   missed ("none")
 * test   p4-fixed   clean   twin of p4                          keras     cnn   quiet      -> pair wrong
 * test   p5-buggy   frozen  dead_or_zero @ layer 1, acceptable  pytorch   mlp   right (acceptable)
 *                           unchanged_values
 * test   p5-fixed   clean   twin of p5                          pytorch   mlp   quiet      -> pair right
 * test   h2         nan     extra healthy                       pytorch   mlp   false alarm
 * test   h3         clean   extra healthy                       keras     mlp   quiet
 * -      x-buggy    nan     numerical_error @ layer 2, no twin  -         -     right, no pair
 * </pre>
 */
class EvalStatisticsTest {
  @TempDir static Path dir;
  private static Path manifest;
  private static JsonNode unfiltered;

  @BeforeAll
  static void writeManifest() throws IOException {
    EvalTraces.write(dir.resolve("clean.arrows"));
    EvalTraces.write(dir.resolve("nan.arrows"), Fault.nan(2, 50));
    EvalTraces.write(dir.resolve("dead.arrows"), Fault.deadLayer(1, 40));
    EvalTraces.write(dir.resolve("frozen.arrows"), Fault.frozenWeights(1, 40));
    List<String> cases = new ArrayList<>();
    cases.add(
        buggy("p1-buggy", "nan", "numerical_error", "[]", 2, "p1-fixed", "dev", "pytorch", "mlp"));
    cases.add(healthy("p1-fixed", "clean", "p1-buggy", "dev", "pytorch", "mlp"));
    cases.add(
        buggy("p2-buggy", "dead", "dead_or_zero", "[]", 1, "p2-fixed", "dev", "keras", "cnn"));
    cases.add(healthy("p2-fixed", "frozen", "p2-buggy", "dev", "keras", "cnn"));
    cases.add(healthy("h1", "clean", null, "dev", "keras", "cnn"));
    cases.add(
        buggy("p3-buggy", "nan", "numerical_error", "[]", 0, "p3-fixed", "test", "pytorch", "mlp"));
    cases.add(healthy("p3-fixed", "clean", "p3-buggy", "test", "pytorch", "mlp"));
    cases.add(
        buggy("p4-buggy", "clean", "not_learning", "[]", -1, "p4-fixed", "test", "keras", "cnn"));
    cases.add(healthy("p4-fixed", "clean", "p4-buggy", "test", "keras", "cnn"));
    cases.add(
        buggy(
            "p5-buggy",
            "frozen",
            "dead_or_zero",
            "[\"unchanged_values\"]",
            1,
            "p5-fixed",
            "test",
            "pytorch",
            "mlp"));
    cases.add(healthy("p5-fixed", "clean", "p5-buggy", "test", "pytorch", "mlp"));
    cases.add(healthy("h2", "nan", null, "test", "pytorch", "mlp"));
    cases.add(healthy("h3", "clean", null, "test", "keras", "mlp"));
    cases.add(buggy("x-buggy", "nan", "numerical_error", "[]", 2, null, null, null, null));
    manifest =
        Files.writeString(
            dir.resolve("manifest.json"),
            "{\"version\": 1, \"cases\": [\n" + String.join(",\n", cases) + "\n]}\n");
  }

  private static String buggy(
      String id,
      String trace,
      String symptom,
      String acceptable,
      int layer,
      String twin,
      String split,
      String framework,
      String architecture) {
    String rootCause =
        layer < 0
            ? "\"model\""
            : format(ROOT, "{\"layer_name\": \"fc%d\", \"layer_index\": %d}", layer, layer);
    return format(
        ROOT,
        "{\"id\": \"%s\", \"trace\": \"%s.arrows\", \"buggy\": true, \"symptom\": \"%s\","
            + " \"acceptable_symptoms\": %s, \"root_cause\": %s%s}",
        id,
        trace,
        symptom,
        acceptable,
        rootCause,
        labels(twin, split, framework, architecture));
  }

  private static String healthy(
      String id, String trace, String twin, String split, String framework, String architecture) {
    return format(
        ROOT,
        "{\"id\": \"%s\", \"trace\": \"%s.arrows\", \"buggy\": false%s}",
        id,
        trace,
        labels(twin, split, framework, architecture));
  }

  private static String labels(String twin, String split, String framework, String architecture) {
    StringBuilder out = new StringBuilder();
    String[][] fields = {
      {"twin", twin}, {"split", split}, {"framework", framework}, {"architecture", architecture}
    };
    for (String[] field : fields) {
      if (field[1] != null) {
        out.append(format(ROOT, ", \"%s\": \"%s\"", field[0], field[1]));
      }
    }
    return out.toString();
  }

  private static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = DlAnalyze.run(new PrintWriter(out), new PrintWriter(err), args);
    return new Result(code, out.toString(), err.toString());
  }

  private record Result(int code, String out, String err) {}

  /** The unfiltered evaluation, computed once. */
  private static JsonNode json() throws IOException {
    if (unfiltered == null) {
      unfiltered = json(new String[0]);
    }
    return unfiltered;
  }

  private static JsonNode json(String... options) throws IOException {
    List<String> args = new ArrayList<>(List.of("eval", manifest.toString(), "--format", "json"));
    args.addAll(List.of(options));
    Result result = run(args.toArray(String[]::new));
    assertThat(result.code()).as(result.err()).isZero();
    return new ObjectMapper().readTree(result.out());
  }

  private static String kn(JsonNode proportion) {
    return proportion.get("k").asInt() + "/" + proportion.get("n").asInt();
  }

  @Test
  void traces_defaultModeVerdicts() throws IOException {
    JsonNode cases = json().get("cases");

    assertThat(cases.get(0).at("/tools/default/location").asText()).isEqualTo("fc2 (#2)");
    assertThat(cases.get(0).at("/tools/default/symptom").asText()).isEqualTo("numerical_error");
    assertThat(cases.get(1).at("/tools/default/verdict").asText()).isEqualTo("healthy");
    assertThat(cases.get(2).at("/tools/default/symptom").asText()).isEqualTo("dead_or_zero");
    assertThat(cases.get(3).at("/tools/default/symptom").asText()).isEqualTo("unchanged_values");
    assertThat(cases.get(3).get("role").asText()).isEqualTo("fixed_twin");
    assertThat(cases.get(4).get("role").asText()).isEqualTo("extra_healthy");
    assertThat(cases.get(4).get("split").asText()).isEqualTo("dev");
    assertThat(cases.get(4).get("framework").asText()).isEqualTo("keras");
    assertThat(cases.get(13).get("split").isNull()).isTrue();
  }

  @Test
  void rates_perSplitAndWhole_countEachRoleAndLeaveBaselinesWithoutLocation() throws IOException {
    JsonNode splits = json().get("splits");

    assertThat(fieldNames(splits)).containsExactly("dev", "test", "all");
    JsonNode dev = splits.at("/dev/tools/default");
    assertThat(kn(dev.get("detected"))).isEqualTo("2/2");
    assertThat(kn(dev.get("localized"))).isEqualTo("2/2");
    assertThat(kn(dev.get("symptom_right"))).isEqualTo("2/2");
    assertThat(kn(dev.get("pairs_right"))).isEqualTo("1/2");
    assertThat(kn(dev.get("false_alarms"))).isEqualTo("1/3");
    assertThat(kn(dev.get("false_alarms_fixed_twins"))).isEqualTo("1/2");
    assertThat(kn(dev.get("false_alarms_extra_healthy"))).isEqualTo("0/1");

    JsonNode test = splits.at("/test/tools/default");
    assertThat(kn(test.get("detected"))).isEqualTo("2/3");
    assertThat(kn(test.get("localized"))).isEqualTo("1/3");
    assertThat(kn(test.get("symptom_right"))).isEqualTo("2/3");
    assertThat(kn(test.get("pairs_right"))).isEqualTo("1/3");
    assertThat(kn(test.get("false_alarms"))).isEqualTo("1/5");
    assertThat(kn(test.get("false_alarms_fixed_twins"))).isEqualTo("0/3");
    assertThat(kn(test.get("false_alarms_extra_healthy"))).isEqualTo("1/2");
    Proportion pairs = new Proportion(1, 3);
    assertThat(test.at("/pairs_right/low").asDouble()).isEqualTo(pairs.low());
    assertThat(test.at("/pairs_right/high").asDouble()).isEqualTo(pairs.high());

    // the whole manifest also holds x-buggy, which has no split and no twin: not a pair
    JsonNode all = splits.get("all");
    assertThat(all.get("buggy").asInt()).isEqualTo(6);
    assertThat(all.get("healthy").asInt()).isEqualTo(8);
    assertThat(all.get("pairs").asInt()).isEqualTo(5);
    assertThat(kn(all.at("/tools/default/detected"))).isEqualTo("5/6");
    assertThat(kn(all.at("/tools/default/localized"))).isEqualTo("4/6");
    assertThat(kn(all.at("/tools/default/symptom_right"))).isEqualTo("5/6");
    assertThat(kn(all.at("/tools/default/pairs_right"))).isEqualTo("2/5");
    assertThat(kn(all.at("/tools/default/false_alarms"))).isEqualTo("2/8");

    // TerminateOnNaN stops exactly the NaN runs: p1, p3, x (buggy) and h2 (healthy)
    JsonNode nan = all.at("/tools/terminate_on_nan");
    assertThat(kn(nan.get("detected"))).isEqualTo("3/6");
    assertThat(kn(nan.get("false_alarms"))).isEqualTo("1/8");
    assertThat(nan.has("localized")).isFalse();
    assertThat(nan.has("pairs_right")).isFalse();
  }

  @Test
  void confusion_expectedAgainstReportedSymptom_noneForMissed() throws IOException {
    JsonNode confusion = json().at("/splits/test/confusion/default");

    assertThat(confusion.get("columns").toString())
        .isEqualTo("[\"numerical_error\",\"unchanged_values\",\"none\"]");
    JsonNode rows = confusion.get("rows");
    assertThat(rows).hasSize(3);
    assertThat(rows.get(0).get("expected").asText()).isEqualTo("numerical_error");
    assertThat(rows.get(0).get("counts").toString())
        .isEqualTo("{\"numerical_error\":1,\"unchanged_values\":0,\"none\":0}");
    assertThat(rows.get(0).get("right").asInt()).isEqualTo(1);
    // p5: unchanged_values reported where dead_or_zero was expected, an acceptable class
    assertThat(rows.get(1).get("expected").asText()).isEqualTo("dead_or_zero");
    assertThat(rows.get(1).at("/counts/unchanged_values").asInt()).isEqualTo(1);
    assertThat(rows.get(1).get("right").asInt()).isEqualTo(1);
    assertThat(rows.get(2).get("expected").asText()).isEqualTo("not_learning");
    assertThat(rows.get(2).at("/counts/none").asInt()).isEqualTo(1);
    assertThat(rows.get(2).get("n").asInt()).isEqualTo(1);
    assertThat(rows.get(2).get("right").asInt()).isZero();
  }

  @Test
  void groups_pairsAndFalseAlarmsPerFrameworkAndArchitecture() throws IOException {
    JsonNode test = json().at("/splits/test");

    JsonNode frameworks = test.get("by_framework");
    assertThat(frameworks).hasSize(2);
    assertThat(frameworks.get(0).get("value").asText()).isEqualTo("keras");
    assertThat(kn(frameworks.get(0).at("/pairs_right/default"))).isEqualTo("0/1");
    assertThat(kn(frameworks.get(0).at("/false_alarms/default"))).isEqualTo("0/2");
    assertThat(frameworks.get(1).get("value").asText()).isEqualTo("pytorch");
    assertThat(kn(frameworks.get(1).at("/pairs_right/default"))).isEqualTo("1/2");
    assertThat(kn(frameworks.get(1).at("/false_alarms/default"))).isEqualTo("1/3");
    JsonNode architectures = test.get("by_architecture");
    assertThat(architectures.get(0).get("value").asText()).isEqualTo("cnn");
    assertThat(kn(architectures.get(1).at("/false_alarms/default"))).isEqualTo("1/4");

    // in the whole manifest, x-buggy has no framework: a group of its own, last
    JsonNode all = json().at("/splits/all/by_framework");
    assertThat(all).hasSize(3);
    assertThat(all.get(2).get("value").isNull()).isTrue();
    assertThat(kn(all.get(2).at("/pairs_right/default"))).isEqualTo("0/0");
    assertThat(all.get(2).at("/pairs_right/default/rate").isNull()).isTrue();
  }

  @Test
  void detectors_falseAlarmsOnHealthyRecallOnBuggyAndAtTheExpectedPlace() throws IOException {
    JsonNode root = json();
    JsonNode dev = root.at("/splits/dev/detectors");
    JsonNode test = root.at("/splits/test/detectors");

    JsonNode nanDev = detector(dev, "numerical-error");
    assertThat(kn(nanDev.get("healthy_warning"))).isEqualTo("0/3");
    assertThat(kn(nanDev.get("buggy_warning"))).isEqualTo("1/2");
    assertThat(kn(nanDev.get("buggy_at_expected_place"))).isEqualTo("1/2");
    JsonNode nanTest = detector(test, "numerical-error");
    assertThat(kn(nanTest.get("healthy_warning"))).isEqualTo("1/5");
    // p3 expects layer 0, the NaN is born in layer 2
    assertThat(kn(nanTest.get("buggy_warning"))).isEqualTo("1/3");
    assertThat(kn(nanTest.get("buggy_at_expected_place"))).isEqualTo("0/3");
    JsonNode unchangedDev = detector(dev, "unchanged-values");
    assertThat(kn(unchangedDev.get("healthy_warning"))).isEqualTo("1/3");
    assertThat(kn(unchangedDev.get("buggy_at_expected_place"))).isEqualTo("1/2");
    // every detector of the default mode has a row, also those that never fired
    assertThat(dev.size()).isEqualTo(test.size()).isGreaterThan(10);
    assertThat(root.at("/cases/2/detectors").toString())
        .contains("{\"id\":\"dead-or-zero\",\"severity\":\"error\",\"at_expected_place\":true}");
  }

  private static JsonNode detector(JsonNode detectors, String id) {
    for (JsonNode d : detectors) {
      if (d.get("id").asText().equals(id)) {
        return d;
      }
    }
    throw new AssertionError("no detector " + id + " in " + detectors);
  }

  @Test
  void devVsTest_eachFigureWithNewcombesInterval() throws IOException {
    JsonNode comparisons = json().get("dev_vs_test");

    JsonNode detected = comparisons.get(0);
    assertThat(detected.get("tool").asText()).isEqualTo("default");
    assertThat(detected.get("figure").asText()).isEqualTo("detected");
    assertThat(kn(detected.get("dev"))).isEqualTo("2/2");
    assertThat(kn(detected.get("test"))).isEqualTo("2/3");
    Proportion.Difference expected = new Proportion(2, 2).minus(new Proportion(2, 3));
    assertThat(detected.get("difference").asDouble()).isEqualTo(expected.value());
    assertThat(detected.get("low").asDouble()).isEqualTo(expected.low());
    assertThat(detected.get("high").asDouble()).isEqualTo(expected.high());
    assertThat(detected.get("differs").asBoolean()).isFalse();
    // five figures for each analyzer mode, detection and false alarms for each baseline
    assertThat(comparisons).hasSize(5 + 5 + 2 + 2 + 2);
  }

  @Test
  void splitFilter_onlyThatSplitAndNoDevVsTest() throws IOException {
    JsonNode root = json("--split", "test");

    assertThat(root.at("/selection/split").asText()).isEqualTo("test");
    assertThat(root.get("cases")).hasSize(8);
    assertThat(fieldNames(root.get("splits"))).containsExactly("test");
    assertThat(root.at("/splits/test").toString()).isEqualTo(json().at("/splits/test").toString());
    assertThat(root.get("dev_vs_test").isNull()).isTrue();
  }

  @Test
  void frameworkFilter_scoresOnlyThatFrameworksCases() throws IOException {
    JsonNode root = json("--framework", "keras");

    assertThat(root.get("cases")).hasSize(6);
    JsonNode all = root.at("/splits/all/tools/default");
    assertThat(kn(all.get("pairs_right"))).isEqualTo("0/2");
    assertThat(kn(all.get("false_alarms"))).isEqualTo("1/4");
    assertThat(fieldNames(root.get("splits"))).containsExactly("dev", "test", "all");

    JsonNode both = json("--split", "dev", "--framework", "pytorch");
    assertThat(both.get("cases")).hasSize(2);
    assertThat(kn(both.at("/splits/dev/tools/default/pairs_right"))).isEqualTo("1/1");
  }

  @Test
  void filterMatchingNothing_usageErrorNamingWhatTheManifestHas() {
    Result result = run("eval", manifest.toString(), "--split", "holdout");

    assertThat(result.code()).isEqualTo(ExitCodes.USAGE);
    assertThat(result.out()).isEmpty();
    assertThat(result.err())
        .contains("--split holdout: no case of " + manifest + " has it (it has: dev, test)");
    assertThat(run("eval", manifest.toString(), "--jobs", "0").code()).isEqualTo(ExitCodes.USAGE);
  }

  @Test
  void markdown_perScopeTablesAndPerDetectorOnRequest() {
    String plain = run("eval", manifest.toString(), "--format", "markdown").out();
    Result detailed = run("eval", manifest.toString(), "--format", "markdown", "--per-detector");

    assertThat(plain)
        .contains("### Split dev: 2 buggy, 3 healthy (2 fixed twins, 1 extra), 2 pairs")
        .contains("| pairs fully right | 1/2 = 50.0% [9.5, 90.5] |")
        .contains("#### Symptoms (test): expected vs dl-analyze --mode deeplocalize")
        .contains("| expected / reported | numerical_error | unchanged_values | none | n | right |")
        .contains("| not_learning | 0 | 0 | 1 | 1 | 0 |")
        .contains("#### Per framework (test)", "| keras | 0/1 = 0.0% [0.0, 79.3] |")
        .contains("### dev vs test")
        .doesNotContain("Per detector");
    assertThat(detailed.code()).isZero();
    assertThat(detailed.out())
        .contains("#### Per detector (test), dl-analyze default mode")
        .contains("| numerical-error | 1/5 = 20.0% [3.6, 62.4] |");
  }

  @Test
  void jobs_twoThreadsGiveTheSameResultAsOne() throws IOException {
    assertThat(json("--jobs", "2").toString()).isEqualTo(json().toString());
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }
}
