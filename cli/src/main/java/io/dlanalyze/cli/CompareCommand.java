package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.compare.Comparison;
import io.dlanalyze.analyzer.compare.ComparisonJson;
import io.dlanalyze.analyzer.compare.ComparisonText;
import io.dlanalyze.analyzer.compare.TraceComparison;
import io.dlanalyze.analyzer.report.ComparisonHtmlRenderer;
import io.dlanalyze.trace.AtomicOutput;
import io.dlanalyze.trace.InputFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code dl-analyze compare A B}: two traces of the same model side by side, where they diverge
 * first, their loss and accuracy curves and the findings only one has ({@link TraceComparison}).
 */
@Command(
    name = "compare",
    mixinStandardHelpOptions = true,
    versionProvider = ManifestVersionProvider.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Compares two traces of the same model (a buggy and a fixed run, two seeds, before and"
          + " after a change): aligned by step and by layer name and type, it names the first step"
          + " where a statistic of a layer and phase leaves the other run's band, per layer and"
          + " phase, shows the loss and accuracy curves side by side and the findings present in"
          + " one run only. Different lengths, phases and renamed layers are noted.",
      "Exits with 0 when both traces were compared, whether or not they diverge.",
    })
final class CompareCommand implements Callable<Integer> {
  /** Output format. */
  enum Format {
    TEXT,
    JSON,
    HTML
  }

  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "A", description = "The first trace (the reference).")
  Path a;

  @Parameters(index = "1", paramLabel = "B", description = "The second trace.")
  Path b;

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      defaultValue = "text",
      description =
          "Output format: text, json or html (one self-contained page, the runs overlaid in the"
              + " charts) (default: ${DEFAULT-VALUE}).")
  Format format;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "FILE",
      description = "Write the comparison to FILE (atomically) instead of standard output.")
  @Nullable Path output;

  @Option(
      names = "--band",
      paramLabel = "K",
      defaultValue = "3",
      description =
          "Band half-width in typical step-to-step changes of the run (plus a 5% floor)"
              + " (default: ${DEFAULT-VALUE}).")
  double band;

  @Override
  public Integer call() {
    if (!(band > 0) || Double.isInfinite(band)) {
      throw new ParameterException(
          spec.commandLine(), format(ROOT, "--band must be a positive number: %s", band));
    }
    for (Path input : new Path[] {a, b}) {
      if (output != null && OutputGuard.overwrites(input, output)) {
        throw new ParameterException(
            spec.commandLine(),
            format(ROOT, "refusing to overwrite an input trace with the comparison: %s", output));
      }
    }
    InputFiles.requireReadable(a);
    InputFiles.requireReadable(b);
    Comparison comparison = TraceComparison.compare(a, b, band, AnalysisOptions.defaults());
    String text =
        switch (format) {
          case TEXT -> ComparisonText.render(comparison);
          case JSON -> ComparisonJson.render(comparison);
          case HTML -> ComparisonHtmlRenderer.render(comparison);
        };
    if (output != null) {
      try {
        AtomicOutput.writeString(output, text);
      } catch (IOException e) {
        throw new CliException(
            ExitCodes.OUTPUT_ERROR,
            format(ROOT, "%s: cannot write the comparison: %s", output, e.getMessage()),
            e);
      }
    } else {
      spec.commandLine().getOut().print(text);
      spec.commandLine().getOut().flush();
    }
    return ExitCodes.OK;
  }
}
