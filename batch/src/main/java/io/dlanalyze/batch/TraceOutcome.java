package io.dlanalyze.batch;

import static java.util.Objects.requireNonNull;

import java.io.Serializable;
import java.util.List;

/**
 * What one trace came to in this run: analysed now, or skipped because it is unchanged (then the
 * rows are the previous run's).
 *
 * @param skipped true when the trace was not analysed in this run
 * @param run the trace's runs row
 * @param findings the trace's findings rows in rank order
 */
public record TraceOutcome(boolean skipped, RunRow run, List<FindingRow> findings)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  public TraceOutcome {
    requireNonNull(run, "run is null");
    findings = List.copyOf(findings);
  }

  public static TraceOutcome analyzed(TraceAnalysis.Result result) {
    return new TraceOutcome(false, result.run(), result.findings());
  }

  public static TraceOutcome skipped(RunRow previous, List<FindingRow> findings) {
    return new TraceOutcome(true, previous, findings);
  }

  public String path() {
    return run.path();
  }
}
