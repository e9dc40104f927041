package io.dlanalyze.batch;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * The analysis a batch runs on every trace. Serializable, so the Spark job ships it to its tasks
 * and each task builds the same {@link AnalysisOptions}.
 *
 * @param mode the rule set
 * @param thresholds thresholds set by key (the others keep their defaults)
 * @param enabledDetectors run only these detectors, or {@code null} for all of the mode's
 * @param disabledDetectors do not run these detectors
 */
public record AnalysisSettings(
    AnalysisMode mode,
    Map<String, Double> thresholds,
    List<String> enabledDetectors,
    List<String> disabledDetectors)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  public AnalysisSettings {
    requireNonNull(mode, "mode is null");
    thresholds = Map.copyOf(thresholds);
    enabledDetectors = enabledDetectors == null ? null : List.copyOf(enabledDetectors);
    disabledDetectors = List.copyOf(disabledDetectors);
    options(mode, thresholds, enabledDetectors, disabledDetectors);
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
   * The analyzer options. Read-ahead is off: a batch already runs one analysis per core, so a
   * second decoding thread per analysis would only oversubscribe the cores and double the reader
   * batches held per job. (It does not change any result.)
   *
   * @throws IllegalArgumentException (at construction) for an unknown threshold key, a value out
   *     of range or a detector id that is not kebab-case
   */
  public AnalysisOptions options() {
    return options(mode, thresholds, enabledDetectors, disabledDetectors);
  }

  private static AnalysisOptions options(
      AnalysisMode mode, Map<String, Double> thresholds, List<String> enabled, List<String> disabled) {
    AnalysisOptions.Builder builder = AnalysisOptions.builder().mode(mode).readAhead(false);
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
