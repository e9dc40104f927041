package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Threshold;
import io.dlanalyze.batch.AnalysisSettings;
import io.dlanalyze.cli.eval.EvalFormat;
import io.dlanalyze.cli.eval.EvalRenderer;
import io.dlanalyze.cli.eval.Evaluation;
import io.dlanalyze.cli.eval.Manifest;
import io.dlanalyze.cli.eval.ManifestException;
import io.dlanalyze.cli.eval.Sensitivity;
import io.dlanalyze.cli.eval.SensitivityRenderer;
import io.dlanalyze.trace.AtomicOutput;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
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
          + " of a manifest and scores them against its ground truth: per case, then per split"
          + " (dev, test, all) the detection, localization, symptom and false-alarm rates and the"
          + " pairs fully right, each as k/n with its 95%% Wilson interval, a symptom confusion"
          + " table, the pair figure and false alarms per framework and architecture, dev against"
          + " test, and how many steps earlier than each baseline the first fault was found.",
      "Exits with 4 when some case could not be analysed (its trace missing, unreadable, not a"
          + " regular file): the tables are printed, with the reason in the case's row.",
      "",
      "  dl-analyze eval sample-traces/manifest.json",
      "  dl-analyze eval corpus/manifest.json --split test --per-detector --jobs 2",
      "  dl-analyze eval corpus/manifest.json --split dev --sensitivity --jobs 2",
    })
final class EvalCommand implements Callable<Integer> {
  /** The most traces analysed at once: each holds a row group and two batches in memory. */
  static final int MAX_JOBS = 16;

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
      names = "--split",
      paramLabel = "NAME",
      description = "Only the cases of this split (dev, test).")
  @Nullable String split;

  @Option(
      names = "--framework",
      paramLabel = "NAME",
      description = "Only the cases of this framework (pytorch, keras).")
  @Nullable String framework;

  @Option(
      names = "--per-detector",
      description =
          "Add each split's per-detector table (false alarms on healthy runs, recall on buggy"
              + " ones) to text and Markdown; JSON always has it.")
  boolean perDetector;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "A JSON or YAML file of thresholds, detectors on/off and layer exclusions, as for"
              + " analyze, applied to dl-analyze's default mode (not to the deeplocalize mode or"
              + " the baselines); --set overrides it.")
  Path config;

  @Option(
      names = "--set",
      paramLabel = "KEY=VALUE",
      description =
          "Set a threshold of the default mode by key, as for analyze (see docs/detectors.md):"
              + " scores a candidate threshold on labelled runs before it is adopted.")
  Map<String, String> thresholds;

  @Option(
      names = "--sensitivity",
      paramLabel = "KEY[,KEY...]",
      arity = "0..1",
      split = ",",
      fallbackValue = ALL_THRESHOLDS,
      description =
          "Instead of the tables: score the manifest again with each threshold of the default"
              + " mode (or those named) halved and doubled, one at a time, and print how the"
              + " pairs fully right and the false alarms move, and which cases changed. Run it on"
              + " the split you tune on (--split dev).")
  List<String> sensitivity;

  /** What a bare {@code --sensitivity} stands for: every threshold of the default mode. */
  static final String ALL_THRESHOLDS = "*";

  @Option(
      names = {"-j", "--jobs"},
      paramLabel = "N",
      description = "Analyse N traces at a time, 1 to 16 (default: 1).")
  int jobs = 1;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "FILE",
      description = "Write the tables to FILE (atomically) instead of standard output.")
  @Nullable Path output;

  @Override
  public Integer call() {
    if (output != null && OutputGuard.overwrites(manifest, output)) {
      throw new ParameterException(
          spec.commandLine(),
          format(ROOT, "refusing to overwrite the manifest with the table: %s", output));
    }
    if (jobs < 1 || jobs > MAX_JOBS) {
      throw new ParameterException(
          spec.commandLine(), format(ROOT, "--jobs must be 1 to %d: got %d", MAX_JOBS, jobs));
    }
    Manifest parsed;
    try {
      parsed = Manifest.read(manifest);
    } catch (ManifestException e) {
      throw new CliException(ExitCodes.BAD_INPUT, e.getMessage(), e);
    }
    requireSome("--split", split, parsed, Manifest.Case::split);
    requireSome("--framework", framework, parsed, Manifest.Case::framework);
    Evaluation.Selection selection = new Evaluation.Selection(split, framework);
    Evaluation.Result result;
    String text;
    if (sensitivity == null) {
      result = new Evaluation(new Analyzer(), options()).run(parsed, selection, jobs);
      text = EvalRenderer.render(result, format, perDetector);
    } else {
      Sensitivity varied = new Sensitivity(new Analyzer(), options());
      List<String> keys = new ArrayList<>(sensitivity);
      keys.remove(ALL_THRESHOLDS);
      List<Threshold> thresholds;
      try {
        thresholds = varied.thresholds(keys);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage(), e);
      }
      Sensitivity.Result sensitivityResult = varied.run(parsed, selection, jobs, thresholds);
      result = sensitivityResult.base();
      text = SensitivityRenderer.render(sensitivityResult, format);
    }
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

  /** The default mode's options: the config file's, then {@code --set}, else the defaults. */
  private AnalysisOptions options() {
    try {
      Map<String, Double> values = new LinkedHashMap<>();
      if (thresholds != null) {
        for (Map.Entry<String, String> entry : thresholds.entrySet()) {
          values.put(entry.getKey(), number(entry.getKey(), entry.getValue()));
        }
      }
      return new AnalysisSettings(
              AnalysisMode.DEFAULT,
              values,
              null,
              List.of(),
              config == null ? null : AnalysisSettings.ConfigFile.read(config))
          .options();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
  }

  private static double number(String key, String text) {
    try {
      return Double.parseDouble(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(format(ROOT, "%s must be a number: %s", key, text), e);
    }
  }

  /** A filter that keeps no case is a usage error naming the values the manifest has. */
  private void requireSome(
      String option,
      @Nullable String value,
      Manifest parsed,
      Function<Manifest.Case, String> label) {
    if (value == null) {
      return;
    }
    TreeSet<String> present = new TreeSet<>();
    for (Manifest.Case c : parsed.cases()) {
      String own = label.apply(c);
      if (value.equals(own)) {
        return;
      }
      if (own != null) {
        present.add(own);
      }
    }
    throw new ParameterException(
        spec.commandLine(),
        format(
            ROOT,
            "%s %s: no case of %s has it (it has: %s)",
            option,
            value,
            manifest,
            listed(present)));
  }

  /** At most 10 values, each cut to 60 characters, and how many more there are. */
  private static String listed(TreeSet<String> values) {
    if (values.isEmpty()) {
      return "none";
    }
    List<String> shown = new ArrayList<>();
    for (String value : values) {
      if (shown.size() == 10) {
        shown.add(format(ROOT, "and %d more", values.size() - 10));
        break;
      }
      shown.add(value.length() <= 60 ? value : value.substring(0, 60) + "...");
    }
    return String.join(", ", shown);
  }

  static final class FormatConverter implements picocli.CommandLine.ITypeConverter<EvalFormat> {
    @Override
    public EvalFormat convert(String value) {
      return EvalFormat.fromWireName(value);
    }
  }
}
