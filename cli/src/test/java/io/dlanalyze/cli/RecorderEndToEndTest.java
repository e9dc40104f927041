package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
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
 * Trains small models with the recorders (the test Python environment, seconds each), then reads
 * and analyses the recorded Arrow IPC streams with the CLI.
 */
class RecorderEndToEndTest {
  @TempDir Path dir;

  @BeforeAll
  static void needsTorch() {
    Python.requireFrameworks();
  }

  private Path train(String name, String... extra) {
    return trainWith("train_buggy.py", name, extra);
  }

  private Path trainWith(String scriptName, String name, String... extra) {
    Path script = Python.repoRoot().resolve("cli/src/test/resources/e2e/" + scriptName);
    Path out = dir.resolve(name);
    List<String> command =
        new ArrayList<>(
            List.of(
                Python.interpreter(),
                script.toString(),
                Python.repoRoot().toString(),
                out.toString()));
    command.addAll(List.of(extra));
    Python.Result result = Python.run(command, dir, 300);
    if (extra.length > 0 && extra[0].equals("--kill-at")) {
      assertThat(result.exitCode()).as(result.output()).isEqualTo(9);
    } else {
      assertThat(result.exitCode()).as(result.output()).isZero();
    }
    return out;
  }

  private record Run(int code, JsonNode json, String err) {}

  private static Run cli(String... args) throws IOException {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = DlAnalyze.run(new PrintWriter(out), new PrintWriter(err), args);
    return new Run(code, new ObjectMapper().readTree(out.toString()), err.toString());
  }

  @Test
  void analyze_recordedBuggyRun_verdictBuggy_updateSizeAtModelScope_nanInOutputLayer()
      throws IOException {
    Path trace = train("buggy.arrows");

    Run run = cli("analyze", trace.toString(), "--format", "json");

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(run.json().get("verdict").asText()).isEqualTo("buggy");
    // At lr 3 the update before the first NaN is as large as the weights: the learning rate, a
    // model-level cause. The first non-finite value is the MSE of the huge but finite outputs: the
    // loss, not the weights written after that step's update.
    assertThat(run.json().at("/root_cause/scope").asText()).isEqualTo("model");
    assertThat(run.json().at("/root_cause/symptom").asText()).isEqualTo("exploding_gradient");
    assertThat(run.json().at("/root_cause/cause").asText()).startsWith("Updates too large");
    assertThat(run.json().at("/root_cause/suggested_fix").asText())
        .startsWith("Lower the learning rate from 3 to about 0.03");
    JsonNode nan = finding(run.json(), "numerical_error");
    assertThat(nan.get("phase").asText()).isEqualTo("loss");
    assertThat(nan.get("layer_index").asInt()).isEqualTo(-1);
    assertThat(nan.get("message").asText()).startsWith("The loss first turned Inf at step");
  }

  /**
   * A healthy mixed-precision run (float16 autocast, a GradScaler starting at 2^24): the first
   * backward passes overflow, the scaler skips those updates, the weights stay finite. The NaN/Inf
   * weight gradients are skipped updates, an info finding, not a numerical error; the output
   * gradients are recorded unscaled.
   */
  @Test
  void analyze_recordedMixedPrecisionRun_skippedUpdatesAreInfo_verdictHealthy() throws IOException {
    Path trace = trainWith("train_amp.py", "amp.arrows");

    Run run = cli("analyze", trace.toString(), "--format", "json");

    assertThat(run.code()).as(run.err()).isZero();
    assertThat(run.json().get("verdict").asText()).as(run.json().toString()).isEqualTo("healthy");
    JsonNode skipped = detectorFinding(run.json(), "numerical-error");
    assertThat(skipped.get("severity").asText()).isEqualTo("info");
    assertThat(skipped.get("first_step").asLong()).isZero();
    assertThat(skipped.at("/evidence/rule").asText()).isEqualTo("transient");
    assertThat(skipped.at("/evidence/skipped_steps").asLong()).isBetween(2L, 12L);
    for (JsonNode finding : run.json().get("findings")) {
      assertThat(finding.get("severity").asText()).as(finding.toString()).isEqualTo("info");
    }
    try (TraceReader reader = TraceReaders.open(trace, ReadOptions.all())) {
      assertThat(reader.metadata().get(TraceMetadata.LOSS_SCALING)).contains("dynamic");
    }
  }

