package io.dlanalyze.batch;

import static java.util.Objects.requireNonNull;

import java.io.Serializable;
import org.jspecify.annotations.Nullable;

/**
 * One row of the runs table: one trace, its fingerprint, and the outcome of its latest analysis.
 * {@code docs/nightly.md} documents each column; {@link ResultsTables#RUNS} is the schema. Fields
 * that do not apply (the verdict of a trace that could not be read, the top finding of a run
 * without findings) are {@code null}.
 *
 * @param path the trace: an absolute local path, or a URI on other file systems
 * @param format the trace format's display name, or {@code null} when it was not recognised
 * @param fingerprint size, mtime and content hash when analysed
 * @param config the analysis configuration ({@link TraceAnalysis#config()})
 * @param status ok or error
 * @param errorCode for errors: the lower-case {@link io.dlanalyze.trace.ErrorCode}, or {@code
 *     internal}
 * @param error for errors: the one-line message
 * @param analysisMillis wall time of the analysis (timing: differs from run to run)
 * @param analyzedAtMillis when the analysis finished, ms since the epoch (timing)
 */
public record RunRow(
    String path,
    @Nullable String format,
    Fingerprint fingerprint,
    String config,
    RunStatus status,
    @Nullable String errorCode,
    @Nullable String error,
    @Nullable String verdict,
    @Nullable String verdictReason,
    @Nullable String rootScope,
    @Nullable Integer rootLayerIndex,
    @Nullable String rootLayer,
    @Nullable String rootCause,
    @Nullable String suggestedFix,
    @Nullable String topDetector,
    @Nullable String topSymptom,
    @Nullable String topSeverity,
    @Nullable Integer topLayerIndex,
    @Nullable String topLayer,
    @Nullable String topPhase,
    @Nullable Long topFirstStep,
    int findings,
    int findingsInfo,
    int findingsWarning,
    int findingsError,
    int findingsCritical,
    @Nullable Long rows,
    @Nullable Long steps,
    @Nullable Boolean truncated,
    @Nullable Integer warnings,
    @Nullable String runId,
    long analysisMillis,
    long analyzedAtMillis)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  public RunRow {
    requireNonNull(path, "path is null");
    requireNonNull(fingerprint, "fingerprint is null");
    requireNonNull(config, "config is null");
    requireNonNull(status, "status is null");
    if (status == RunStatus.ERROR) {
      requireNonNull(error, "error is null");
      requireNonNull(errorCode, "errorCode is null");
    } else {
      requireNonNull(verdict, "verdict is null");
    }
  }

  /** A row for a trace that could not be analysed. */
  public static RunRow error(
      String path,
      @Nullable String format,
      Fingerprint fingerprint,
      String config,
      String errorCode,
      String error,
      long analysisMillis,
      long analyzedAtMillis) {
    return new RunRow(
        path,
        format,
        fingerprint,
        config,
        RunStatus.ERROR,
        errorCode,
        error,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        0,
        0,
        0,
        0,
        0,
        null,
        null,
        null,
        null,
        null,
        analysisMillis,
        analyzedAtMillis);
  }

  /** True for a row whose verdict is buggy. */
  public boolean isBuggy() {
    return "buggy".equals(verdict);
  }

  /** This row with both timing columns set to 0, for comparing runs. */
  public RunRow withoutTiming() {
    return new RunRow(
        path,
        format,
        fingerprint,
        config,
        status,
        errorCode,
        error,
        verdict,
        verdictReason,
        rootScope,
        rootLayerIndex,
        rootLayer,
        rootCause,
        suggestedFix,
        topDetector,
        topSymptom,
        topSeverity,
        topLayerIndex,
        topLayer,
        topPhase,
        topFirstStep,
        findings,
        findingsInfo,
        findingsWarning,
        findingsError,
        findingsCritical,
        rows,
        steps,
        truncated,
        warnings,
        runId,
        0,
        0);
  }
}
