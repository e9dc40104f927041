package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisConfig;
import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.report.HtmlReportRenderer;
import io.dlanalyze.analyzer.report.RenderOptions;
import io.dlanalyze.analyzer.report.ReportFormat;
import io.dlanalyze.analyzer.report.ReportRenderer;
import io.dlanalyze.analyzer.report.TraceCharts;
import io.dlanalyze.trace.AtomicOutput;
import io.dlanalyze.trace.InputFiles;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code dl-analyze analyze TRACE}: runs the analyzer and prints the ranked report. */
@Command(
    name = "analyze",
    mixinStandardHelpOptions = true,
    versionProvider = ManifestVersionProvider.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Analyses a recorded training trace (Parquet, Arrow IPC file or stream, CSV) in one pass and"
          + " prints a ranked fault-localization report: verdict, root cause, findings in causal"
          + " order, and the Keras baselines replayed on the same trace.",
    })
final class AnalyzeCommand implements Callable<Integer> {
  /** When to colour the text report. */
  enum Color {
    AUTO,
    ALWAYS,
    NEVER
  }

  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "TRACE",
      description = "The trace file (or a directory of part files).")
  Path trace;

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      defaultValue = "text",
      description =
          "Report format: text, json, markdown or html (one self-contained page with"
              + " charts; reads the trace a second time for them) (default: ${DEFAULT-VALUE}).")
  ReportFormat format;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "FILE",
      description = "Write the report to FILE (atomically) instead of standard output.")
  @Nullable Path output;

  @Option(
      names = "--mode",
      paramLabel = "MODE",
      description =
          "default (all symptoms, tolerance-aware, ranked) or deeplocalize (DeepLocalize's own"
              + " algorithm: first hit, exact equality, its messages). Default: the config's, else"
              + " default.")
  @Nullable AnalysisMode mode;

  @Option(
      names = "--fail-on",
      paramLabel = "SEVERITY",
      description =
          "Exit with 3 when a finding has this severity or more: info, warning, error,"
              + " critical, or never (default: the config's, else warning).")
  @Nullable String failOn;

  @Option(
      names = "--first-fault",
      description = "Stop reading at the end of the first step in which a detector fired.")
  boolean firstFault;

  @Option(
      names = "--window",
      paramLabel = "STEPS",
      description =
          "Steps a per-layer symptom must persist; also the loss-trend block size (default 50).")
  @Nullable Integer window;

  @Option(
      names = "--unchanged-tolerance",
      paramLabel = "REL",
      description = "Relative change below which a statistic counts as unchanged (default 1e-6).")
  @Nullable Double unchangedTolerance;

  @Option(
      names = "--zero-fraction",
      paramLabel = "FRACTION",
      description = "zero_fraction at or above which a tensor counts as all zero (default 0.999).")
  @Nullable Double zeroFraction;

  @Option(
      names = "--min-improvement",
      paramLabel = "REL",
      description =
          "Relative loss decrease over the best block that counts as progress (default 0.01).")
  @Nullable Double minImprovement;

  @Option(
      names = "--patience",
      paramLabel = "BLOCKS",
      description = "Loss-trend blocks without progress before not-learning fires (default 4).")
  @Nullable Integer patience;

  @Option(
      names = "--dl-window",
      paramLabel = "N",
      description = "DeepLocalize's block of equal values in deeplocalize mode (default 5).")
  @Nullable Integer dlWindow;

  @Option(
      names = "--es-patience",
      paramLabel = "EPOCHS",
      description = "Patience of the replayed Keras EarlyStopping baselines (default 1).")
  @Nullable Integer esPatience;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "A JSON or YAML file of thresholds, detectors on/off and layer exclusions"
              + " (docs/detectors.md); options on the command line override it.")
  @Nullable Path config;

  @Option(
      names = "--set",
      paramLabel = "KEY=VALUE",
      description =
          "Set any threshold by key (see docs/detectors.md), e.g. --set converged-drop=0.6.")
  @Nullable Map<String, String> thresholds;

  @Option(
      names = "--detectors",
      paramLabel = "ID",
      split = ",",
      description = "Run only these detectors (comma-separated ids).")
  @Nullable List<String> detectors;

  @Option(
      names = "--disable",
      paramLabel = "ID",
      split = ",",
      description = "Do not run these detectors (comma-separated ids).")
  @Nullable List<String> disabled;

  @Option(
      names = "--decode-threads",
      paramLabel = "N",
      description =
          "Threads that decode a Parquet trace's columns (1 to 64; default: 2 on a machine of"
              + " four processors or more, else 1). The report is the same whatever the number.")
  Integer decodeThreads;

  @Option(
      names = "--color",
      paramLabel = "WHEN",
      defaultValue = "auto",
      description =
          "Colour the text report: auto (only on a terminal), always or never (default:"
              + " ${DEFAULT-VALUE}).")
  Color color;

  @Option(
      names = "--timing",
      description =
          "Add the elapsed time and rows/s to the report (no rate when --first-fault stopped"
              + " the run early).")
  boolean timing;

  @Override
  public Integer call() {
    AnalysisOptions options = options();
    if (output != null && OutputGuard.overwrites(trace, output)) {
      throw new ParameterException(
          spec.commandLine(),
          format(ROOT, "refusing to overwrite the input trace with the report: %s", output));
    }
    Analyzer analyzer = new Analyzer();
    try {
      analyzer.detectorsFor(options);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    // a named pipe or a device would block or never end: refused before anything opens it
    InputFiles.requireReadable(trace);
    Report report = analyzer.analyze(trace, options);
    RenderOptions render = new RenderOptions(useColor(), timing);
    ReportRenderer renderer = renderer(report, render);
    // The report is written as it is rendered: a trace listing 300,000 layers gives a report of
    // tens of megabytes, which held whole (and copied to bytes) took more than the heap.
    Path target = output;
    try {
      if (target != null) {
        AtomicOutput.writeText(target, out -> renderer.render(report, out));
      } else {
        PrintWriter out = spec.commandLine().getOut();
        renderer.render(report, out);
        out.flush();
      }
    } catch (IOException e) {
      throw new CliException(
          ExitCodes.OUTPUT_ERROR,
          format(ROOT, "%s: cannot write the report: %s", target, e.getMessage()),
          e);
    }
    return report.fails(options) ? ExitCodes.FAULT_FOUND : ExitCodes.OK;
  }

  private ReportRenderer renderer(Report report, RenderOptions render) {
    if (format == ReportFormat.HTML) {
      // the charts' series come from a second streaming pass over the trace (see TraceCharts)
      TraceCharts charts = TraceCharts.collect(trace, report, TraceCharts.Options.defaults());
      return new HtmlReportRenderer(render, charts);
    }
    return format.renderer(render);
  }

  private AnalysisOptions options() {
    try {
      AnalysisOptions.Builder builder = AnalysisOptions.builder();
      if (config != null) {
        AnalysisConfig.apply(config, builder);
      }
      builder.firstFault(firstFault);
      if (mode != null) {
        builder.mode(mode);
      }
      if (failOn == null) {
        // the config's, or the builder's default (warning)
      } else if (failOn.equalsIgnoreCase("never")) {
        builder.neverFail();
      } else {
        builder.failOn(Severity.fromWireName(failOn));
      }
      if (thresholds != null) {
        for (Map.Entry<String, String> entry : thresholds.entrySet()) {
          builder.set(entry.getKey(), parseNumber(entry.getKey(), entry.getValue()));
        }
      }
      setIf(builder, Thresholds.WINDOW.key(), window);
      setIf(builder, Thresholds.UNCHANGED_TOLERANCE.key(), unchangedTolerance);
      setIf(builder, Thresholds.ZERO_FRACTION.key(), zeroFraction);
      setIf(builder, Thresholds.MIN_IMPROVEMENT.key(), minImprovement);
      setIf(builder, Thresholds.PATIENCE.key(), patience);
      setIf(builder, Thresholds.DL_WINDOW.key(), dlWindow);
      setIf(builder, Thresholds.EARLY_STOPPING_PATIENCE.key(), esPatience);
      if (detectors != null) {
        builder.enableOnly(detectors);
      }
      if (disabled != null) {
        for (String id : disabled) {
          builder.disable(id);
        }
      }
      if (decodeThreads != null) {
        builder.decodeThreads(decodeThreads);
      }
      return builder.build();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
  }

  private static void setIf(AnalysisOptions.Builder builder, String key, @Nullable Number value) {
    if (value != null) {
      builder.set(key, value.doubleValue());
    }
  }

  private static double parseNumber(String key, String text) {
    try {
      return Double.parseDouble(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(format(ROOT, "%s must be a number: %s", key, text), e);
    }
  }

  private boolean useColor() {
    if (format != ReportFormat.TEXT) {
      return false;
    }
    return switch (color) {
      case ALWAYS -> true;
      case NEVER -> false;
      case AUTO ->
          output == null
              && System.console() != null
              && System.getenv("NO_COLOR") == null
              && !"dumb".equals(System.getenv("TERM"));
    };
  }
}
