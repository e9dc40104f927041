package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trains fresh runs with TensorFlow, Keras and PyTorch and logs them to TensorBoard
 * (trace-format/src/test/resources/tensorboard/make_fixtures.py, about 20 s), then analyses the
 * event files they wrote, with the test Python environment's interpreter ({@link
 * Python#interpreter()}, set up by build/test-env.sh).
 */
class TensorBoardEndToEndTest {
  @TempDir static Path runs;

  @BeforeAll
  static void train() {
    Path script = TensorBoardCliTest.fixture("make_fixtures.py").toAbsolutePath().normalize();
    String python = Python.interpreter();
    Python.Result check =
        Python.run(
            List.of(python, "-c", "import tensorflow, keras, torch, tensorboard"), runs, 300);
    if (check.exitCode() != 0) {
      fail(
          "the test Python environment cannot import tensorflow, keras, torch and tensorboard:"
              + " delete it and run build/test-env.sh again\n"
              + check.output());
    }
    Python.Result result =
        Python.run(
            List.of(
                python, script.toString(), runs.toString(), "keras-epoch", "keras-buggy", "torch"),
            runs,
            600);
    assertThat(result.exitCode()).as(result.output()).isZero();
  }

  private static JsonNode analyze(String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of("analyze"));
    command.addAll(List.of(args));
    command.addAll(List.of("--format", "json"));
    CliRun run = CliRun.of(command.toArray(String[]::new));
    assertThat(run.code()).as(run.err()).isIn(ExitCodes.OK, ExitCodes.FAULT_FOUND);
    return new ObjectMapper().readTree(run.out());
  }

  @Test
  void freshKerasRunAtLearningRate50_isBuggyWhileTheSameModelAt005IsHealthy() throws IOException {
    JsonNode buggy = analyze(runs.resolve("keras-buggy").toString());
    assertThat(buggy.get("verdict").asText()).isEqualTo("buggy");
    List<String> detectors = new ArrayList<>();
    buggy.get("findings").forEach(f -> detectors.add(f.get("detector").asText()));
    assertThat(detectors).contains("not-converging");

    JsonNode healthy = analyze(runs.resolve("keras-epoch").toString(), "--window", "6");
    assertThat(healthy.get("verdict").asText()).isEqualTo("healthy");
  }

  @Test
  void freshTorchRun_readsWeightsAndGradientsPerLayer() throws IOException {
    JsonNode report = analyze(runs.resolve("torch").toString());
    assertThat(report.at("/trace/format").asText()).isEqualTo("tensorboard");
    assertThat(report.at("/trace/phases").toString())
        .contains("loss", "accuracy", "gradient", "weight", "val_loss");
    List<String> layers = new ArrayList<>();
    report.at("/trace/layers").forEach(l -> layers.add(l.get("name").asText()));
    assertThat(layers).containsExactly("fc1", "fc2");
  }

  @Test
  void freshKerasTrainFileAlone_convertsToParquetAndReadsBack() {
    Path parquet = runs.resolve("keras-buggy.parquet");
    CliRun convert =
        CliRun.of("convert", runs.resolve("keras-buggy").toString(), parquet.toString());
    assertThat(convert.code()).as(convert.err()).isZero();
    CliRun inspect = CliRun.of("inspect", parquet.toString());
    assertThat(inspect.code()).as(inspect.err()).isZero();
    assertThat(inspect.out()).containsPattern("dltrace\\.source +tensorboard");
  }
}
