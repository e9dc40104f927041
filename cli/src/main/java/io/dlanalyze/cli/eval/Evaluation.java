package io.dlanalyze.cli.eval;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.DetectorInfo;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.trace.InputFiles;
import io.dlanalyze.trace.TraceFormatException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;

/**
 * Runs dl-analyze (default and deeplocalize modes) and the replayed Keras baselines on every trace
 * of a {@link Manifest} and scores them against its ground truth, the way the DeepLocalize paper
 * scores its 40 cases (detected, correctly localized, right symptom, false alarms on the fixed
 * twins, how many steps earlier than each baseline the fault was found), with what a reader needs
 * to judge the figures ({@link Scoring}): per split, each rate with its 95% Wilson interval, the
 * pair figure, the symptom confusion, per framework and architecture, per detector.
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
      @Nullable String location,
      @Nullable String symptom,
      @Nullable Boolean localized,
      @Nullable Boolean symptomRight) {
    public Outcome {
      requireNonNull(verdict, "verdict is null");
    }
  }

  /** What a case is to the scoring. */
  public enum Role {
    /** A buggy run. */
    BUGGY("buggy"),
    /** A healthy run whose twin is a buggy case of the manifest. */
    FIXED_TWIN("fixed_twin"),
    /** A healthy run that is nobody's twin. */
    EXTRA_HEALTHY("extra_healthy");

    private final String id;

    Role(String id) {
      this.id = id;
    }

    public String id() {
      return id;
    }
  }

  /**
   * What one detector of the default mode reported on one case.
   *
   * @param detector its id
   * @param severity the highest severity of its findings
   * @param atExpectedPlace on a buggy case, whether one of its findings of severity warning or more
   *     is at the expected root-cause place; {@code null} on a healthy case
   */
  public record Firing(String detector, Severity severity, @Nullable Boolean atExpectedPlace) {
    public Firing {
      requireNonNull(detector, "detector is null");
      requireNonNull(severity, "severity is null");
    }
  }

  /**
   * The results of one case.
   *
   * @param testCase the case from the manifest
   * @param role buggy, fixed twin or extra healthy run
   * @param steps steps in the trace (0 when it could not be read)
   * @param outcomes per tool, in {@link Tool} order; empty when {@code error} is set
   * @param firings the detectors of the default mode that reported something, in registry order
   * @param error the one-line reason the trace could not be analysed, or {@code null}
   */
  public record CaseResult(
      Manifest.Case testCase,
      Role role,
      long steps,
      Map<Tool, Outcome> outcomes,
      List<Firing> firings,
      @Nullable String error) {
    public CaseResult {
      requireNonNull(testCase, "testCase is null");
      requireNonNull(role, "role is null");
      outcomes = outcomes.isEmpty() ? Map.of() : new EnumMap<>(outcomes);
      firings = List.copyOf(firings);
    }

    public Outcome outcome(Tool tool) {
      return requireNonNull(outcomes.get(tool), "an analysed case has every tool's outcome");
    }

    /** True when the trace was analysed. */
    public boolean analysed() {
      return error == null;
    }

    /**
     * Steps between dl-analyze's (default mode) first fault and the baseline's stop: positive when
     * dl-analyze found it earlier; {@code null} unless both fired on a buggy case.
     */
    public @Nullable Long stepsEarlierThan(Tool baseline) {
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
      @Nullable Double medianStepsEarlier,
      int onlyDlAnalyze,
      int onlyBaseline) {}

  /**
   * Which cases of the manifest an evaluation takes: those of one split and/or one framework, or
   * all ({@code null} for no restriction).
   */
  public record Selection(@Nullable String split, @Nullable String framework) {
    public static final Selection ALL = new Selection(null, null);

    public boolean matches(Manifest.Case testCase) {
      return (split == null || split.equals(testCase.split()))
          && (framework == null || framework.equals(testCase.framework()));
    }
  }

  /**
   * All results.
   *
   * @param manifest the manifest
   * @param selection which of its cases were evaluated
   * @param cases the selected cases, in manifest order
   * @param scopes the figures per split present (dev, test, then others by name) and of the whole
   *     selection ({@link Scope#ALL}); with {@code --split}, that split alone
   * @param devVsTest each figure on dev against test; empty unless both splits were evaluated
   * @param timeliness dl-analyze's first fault against each baseline's stop, over the selection
   * @param detectors the ids of the default mode's detectors, in registry order
   * @param errors cases that could not be analysed
   */
  public record Result(
      Manifest manifest,
      Selection selection,
      List<CaseResult> cases,
      List<Scope> scopes,
      List<Scope.Comparison> devVsTest,
      List<Timeliness> timeliness,
      List<String> detectors,
      int errors) {
    public Result {
      cases = List.copyOf(cases);
      scopes = List.copyOf(scopes);
      devVsTest = List.copyOf(devVsTest);
      timeliness = List.copyOf(timeliness);
      detectors = List.copyOf(detectors);
    }

    /** The scope with this name, or {@code null}. */
    public @Nullable Scope scope(String name) {
      for (Scope scope : scopes) {
        if (scope.name().equals(name)) {
          return scope;
        }
      }
      return null;
    }
  }

  private final Analyzer analyzer;
  private final AnalysisOptions options;
  private final List<String> detectors;

  /** Scores the default mode with its default thresholds. */
  public Evaluation(Analyzer analyzer) {
    this(analyzer, AnalysisOptions.defaults());
  }

  /**
   * Scores the default mode run with {@code options} (a config file's or {@code --set} thresholds);
   * the deeplocalize mode and the baselines keep their defaults.
   */
  public Evaluation(Analyzer analyzer, AnalysisOptions options) {
    this.analyzer = requireNonNull(analyzer, "analyzer is null");
    this.options = requireNonNull(options, "options is null");
    List<String> ids = new ArrayList<>();
    for (DetectorInfo info : analyzer.detectorsFor(options)) {
      ids.add(info.id());
    }
    this.detectors = List.copyOf(ids);
  }

  /** Analyses every case of the manifest, one at a time, and scores the results. */
  public Result run(Manifest manifest) {
    return run(manifest, Selection.ALL, 1);
  }

  /**
   * Analyses every selected case (once per mode: the default mode's report also gives the baselines
   * and the detectors' firings) on {@code jobs} threads, and scores the results.
   *
   * @throws IllegalArgumentException when {@code jobs} is below 1
   */
  public Result run(Manifest manifest, Selection selection, int jobs) {
    if (jobs < 1) {
      throw new IllegalArgumentException(format(ROOT, "jobs must be 1 or more: %d", jobs));
    }
    Set<String> buggyIds = new HashSet<>();
    for (Manifest.Case testCase : manifest.cases()) {
      if (testCase.buggy()) {
        buggyIds.add(testCase.id());
      }
    }
    List<Manifest.Case> selected = new ArrayList<>();
    for (Manifest.Case testCase : manifest.cases()) {
      if (selection.matches(testCase)) {
        selected.add(testCase);
      }
    }
    List<CaseResult> results = analyseAll(selected, buggyIds, jobs);
    return Scoring.summarize(manifest, selection, results, detectors);
  }

  private List<CaseResult> analyseAll(
      List<Manifest.Case> selected, Set<String> buggyIds, int jobs) {
    List<CaseResult> results = new ArrayList<>(selected.size());
    if (jobs == 1 || selected.size() < 2) {
      for (Manifest.Case testCase : selected) {
        results.add(evaluate(testCase, role(testCase, buggyIds)));
      }
      return results;
    }
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.min(jobs, selected.size()),
            task -> {
              Thread thread = new Thread(task, "dl-analyze-eval");
              thread.setDaemon(true);
              return thread;
            });
    try {
      List<Future<CaseResult>> futures = new ArrayList<>(selected.size());
      for (Manifest.Case testCase : selected) {
        Role role = role(testCase, buggyIds);
        futures.add(pool.submit(() -> evaluate(testCase, role)));
      }
      for (Future<CaseResult> future : futures) {
        results.add(await(future));
      }
      return results;
    } finally {
      pool.shutdownNow();
    }
  }

  private static CaseResult await(Future<CaseResult> future) {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while evaluating", e);
    } catch (ExecutionException e) {
      // an internal error or an out-of-memory in a worker surfaces as itself, as with one job
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException(cause);
    }
  }

  static Role role(Manifest.Case testCase, Set<String> buggyIds) {
    if (testCase.buggy()) {
      return Role.BUGGY;
    }
    return testCase.twin() != null && buggyIds.contains(testCase.twin())
        ? Role.FIXED_TWIN
        : Role.EXTRA_HEALTHY;
  }

  CaseResult evaluate(Manifest.Case testCase, Role role) {
    Report ours;
    Report deepLocalize;
    try {
      // a named pipe or a device would block or never end: refused before anything opens it
      InputFiles.requireReadable(testCase.trace());
      ours = analyzer.analyze(testCase.trace(), options);
      deepLocalize =
          analyzer.analyze(
              testCase.trace(), AnalysisOptions.builder().mode(AnalysisMode.DEEPLOCALIZE).build());
    } catch (TraceFormatException e) {
      return new CaseResult(testCase, role, 0, Map.of(), List.of(), e.getMessage());
    }
    Map<Tool, Outcome> outcomes = new EnumMap<>(Tool.class);
    outcomes.put(Tool.DEFAULT, analyzerOutcome(testCase, ours));
    outcomes.put(Tool.DEEPLOCALIZE, analyzerOutcome(testCase, deepLocalize));
    for (Tool baseline : Tool.baselines()) {
      outcomes.put(baseline, baselineOutcome(ours, baseline));
    }
    return new CaseResult(
        testCase, role, ours.trace().steps(), outcomes, firings(testCase, ours), null);
  }

  /** Per detector that reported something: its highest severity and whether it hit the place. */
  List<Firing> firings(Manifest.Case testCase, Report report) {
    List<Firing> firings = new ArrayList<>();
    List<String> order = new ArrayList<>(detectors);
    for (Finding finding : report.findings()) {
      if (!order.contains(finding.detector())) {
        order.add(finding.detector());
      }
    }
    for (String id : order) {
      Severity highest = null;
      boolean atPlace = false;
      for (Finding finding : report.findings()) {
        if (!finding.detector().equals(id)) {
          continue;
        }
        if (highest == null || finding.severity().atLeast(highest)) {
          highest = finding.severity();
        }
        atPlace |=
            testCase.buggy()
                && finding.severity().atLeast(Severity.WARNING)
                && atPlace(testCase.expectedRootCause(), finding);
      }
      if (highest != null) {
        firings.add(new Firing(id, highest, testCase.buggy() ? atPlace : null));
      }
    }
    return firings;
  }

  private static boolean atPlace(Manifest.Location expected, Finding finding) {
    return expected.isModel()
        ? finding.isModelLevel()
        : finding.layerIndex() == expected.layerIndex();
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
    // The symptom is the one the root cause names: usually its finding's, but a cause can name
    // what its finding led to (unnormalized inputs that made units die or saturate).
    Symptom named =
        cause != null && cause.symptom() != null
            ? Symptom.fromWireName(cause.symptom())
            : root == null ? null : root.symptom();
    String symptom = named == null ? null : named.wireName();
    Boolean localized = null;
    Boolean symptomRight = null;
    if (testCase.buggy() && detected) {
      Manifest.Location expected = testCase.expectedRootCause();
      localized =
          cause != null
              && (expected.isModel()
                  ? cause.scope().equals(RootCause.MODEL)
                  : cause.scope().equals(RootCause.LAYER)
                      && cause.layerIndex() == expected.layerIndex());
      symptomRight = named != null && testCase.symptomMatches(named);
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
}
