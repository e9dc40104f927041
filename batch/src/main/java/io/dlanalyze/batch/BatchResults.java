package io.dlanalyze.batch;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The results of a batch: the runs and findings tables as they are after this run (every trace
 * found now, analysed now or carried over; traces no longer found are dropped), and the counts.
 */
public final class BatchResults {
  private final List<RunRow> runs;
  private final List<FindingRow> findings;
  private final Counts counts;
  private final String config;

  /**
   * The counts a summary reports.
   *
   * @param traces traces found now (= rows in the runs table)
   * @param analyzed traces analysed in this run
   * @param skipped traces skipped because they are unchanged since their last analysis
   * @param removed traces of the previous table that were not found again (dropped)
   * @param newErrors traces analysed in this run that could not be read
   * @param healthy rows with verdict healthy
   * @param buggy rows with verdict buggy
   * @param inconclusive rows with verdict inconclusive
   * @param errors rows with status error (this run's and carried-over ones)
   * @param findings rows in the findings table
   * @param analysisMillis the sum of this run's per-trace analysis times
   * @param elapsedMillis the wall time of the whole run (set by the runner; 0 when unknown)
   */
  public record Counts(
      int traces,
      int analyzed,
      int skipped,
      int removed,
      int newErrors,
      int healthy,
      int buggy,
      int inconclusive,
      int errors,
      int findings,
      long analysisMillis,
      long elapsedMillis) {}

  private BatchResults(List<RunRow> runs, List<FindingRow> findings, Counts counts, String config) {
    this.runs = List.copyOf(runs);
    this.findings = List.copyOf(findings);
    this.counts = counts;
    this.config = config;
  }

  /**
   * Assembles the tables from this run's outcomes (one per trace found, in any order) and the
   * previous results (to count the removed traces).
   */
  public static BatchResults assemble(
      List<TraceOutcome> outcomes, PreviousResults previous, String config, long elapsedMillis) {
    requireNonNull(config, "config is null");
    List<TraceOutcome> sorted = new ArrayList<>(outcomes);
    sorted.sort(Comparator.comparing(TraceOutcome::path));
    List<RunRow> runs = new ArrayList<>(sorted.size());
    List<FindingRow> findings = new ArrayList<>();
    Set<String> found = new HashSet<>();
    int analyzed = 0;
    int newErrors = 0;
    int healthy = 0;
    int buggy = 0;
    int inconclusive = 0;
    int errors = 0;
    long analysisMillis = 0;
    for (TraceOutcome outcome : sorted) {
      if (!found.add(outcome.path())) {
        throw new IllegalArgumentException("trace listed twice: " + outcome.path());
      }
      RunRow run = outcome.run();
      runs.add(run);
      findings.addAll(outcome.findings());
      if (!outcome.skipped()) {
        analyzed++;
        analysisMillis += run.analysisMillis();
        if (run.status() == RunStatus.ERROR) {
          newErrors++;
        }
      }
      if (run.status() == RunStatus.ERROR) {
        errors++;
      } else {
        switch (requireNonNull(run.verdict(), "a run without error has a verdict")) {
          case "healthy" -> healthy++;
          case "buggy" -> buggy++;
          default -> inconclusive++;
        }
      }
    }
    int removed = 0;
    for (String path : previous.paths()) {
      if (!found.contains(path)) {
        removed++;
      }
    }
    Counts counts =
        new Counts(
            runs.size(),
            analyzed,
            runs.size() - analyzed,
            removed,
            newErrors,
            healthy,
            buggy,
            inconclusive,
            errors,
            findings.size(),
            analysisMillis,
            elapsedMillis);
    return new BatchResults(runs, findings, counts, config);
  }

  /** The runs table, sorted by path. */
  public List<RunRow> runs() {
    return runs;
  }

  /** The findings table, sorted by path, then rank. */
  public List<FindingRow> findings() {
    return findings;
  }

  public Counts counts() {
    return counts;
  }

  /** The analysis configuration of this run. */
  public String config() {
    return config;
  }

  /** Unreadable over buggy over healthy. */
  public BatchHealth health() {
    if (counts.errors() > 0) {
      return BatchHealth.UNREADABLE;
    }
    return counts.buggy() > 0 ? BatchHealth.BUGGY : BatchHealth.HEALTHY;
  }
}
