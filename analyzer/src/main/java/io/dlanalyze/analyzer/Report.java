package io.dlanalyze.analyzer;

import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The result of one analysis, as plain data: the verdict, the root cause, the findings in rank
 * order, the replayed Keras baselines and a summary of the trace. Renderers in {@code
 * io.dlanalyze.analyzer.report} lay it out; {@code docs/report-format.md} documents its JSON.
 *
 * @param reportVersion {@link #VERSION}
 * @param mode the rule set that ran
 * @param verdict buggy, healthy or inconclusive
 * @param verdictReason one sentence saying why
 * @param rootCause the best guess at what to fix first, or {@code null} when there is no finding of
 *     severity warning or more
 * @param findings in rank order (index 0 has rank 1)
 * @param baselines the replayed Keras callbacks
 * @param trace what was analysed
 * @param thresholds the effective thresholds, by key
 * @param detectors the ids of the detectors that ran, in registry order
 * @param timing how long it took, or {@code null}
 */
public record Report(
    int reportVersion,
    AnalysisMode mode,
    Verdict verdict,
    String verdictReason,
    @Nullable RootCause rootCause,
    List<Finding> findings,
    List<BaselineResult> baselines,
    TraceSummary trace,
    Map<String, Double> thresholds,
    List<String> detectors,
    @Nullable Timing timing) {
  /** The version of the report format; bumped on incompatible changes to the JSON. */
  public static final int VERSION = 2;

  public Report {
    requireNonNull(mode, "mode is null");
    requireNonNull(verdict, "verdict is null");
    requireNonNull(verdictReason, "verdictReason is null");
    findings = List.copyOf(findings);
    baselines = List.copyOf(baselines);
    requireNonNull(trace, "trace is null");
    thresholds = Collections.unmodifiableMap(new LinkedHashMap<>(thresholds));
    detectors = List.copyOf(detectors);
  }

  /** The top-ranked finding, if any. */
  public Optional<Finding> topFinding() {
    return findings.isEmpty() ? Optional.empty() : Optional.of(findings.get(0));
  }

  /** True when some finding has this severity or more. */
  public boolean hasFindingAtOrAbove(Severity severity) {
    for (Finding finding : findings) {
      if (finding.severity().atLeast(severity)) {
        return true;
      }
    }
    return false;
  }

  /** True when a finding reaches the options' fail-on severity (CLI exit code 3). */
  public boolean fails(AnalysisOptions options) {
    return options.failOn().map(this::hasFindingAtOrAbove).orElse(false);
  }

  /** A copy without timing, for reproducible output. */
  public Report withoutTiming() {
    return new Report(
        reportVersion,
        mode,
        verdict,
        verdictReason,
        rootCause,
        findings,
        baselines,
        trace,
        thresholds,
        detectors,
        null);
  }
}
