package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.cli.eval.EvalTraces;
import io.dlanalyze.trace.synthetic.Fault;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalCommandTest {
  @TempDir Path dir;
  private Path manifest;

  /**
   * A NaN case (born in layer 2 (fc2) at step 50) with its clean twin, and a case whose trace is
   * missing.
   */
  @BeforeEach
  void writeBenchmark() throws IOException {
    Files.createDirectories(dir.resolve("traces"));
    EvalTraces.write(dir.resolve("traces/nan-buggy.arrows"), Fault.nan(2, 50));
    EvalTraces.write(dir.resolve("traces/nan-fixed.arrows"));
    manifest =
        Files.writeString(
            dir.resolve("manifest.json"),
            """
            {"version": 1, "cases": [
              {"id": "nan-buggy", "trace": "traces/nan-buggy.arrows", "buggy": true, "symptom": "numerical_error",
               "root_cause": {"layer_name": "fc2", "layer_index": 2}, "twin": "nan-fixed"},
              {"id": "nan-fixed", "trace": "traces/nan-fixed.arrows", "buggy": false, "twin": "nan-buggy"},
              {"id": "wrong-place", "trace": "traces/nan-buggy.arrows", "buggy": true, "symptom": "oscillation",
               "root_cause": {"layer_name": "fc0", "layer_index": 0}},
              {"id": "gone", "trace": "traces/gone.parquet", "buggy": true, "symptom": "not_learning", "root_cause": "model"}
            ]}
            """);
  }

  private Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = DlAnalyze.run(new PrintWriter(out), new PrintWriter(err), args);
    return new Result(code, out.toString(), err.toString());
  }

  private record Result(int code, String out, String err) {}

  @Test
  void eval_json_scoresDetectionLocalizationSymptomAndFalseAlarms() throws IOException {
    Result result = run("eval", manifest.toString(), "--format", "json");

    // the "gone" case could not be analysed: the table is complete otherwise, the exit code says so
    assertThat(result.code()).as(result.err()).isEqualTo(ExitCodes.BAD_INPUT);
    JsonNode root = new ObjectMapper().readTree(result.out());
    JsonNode buggy = root.at("/cases/0/tools/default");
    assertThat(buggy.get("detected").asBoolean()).isTrue();
    assertThat(buggy.get("step").asLong()).isEqualTo(50);
    assertThat(buggy.get("symptom").asText()).isEqualTo("numerical_error");
    assertThat(buggy.get("localized").asBoolean()).isTrue();
    assertThat(buggy.get("symptom_right").asBoolean()).isTrue();
    assertThat(root.at("/cases/0/tools/terminate_on_nan/detected").asBoolean()).isTrue();
    assertThat(root.at("/cases/0/trace").asText()).isEqualTo("traces/nan-buggy.arrows");

    assertThat(root.at("/cases/1/tools/default/detected").asBoolean()).isFalse();
    assertThat(root.at("/cases/1/tools/default/localized").isNull()).isTrue();
    assertThat(root.at("/cases/2/tools/default/localized").asBoolean()).isFalse();
    assertThat(root.at("/cases/2/tools/default/symptom_right").asBoolean()).isFalse();
    assertThat(root.at("/cases/3/error").asText())
        .contains("gone.parquet")
        .contains("no such file");

    // the case that could not be analysed is in no denominator
    assertThat(root.get("eval_version").asInt()).isEqualTo(2);
    JsonNode all = root.at("/splits/all");
    assertThat(all.get("buggy").asInt()).isEqualTo(2);
    assertThat(all.get("fixed_twins").asInt()).isEqualTo(1);
    assertThat(all.get("errors").asInt()).isEqualTo(1);
    JsonNode totals = all.at("/tools/default");
    assertThat(totals.at("/detected/k").asInt()).isEqualTo(2);
    assertThat(totals.at("/detected/n").asInt()).isEqualTo(2);
    assertThat(totals.at("/localized/k").asInt()).isEqualTo(1);
    assertThat(totals.at("/symptom_right/k").asInt()).isEqualTo(1);
    assertThat(totals.at("/false_alarms/k").asInt()).isZero();
    assertThat(totals.at("/false_alarms/n").asInt()).isEqualTo(1);
    assertThat(totals.at("/pairs_right/k").asInt()).isEqualTo(1);
    assertThat(totals.at("/pairs_right/n").asInt()).isEqualTo(1);
    // 1/2 localized: the Wilson interval of one success in two trials
    assertThat(totals.at("/localized/rate").asDouble()).isEqualTo(0.5);
    assertThat(totals.at("/localized/low").asDouble()).isCloseTo(0.0945312, within(1e-6));
    assertThat(totals.at("/localized/high").asDouble()).isCloseTo(0.9054688, within(1e-6));
    assertThat(all.at("/tools/terminate_on_nan/localized").isMissingNode()).isTrue();
    assertThat(root.get("errors").asInt()).isEqualTo(1);
  }

  @Test
  void eval_nanCase_stepsEarlierThanBaselinesMatchesTheirStops() throws IOException {
    JsonNode root =
        new ObjectMapper().readTree(run("eval", manifest.toString(), "--format", "json").out());

    JsonNode tools = root.at("/cases/0/tools");
    long ours = tools.at("/default/step").asLong();
    JsonNode earlier = root.at("/cases/0/steps_earlier_than");
    for (String baseline :
        new String[] {"terminate_on_nan", "early_stopping_loss", "early_stopping_accuracy"}) {
      JsonNode stop = tools.at("/" + baseline + "/step");
      if (stop.isNull()) {
        assertThat(earlier.get(baseline).isNull()).as(baseline).isTrue();
      } else {
        assertThat(earlier.get(baseline).asLong()).as(baseline).isEqualTo(stop.asLong() - ours);
      }
    }
    JsonNode vsNan = root.at("/first_fault_vs_baselines/terminate_on_nan");
    assertThat(vsNan.get("both_fired").asInt()).isEqualTo(2);
  }

  @Test
  void eval_text_printsPerCaseRowsAndTotals() {
    Result result = run("eval", manifest.toString());

    assertThat(result.code()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(result.err().strip())
        .isEqualTo(
            "dl-analyze: error: "
                + manifest
                + ": 1 of 4 cases could not be analysed (see the error column)");
    assertThat(result.out())
        .contains(
            "nan-buggy", "numerical_error @ fc2 (#2)", "buggy @50 numerical_error in fc2 (#2)")
        .contains("gone", "error: ")
        .contains("All cases: 2 buggy, 1 healthy (1 fixed twins, 0 extra), 1 pairs, 1 not analysed")
        .contains("detected", "2/2 = 100.0% [34.2, 100.0]")
        .contains("pairs fully right", "1/1 = 100.0% [20.7, 100.0]")
        .contains("TerminateOnNaN", "ES(loss)")
        .contains("EarlyStopping(monitor='loss', patience=1)");
  }

  @Test
  void eval_markdownToOutputFile_writesPipeTables() throws IOException {
    Path out = dir.resolve("table.md");

    Result result =
        run("eval", manifest.toString(), "--format", "markdown", "--output", out.toString());

    assertThat(result.code()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(result.out()).isEmpty();
    String table = Files.readString(out);
    assertThat(table)
        .startsWith("### Per case")
        .contains("| case | truth | expected |")
        .contains("|---|");
    assertThat(table).contains("### All cases", "#### Symptoms (all): expected vs dl-analyze");
  }

  @Test
  void eval_badManifest_exitCode4OneLine() throws IOException {
    Path bad = Files.writeString(dir.resolve("bad.json"), "[]");

    Result result = run("eval", bad.toString());

    assertThat(result.code()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(result.err().strip())
        .isEqualTo("dl-analyze: error: " + bad + ": expected a JSON object with a \"cases\" array");
  }

  @Test
  void eval_unknownFormat_usageError() {
    assertThat(run("eval", manifest.toString(), "--format", "html").code())
        .isEqualTo(ExitCodes.USAGE);
  }

  private static String verdict(String json, String id) throws IOException {
    for (JsonNode c : new ObjectMapper().readTree(json).path("cases")) {
      if (id.equals(c.path("id").asText())) {
        return c.path("tools").path("default").path("verdict").asText();
      }
    }
    throw new AssertionError("no case " + id);
  }

  @Test
  void eval_set_scoresTheDefaultModeWithTheCandidateThreshold() throws IOException {
    Result defaults = run("eval", manifest.toString(), "--format", "json");
    // A window longer than the run: the fixed twin can no longer be called healthy.
    Result candidate =
        run("eval", manifest.toString(), "--format", "json", "--set", "window=1000000");

    assertThat(verdict(defaults.out(), "nan-fixed")).isEqualTo("healthy");
    assertThat(verdict(candidate.out(), "nan-fixed")).isEqualTo("inconclusive");
    // the NaN is found whatever the window
    assertThat(verdict(candidate.out(), "nan-buggy")).isEqualTo("buggy");
  }

  @Test
  void eval_config_appliesTheFileAndSetOverridesIt() throws IOException {
    Path config = Files.writeString(dir.resolve("dl.yaml"), "thresholds:\n  window: 1000000\n");

    Result fromFile =
        run("eval", manifest.toString(), "--format", "json", "--config", config.toString());
    Result overridden =
        run(
            "eval",
            manifest.toString(),
            "--format",
            "json",
            "--config",
            config.toString(),
            "--set",
            "window=50");

    assertThat(verdict(fromFile.out(), "nan-fixed")).isEqualTo("inconclusive");
    assertThat(verdict(overridden.out(), "nan-fixed")).isEqualTo("healthy");
  }

  @Test
  void eval_sensitivity_scoresEachValueOfTheNamedThresholds() throws IOException {
    Result result =
        run("eval", manifest.toString(), "--format", "json", "--sensitivity=window,patience");

    // the "gone" case still makes the run partial
    assertThat(result.code()).isEqualTo(4);
    JsonNode root = new ObjectMapper().readTree(result.out());
    assertThat(root.get("sensitivity_version").asInt()).isEqualTo(1);
    assertThat(root.at("/base/all/pairs_right/n").asInt()).isEqualTo(1);
    assertThat(root.get("rows")).hasSize(4);
    assertThat(root.get("rows").findValuesAsText("threshold"))
        .containsExactly("window", "window", "patience", "patience");
    assertThat(root.get("rows").findValues("value"))
        .extracting(JsonNode::asDouble)
        .containsExactly(25.0, 100.0, 2.0, 8.0);
  }

  @Test
  void eval_sensitivity_ofAThresholdTheDefaultModeDoesNotRead_isAUsageError() {
    Result result = run("eval", manifest.toString(), "--sensitivity=dl-window");

    assertThat(result.code()).isEqualTo(2);
    assertThat(result.err()).contains("--sensitivity dl-window: no detector of the default mode");
    assertThat(result.out()).isEmpty();
  }

  @Test
  void eval_unknownThreshold_isAUsageErrorNamingTheKnownKeys() {
    Result result = run("eval", manifest.toString(), "--set", "no-such-key=1");

    assertThat(result.code()).isEqualTo(2);
    assertThat(result.err()).contains("unknown threshold: no-such-key").contains("window");
    assertThat(result.out()).isEmpty();
  }
}
