package io.dlanalyze.batch;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import java.io.Serializable;

/**
 * The analysis a batch runs on every trace. Serializable, so the Spark job ships it to its tasks
 * and each task builds the same {@link AnalysisOptions}.
 *
 * @param mode the rule set
 */
public record AnalysisSettings(AnalysisMode mode) implements Serializable {
  private static final long serialVersionUID = 1L;

  public AnalysisSettings {
    requireNonNull(mode, "mode is null");
  }

  /** The default mode. */
  public static AnalysisSettings defaults() {
    return new AnalysisSettings(AnalysisMode.DEFAULT);
  }

  /** The analyzer options: this mode, every detector, default thresholds. */
  public AnalysisOptions options() {
    return AnalysisOptions.builder().mode(mode).build();
  }
}
