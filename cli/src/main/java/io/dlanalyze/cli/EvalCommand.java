package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.cli.eval.EvalFormat;
import io.dlanalyze.cli.eval.EvalRenderer;
import io.dlanalyze.cli.eval.Evaluation;
import io.dlanalyze.cli.eval.Manifest;
import io.dlanalyze.cli.eval.ManifestException;
import io.dlanalyze.trace.AtomicOutput;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code dl-analyze eval MANIFEST}: the benchmark table over a manifest of buggy/fixed traces. */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Runs dl-analyze (default and deeplocalize modes) and the three Keras baselines"
          + " (TerminateOnNaN, EarlyStopping on loss and on accuracy, patience 1) on every trace"
          + " of a manifest and prints the DeepLocalize-paper-style table: per case and in total,"
          + " detected, correctly localized, right symptom, false alarms on the fixed twins, and"
          + " how many steps earlier than each baseline the first fault was found.",
      "Exits with 4 when some case could not be analysed (its trace missing, unreadable, not a"
          + " regular file): the table is printed, with the reason in the case's row.",
      "",
      "  dl-analyze eval sample-traces/manifest.json",
    })
final class EvalCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "MANIFEST",
      description = "The manifest (sample-traces/manifest.json).")
  Path manifest;

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      converter = FormatConverter.class,
      description = "text (default), json or markdown.")
  EvalFormat format = EvalFormat.TEXT;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "FILE",
      description = "Write the table to FILE (atomically) instead of standard output.")
  Path output;

  @Override
  public Integer call() {
    if (output != null && OutputGuard.overwrites(manifest, output)) {
      throw new ParameterException(
          spec.commandLine(),
          format(ROOT, "refusing to overwrite the manifest with the table: %s", output));
    }
    Manifest parsed;
    try {
      parsed = Manifest.read(manifest);
    } catch (ManifestException e) {
      throw new CliException(ExitCodes.BAD_INPUT, e.getMessage(), e);
    }
    Evaluation.Result result = new Evaluation(new Analyzer()).run(parsed);
    String text = EvalRenderer.render(result, format);
    if (output == null) {
      spec.commandLine().getOut().print(text);
      spec.commandLine().getOut().flush();
    } else {
      try {
        AtomicOutput.writeString(output, text);
      } catch (IOException e) {
        throw new CliException(
            ExitCodes.OUTPUT_ERROR,
            format(ROOT, "%s: cannot write the table: %s", output, e.getMessage()),
            e);
      }
    }
    if (result.errors() > 0) {
      // The table is complete for the cases that could be analysed; the others make it partial.
      throw new CliException(
          ExitCodes.BAD_INPUT,
          format(
              ROOT,
              "%s: %d of %d %s could not be analysed (see the error column)",
              manifest,
              result.errors(),
              result.cases().size(),
              result.cases().size() == 1 ? "case" : "cases"));
    }
    return ExitCodes.OK;
  }

  static final class FormatConverter implements picocli.CommandLine.ITypeConverter<EvalFormat> {
    @Override
    public EvalFormat convert(String value) {
      return EvalFormat.fromWireName(value);
    }
  }
}
