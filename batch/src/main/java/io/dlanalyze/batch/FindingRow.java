package io.dlanalyze.batch;

import static java.util.Objects.requireNonNull;

import java.io.Serializable;
import org.jspecify.annotations.Nullable;

/**
 * One row of the findings table: one finding of one trace's latest analysis, in the report's rank
 * order. {@link ResultsTables#FINDINGS} is the schema; {@code docs/nightly.md} documents it.
 *
 * @param path the trace, as in the runs table
 * @param rank 1 for the top finding
 * @param layerIndex -1 for model-level findings
 * @param evidence the finding's evidence as a JSON object (non-finite numbers as strings)
 * @param consequences how many other places the symptom spread to
 */
public record FindingRow(
    String path,
    int rank,
    String detector,
    String symptom,
    String severity,
    int layerIndex,
    String layer,
    @Nullable String layerType,
    String phase,
    long firstStep,
    long lastStep,
    int epoch,
    int batch,
    long occurrences,
    int consequences,
    String message,
    @Nullable String suggestedFix,
    String evidence)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  public FindingRow {
    requireNonNull(path, "path is null");
    requireNonNull(detector, "detector is null");
    requireNonNull(symptom, "symptom is null");
    requireNonNull(severity, "severity is null");
    requireNonNull(phase, "phase is null");
    requireNonNull(message, "message is null");
    requireNonNull(evidence, "evidence is null");
  }
}
