package io.dlanalyze.analyzer.report;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The order every output tells a report in: the root cause's finding first, then the other findings
 * grouped by what they explain. The text, Markdown, JSON ({@code story}) and HTML reports, the
 * batch summaries and the {@code top_*} columns of runs.parquet all follow it, so they lead with
 * the same finding.
 *
 * <p>The leading finding is the one the root cause rests on ({@link RootCause#findingRank()});
 * without a root cause tied to a finding, the top-ranked finding. The groups, in this order, each
 * in rank order and each left out when empty:
 *
 * <ol>
 *   <li>{@link Kind#ROOT_CAUSE}: the leading finding;
 *   <li>{@link Kind#EXPLAINED}: findings that start at or after the leading finding's first step
 *       and are not listed as another candidate cause: what the root cause explains;
 *   <li>{@link Kind#CANDIDATE}: the root cause's alternatives, most likely first;
 *   <li>{@link Kind#EARLIER}: findings that start before the leading one and are not candidates:
 *       what the root cause does not explain.
 * </ol>
 *
 * <p>A report with findings but no root cause (only info findings) is one {@link Kind#FINDINGS}
 * group in rank order. Ranks (1-based) stay those of {@link Report#findings()}.
 */
public final class ReportStory {
  /** What a group of findings is to the root cause. */
  public enum Kind {
    ROOT_CAUSE("root_cause", "Root cause"),
    EXPLAINED("explained", "What the root cause explains"),
    CANDIDATE("candidate", "Other candidate causes"),
    EARLIER("earlier", "Earlier, not explained by the root cause"),
    FINDINGS("findings", "Findings");

    private final String wireName;
    private final String title;

    Kind(String wireName, String title) {
      this.wireName = wireName;
      this.title = title;
    }

    /** The name in the JSON report's {@code story}. */
    public String wireName() {
      return wireName;
    }

    /** The heading the reports print. */
    public String title() {
      return title;
    }
  }

  /** Findings of one kind, by rank (1-based), in the order they are told. */
  public record Group(Kind kind, List<Integer> ranks) {
    public Group {
      requireNonNull(kind, "kind is null");
      ranks = List.copyOf(ranks);
      if (ranks.isEmpty()) {
        throw new IllegalArgumentException("a story group holds at least one finding");
      }
    }
  }

  private final Report report;
  private final int leadingRank;
  private final List<Group> groups;

  private ReportStory(Report report, int leadingRank, List<Group> groups) {
    this.report = report;
    this.leadingRank = leadingRank;
    this.groups = List.copyOf(groups);
  }

  /** The story of a report. */
  public static ReportStory of(Report report) {
    requireNonNull(report, "report is null");
    List<Finding> findings = report.findings();
    int n = findings.size();
    if (n == 0) {
      return new ReportStory(report, 0, List.of());
    }
    RootCause root = report.rootCause();
    int leading =
        root != null && root.findingRank() >= 1 && root.findingRank() <= n
            ? root.findingRank()
            : (root != null ? 1 : 0);
    if (root == null || leading == 0) {
      List<Integer> all = new ArrayList<>();
      for (int rank = 1; rank <= n; rank++) {
        all.add(rank);
      }
      return new ReportStory(report, 1, List.of(new Group(Kind.FINDINGS, all)));
    }
    boolean[] placed = new boolean[n + 1];
    placed[leading] = true;
    List<Integer> candidates = new ArrayList<>();
    for (RootCause.Alternative alternative : root.alternatives()) {
      int rank = alternative.findingRank();
      if (rank >= 1 && rank <= n && !placed[rank]) {
        placed[rank] = true;
        candidates.add(rank);
      }
    }
    long start = findings.get(leading - 1).firstStep();
    List<Integer> explained = new ArrayList<>();
    List<Integer> earlier = new ArrayList<>();
    for (int rank = 1; rank <= n; rank++) {
      if (!placed[rank]) {
        (findings.get(rank - 1).firstStep() >= start ? explained : earlier).add(rank);
      }
    }
    List<Group> groups = new ArrayList<>();
    groups.add(new Group(Kind.ROOT_CAUSE, List.of(leading)));
    if (!explained.isEmpty()) {
      groups.add(new Group(Kind.EXPLAINED, explained));
    }
    if (!candidates.isEmpty()) {
      groups.add(new Group(Kind.CANDIDATE, candidates));
    }
    if (!earlier.isEmpty()) {
      groups.add(new Group(Kind.EARLIER, earlier));
    }
    return new ReportStory(report, leading, groups);
  }

  /** The finding every output leads with, if the report has a finding. */
  public Optional<Finding> leading() {
    return leadingRank == 0
        ? Optional.empty()
        : Optional.of(report.findings().get(leadingRank - 1));
  }

  /** The leading finding's rank (1-based), or 0 when the report has no finding. */
  public int leadingRank() {
    return leadingRank;
  }

  /** The groups, in the order they are told; empty when the report has no finding. */
  public List<Group> groups() {
    return groups;
  }

  /** Every finding's rank, in story order. */
  public List<Integer> order() {
    List<Integer> order = new ArrayList<>();
    for (Group group : groups) {
      order.addAll(group.ranks());
    }
    return order;
  }

  /** The finding of a rank (1-based). */
  Finding finding(int rank) {
    return report.findings().get(rank - 1);
  }
}
