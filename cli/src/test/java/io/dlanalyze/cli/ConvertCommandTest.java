package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.HostileTraces;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.TraceRows;
import io.dlanalyze.trace.WriteOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ConvertCommandTest {
  @TempDir Path dir;

  static Stream<Arguments> pairs() {
    List<String> extensions = List.of(".parquet", ".arrow", ".arrows", ".csv");
    List<Arguments> pairs = new ArrayList<>();
    for (String from : extensions) {
      for (String to : extensions) {
        pairs.add(Arguments.of(from, to));
      }
    }
    return pairs.stream();
  }

  private Path hostile(String name) {
    Path path = dir.resolve(name);
    TestTraces.write(
        path,
        HostileTraces.metadata(),
        WriteOptions.defaults().withRowGroupRows(17),
        HostileTraces.batch(new TraceDictionary(), 4));
    return path;
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("pairs")
  void convert_anyFormatToAny_sameRowsAndMetadata(String from, String to) {
    Path in = hostile("in" + from);
    Path out = dir.resolve("out" + to);
    CliRun run = CliRun.of("convert", in.toString(), out.toString());
    assertThat(run.code()).as(run.err()).isZero();
    TraceFormat inFormat = TraceFormat.fromExtension(in).orElseThrow();
    TraceFormat outFormat = TraceFormat.fromExtension(out).orElseThrow();
    assertThat(run.out())
        .isEqualTo(
            "converted 116 rows from "
                + inFormat
                + " to "
                + outFormat
                + ": "
                + out
                + System.lineSeparator());
    assertThat(TraceRows.text(out, 1000))
        .isEqualTo(TraceRows.text(HostileTraces.batch(new TraceDictionary(), 4)));
    try (TraceReader reader = TraceReaders.open(out, ReadOptions.all())) {
      assertThat(reader.metadata()).isEqualTo(HostileTraces.metadata());
    }
    assertThat(run.err())
        .isEqualTo(
            "dl-analyze: warning: "
                + in
                + ": unknown phase 'custom_phase, \"odd\"' in 4 rows: the rows are"
                + " kept, but no detector reads them"
                + System.lineSeparator());
  }

  @Test
  void convert_truncatedStream_convertsTheRecoveredRowsWithAWarning() throws IOException {
    Path full = dir.resolve("full.arrows");
    CliRun.of(
        "generate", full.toString(), "--layers", "2", "--steps", "100", "--row-group-rows", "100");
    byte[] bytes = Files.readAllBytes(full);
    Path cut = dir.resolve("cut.arrows");
    Files.write(cut, Arrays.copyOf(bytes, bytes.length / 2));
    Path out = dir.resolve("recovered.parquet");
    CliRun run = CliRun.of("convert", cut.toString(), out.toString());
    assertThat(run.code()).isZero();
    assertThat(run.err()).startsWith("dl-analyze: warning: " + cut + ": truncated: recovered ");
    long recovered = Long.parseLong(run.err().replaceAll("(?s).*recovered (\\d+) rows.*", "$1"));
    assertThat(recovered).isPositive().isLessThan(1200).isEqualTo(recovered / 100 * 100);
    assertThat(TraceRows.text(out, 4096))
        .isEqualTo(TraceRows.text(full, 4096).subList(0, (int) recovered));
  }

  @Test
  void convert_inputErrors_exitFourAndNothingWritten() throws IOException {
    Path out = dir.resolve("out.parquet");
    Path missing = dir.resolve("missing.arrows");
    CliRun.of("convert", missing.toString(), out.toString())
        .failsWith(ExitCodes.BAD_INPUT, "dl-analyze: error: " + missing + ": no such file");
    Path empty = Files.createFile(dir.resolve("empty.arrow"));
    CliRun.of("convert", empty.toString(), out.toString())
        .failsWith(
            ExitCodes.BAD_INPUT, "dl-analyze: error: " + empty + ": file is empty (0 bytes)");
    Path text = Files.writeString(dir.resolve("notes.txt"), "hello");
    CliRun.of("convert", text.toString(), out.toString())
        .failsWith(
            ExitCodes.BAD_INPUT,
            "dl-analyze: error: "
                + text
                + ": unknown trace format: expected Parquet, Arrow IPC (file or stream), CSV or"
                + " TensorBoard event files");
    Path fake = Files.writeString(dir.resolve("fake.parquet"), "not parquet at all");
    CliRun.of("convert", fake.toString(), out.toString())
        .failsWith(
            ExitCodes.BAD_INPUT,
            "dl-analyze: error: "
                + fake
                + ": not a valid parquet file: its first bytes are not the parquet magic number");
    Path schema =
        Files.writeString(
            dir.resolve("schema.csv"), "epoch,batch,step,layer_index,layer_name,mean\n");
    CliRun.of("convert", schema.toString(), out.toString())
        .failsWith(
            ExitCodes.BAD_INPUT,
            "dl-analyze: error: "
                + schema
                + ": column 'phase' is missing (required by trace format v1, expected string)");
    Path schemaCut = dir.resolve("schema-cut.arrows");
    CliRun.of("generate", dir.resolve("g.arrows").toString(), "--steps", "3");
    Files.write(schemaCut, Arrays.copyOf(Files.readAllBytes(dir.resolve("g.arrows")), 40));
    CliRun.of("convert", schemaCut.toString(), out.toString())
        .failsWith(
            ExitCodes.BAD_INPUT,
            "dl-analyze: error: "
                + schemaCut
                + ": truncated inside the schema (40 bytes): the file holds no complete"
                + " record batch");
    assertThat(out).doesNotExist();
  }

  /**
   * A bad row deep in the input fails the conversion after rows were written: OUT keeps its old
   * content.
   */
  @Test
  void convert_badRowMidway_existingOutputUntouchedAndNoTemporaryLeft() throws IOException {
    StringBuilder csv = new StringBuilder("epoch,batch,step,layer_index,layer_name,phase,mean\n");
    for (int step = 0; step < 70_000; step++) {
      csv.append("0,")
          .append(step)
          .append(',')
          .append(step == 69_000 ? "x" : Integer.toString(step))
          .append(",0,fc1,forward,1.5\n");
    }
    Path in = Files.writeString(dir.resolve("bad.csv"), csv);
    Files.writeString(dir.resolve("bad.csv.meta.json"), "{}");
    Path out = Files.writeString(dir.resolve("out.arrows"), "previous");
    CliRun.of("convert", in.toString(), out.toString(), "--row-group-rows", "1000")
        .failsWith(
            ExitCodes.BAD_INPUT,
            "dl-analyze: error: "
                + in
                + ": row 69000 (line 69002): column 'step': 'x' is not an integer");
    assertThat(Files.readString(out)).isEqualTo("previous");
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()).sorted())
          .containsExactly("bad.csv", "bad.csv.meta.json", "out.arrows");
    }
  }

  @Test
  void convert_usageErrors_exitTwo() throws IOException {
    Path in = hostile("in.arrow");
    CliRun.of("convert", in.toString(), in.toString())
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: refusing to overwrite the input with itself: " + in);
    CliRun.of(
            "convert",
            in.toString(),
            dir.resolve("..").resolve(dir.getFileName()).resolve("in.arrow").toString())
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: refusing to overwrite the input with itself: "
                + dir.resolve("..").resolve(dir.getFileName()).resolve("in.arrow"));
    CliRun.of("convert", in.toString(), dir.resolve("out.xlsx").toString())
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: cannot tell the output format of '"
                + dir.resolve("out.xlsx")
                + "' from its extension: use .parquet, .arrow (IPC file), .arrows (IPC stream) or"
                + " .csv");
    CliRun.of("convert", in.toString())
        .failsWith(ExitCodes.USAGE, "dl-analyze: error: Missing required parameter: 'OUT'");
    CliRun.of("convert", in.toString(), dir.resolve("o.parquet").toString(), "--bogus")
        .failsWith(ExitCodes.USAGE, "dl-analyze: error: unknown option '--bogus'");
  }

  @Test
  void convert_outputDirectoryMissing_exitFive() {
    Path in = hostile("in.arrows");
    for (String name : List.of("o.parquet", "o.arrow", "o.arrows", "o.csv")) {
      Path out = dir.resolve("nowhere").resolve(name);
      CliRun.of("convert", in.toString(), out.toString())
          .failsWith(
              ExitCodes.OUTPUT_ERROR,
              "dl-analyze: error: "
                  + out
                  + ": cannot create: directory does not exist: "
                  + dir.resolve("nowhere"));
    }
  }

  @Test
  void convert_verbose_printsTheStackTrace() {
    Path missing = dir.resolve("missing.csv");
    CliRun run =
        CliRun.of("--verbose", "convert", missing.toString(), dir.resolve("o.csv").toString());
    assertThat(run.code()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(run.err())
        .startsWith("dl-analyze: error: " + missing + ": no such file")
        .contains("\tat io.dlanalyze.");
  }

  @Test
  void convert_help_describesTheCommand() {
    CliRun run = CliRun.of("convert", "--help");
    assertThat(run.code()).isZero();
    assertThat(run.out())
        .contains(
            "Usage: dl-analyze convert",
            "IN",
            "OUT",
            ".arrows",
            "temporary",
            "--compression=CODEC",
            "Exit codes:");
  }
}
