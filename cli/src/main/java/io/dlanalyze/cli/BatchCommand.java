package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.batch.AnalysisSettings;
import io.dlanalyze.batch.BatchListener;
import io.dlanalyze.batch.BatchResults;
import io.dlanalyze.batch.BatchRunner;
import io.dlanalyze.batch.LocalDiscovery;
import io.dlanalyze.batch.OutputLock;
import io.dlanalyze.batch.PreviousResults;
import io.dlanalyze.batch.ResultsOutput;
import io.dlanalyze.batch.SummaryFormat;
import io.dlanalyze.batch.TraceAnalysis;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
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

/**
 * {@code dl-analyze batch PATH... --out DIR}: the nightly job on one machine. Finds the traces,
 * analyses the new and changed ones in parallel, writes the results tables and summaries, prints
 * the summary, and exits with the state of the whole results table.
 */
@Command(
    name = "batch",
    mixinStandardHelpOptions = true,
    versionProvider = ManifestVersionProvider.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Analyses every trace under the given paths, in parallel, and writes into --out: runs.parquet"
          + " (one row per trace), findings.parquet (one row per finding) and"
          + " summary.txt/.json/.md/.html; then prints the summary.",
      "A trace already in --out/runs.parquet is skipped while its fingerprint (size, mtime, SHA-256"
          + " of its first and last 64 KiB) and the analysis settings (with the --config file's"
          + " text) are unchanged; traces no longer found are dropped. A trace that cannot be read"
          + " is a row with status error and never stops the batch, and so is a directory that"
          + " cannot be listed and a path that is not a regular file (a named pipe, a device).",
      "One batch at a time writes into --out: it holds a lock on --out/.dl-analyze.lock, and a"
          + " second batch on the same --out is refused (exit 5) while the first runs.",
      "Exit code, over every trace in the results (skipped ones too): 4 if some trace could not be"
          + " read, else 3 if some trace is buggy, else 0. See docs/nightly.md.",
    })
final class BatchCommand implements Callable<Integer> {
  /** How progress is shown on standard error. */
  enum Progress {
    AUTO,
    BAR,
    LINES,
    NONE
  }

  @Spec CommandSpec spec;

  @Parameters(
      arity = "1..*",
      paramLabel = "PATH",
      description =
          "Trace files, directories (searched recursively; a *.parquet directory, a directory"
              + " of part-N.arrows files and a TensorBoard run directory are one trace each) or"
              + " quoted glob patterns ('/data/runs/**.arrows').")
  List<String> paths;

  @Option(
      names = "--out",
      required = true,
      paramLabel = "DIR",
      description = "The results directory (created if missing); never searched for traces.")
  Path out;

  @Option(
      names = {"-j", "--jobs"},
      paramLabel = "N",
      description = "Traces analysed at once (default: one per core, here ${DEFAULT-VALUE}).")
  int jobs = BatchRunner.defaultJobs();

  @Option(names = "--force", description = "Analyse every trace again, changed or not.")
  boolean force;

