package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AnalyzeCommandTest {
  @TempDir Path dir;

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    return DlAnalyze.run(new PrintWriter(out), new PrintWriter(err), args);
  }

  /** Writes a 6-layer, 1000-step synthetic trace with the faults to {@code name}. */
  private Path write(String name, Fault... faults) {
    SyntheticTrace.Builder builder =
        SyntheticTrace.builder().steps(1_000).stepsPerEpoch(100).seed(1);
    for (Fault fault : faults) {
      builder.fault(fault);
    }
    return TestTraces.write(dir.resolve(name), builder.build(), WriteOptions.defaults());
  }

  @Test
  void analyze_healthyParquet_exitsZeroWithHealthyVerdict() {
    int code = run("analyze", write("healthy.parquet").toString());

    assertThat(code).isEqualTo(ExitCodes.OK);
    assertThat(out.toString()).contains("Verdict: HEALTHY").doesNotContain("\u001B[");
    assertThat(err.toString()).isEmpty();
  }

  @Test
  void analyze_nanTrace_exitsThreeAndTopFindingNamesLayerPhaseStep() throws IOException {
    int code =
        run("analyze", "--format", "json", write("nan.parquet", Fault.nan(3, 420)).toString());

    assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
    JsonNode json = new ObjectMapper().readTree(out.toString());
    assertThat(json.get("verdict").asText()).isEqualTo("buggy");
    JsonNode top = json.get("findings").get(0);
    assertThat(top.get("layer_name").asText()).isEqualTo("fc3");
    assertThat(top.get("phase").asText()).isEqualTo("forward");
    assertThat(top.get("first_step").asLong()).isEqualTo(420);
    assertThat(json.get("trace").get("format").asText()).isEqualTo("parquet");
  }

  @Test
  void plainTraceArgument_isAnalyze() {
    int code = run(write("dead.arrow", Fault.deadLayer(2, 300)).toString(), "--format", "markdown");

    assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(out.toString()).startsWith("# dl-analyze report").contains("dead-or-zero");
  }

  @Test
  void readsArrowStream() {
    assertThat(run("analyze", write("healthy.arrows").toString())).isEqualTo(ExitCodes.OK);
  }

  @Test
  void readsCsv_sameFindingsAsParquet() throws IOException {
    run("analyze", "--format", "json", write("nan.parquet", Fault.nan(3, 420)).toString());
    JsonNode parquet = new ObjectMapper().readTree(out.toString()).get("findings");
    out.getBuffer().setLength(0);

    int code = run("analyze", "--format", "json", write("nan.csv", Fault.nan(3, 420)).toString());

    assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
    JsonNode json = new ObjectMapper().readTree(out.toString());
    assertThat(json.get("trace").get("format").asText()).isEqualTo("csv");
    assertThat(json.get("findings")).isEqualTo(parquet);
  }

  @Test
  void parquetWithTinyRowGroups_sameFindingsAsDefaultRowGroups() throws IOException {
    Path defaults = dir.resolve("default.parquet");
    Path tiny = dir.resolve("tiny.parquet");
    for (Path path : new Path[] {defaults, tiny}) {
      String[] rowGroups = path == tiny ? new String[] {"--row-group-rows", "7"} : new String[0];
      String[] args =
          new String[] {
            "generate", path.toString(), "--steps", "300", "--layers", "4", "--fault", "nan:2:150"
          };
      assertThat(run(concat(args, rowGroups))).isEqualTo(ExitCodes.OK);
    }
    out.getBuffer().setLength(0);
    run("analyze", "--format", "json", defaults.toString());
    JsonNode expected = new ObjectMapper().readTree(out.toString()).get("findings");
    out.getBuffer().setLength(0);

    int code = run("analyze", "--format", "json", tiny.toString());

    assertThat(err.toString()).isEmpty();
    assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(new ObjectMapper().readTree(out.toString()).get("findings")).isEqualTo(expected);
  }

  @Test
  void decodeThreads_oneAndTwo_sameReport() throws IOException {
    Path trace = dir.resolve("groups.parquet");
    assertThat(
            run(
                "generate",
                trace.toString(),
                "--steps",
                "2000",
                "--layers",
                "6",
                "--row-group-rows",
                "5000",
                "--fault",
                "dead:2:900",
                "--fault",
                "nan:4:1500"))
        .isEqualTo(ExitCodes.OK);
    String[] reports = new String[2];
    for (int threads = 1; threads <= 2; threads++) {
      out.getBuffer().setLength(0);
      int code =
          run(
              "analyze",
              "--format",
              "json",
              "--decode-threads",
              Integer.toString(threads),
              trace.toString());
      assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
      reports[threads - 1] = out.toString();
    }
    assertThat(err.toString()).isEmpty();
    assertThat(reports[0]).contains("dead").contains("\"numerical-error\"");
    assertThat(reports[1]).isEqualTo(reports[0]);
  }

  @Test
  void decodeThreads_zero_usageErrorNamingTheRange() {
    int code = run("analyze", "--decode-threads", "0", dir.resolve("any.parquet").toString());
    assertThat(code).isEqualTo(ExitCodes.USAGE);
    assertThat(err.toString())
        .contains("decode threads must be between 1 and 64: 0")
        .doesNotContain("Exception");
  }

  private static String[] concat(String[] a, String[] b) {
    String[] all = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }

  @Test
  void hostileFileName_oneLineErrorWithTheNameEscaped() throws IOException {
    Path evil = dir.resolve("run\u001b[2J\nforged: line.parquet");
    Files.write(evil, new byte[] {1, 2, 3});

    int code = run("analyze", evil.toString());

    assertThat(code).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(out.toString()).isEmpty();
    assertThat(err.toString()).endsWith(System.lineSeparator()).doesNotContain("\u001b");
    assertThat(err.toString().lines()).hasSize(1);
    assertThat(err.toString())
        .startsWith("dl-analyze: error: " + dir + "/run\\e[2J\\nforged: line.parquet: ");
  }

  @Test
  void hostileLayerName_textReportEscapesIt() throws IOException {
    Path csv = write("nan.csv", Fault.nan(3, 420));
    String text =
        Files.readString(csv).replace(",fc3,", ",\"fc3\u001b[2J\u001b[31m\nforged: line\",");
    Files.writeString(csv, text);
    Path meta = dir.resolve("nan.csv.meta.json");
    Files.writeString(
        meta,
        Files.readString(meta).replace("\"fc3\"", "\"fc3\\u001b[2J\\u001b[31m\\nforged: line\""));

    int code = run("analyze", csv.toString());

    assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(out.toString()).doesNotContain("\u001b").contains("fc3\\e[2J\\e[31m\\nforged: line");
    assertThat(out.toString().lines()).noneMatch(line -> line.startsWith("forged"));
  }

  @Test
  void subcommandAfterRootOptions_runsThatSubcommand() {
    int code = run("--verbose", "inspect", dir.resolve("missing.parquet").toString());

    assertThat(code).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(err.toString()).startsWith("dl-analyze: error: " + dir.resolve("missing.parquet"));
    assertThat(err.toString()).contains("\tat io.dlanalyze."); // --verbose reached the handler
  }

  @Test
  void rootHelp_listsEverySubcommand() {
    int code = run("--help");

    assertThat(code).isEqualTo(ExitCodes.OK);
    assertThat(out.toString())
        .contains("analyze", "batch", "inspect", "convert", "generate", "eval", "detectors");
  }

  @Test
  void output_writesTheSameReportToAFile() throws IOException {
    Path trace = write("nan.parquet", Fault.nan(3, 420));
    Path report = dir.resolve("report.json");

    int code = run("analyze", "--format", "json", "--output", report.toString(), trace.toString());
    run("analyze", "--format", "json", trace.toString());

    assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(Files.readString(report, StandardCharsets.UTF_8)).isEqualTo(out.toString());
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
    }
  }

  @Test
  void output_missingDirectory_exitsFive() {
    int code =
        run(
            "analyze",
            "-o",
            dir.resolve("no/such/dir/r.txt").toString(),
            write("h.parquet").toString());

    assertThat(code).isEqualTo(ExitCodes.OUTPUT_ERROR);
    assertThat(err.toString()).startsWith("dl-analyze: error: ");
  }

  @Test
  void output_existingDirectory_exitsFiveNamingIt() throws IOException {
    Path target = Files.createDirectory(dir.resolve("reports"));

    int code = run("analyze", "-o", target.toString(), write("h.parquet").toString());

    assertThat(code).isEqualTo(ExitCodes.OUTPUT_ERROR);
    assertThat(err.toString())
        .isEqualTo(
            "dl-analyze: error: "
                + target
                + ": cannot write the report: is a directory"
                + System.lineSeparator());
  }

  @Test
  void failOn_controlsTheExitCode() {
    Path dead = write("dead.parquet", Fault.deadLayer(2, 300));

    assertThat(run("analyze", "--fail-on", "critical", dead.toString())).isEqualTo(ExitCodes.OK);
    assertThat(run("analyze", "--fail-on", "error", dead.toString()))
        .isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(
            run(
                "analyze",
                "--fail-on",
                "never",
                write("nan.parquet", Fault.nan(3, 420)).toString()))
        .isEqualTo(ExitCodes.OK);
  }

  @Test
  void deeplocalizeMode_reproducesTheSoftmaxFalsePositive() {
    int code = run("analyze", "--mode", "deeplocalize", write("healthy.parquet").toString());

    assertThat(code).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(out.toString()).contains("Batch 4 layer 5: Error in forward");
  }

  @Test
  void missingTrace_exitsFourWithOneLine() {
    int code = run("analyze", dir.resolve("missing.parquet").toString());

    assertThat(code).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(err.toString()).startsWith("dl-analyze: error: ").contains("missing.parquet");
    assertThat(err.toString().strip().lines()).hasSize(1);
  }

  @Test
  void badThreshold_exitsTwo() {
    int code = run("analyze", "--window", "0", write("h.parquet").toString());

    assertThat(code).isEqualTo(ExitCodes.USAGE);
    assertThat(err.toString()).contains("window must be in [1, 1000000000]: 0");
  }

  @Test
  void unknownThresholdKey_exitsTwo() {
    assertThat(run("analyze", "--set", "no-such=1", write("h.parquet").toString()))
        .isEqualTo(ExitCodes.USAGE);
    assertThat(err.toString()).contains("unknown threshold: no-such");
  }

  @Test
  void unknownDetector_exitsTwo() {
    assertThat(run("analyze", "--detectors", "nope", write("h.parquet").toString()))
        .isEqualTo(ExitCodes.USAGE);
    assertThat(err.toString()).contains("unknown detector: nope");
  }

  @Test
  void thresholdOptions_changeTheResult() {
    Path dead = write("dead.parquet", Fault.deadLayer(2, 960));

    assertThat(run("analyze", dead.toString())).isEqualTo(ExitCodes.OK);
    assertThat(run("analyze", "--window", "20", dead.toString())).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(
            run(
                "analyze",
                "--set",
                "window=20",
                "--disable",
                "dead-or-zero,unchanged-values,dying-relu",
                dead.toString()))
        .isEqualTo(ExitCodes.OK);
  }

  @Test
  void colorAlways_paintsTheTextReport() {
    run("analyze", "--color", "always", write("h.parquet").toString());

    assertThat(out.toString()).contains("\u001B[");
  }

  @Test
  void timing_addsRowsPerSecond() {
    run("analyze", "--timing", write("h.parquet").toString());

    assertThat(out.toString()).contains("rows/s");
  }

  @Test
  void config_yamlDisablesDetectorsAndExcludesLayers_commandLineOverrides() throws IOException {
    Path dead = write("dead-config.parquet", Fault.deadLayer(2, 300));
    Path config = dir.resolve("dl.yaml");
    java.nio.file.Files.writeString(config, "exclude-layers: [fc2]\nfail-on: error\n");

    assertThat(run("analyze", dead.toString())).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(run("analyze", "--config", config.toString(), dead.toString()))
        .isEqualTo(ExitCodes.OK);
    assertThat(
            run(
                "analyze",
                "--config",
                config.toString(),
                "--fail-on",
                "info",
                "--set",
                "window=5",
                dead.toString()))
        .isEqualTo(ExitCodes.OK);
  }

  @Test
  void config_unknownKey_isAUsageErrorNamingKeyAndFile() throws IOException {
    Path config = dir.resolve("bad.json");
    java.nio.file.Files.writeString(
        config, "{\"detectors\": {\"dying-relu\": {\"exclude\": [\"fc1\"]}}}");

    int code = run("analyze", "--config", config.toString(), write("h2.parquet").toString());

    assertThat(code).isEqualTo(ExitCodes.USAGE);
    assertThat(err.toString())
        .contains(config.toString())
        .contains("detectors.dying-relu.exclude: unknown key");
  }
}
