package io.dlanalyze.batch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The results of the previous run, read from the output directory: each trace's row and findings by
 * path. A trace whose fingerprint and configuration match its previous row is skipped and its
 * previous rows are carried over.
 */
public final class PreviousResults {
  private final Map<String, RunRow> runs;
  private final Map<String, List<FindingRow>> findings;

  private PreviousResults(Map<String, RunRow> runs, Map<String, List<FindingRow>> findings) {
    this.runs = runs;
    this.findings = findings;
  }

  /** No previous results (first run, or {@code --force}). */
  public static PreviousResults none() {
    return new PreviousResults(new TreeMap<>(), new TreeMap<>());
  }

  /** The previous results from the two tables' rows. */
  public static PreviousResults of(List<RunRow> runs, List<FindingRow> findings) {
    Map<String, RunRow> byPath = new TreeMap<>();
    for (RunRow run : runs) {
      byPath.put(run.path(), run);
    }
    Map<String, List<FindingRow>> findingsByPath = new TreeMap<>();
    for (FindingRow finding : findings) {
      findingsByPath.computeIfAbsent(finding.path(), p -> new ArrayList<>()).add(finding);
    }
    return new PreviousResults(byPath, findingsByPath);
  }

  /** The previous results from the two tables' files. */
  public static PreviousResults read(byte[] runs, byte[] findings) throws IOException {
    return of(
        ResultsTables.readRuns(runs, ResultsTables.RUNS_FILE),
        ResultsTables.readFindings(findings, ResultsTables.FINDINGS_FILE));
  }

  /**
   * The previous results in a local output directory: none when it holds no runs table.
   *
   * @throws IOException when a table exists but cannot be read
   */
  public static PreviousResults readLocal(Path outDirectory) throws IOException {
    Path runs = outDirectory.resolve(ResultsTables.RUNS_FILE);
    if (!Files.isRegularFile(runs)) {
      return none();
    }
    Path findings = outDirectory.resolve(ResultsTables.FINDINGS_FILE);
    byte[] findingBytes =
        Files.isRegularFile(findings)
            ? Files.readAllBytes(findings)
            : ResultsTables.writeFindings(List.of());
    return read(Files.readAllBytes(runs), findingBytes);
  }

  public int size() {
    return runs.size();
  }

  /** The previous row of a trace, or {@code null}. */
  public @Nullable RunRow run(String path) {
    return runs.get(path);
  }

  /** The previous findings of a trace, in rank order (empty when none). */
  public List<FindingRow> findings(String path) {
    return List.copyOf(findings.getOrDefault(path, List.of()));
  }

  /** Every previous path, sorted. */
  public List<String> paths() {
    return new ArrayList<>(runs.keySet());
  }

  /**
   * True when the trace was analysed before, with the same configuration, and has not changed
   * since.
   */
  public boolean unchanged(String path, Fingerprint fingerprint, String config) {
    RunRow previous = runs.get(path);
    return previous != null
        && previous.config().equals(config)
        && fingerprint.sameAs(previous.fingerprint());
  }
}
