package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.cli.fuzz.ConfigFuzzTest;
import io.dlanalyze.cli.fuzz.Corpus;
import io.dlanalyze.cli.fuzz.ManifestFuzzTest;
import io.dlanalyze.trace.fuzz.FuzzFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The committed fuzz corpus through the command line, in process: each config file given to {@code
 * analyze} and {@code batch}, each manifest to {@code eval}, and every corpus file given as a trace
 * to {@code analyze}, {@code inspect} and {@code convert}; and every input of the trace readers'
 * corpus (trace-format's {@code *FuzzTestInputs}: valid seeds and every input that once broke a
 * reader) written as its reader's file and given to {@code analyze}, {@code inspect}, {@code
 * convert} and, a reader's inputs together, {@code batch}. None may exit with 1 (an internal error)
 * or print a stack trace: every outcome is a documented exit code.
 */
class FuzzCorpusEndToEndTest {
  private static final Set<Integer> DOCUMENTED =
      Set.of(
          ExitCodes.OK,
          ExitCodes.USAGE,
          ExitCodes.FAULT_FOUND,
          ExitCodes.BAD_INPUT,
          ExitCodes.OUTPUT_ERROR);

  @TempDir Path dir;
  private Path trace;
  private final List<String> failures = new ArrayList<>();

  @BeforeEach
  void writeTrace() {
    trace = dir.resolve("run.csv");
    CliRun run = CliRun.of("generate", trace.toString(), "--layers", "2", "--steps", "60");
    assertThat(run.code()).as(run.err()).isZero();
  }

  private Path copy(Path corpusFile, String extension) throws IOException {
    Path copy =
        dir.resolve(
            corpusFile.getParent().getFileName() + "-" + corpusFile.getFileName() + extension);
    Files.copy(corpusFile, copy);
    return copy;
  }

  private void check(String... args) {
    CliRun run = CliRun.of(args);
    if (!DOCUMENTED.contains(run.code())
        || run.err().contains("\tat ")
        || run.err().lines().filter(l -> l.startsWith("dl-analyze: error: ")).count() > 2) {
      failures.add(String.join(" ", args) + " -> exit " + run.code() + ": " + run.err());
    }
  }

  @Test
  void everyCorpusFile_everyCommand_exitsWithADocumentedCode() throws IOException {
    for (String format : new String[] {"yaml", "json"}) {
      for (Path file : Corpus.files(ConfigFuzzTest.class, format)) {
        Path config = copy(file, "." + format);
        check("analyze", trace.toString(), "--config", config.toString());
        check(
            "batch",
            trace.toString(),
            "--out",
            dir.resolve("out").toString(),
            "--progress",
            "none",
            "--config",
            config.toString());
        asTrace(config);
      }
    }
    for (Path file : Corpus.files(ManifestFuzzTest.class, "manifest")) {
      Path manifest = copy(file, ".json");
      check("eval", manifest.toString());
      asTrace(manifest);
    }

    assertThat(failures).isEmpty();
  }

  @Test
  void everyReaderInput_everyCommand_exitsWithADocumentedCode() throws IOException {
    Path corpus =
        Python.repoRoot().resolve("trace-format/src/test/resources/io/dlanalyze/trace/fuzz");
    int inputs = 0;
    for (Map.Entry<String, FuzzFormat> reader : FuzzFormat.BY_INPUTS.entrySet()) {
      Path formatDir = Files.createDirectories(dir.resolve(reader.getKey()));
      List<Path> files;
      try (Stream<Path> listed = Files.list(corpus.resolve(reader.getKey()).resolve("fuzz"))) {
        files = listed.sorted().toList();
      }
      assertThat(files).as("inputs of %s", reader.getKey()).isNotEmpty();
      for (Path input : files) {
        Path runDir = Files.createDirectories(formatDir.resolve(input.getFileName().toString()));
        Path trace = reader.getValue().materialize(Files.readAllBytes(input), runDir);
        Path converted = dir.resolve("converted.parquet");
        check("analyze", trace.toString());
        check("inspect", trace.toString());
        check("convert", trace.toString(), converted.toString());
        Files.deleteIfExists(converted);
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

  private void asTrace(Path file) throws IOException {
    Path renamed = Files.copy(file, dir.resolve(file.getFileName() + ".csv"));
    for (Path input : new Path[] {file, renamed}) {
      check("analyze", input.toString());
      check("inspect", input.toString());
      check("convert", input.toString(), dir.resolve("converted.parquet").toString());
    }
  }
}
