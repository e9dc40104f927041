package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.DetectorInfo;
import io.dlanalyze.trace.tensorboard.TensorBoardTraceReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TensorBoard runs through the commands: analyze (the committed Keras runs of
 * trace-format/src/test/resources/tensorboard, make_fixtures.py), inspect, convert.
 */
class TensorBoardCliTest {
  @TempDir Path dir;

  static Path fixture(String name) {
    String root = System.getProperty("repo.root");
    Path base = root != null ? Path.of(root) : Path.of("").toAbsolutePath().getParent();
    return base.resolve("trace-format/src/test/resources/tensorboard").resolve(name);
  }

  static JsonNode json(CliRun run) throws IOException {
    return new ObjectMapper().readTree(run.out());
  }

  @Test
  void analyze_kerasRunAtAFarTooHighLearningRate_isBuggyNotConverging() throws IOException {
    CliRun run = CliRun.of("analyze", fixture("keras-buggy").toString(), "--format", "json");

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.FAULT_FOUND);
    JsonNode report = json(run);
    assertThat(report.get("verdict").asText()).isEqualTo("buggy");
    assertThat(report.at("/root_cause/scope").asText()).isEqualTo("model");
    assertThat(report.at("/root_cause/suggested_fix").asText()).contains("learning rate");
    List<String> detectors = new ArrayList<>();
    report.get("findings").forEach(f -> detectors.add(f.get("detector").asText()));
    assertThat(detectors).contains("not-converging");
    assertThat(report.at("/trace/format").asText()).isEqualTo("tensorboard");
    assertThat(report.at("/trace/metadata/dltrace.learning_rate").asDouble()).isEqualTo(50.0);
    assertThat(report.at("/trace/warnings").toString())
        .contains("no gradient histograms")
        .contains("one value per epoch");
  }

  @Test
  void analyze_sameModelAtItsLearningRate_isNotBuggyAndHealthyWithAWindowOfItsEpochs()
      throws IOException {
    CliRun inconclusive =
        CliRun.of("analyze", fixture("keras-epoch").toString(), "--format", "json");
    assertThat(inconclusive.code()).as(inconclusive.err()).isEqualTo(ExitCodes.OK);
    assertThat(json(inconclusive).get("verdict").asText()).isEqualTo("inconclusive");

    CliRun healthy =
        CliRun.of(
            "analyze", fixture("keras-epoch").toString(), "--format", "json", "--window", "6");
    assertThat(healthy.code()).as(healthy.err()).isEqualTo(ExitCodes.OK);
    assertThat(json(healthy).get("verdict").asText()).isEqualTo("healthy");
  }

  @Test
  void textReport_printsWhatTheCoarserDataCannotServe() {
    CliRun run = CliRun.of("analyze", fixture("keras-buggy").toString(), "--color", "never");

    assertThat(run.out())
        .contains("(tensorboard)")
        .contains("dying-relu, saturation, input-range and target-range cannot run")
        .contains("estimated from the bucket counts");
  }

  @Test
  void detectorIdsTheReaderNames_areRegisteredAndNamedInItsWarnings() throws IOException {
    List<String> registered = new ArrayList<>();
    for (DetectorInfo info : new Analyzer().registry()) {
      registered.add(info.id());
    }
    assertThat(registered).containsAll(TensorBoardTraceReader.DETECTORS_NAMED);
    StringBuilder warnings = new StringBuilder();
    for (String name : List.of("keras-epoch", "lightning")) {
      warnings.append(
          json(CliRun.of("inspect", fixture(name).toString(), "--format", "json")).get("warnings"));
    }
    Path noLoss = dir.resolve("weights-only");
    io.dlanalyze.trace.tensorboard.TestEventFiles.write(
        noLoss.resolve("events.out.tfevents.1.host"),
        io.dlanalyze.trace.tensorboard.TestEventFiles.histogram(0, "fc.weight", -1, 1, 2, 0, 2));
    warnings.append(
        json(CliRun.of("inspect", noLoss.toString(), "--format", "json")).get("warnings"));
    for (String id : TensorBoardTraceReader.DETECTORS_NAMED) {
      assertThat(warnings.toString()).as(id).contains(id);
    }
  }

  /** A CleanRL-style run: one charts/episodic_return per finished episode, and its losses. */
  private Path rlRun(String name, double gainPerEpisode) throws IOException {
    List<io.dlanalyze.trace.tensorboard.proto.Event> events = new ArrayList<>();
    for (int episode = 0; episode < 40; episode++) {
      long step = 500L * (episode + 1);
      double noise = (episode * 7) % 11 - 5; // -5 to 5, the same in every quarter
      events.add(
          io.dlanalyze.trace.tensorboard.TestEventFiles.scalar(
              step, "charts/episodic_return", 20 + gainPerEpisode * episode + noise));
      events.add(
          io.dlanalyze.trace.tensorboard.TestEventFiles.scalar(
              step, "losses/value_loss", 1.0 / (episode + 1)));
    }
    Path run = dir.resolve(name);
    io.dlanalyze.trace.tensorboard.TestEventFiles.write(
        run.resolve("events.out.tfevents.1.host"),
        events.toArray(io.dlanalyze.trace.tensorboard.proto.Event[]::new));
    return run;
  }

  private static List<JsonNode> findings(JsonNode report, String detector) {
    List<JsonNode> found = new ArrayList<>();
    report
        .get("findings")
        .forEach(
            f -> {
              if (f.get("detector").asText().equals(detector)) {
                found.add(f);
              }
            });
    return found;
  }

  @Test
  void analyze_rlRunWhoseReturnStaysFlat_getsReturnProgressWhileALearningOneDoesNot()
      throws IOException {
    CliRun flat =
        CliRun.of("analyze", rlRun("flat", 0).toString(), "--format", "json", "--fail-on", "never");

    assertThat(flat.code()).as(flat.err()).isEqualTo(ExitCodes.OK);
    JsonNode report = json(flat);
    assertThat(report.at("/trace/phases").toString()).contains("episode_return");
    List<JsonNode> stalled = findings(report, "return-progress");
    assertThat(stalled).as(report.toString()).hasSize(1);
    assertThat(stalled.get(0).toString())
        .contains("\"episodes\":40")
        .contains("did not learn to act better");

    CliRun learning =
        CliRun.of(
            "analyze", rlRun("learning", 1).toString(), "--format", "json", "--fail-on", "never");
    assertThat(learning.code()).as(learning.err()).isEqualTo(ExitCodes.OK);
    assertThat(findings(json(learning), "return-progress")).isEmpty();
  }

  @Test
  void inspect_runDirectory_describesItAndExitsZero() {
    CliRun run = CliRun.of("inspect", fixture("keras-batch").toString());

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.OK);
    assertThat(run.out())
        .contains("tensorboard")
        .contains("steps      20 (1 to 20)")
        .contains("epochs     2 (0 to 1)")
        .contains("absent: zero_fraction, nan_count, inf_count")
        .contains("dltrace.source.granularity  step");
  }

  @Test
  void convert_toEveryFormat_keepsRowsAndMetadataAndTheAnalysis() throws IOException {
    String buggy = fixture("keras-buggy").toString();
    JsonNode direct = json(CliRun.of("analyze", buggy, "--format", "json"));
    for (String extension : List.of(".parquet", ".arrows", ".arrow", ".csv")) {
      Path out = dir.resolve("buggy" + extension);
      CliRun convert = CliRun.of("convert", buggy, out.toString());
      assertThat(convert.code()).as(convert.err()).isEqualTo(ExitCodes.OK);
      assertThat(convert.out()).contains("from tensorboard to");
      assertThat(convert.err()).contains("dl-analyze: warning: ").contains("no gradient");
      assertThat(Files.exists(out)).isTrue();

      JsonNode converted = json(CliRun.of("analyze", out.toString(), "--format", "json"));
      assertThat(converted.get("verdict")).isEqualTo(direct.get("verdict"));
      assertThat(converted.get("findings")).isEqualTo(direct.get("findings"));
      assertThat(converted.at("/trace/metadata/dltrace.source").asText()).isEqualTo("tensorboard");
      assertThat(converted.at("/trace/metadata/dltrace.source.granularity").asText())
          .isEqualTo("epoch");
    }
  }

  @Test
  void htmlReport_ofARun_readsItTwiceAndRenders() {
    Path html = dir.resolve("report.html");
    CliRun run =
        CliRun.of(
            "analyze",
            fixture("keras-buggy").toString(),
            "--format",
            "html",
            "-o",
            html.toString());

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(html).content().contains("<html").contains("keras-buggy");
  }

  @Test
  void damagedEventFile_isOneErrorLineWithExitFour() throws IOException {
    Path run = dir.resolve("damaged");
    Path file = run.resolve("events.out.tfevents.1.host");
    io.dlanalyze.trace.tensorboard.TestEventFiles.write(
        file,
        io.dlanalyze.trace.tensorboard.TestEventFiles.scalar(0, "loss", 1),
        io.dlanalyze.trace.tensorboard.TestEventFiles.scalar(1, "loss", 1));
    byte[] bytes = Files.readAllBytes(file);
    int last =
        bytes.length
            - 16
            - io.dlanalyze.trace.tensorboard.TestEventFiles.scalar(1, "loss", 1)
                .toByteArray()
                .length;
    bytes[last + 13] ^= 1;
    Files.write(file, bytes);

    CliRun.of("analyze", run.toString())
        .failsWith(
            ExitCodes.BAD_INPUT,
            "dl-analyze: error: "
                + file
                + ": record at byte "
                + last
                + ": the record data's checksum does not match: the record is damaged");
  }
}
