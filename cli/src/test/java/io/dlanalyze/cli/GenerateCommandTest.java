package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceRows;
import io.dlanalyze.trace.arrow.ArrowTraceReader;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GenerateCommandTest {
  @TempDir Path dir;

  private static List<String> expectedRows(SyntheticTrace trace) {
    try (TraceReader reader = trace.open(ReadOptions.all())) {
      return TraceRows.text(reader);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"t.parquet", "t.arrow", "t.arrows", "t.csv"})
  void generate_anyFormat_writesTheSyntheticRows(String name) {
    Path out = dir.resolve(name);
    CliRun run =
        CliRun.of(
            "generate",
            out.toString(),
            "--layers",
            "3",
            "--steps",
            "20",
            "--steps-per-epoch",
            "5",
            "--seed",
            "4",
            "--classes",
            "3",
            "--optional-phases",
            "--fault",
            "nan:1:10",
            "--fault",
            "plateau:15");
    assertThat(run.code()).isEqualTo(ExitCodes.OK);
    assertThat(run.out())
        .isEqualTo(
            "wrote 400 rows (20 steps, 3 layers, faults: nan layer=1 step=10; loss_plateau step=15)"
                + " to "
                + out
                + System.lineSeparator());
    assertThat(run.err()).isEmpty();
    SyntheticTrace trace =
        SyntheticTrace.builder()
            .layers(3)
            .steps(20)
            .stepsPerEpoch(5)
            .seed(4)
            .numClasses(3)
            .optionalPhases(true)
            .fault(Fault.nan(1, 10))
            .fault(Fault.lossPlateau(15))
            .build();
    assertThat(TraceRows.text(out, 64)).isEqualTo(expectedRows(trace));
  }

  @Test
  void generate_rowGroupRows_setsTheRecordBatchSize() {
    Path out = dir.resolve("g.arrows");
    assertThat(
            CliRun.of(
                    "generate",
                    out.toString(),
                    "--layers",
                    "2",
                    "--steps",
                    "10",
                    "--row-group-rows",
                    "7")
                .code())
        .isZero();
    try (ArrowTraceReader reader =
        ArrowTraceReader.open(out, TraceFormat.ARROW_STREAM, ReadOptions.all())) {
      TraceRows.text(reader);
      assertThat(reader.recordBatchesRead()).isEqualTo((120 + 6) / 7);
    }
  }

  @Test
  void generate_compressionForArrow_zstdOrLz4CompressesOthersAreUsageErrors() throws Exception {
    Path plain = dir.resolve("plain.arrow");
    Path zstd = dir.resolve("zstd.arrow");
    assertThat(CliRun.of("generate", plain.toString(), "--steps", "50").code()).isZero();
    CliRun run = CliRun.of("generate", zstd.toString(), "--steps", "50", "--compression", "zstd");
    assertThat(run.code()).isZero();
    assertThat(run.err()).isEmpty();
    assertThat(Files.size(zstd)).isLessThan(Files.size(plain));
    assertThat(TraceRows.text(zstd, 100)).isEqualTo(TraceRows.text(plain, 100));
    CliRun.of("generate", dir.resolve("c.arrow").toString(), "--compression", "snappy")
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: Arrow IPC output cannot be compressed with snappy: use zstd, lz4,"
                + " uncompressed");
  }

  @Test
  void generate_compressionForCsv_warnsThatItDoesNotApply() {
    CliRun run =
        CliRun.of(
            "generate", dir.resolve("c.csv").toString(), "--steps", "2", "--compression", "zstd");
    assertThat(run.code()).isZero();
    assertThat(run.err())
        .isEqualTo(
            "dl-analyze: warning: --compression does not apply to CSV output, which is not"
                + " compressed"
                + System.lineSeparator());
  }

  @Test
  void generate_badOptions_usageErrors() {
    String out = dir.resolve("x.parquet").toString();
    CliRun.of("generate", out, "--fault", "bogus:1")
        .failsWith(ExitCodes.USAGE, "dl-analyze: error: unknown fault kind: bogus");
    CliRun.of("generate", out, "--fault", "nan:1")
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: bad fault spec 'nan:1': expected nan|inf|dead|frozen:LAYER:STEP,"
                + " plateau:STEP or exploding|vanishing:STEP[:RATE]");
    CliRun.of("generate", out, "--layers", "3", "--fault", "dead:5:1")
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: fault layer 5 is out of range: the model has 3 layers");
    CliRun.of("generate", out, "--steps", "100", "--fault", "nan:1:100")
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: fault step 100 is beyond the last step, 99: the fault would never"
                + " show");
    CliRun.of("generate", out, "--layers", "0")
        .failsWith(ExitCodes.USAGE, "dl-analyze: error: layers must be in [1, 1048577]: 0");
    CliRun.of("generate", out, "--compression", "brotli")
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: compression must be one of default, zstd, lz4, snappy, gzip,"
                + " lz4_raw, uncompressed: brotli");
    CliRun.of("generate", out, "--row-group-rows", "0")
        .failsWith(ExitCodes.USAGE, "dl-analyze: error: rowGroupRows must be positive: 0");
    CliRun.of("generate", dir.resolve("x.json").toString())
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: cannot tell the output format of '"
                + dir.resolve("x.json")
                + "' from its extension: use .parquet, .arrow (IPC file), .arrows (IPC stream) or"
                + " .csv");
    CliRun.of("generate")
        .failsWith(ExitCodes.USAGE, "dl-analyze: error: Missing required parameter: 'OUT'");
    assertThat(dir).isEmptyDirectory();
  }

  @Test
  void generate_missingDirectory_outputErrorAndNothingWritten() throws IOException {
    Path out = dir.resolve("missing/t.csv");
    CliRun.of("generate", out.toString(), "--steps", "3")
        .failsWith(
            ExitCodes.OUTPUT_ERROR,
            "dl-analyze: error: "
                + out
                + ": cannot create: directory does not exist: "
                + dir.resolve("missing"));
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files).isEmpty();
    }
  }

  @Test
  void generate_help_describesOptionsAndExitCodes() {
    CliRun run = CliRun.of("generate", "--help");
    assertThat(run.code()).isZero();
    assertThat(run.out())
        .contains(
            "Usage: dl-analyze generate",
            "Writes a synthetic trace",
            "--layers=N",
            "--fault=SPEC",
            "--compression=CODEC",
            "--row-group-rows=ROWS",
            "nan:LAYER:STEP",
            "Exit codes:",
            "output could not be written");
  }
}
