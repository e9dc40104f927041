package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.InputFiles;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.TraceWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code dl-analyze convert IN OUT}: rewrites a trace in another format, atomically. */
@Command(
    name = "convert",
    mixinStandardHelpOptions = true,
    versionProvider = ManifestVersionProvider.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Converts a trace from any format to any other: the input format is told from its first"
          + " bytes, the output format from OUT's extension: .parquet, .arrow (Arrow IPC file),"
          + " .arrows (Arrow IPC stream) or .csv (with its sidecar OUT.meta.json).",
      "Rows and metadata are copied as they are. The output is written to a temporary file and"
          + " renamed when complete, so a failed conversion leaves nothing at OUT. A truncated"
          + " input (a crashed recording) converts its recovered rows, with a warning.",
    })
final class ConvertCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "IN",
      description = "The trace to read (or a directory of part files).")
  Path input;

  @Parameters(
      index = "1",
      paramLabel = "OUT",
      description = "The trace to write; its extension picks the format.")
  Path output;

  @Mixin TraceOutput.Options outputOptions;

  @Override
  public Integer call() {
    TraceFormat outputFormat = TraceOutput.outputFormat(spec, output);
    refuseSameFile();
    var options = outputOptions.writeOptions(spec);
    TraceOutput.warnUnusedOptions(spec, outputFormat, options);
    InputFiles.requireReadable(input);
    try (TraceReader reader = TraceReaders.open(input, ReadOptions.all())) {
      TraceWriter writer = TraceOutput.create(output, outputFormat, reader.metadata(), options);
      long rows = TraceOutput.copy(reader, writer);
      for (String warning : reader.warnings()) {
        TraceOutput.warn(spec, input + ": " + warning);
      }
      spec.commandLine()
          .getOut()
          .println(
              format(
                  ROOT,
                  "converted %d rows from %s to %s: %s",
                  rows,
                  reader.format(),
                  outputFormat,
                  output));
      spec.commandLine().getOut().flush();
    }
    return ExitCodes.OK;
  }

  /** Converting a file onto itself would replace the input while it is read. */
  private void refuseSameFile() {
    if (OutputGuard.overwrites(input, output)) {
      throw new ParameterException(
          spec.commandLine(),
          format(ROOT, "refusing to overwrite the input with itself: %s", output));
    }
  }
}