  private static JsonNode detectorFinding(JsonNode report, String detector) {
    for (JsonNode finding : report.get("findings")) {
      if (finding.get("detector").asText().equals(detector)) {
        return finding;
      }
    }
    throw new AssertionError("no " + detector + " finding in " + report);
  }

  private static JsonNode finding(JsonNode report, String symptom) {
    for (JsonNode finding : report.get("findings")) {
      if (finding.get("symptom").asText().equals(symptom)) {
        return finding;
      }
    }
    throw new AssertionError("no " + symptom + " finding in " + report);
  }

  @Test
  void analyze_kerasFitWithOneLineRecorder_explodingGradientInFirstDenseThenNanInSecond()
      throws IOException {
    Path trace = trainWith("train_keras_buggy.py", "keras.arrows");

    Run run = cli("analyze", trace.toString(), "--format", "json");

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(run.json().get("verdict").asText()).isEqualTo("buggy");
    assertThat(run.json().at("/root_cause/symptom").asText()).isEqualTo("exploding_gradient");
    // the inputs, 1000x their scale, are an exploding_gradient finding of input-range at model
    // level too (the first layer overflows before a window forms); the gradient's is dense's
    JsonNode exploding = detectorFinding(run.json(), "exploding-gradient");
    assertThat(exploding.get("layer_name").asText()).isEqualTo("dense");
    assertThat(exploding.get("phase").asText()).isEqualTo("gradient");
    JsonNode nan = finding(run.json(), "numerical_error");
    assertThat(nan.get("layer_name").asText()).isEqualTo("dense_1");
    assertThat(nan.get("first_step").asLong()).isGreaterThan(exploding.get("first_step").asLong());
    try (TraceReader reader = TraceReaders.open(trace, ReadOptions.all())) {
      assertThat(reader.metadata().framework()).contains("keras");
      assertThat(reader.metadata().layers())
          .extracting(l -> l.name() + " " + l.type())
          .containsExactly("dense Dense", "dense_1 Dense");
    }
  }

  /**
   * A Keras model that overrides train_step (a hand-written cross-entropy, clipped gradients): the
   * one-line recorder keeps its step, warns once and records in callback mode; the analysis judges
   * the weights, the gradients the step applied and the scalars, says which rows were not recorded
   * and which detectors therefore did not run, and finds the NaN that the step's log(0) produces at
   * the step it happens although every=4 skips that step.
   */
  @Test
  void analyze_kerasModelWithItsOwnTrainStep_judgedOnWhatCallbackModeRecorded() throws IOException {
    Path script = Python.repoRoot().resolve("cli/src/test/resources/e2e/train_keras_own_step.py");
    Path healthy = dir.resolve("own-step.arrows");
    Path nan = dir.resolve("own-step-nan.arrows");
    Python.Result healthyRun =
        Python.run(
            List.of(
                Python.interpreter(),
                script.toString(),
                Python.repoRoot().toString(),
                healthy.toString()),
            dir,
            300);
    Python.Result nanRun =
        Python.run(
            List.of(
                Python.interpreter(),
                script.toString(),
                Python.repoRoot().toString(),
                nan.toString(),
                "--nan",
                "--every",
                "4"),
            dir,
            300);
    assertThat(healthyRun.exitCode()).as(healthyRun.output()).isZero();
    assertThat(nanRun.exitCode()).as(nanRun.output()).isZero();
    assertThat(healthyRun.output())
        .containsOnlyOnce(
            "UserWarning: dltrace.keras: OwnStep overrides train_step: recording in callback mode"
                + " (layer outputs and activations, weights, the gradients its optimizers apply,"
                + " loss, accuracy, learning rate); its output gradients, inputs and targets are"
                + " not recorded");

    Run run = cli("analyze", healthy.toString(), "--format", "json");

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.OK);
    assertThat(run.json().get("verdict").asText()).isEqualTo("healthy");
    assertThat(run.json().get("verdict_reason").asText())
        .isEqualTo(
            "No finding of severity warning or more in 80 steps, judged on the recorded phases"
                + " only (the recorder left out backward, input, target; see the warnings).");
    assertThat(run.json().at("/trace/metadata/dltrace.record_mode").asText()).isEqualTo("callback");
    List<String> phases = new ArrayList<>();
    run.json().at("/trace/phases").forEach(p -> phases.add(p.asText()));
    assertThat(phases)
        .containsExactly(
            "forward", "activation", "loss", "accuracy", "gradient", "weight", "learning_rate");
    assertThat(run.json().at("/trace/warnings/0").asText())
        .startsWith(
            "not recorded: backward, input and target rows (the recorder recorded only forward,"
                + " activation, loss, accuracy, gradient, weight, learning_rate, val_loss,"
                + " val_accuracy: dltrace.record_phases; dltrace.record_mode callback:")
        .endsWith(
            "input-range and target-range did not run, and the verdict says nothing about what"
                + " they check");
    try (TraceReader reader = TraceReaders.open(healthy, ReadOptions.all())) {
      assertThat(reader.metadata().layers())
          .extracting(l -> l.name() + " " + l.activation())
          .containsExactly("hidden relu", "out softmax");
    }

