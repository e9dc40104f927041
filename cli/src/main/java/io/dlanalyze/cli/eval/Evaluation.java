package io.dlanalyze.cli.eval;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.trace.InputFiles;
import io.dlanalyze.trace.TraceFormatException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Runs dl-analyze (default and deeplocalize modes) and the replayed Keras baselines on every trace
 * of a {@link Manifest} and scores them against its ground truth, the way the DeepLocalize paper
 * scores its 40 cases: detected, correctly localized, right symptom, false alarms on the fixed
 * twins, and how many steps earlier than each baseline the fault was found.
 */
public final class Evaluation {
  /**
   * What one tool said about one case.
   *
   * @param detected the tool flagged the run (verdict buggy; a baseline stopped training)
   * @param step the step it fired at: the first step of the root-cause finding, or the step a
   *     baseline stopped after; -1 when it did not fire
   * @param verdict the analyzer's verdict, or "stopped"/"never"/"not_applicable" for a baseline
   * @param location where the analyzer put the root cause, or {@code null}
   * @param symptom the symptom class of the root-cause finding, or {@code null}
   * @param localized the root cause is the expected location ({@code null} when not applicable: a
   *     healthy case, a baseline, nothing detected)
   * @param symptomRight the symptom is the expected one or an acceptable one ({@code null} when not
   *     applicable)
   */
  public record Outcome(
      boolean detected,
      long step,
      String verdict,
      String location,
      String symptom,
      Boolean localized,
      Boolean symptomRight) {
    public Outcome {
      requireNonNull(verdict, "verdict is null");
    }
  }

  /**
   * The results of one case.
   *
   * @param testCase the case from the manifest
   * @param steps steps in the trace (0 when it could not be read)
   * @param outcomes per tool, in {@link Tool} order; empty when {@code error} is set
   * @param error the one-line reason the trace could not be analysed, or {@code null}
   */
  public record CaseResult(
      Manifest.Case testCase, long steps, Map<Tool, Outcome> outcomes, String error) {
    public CaseResult {
      requireNonNull(testCase, "testCase is null");
      outcomes = outcomes.isEmpty() ? Map.of() : new EnumMap<>(outcomes);
    }

    public Outcome outcome(Tool tool) {
      return outcomes.get(tool);
    }

    /**
     * Steps between dl-analyze's (default mode) first fault and the baseline's stop: positive when
     * dl-analyze found it earlier; {@code null} unless both fired on a buggy case.
     */
    public Long stepsEarlierThan(Tool baseline) {
      Outcome ours = outcomes.get(Tool.DEFAULT);
      Outcome theirs = outcomes.get(baseline);
      if (!testCase.buggy()
          || ours == null
          || theirs == null
          || !ours.detected()
          || !theirs.detected()) {
        return null;
      }
      return theirs.step() - ours.step();
    }
  }

  /** Counts for one tool over the manifest. */
  public record ToolTotals(
      Tool tool,
      int buggy,
      int detected,
      int localized,
      int symptomRight,
      int fixed,
      int falseAlarms) {}

  /**
   * How dl-analyze's default mode compares in time with one baseline over the buggy cases.
   *
   * @param bothFired cases where both fired
   * @param earlier of those, cases where dl-analyze fired strictly earlier
   * @param same of those, cases where both fired at the same step
   * @param later of those, cases where the baseline fired strictly earlier
   * @param medianStepsEarlier the median of (baseline step - dl-analyze step) over {@code
   *     bothFired}, or {@code null} when there is none
   * @param onlyDlAnalyze cases dl-analyze found and the baseline never stopped on
   * @param onlyBaseline cases the baseline stopped on and dl-analyze did not find
   */
  public record Timeliness(
      Tool baseline,
      int bothFired,
      int earlier,
      int same,
      int later,
      Double medianStepsEarlier,
      int onlyDlAnalyze,
      int onlyBaseline) {}

  /** All results: per case in manifest order, per tool, and the timing comparison. */
  public record Result(
      Manifest manifest,
      List<CaseResult> cases,
      List<ToolTotals> totals,
      List<Timeliness> timeliness,
      int errors) {
    public Result {
      cases = List.copyOf(cases);
      totals = List.copyOf(totals);
      timeliness = List.copyOf(timeliness);
    }
  }

  private final Analyzer analyzer;

  public Evaluation(Analyzer analyzer) {
    this.analyzer = requireNonNull(analyzer, "analyzer is null");
  }

  /** Analyses every case (twice: both modes) and scores the results. */
  public Result run(Manifest manifest) {
    List<CaseResult> results = new ArrayList<>();
    for (Manifest.Case testCase : manifest.cases()) {
      results.add(evaluate(testCase));
    }
    return summarize(manifest, results);
  }

  CaseResult evaluate(Manifest.Case testCase) {
    Report ours;
    Report deepLocalize;
    try {
      // a named pipe or a device would block or never end: refused before anything opens it
      InputFiles.requireReadable(testCase.trace());
      ours = analyzer.analyze(testCase.trace(), AnalysisOptions.defaults());
      deepLocalize =
          analyzer.analyze(
              testCase.trace(), AnalysisOptions.builder().mode(AnalysisMode.DEEPLOCALIZE).build());
    } catch (TraceFormatException e) {
      return new CaseResult(testCase, 0, Map.of(), e.getMessage());
    }
    Map<Tool, Outcome> outcomes = new EnumMap<>(Tool.class);
    outcomes.put(Tool.DEFAULT, analyzerOutcome(testCase, ours));
    outcomes.put(Tool.DEEPLOCALIZE, analyzerOutcome(testCase, deepLocalize));
    for (Tool baseline : Tool.baselines()) {
      outcomes.put(baseline, baselineOutcome(ours, baseline));
    }
    return new CaseResult(testCase, ours.trace().steps(), outcomes, null);
  }

