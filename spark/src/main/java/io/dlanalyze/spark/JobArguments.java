package io.dlanalyze.spark;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.batch.AnalysisSettings;
import io.dlanalyze.batch.SummaryFormat;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Spark job's command line, the same options as {@code dl-analyze batch} where they apply:
 * {@code PATH... --out DIR [--force] [--mode MODE] [--format FORMAT] [--config FILE] [--set
 * KEY=VALUE]... [--detectors ID,...] [--disable ID,...]}. Paths and {@code --out} are Hadoop paths
 * or URIs ({@code hdfs://nn/runs}, {@code s3a://bucket/runs}, {@code file:/data/runs}, or a path on
 * the default file system); {@code --config} is a file on the driver's local file system (with
 * {@code spark-submit --files} in cluster mode), read once and shipped to the tasks.
 */
record JobArguments(
    List<String> paths,
    String out,
    AnalysisSettings settings,
    boolean force,
    SummaryFormat summaryFormat) {
  static final String USAGE =
      "usage: SparkBatchJob PATH... --out DIR [--force] [--mode default|deeplocalize] [--format"
          + " text|json|markdown|html] [--config FILE] [--set KEY=VALUE]... [--detectors ID,...]"
          + " [--disable ID,...]";

  JobArguments {
    paths = List.copyOf(paths);
    requireNonNull(out, "out is null");
    requireNonNull(settings, "settings is null");
    requireNonNull(summaryFormat, "summaryFormat is null");
    if (paths.isEmpty()) {
      throw new IllegalArgumentException("no PATH given; " + USAGE);
    }
  }

  /**
   * Parses a command line.
   *
   * @throws IllegalArgumentException naming the bad argument, with the usage
   */
  static JobArguments parse(String... args) {
    List<String> paths = new ArrayList<>();
    String out = null;
    boolean force = false;
    AnalysisMode mode = null;
    AnalysisSettings.ConfigFile config = null;
    SummaryFormat summary = SummaryFormat.TEXT;
    Map<String, Double> thresholds = new LinkedHashMap<>();
    List<String> enabled = null;
    List<String> disabled = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      switch (arg) {
        case "--out" -> out = value(args, ++i, arg);
        case "--force" -> force = true;
        case "--mode" -> mode = AnalysisMode.fromWireName(value(args, ++i, arg));
        case "--format" -> summary = SummaryFormat.fromWireName(value(args, ++i, arg));
        case "--config" ->
            config = AnalysisSettings.ConfigFile.read(Path.of(value(args, ++i, arg)));
        case "--set" -> {
          String pair = value(args, ++i, arg);
          int eq = pair.indexOf('=');
          if (eq < 1) {
            throw new IllegalArgumentException(format(ROOT, "--set expects KEY=VALUE: %s", pair));
          }
          try {
            thresholds.put(
                pair.substring(0, eq), Double.parseDouble(pair.substring(eq + 1).trim()));
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                format(ROOT, "%s must be a number: %s", pair.substring(0, eq), pair), e);
          }
        }
        case "--detectors" -> enabled = List.of(value(args, ++i, arg).split(","));
        case "--disable" -> disabled.addAll(List.of(value(args, ++i, arg).split(",")));
        default -> {
          if (arg.startsWith("--")) {
            throw new IllegalArgumentException(format(ROOT, "unknown option: %s; %s", arg, USAGE));
          }
          paths.add(arg);
        }
      }
    }
    if (out == null) {
      throw new IllegalArgumentException("--out is required; " + USAGE);
    }
    return new JobArguments(
        paths,
        out,
        new AnalysisSettings(mode, thresholds, enabled, disabled, config),
        force,
        summary);
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) {
      throw new IllegalArgumentException(format(ROOT, "%s needs a value; %s", option, USAGE));
    }
    return args[i];
  }
}
