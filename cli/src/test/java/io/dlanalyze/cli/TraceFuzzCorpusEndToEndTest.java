package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trace readers' committed fuzz corpus (trace-format's {@code *FuzzTestInputs}: the valid seeds
 * of each format and every crashing input the fuzzers found) through the command line, in process:
 * each input written as its reader's file, then given to {@code analyze}, {@code inspect} and
 * {@code convert}, and each format's inputs together to {@code batch}. None may exit with 1 (an
 * internal error) or print a stack trace: every outcome is a documented exit code.
 */
class TraceFuzzCorpusEndToEndTest {
  private static final Set<Integer> DOCUMENTED =
      Set.of(
          ExitCodes.OK,
          ExitCodes.USAGE,
          ExitCodes.FAULT_FOUND,
          ExitCodes.BAD_INPUT,
          ExitCodes.OUTPUT_ERROR);

  /** Each reader's inputs directory and the file name its fuzz test writes an input to. */
  private static final Map<String, String> READERS =
      Map.of(
          "ParquetFuzzTestInputs", "run.parquet",
          "ArrowFileFuzzTestInputs", "run.arrow",
          "ArrowStreamFuzzTestInputs", "run.arrows",
          "CsvFuzzTestInputs", "run.csv",
          "TensorBoardFuzzTestInputs", "events.out.tfevents.1");

  /** Splits a CSV input into its sidecar and the CSV, as the CSV fuzz test does. */
  private static final byte[] CSV_SEPARATOR = {0, '-', '-', 'c', 's', 'v', '-', '-', 0};

  @TempDir Path dir;
  private final List<String> failures = new ArrayList<>();

  @Test
  void everyReaderInput_everyCommand_exitsWithADocumentedCode() throws IOException {
    Path corpus =
        Python.repoRoot().resolve("trace-format/src/test/resources/io/dlanalyze/trace/fuzz");
    int inputs = 0;
    for (Map.Entry<String, String> reader : READERS.entrySet()) {
      Path formatDir = Files.createDirectories(dir.resolve(reader.getKey()));
      List<Path> files;
      try (Stream<Path> listed = Files.list(corpus.resolve(reader.getKey()).resolve("fuzz"))) {
        files = listed.sorted().toList();
      }
      assertThat(files).as("inputs of %s", reader.getKey()).isNotEmpty();
      for (Path input : files) {
        Path runDir = Files.createDirectories(formatDir.resolve(input.getFileName().toString()));
        Path trace = materialize(Files.readAllBytes(input), runDir, reader.getValue());
        check("analyze", trace.toString());
        check("inspect", trace.toString());
        check("convert", trace.toString(), runDir.resolve("converted.parquet").toString());
        Files.deleteIfExists(runDir.resolve("converted.parquet"));
        inputs++;
      }
      check(
          "batch",
          formatDir.toString(),
          "--out",
          dir.resolve("out-" + reader.getKey()).toString(),
          "--progress",
          "none");
    }
    assertThat(inputs).isGreaterThanOrEqualTo(20);
    assertThat(failures).isEmpty();
  }

  private static Path materialize(byte[] input, Path runDir, String name) throws IOException {
    Path trace = runDir.resolve(name);
    int split = name.endsWith(".csv") ? indexOf(input, CSV_SEPARATOR) : -1;
    if (split < 0) {
      return Files.write(trace, input);
    }
    Files.write(runDir.resolve(name + ".meta.json"), Arrays.copyOfRange(input, 0, split));
    return Files.write(
        trace, Arrays.copyOfRange(input, split + CSV_SEPARATOR.length, input.length));
  }

  private static int indexOf(byte[] data, byte[] pattern) {
    outer:
    for (int i = 0; i + pattern.length <= data.length; i++) {
      for (int j = 0; j < pattern.length; j++) {
        if (data[i + j] != pattern[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  private void check(String... args) {
    CliRun run = CliRun.of(args);
    if (!DOCUMENTED.contains(run.code())
        || run.err().contains("\tat ")
        || run.err().lines().filter(l -> l.startsWith("dl-analyze: error: ")).count() > 2) {
      failures.add(String.join(" ", args) + " -> exit " + run.code() + ": " + run.err());
    }
  }
}
