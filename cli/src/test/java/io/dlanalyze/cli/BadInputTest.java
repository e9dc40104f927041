package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile and absurd input through the real command line: every case ends with its documented exit
 * code and one error line naming the file, never a stack trace or a damaged input.
 */
class BadInputTest {
  @TempDir Path dir;

  /** A 3-layer, 200-step CSV trace with a NaN fault at step 120 (and its sidecar). */
  private Path csv(String name) {
    Path path = dir.resolve(name);
    CliRun run =
        CliRun.of(
            "generate", path.toString(), "--layers", "3", "--steps", "200", "--fault", "nan:1:120");
    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.OK);
    return path;
  }

  /** The CSV trace {@code name} with {@code edit} applied to every data row's fields. */
  private Path csvWithRows(String name, UnaryOperator<String[]> edit) throws IOException {
    Path path = csv(name);
    List<String> lines = Files.readAllLines(path);
    List<String> edited = new ArrayList<>(lines.size());
    edited.add(lines.get(0));
    for (String line : lines.subList(1, lines.size())) {
      edited.add(String.join(",", edit.apply(line.split(",", -1))));
    }
    Files.write(path, edited);
    return path;
  }

  @Test
  void analyze_negativeStep_badInputNamingTheRow() throws IOException {
    Path trace =
        csvWithRows(
            "negative.csv",
            f -> {
              f[2] = Long.toString(Long.MIN_VALUE + Long.parseLong(f[2]));
              return f;
            });

    for (String mode : new String[] {"default", "deeplocalize"}) {
      CliRun.of("analyze", trace.toString(), "--mode", mode)
          .failsWith(
              ExitCodes.BAD_INPUT,
              "dl-analyze: error: "
                  + trace
                  + ": row 0: step must not be negative: -9223372036854775808");
    }
  }

  @Test
  void analyzeHtml_stepsSpanningZeroToLongMax_writesThePage() throws IOException {
    long stride = Long.MAX_VALUE / 199;
    Path trace =
        csvWithRows(
            "spread.csv",
            f -> {
              f[2] = Long.toString(Long.parseLong(f[2]) * stride);
              return f;
            });
    Path html = dir.resolve("spread.html");

    CliRun run = CliRun.of("analyze", trace.toString(), "--format", "html", "-o", html.toString());

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(run.err()).isEmpty();
    assertThat(Files.readString(html)).contains("</html>");
  }

  @Test
  void analyze_outputIsTheInput_usageErrorAndTheTraceIsKept() throws IOException {
    Path trace = csv("run.csv");
    Path parquet = dir.resolve("run.parquet");
    assertThat(CliRun.of("convert", trace.toString(), parquet.toString()).code())
        .isEqualTo(ExitCodes.OK);
    byte[] before = Files.readAllBytes(parquet);
    byte[] sidecar = Files.readAllBytes(dir.resolve("run.csv.meta.json"));

    for (String format : new String[] {"text", "json", "markdown", "html"}) {
      CliRun.of("analyze", parquet.toString(), "--format", format, "-o", parquet.toString())
          .failsWith(
              ExitCodes.USAGE,
              "dl-analyze: error: refusing to overwrite the input trace with the report: "
                  + parquet);
    }
    Path sidecarPath = dir.resolve("run.csv.meta.json");
    CliRun.of("analyze", trace.toString(), "-o", sidecarPath.toString())
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: refusing to overwrite the input trace with the report: "
                + sidecarPath);

    assertThat(Files.readAllBytes(parquet)).isEqualTo(before);
    assertThat(Files.readAllBytes(sidecarPath)).isEqualTo(sidecar);
  }

  @Test
  void convert_outputInsideTheInputDirectory_usageError() throws IOException {
    Path parts = Files.createDirectory(dir.resolve("run.parquet"));
    Path part = parts.resolve("part-0.parquet");
    assertThat(CliRun.of("convert", csv("run.csv").toString(), part.toString()).code())
        .isEqualTo(ExitCodes.OK);
    byte[] before = Files.readAllBytes(part);

    CliRun.of("convert", parts.toString(), part.toString())
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: refusing to overwrite the input with itself: " + part);
    assertThat(Files.readAllBytes(part)).isEqualTo(before);
  }

  @Test
  void inspect_layerIndexOfABillion_contractViolationNotOutOfMemory() throws IOException {
    Path trace =
        csvWithRows(
            "far.csv",
            f -> {
              if (!f[3].equals("-1")) {
                f[3] = Integer.toString(1_000_000_000 + Integer.parseInt(f[3]));
              }
              return f;
            });

    CliRun run = CliRun.of("inspect", trace.toString());

    assertThat(run.code()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(run.out()).contains("layer_index 1000000000 is above the limit 1048576");
    assertThat(run.err().lines()).hasSize(1);
    run.assertNoStackTrace();
  }

  @Test
  void generate_absurdSizes_usageErrors() {
    String out = dir.resolve("g.parquet").toString();

    CliRun.of("generate", out, "--layers", "2000000000")
        .failsWith(
            ExitCodes.USAGE, "dl-analyze: error: layers must be in [1, 1048577]: 2000000000");
    CliRun.of("generate", out, "--steps", Long.toString(Long.MAX_VALUE))
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: steps x rows per step (32) does not fit in a long:"
                + " 9223372036854775807 steps");
    CliRun.of("generate", out, "--fault", "exploding:5:NaN")
        .failsWith(ExitCodes.USAGE, "dl-analyze: error: rate must be positive and finite: NaN");
    assertThat(dir.resolve("g.parquet")).doesNotExist();
  }

  @Test
  void eval_unclosedJsonManifest_oneLineWithoutTheParserSourceNote() throws IOException {
    Path manifest = Files.writeString(dir.resolve("manifest.json"), "{");

    CliRun.of("eval", manifest.toString())
        .failsWith(
            ExitCodes.BAD_INPUT,
            "dl-analyze: error: "
                + manifest
                + ": not valid JSON: Unexpected end-of-input: expected close marker for Object");
  }

  @Test
  void analyze_unclosedJsonSidecar_oneLineWithoutTheParserSourceNote() throws IOException {
    Path trace = csv("run.csv");
    Path sidecar = Files.writeString(dir.resolve("run.csv.meta.json"), "{\"dltrace.version\": [");

    CliRun run = CliRun.of("analyze", trace.toString());

    run.failsWith(ExitCodes.BAD_INPUT, run.errorLine());
    assertThat(run.errorLine())
        .startsWith("dl-analyze: error: " + sidecar + ": not valid JSON: ")
        .doesNotContain("Source");
  }

  @Test
  void analyze_listedLayerIndexOfABillion_badMetadataNotOutOfMemory() throws IOException {
    Path trace = csv("far.csv");
    Path sidecar = dir.resolve("far.csv.meta.json");
    Files.writeString(
        sidecar,
        Files.readString(sidecar).replace("{\\\"index\\\":1,", "{\\\"index\\\":1000000000,"));

    CliRun run = CliRun.of("analyze", trace.toString());

    assertThat(run.code()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(run.err().lines()).hasSize(1);
    assertThat(run.errorLine())
        .startsWith("dl-analyze: error: " + sidecar)
        .endsWith("dltrace.layers[1] has index 1000000000, above the limit 1048576");
    run.assertNoStackTrace();
  }
}