    Run buggy = cli("analyze", nan.toString(), "--format", "json");

    assertThat(buggy.code()).as(buggy.err()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(buggy.json().get("verdict").asText()).isEqualTo("buggy");
    JsonNode error = finding(buggy.json(), "numerical_error");
    assertThat(error.get("first_step").asLong()).isEqualTo(3);
    assertThat(buggy.json().at("/root_cause/suggested_fix").asText()).contains("log(0)");
    assertThat(buggy.json().at("/trace/warnings/0").asText()).startsWith("not recorded: backward,");
    // every=4 records the weights of steps 0 and 4; the non-finite loss of step 3 records them too
    List<Long> weightSteps = new ArrayList<>();
    try (TraceReader reader = TraceReaders.open(nan, ReadOptions.all())) {
      while (reader.next()) {
        var batch = reader.batch();
        for (int i = 0; i < batch.size(); i++) {
          long step = batch.longs(Column.STEP)[i];
          if (reader.dictionary().phaseName(batch.ints(Column.PHASE)[i]).equals("weight")
              && batch.ints(Column.LAYER_INDEX)[i] == 0
              && step < 8) {
            weightSteps.add(step);
          }
        }
      }
    }
    assertThat(weightSteps).containsExactly(0L, 3L, 4L, 5L, 6L, 7L);
  }

  @Test
  void analyze_lightningTrainerWithCallback_nanInSecondLinearNamedNet1() throws IOException {
    Path trace = trainWith("train_lightning_buggy.py", "lightning.arrows");

    Run run = cli("analyze", trace.toString(), "--format", "json");

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(run.json().get("verdict").asText()).isEqualTo("buggy");
    // The learning rate of 3 blew the weights up: the update size at model scope (as for the
    // plain PyTorch recorder above); the NaN itself first shows in the loss, and the update that
    // was as large as the weights in net.0, named as in the model.
    assertThat(run.json().at("/root_cause/scope").asText()).isEqualTo("model");
    assertThat(run.json().at("/root_cause/cause").asText()).startsWith("Updates too large");
    JsonNode nan = finding(run.json(), "numerical_error");
    assertThat(nan.get("phase").asText()).isEqualTo("loss");
    JsonNode update = detectorFinding(run.json(), "effective-learning-rate");
    assertThat(update.get("layer_name").asText()).isEqualTo("net.0");
    assertThat(update.get("layer_type").asText()).isEqualTo("Linear");
  }