  static Outcome analyzerOutcome(Manifest.Case testCase, Report report) {
    boolean detected = report.verdict() == Verdict.BUGGY;
    Finding root = null;
    for (Finding finding : report.findings()) {
      if (finding.severity().atLeast(Severity.WARNING)) {
        root = finding;
        break;
      }
    }
    RootCause cause = report.rootCause();
    Finding first = root;
    if (cause != null
        && cause.findingRank() > 0
        && cause.findingRank() <= report.findings().size()) {
      // The symptom is the one of the finding the root cause rests on, which can be a later-ranked
      // finding than the first warning (an earlier-starting consequence ranks first).
      root = report.findings().get(cause.findingRank() - 1);
    }
    String location = null;
    if (cause != null) {
      location =
          cause.scope().equals(RootCause.MODEL)
              ? "model"
              : cause.layerName() + " (#" + cause.layerIndex() + ")";
    }
    String symptom = root == null ? null : root.symptom().wireName();
    Boolean localized = null;
    Boolean symptomRight = null;
    if (testCase.buggy() && detected) {
      Manifest.Location expected = testCase.rootCause();
      localized =
          cause != null
              && (expected.isModel()
                  ? cause.scope().equals(RootCause.MODEL)
                  : cause.scope().equals(RootCause.LAYER)
                      && cause.layerIndex() == expected.layerIndex());
      symptomRight = root != null && testCase.symptomMatches(root.symptom());
    } else if (testCase.buggy()) {
      localized = false;
      symptomRight = false;
    }
    return new Outcome(
        detected,
        detected && first != null ? first.firstStep() : -1,
        report.verdict().wireName(),
        location,
        symptom,
        localized,
        symptomRight);
  }

  static Outcome baselineOutcome(Report report, Tool baseline) {
    for (BaselineResult result : report.baselines()) {
      if (result.name().equals(baseline.id())) {
        boolean stopped = result.status() == BaselineResult.Status.STOPPED;
        return new Outcome(
            stopped,
            stopped ? result.stopStep() : -1,
            result.status().wireName(),
            null,
            null,
            null,
            null);
      }
    }
    return new Outcome(
        false, -1, BaselineResult.Status.NOT_APPLICABLE.wireName(), null, null, null, null);
  }

  static Result summarize(Manifest manifest, List<CaseResult> results) {
    List<ToolTotals> totals = new ArrayList<>();
    int errors = 0;
    for (CaseResult result : results) {
      if (result.error() != null) {
        errors++;
      }
    }
    for (Tool tool : Tool.values()) {
      int buggy = 0;
      int detected = 0;
      int localized = 0;
      int symptomRight = 0;
      int fixed = 0;
      int falseAlarms = 0;
      for (CaseResult result : results) {
        Outcome outcome = result.outcome(tool);
        if (result.testCase().buggy()) {
          buggy++;
        } else {
          fixed++;
        }
        if (outcome == null) {
          continue;
        }
        if (result.testCase().buggy()) {
          detected += outcome.detected() ? 1 : 0;
          localized += Boolean.TRUE.equals(outcome.localized()) ? 1 : 0;
          symptomRight += Boolean.TRUE.equals(outcome.symptomRight()) ? 1 : 0;
        } else {
          falseAlarms += outcome.detected() ? 1 : 0;
        }
      }
      totals.add(
          new ToolTotals(tool, buggy, detected, localized, symptomRight, fixed, falseAlarms));
    }
    List<Timeliness> timeliness = new ArrayList<>();
    for (Tool baseline : Tool.baselines()) {
      List<Long> deltas = new ArrayList<>();
      int earlier = 0;
      int same = 0;
      int later = 0;
      int onlyOurs = 0;
      int onlyTheirs = 0;
      for (CaseResult result : results) {
        if (!result.testCase().buggy() || result.error() != null) {
          continue;
        }
        boolean ours = result.outcome(Tool.DEFAULT).detected();
        boolean theirs = result.outcome(baseline).detected();
        Long delta = result.stepsEarlierThan(baseline);
        if (delta != null) {
          deltas.add(delta);
          if (delta > 0) {
            earlier++;
          } else if (delta == 0) {
            same++;
          } else {
            later++;
          }
        } else if (ours && !theirs) {
          onlyOurs++;
        } else if (theirs && !ours) {
          onlyTheirs++;
        }
      }
      timeliness.add(
          new Timeliness(
              baseline, deltas.size(), earlier, same, later, median(deltas), onlyOurs, onlyTheirs));
    }
    return new Result(manifest, results, totals, timeliness, errors);
  }

  static Double median(List<Long> values) {
    if (values.isEmpty()) {
      return null;
    }
    long[] sorted = new long[values.size()];
    for (int i = 0; i < sorted.length; i++) {
      sorted[i] = values.get(i);
    }
    Arrays.sort(sorted);
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? (double) sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0;
  }
}