  @Option(
      names = "--mode",
      paramLabel = "MODE",
      description =
          "default or deeplocalize, as for analyze (default: the config's, else default).")
  @Nullable AnalysisMode mode;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "A JSON or YAML file of thresholds, detectors on/off and layer exclusions, as for"
              + " analyze, applied to every trace (its fail-on has no effect here); options on the"
              + " command line override it. A changed file re-analyses every trace.")
  @Nullable Path config;

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      defaultValue = "text",
      description =
          "The summary printed on standard output: text, json, markdown or html (all are"
              + " written to --out; default: ${DEFAULT-VALUE}).")
  SummaryFormat format;

  @Option(
      names = "--set",
      paramLabel = "KEY=VALUE",
      description = "Set a threshold by key, as for analyze (see docs/detectors.md).")
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
      names = "--progress",
      paramLabel = "WHEN",
      defaultValue = "auto",
      description =
          "Progress on standard error: auto (a bar on a terminal, one line per trace"
              + " otherwise), bar, lines or none (default: ${DEFAULT-VALUE}).")
  Progress progress;

  @Override
  public Integer call() {
    if (jobs < 1) {
      throw new ParameterException(
          spec.commandLine(), format(ROOT, "--jobs must be positive: %s", jobs));
    }
    AnalysisSettings settings = settings();
    PrintWriter err = spec.commandLine().getErr();
    Path outDir = out.toAbsolutePath().normalize();
    if (Files.exists(outDir) && !Files.isDirectory(outDir)) {
      throw new CliException(
          ExitCodes.OUTPUT_ERROR, format(ROOT, "%s: --out must be a directory", outDir));
    }
    try (OutputLock lock = lock(outDir)) {
      return run(settings, outDir, err);
    } catch (IOException e) {
      // only the lock's release can fail here: the results are written
      throw new CliException(
          ExitCodes.OUTPUT_ERROR,
          format(ROOT, "%s: cannot release the lock: %s", outDir, e.getMessage()),
          e);
    }
  }

  /** The output directory's lock: one batch writes into a directory at a time. */
  private static OutputLock lock(Path outDir) {
    try {
      return OutputLock.acquire(outDir);
    } catch (OutputLock.BusyException e) {
      throw new CliException(ExitCodes.OUTPUT_ERROR, outDir + ": " + e.getMessage(), e);
    } catch (IOException e) {
      throw new CliException(
          ExitCodes.OUTPUT_ERROR,
          format(
              ROOT, "%s: cannot create the results directory or its lock: %s", outDir, reason(e)),
          e);
    }
  }

  private static String reason(IOException e) {
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    String reason = e instanceof java.nio.file.FileSystemException fse ? fse.getReason() : null;
    return reason != null ? reason : String.valueOf(e.getMessage());
  }

  private int run(AnalysisSettings settings, Path outDir, PrintWriter err) {
    LocalDiscovery.Found found = LocalDiscovery.find(paths, outDir);
    for (String note : found.notes()) {
      err.println("dl-analyze: note: " + note);
    }
    PreviousResults previous = previous(outDir, err);
    BatchResults results;
    try {
      results =
          new BatchRunner(settings, jobs, force)
              .run(found.traces(), found.unlisted(), previous, listener(err));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliException(ExitCodes.SOFTWARE, "interrupted", e);
    }
    try {
      ResultsOutput.writeLocal(outDir, results);
    } catch (IOException e) {
      throw new CliException(
          ExitCodes.OUTPUT_ERROR,
          format(ROOT, "%s: cannot write the results: %s", outDir, e.getMessage()),
          e);
    }
    PrintWriter stdout = spec.commandLine().getOut();
    stdout.print(format.render(results, outDir.toString()));
    stdout.flush();
    err.println(
        format(
            ROOT,
            "dl-analyze: wrote %s to %s",
            String.join(", ", ResultsOutput.fileNames()),
            outDir));
    err.flush();
    return switch (results.health()) {
      case HEALTHY -> ExitCodes.OK;
      case BUGGY -> ExitCodes.FAULT_FOUND;
      case UNREADABLE -> ExitCodes.BAD_INPUT;
    };
  }

  private AnalysisSettings settings() {
    try {
      Map<String, Double> values = new LinkedHashMap<>();
      if (thresholds != null) {
        for (Map.Entry<String, String> entry : thresholds.entrySet()) {
          values.put(entry.getKey(), number(entry.getKey(), entry.getValue()));
        }
      }
      AnalysisSettings settings =
          new AnalysisSettings(
              mode,
              values,
              detectors,
              disabled == null ? List.of() : disabled,
              config == null ? null : AnalysisSettings.ConfigFile.read(config));
      new TraceAnalysis(settings);
      return settings;
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

  /** The previous results, or none (with a note) when the tables cannot be read. */
  private static PreviousResults previous(Path outDir, PrintWriter err) {
    try {
      return PreviousResults.readLocal(outDir);
    } catch (IOException e) {
      err.println(
          "dl-analyze: note: cannot read the previous results ("
              + e.getMessage()
              + "); every trace is analysed again");
      return PreviousResults.none();
    }
  }

  private BatchListener listener(PrintWriter err) {
    Progress mode = progress;
    if (mode == Progress.AUTO) {
      mode = System.console() != null ? Progress.BAR : Progress.LINES;
    }
    return switch (mode) {
      case BAR -> new BatchProgress.Bar(System.err);
      case LINES -> new BatchProgress.Lines(err);
      case NONE, AUTO -> BatchListener.none();
    };
  }
}