  @Test
  void analyze_recordedFixedRun_verdictHealthy() throws IOException {
    Path trace = train("fixed.arrows", "--fixed");

    Run run = cli("analyze", trace.toString(), "--format", "json");

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.OK);
    assertThat(run.json().get("verdict").asText()).isEqualTo("healthy");
  }

  @Test
  void analyze_recordedRunWithoutZeroGrad_recorderSawTheCarriedOverUpdates() throws IOException {
    Path trace = train("no-zero-grad.parquet", "--fixed", "--no-zero-grad");
    Path fixed = train("fixed.parquet", "--fixed");

    Run run = cli("analyze", trace.toString(), "--format", "json");

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(run.json().at("/root_cause/scope").asText()).isEqualTo("model");
    assertThat(run.json().at("/root_cause/cause").asText())
        .startsWith("Gradients are never reset between steps: the recorder saw 59 of 59 updates");
    JsonNode carried = detectorFinding(run.json(), "gradient-accumulation");
    assertThat(carried.at("/evidence/carried_updates").asLong()).isEqualTo(59);
    // the counts ride in the Parquet footer, written when the recorder closes
    try (TraceReader reader = TraceReaders.open(fixed, ReadOptions.all())) {
      assertThat(reader.metadata().updates()).hasValue(59);
      assertThat(reader.metadata().carriedUpdates()).hasValue(0);
    }
    assertThat(cli("analyze", fixed.toString(), "--format", "json").json().get("verdict").asText())
        .isEqualTo("healthy");
  }

  @Test
  void eval_recordedBuggyAndFixedRuns_scoredAsDetectedLocalizedAndNoFalseAlarm()
      throws IOException {
    train("buggy.arrows");
    train("fixed.arrows", "--fixed");
    Path manifest =
        Files.writeString(
            dir.resolve("manifest.json"),
            """
            {"version": 1, "cases": [
              {"id": "buggy", "trace": "buggy.arrows", "buggy": true, "symptom": "numerical_error",
               "acceptable_symptoms": ["exploding_gradient"],
               "root_cause": "model", "twin": "fixed"},
              {"id": "fixed", "trace": "fixed.arrows", "buggy": false, "twin": "buggy"}]}
            """);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int code =
        DlAnalyze.run(
            new PrintWriter(out),
            new PrintWriter(err),
            "eval",
            manifest.toString(),
            "--format",
            "json");

    assertThat(code).as(err.toString()).isZero();
    JsonNode root = new ObjectMapper().readTree(out.toString());
    JsonNode buggy = root.at("/cases/0/tools/default");
    assertThat(buggy.get("verdict").asText()).isEqualTo("buggy");
    assertThat(buggy.get("location").asText()).isEqualTo("model");
    assertThat(buggy.get("localized").asBoolean()).isTrue();
    assertThat(buggy.get("symptom_right").asBoolean()).isTrue();
    assertThat(root.at("/cases/0/steps").asLong()).isEqualTo(60);
    assertThat(root.at("/cases/1/tools/default/verdict").asText()).isEqualTo("healthy");
  }

  @Test
  void recordedRun_metadataAndRowsReadBackFromArrowStream() {
    Path trace = train("buggy.arrows");

    try (TraceReader reader = TraceReaders.open(trace, ReadOptions.all())) {
      assertThat(reader.metadata().framework()).contains("pytorch");
      assertThat(reader.metadata().version()).contains("1");
      assertThat(reader.metadata().stepsPerEpoch()).hasValue(10);
      assertThat(reader.metadata().layers())
          .extracting(l -> l.name())
          .containsExactly("hidden", "out");
      long rows = 0;
      long maxStep = -1;
      while (reader.next()) {
        rows += reader.batch().size();
        long[] steps = reader.batch().longs(Column.STEP);
        for (int i = 0; i < reader.batch().size(); i++) {
          maxStep = Math.max(maxStep, steps[i]);
        }
      }
      // per step: input, target, 2 x (forward, activation), loss, accuracy, 2 x backward,
      // 2 x gradient, 2 x weight, learning_rate
      assertThat(rows).isEqualTo(60L * 15);
      assertThat(maxStep).isEqualTo(59);
      assertThat(reader.truncated()).isFalse();
    }
  }

  @Test
  void runKilledMidTraining_streamReadableUpToLastFlush() {
    Path trace = train("killed.arrows", "--kill-at", "23");

    try (TraceReader reader = TraceReaders.open(trace, ReadOptions.all())) {
      long rows = 0;
      while (reader.next()) {
        rows += reader.batch().size();
      }
      // Flushed every 5 steps by the writer thread, which may be one flush behind when the
      // process dies at step 23: steps 0..19, or 0..14.
      assertThat(rows).isIn(20L * 15, 15L * 15);
      assertThat(reader.truncated()).isTrue();
    }
  }
}
