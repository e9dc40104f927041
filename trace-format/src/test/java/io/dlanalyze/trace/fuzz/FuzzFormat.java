package io.dlanalyze.trace.fuzz;

import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * One reader under fuzzing: how fuzzer bytes become the file (or files) of a trace, and how the
 * trace is opened. A reader added later plugs in with one of these and a test class like {@link
 * ParquetFuzzTest}; its seeds go in the test class's {@code Inputs/fuzz} resource directory.
 */
public interface FuzzFormat {
  /** Small batches, so that a few hundred rows already take several batches. */
  ReadOptions OPTIONS = ReadOptions.all().withBatchRows(64);

  FuzzFormat PARQUET = singleFile("run.parquet");
  FuzzFormat ARROW_FILE = singleFile("run.arrow");
  FuzzFormat ARROW_STREAM = singleFile("run.arrows");
  FuzzFormat CSV = new CsvFormat();
  FuzzFormat TENSORBOARD = singleFile("events.out.tfevents.1");

  /**
   * Every reader's format by the name of its fuzz test's inputs directory (under {@code
   * src/test/resources/io/dlanalyze/trace/fuzz/}), for tests that replay the committed corpus
   * elsewhere (the command line's end-to-end test).
   */
  Map<String, FuzzFormat> BY_INPUTS =
      Map.of(
          "ParquetFuzzTestInputs", PARQUET,
          "ArrowFileFuzzTestInputs", ARROW_FILE,
          "ArrowStreamFuzzTestInputs", ARROW_STREAM,
          "CsvFuzzTestInputs", CSV,
          "TensorBoardFuzzTestInputs", TENSORBOARD);

  /** Writes {@code input} as the trace's file(s) in {@code dir}; returns the path to open. */
  Path materialize(byte[] input, Path dir) throws IOException;

  /** Opens the trace the way the command-line tool does. */
  default TraceReader open(Path trace) {
    return TraceReaders.open(trace, OPTIONS);
  }

  /** A format whose trace is one file named {@code name}: the input is the file. */
  static FuzzFormat singleFile(String name) {
    return (input, dir) -> Files.write(dir.resolve(name), input);
  }
}
