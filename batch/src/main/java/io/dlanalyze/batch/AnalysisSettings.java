package io.dlanalyze.batch;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisConfig;
import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The analysis a batch runs on every trace. Serializable, so the Spark job ships it to its tasks
 * and each task builds the same {@link AnalysisOptions}.
 *
 * <p>The settings apply in the order {@code dl-analyze analyze} applies them: the config file
 * first, then the mode, the thresholds and the detectors given on the command line.
 *
 * @param mode the rule set, or {@code null} for the config file's, else the default mode
 * @param thresholds thresholds set by key (the others keep the config file's or their defaults)
 * @param enabledDetectors run only these detectors, or {@code null} for all of the mode's (or the
 *     config file's choice)
 * @param disabledDetectors do not run these detectors
 * @param config the config file ({@code --config}), or {@code null}
 */
public record AnalysisSettings(
    @Nullable AnalysisMode mode,
    Map<String, Double> thresholds,
    @Nullable List<String> enabledDetectors,
    List<String> disabledDetectors,
    @Nullable ConfigFile config)
    implements Serializable {
  private static final long serialVersionUID = 2L;

  public AnalysisSettings {
    thresholds = Map.copyOf(thresholds);
    enabledDetectors = enabledDetectors == null ? null : List.copyOf(enabledDetectors);
    disabledDetectors = List.copyOf(disabledDetectors);
    options(mode, thresholds, enabledDetectors, disabledDetectors, config);
  }

  /** Settings without a config file. */
  public AnalysisSettings(
      AnalysisMode mode,
      Map<String, Double> thresholds,
      @Nullable List<String> enabledDetectors,
      List<String> disabledDetectors) {
    this(
        requireNonNull(mode, "mode is null"),
        thresholds,
        enabledDetectors,
        disabledDetectors,
        null);
  }

  /** This mode, every detector, default thresholds. */
  public AnalysisSettings(AnalysisMode mode) {
    this(mode, Map.of(), null, List.of());
  }

  /** The default mode. */
  public static AnalysisSettings defaults() {
    return new AnalysisSettings(AnalysisMode.DEFAULT);
  }

  /**
   * A config file's name and text, read once where the batch starts: every analysis (every Spark
   * task too) applies the same text, and its hash is part of the runs table's configuration, so a
   * changed file re-analyses every trace.
   *
   * @param name the file as given, for error messages; its extension picks YAML or JSON
   * @param content the file's text
   */
  public record ConfigFile(String name, String content) implements Serializable {
    private static final long serialVersionUID = 1L;

    public ConfigFile {
      requireNonNull(name, "name is null");
      requireNonNull(content, "content is null");
    }

    /**
     * Reads a config file.
     *
     * @throws IllegalArgumentException naming the file when it is missing or cannot be read
     */
    public static ConfigFile read(Path file) {
      return new ConfigFile(file.toString(), AnalysisConfig.read(file));
    }
  }

  /**
   * The analyzer options. Read-ahead is off: a batch already runs one analysis per core, so a
   * second decoding thread per analysis would only oversubscribe the cores and double the reader
   * batches held per job. (It does not change any result.) The config file's {@code fail-on} has no
   * effect on a batch: its exit code comes from the verdicts.
   *
   * @throws IllegalArgumentException (at construction) for an unknown threshold key, a value out of
   *     range, a detector id that is not kebab-case, or a config file that is not valid (naming the
   *     file and the key)
   */
  public AnalysisOptions options() {
    return options(mode, thresholds, enabledDetectors, disabledDetectors, config);
  }

  private static AnalysisOptions options(
      @Nullable AnalysisMode mode,
      Map<String, Double> thresholds,
      @Nullable List<String> enabled,
      List<String> disabled,
      @Nullable ConfigFile config) {
    AnalysisOptions.Builder builder = AnalysisOptions.builder();
    if (config != null) {
      AnalysisConfig.apply(config.name(), config.content(), builder);
    }
    if (mode != null) {
      builder.mode(mode);
    }
    // a batch analyses several traces at once, one thread each: no read-ahead or decode threads
    builder.readAhead(false);
    builder.decodeThreads(1);
    for (Map.Entry<String, Double> entry : thresholds.entrySet()) {
      builder.set(entry.getKey(), entry.getValue());
    }
    if (enabled != null) {
      builder.enableOnly(enabled);
    }
    for (String id : disabled) {
      builder.disable(id);
    }
    return builder.build();
  }
}
