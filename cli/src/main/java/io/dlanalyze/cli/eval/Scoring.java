package io.dlanalyze.cli.eval;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.cli.eval.Evaluation.CaseResult;
import io.dlanalyze.cli.eval.Evaluation.Firing;
import io.dlanalyze.cli.eval.Evaluation.Outcome;
import io.dlanalyze.cli.eval.Evaluation.Role;
import io.dlanalyze.cli.eval.Evaluation.Timeliness;
import io.dlanalyze.cli.eval.Scope.Comparison;
import io.dlanalyze.cli.eval.Scope.Confusion;
import io.dlanalyze.cli.eval.Scope.ConfusionRow;
import io.dlanalyze.cli.eval.Scope.DetectorFigures;
import io.dlanalyze.cli.eval.Scope.Group;
import io.dlanalyze.cli.eval.Scope.ToolFigures;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Scores the results of an {@link Evaluation}: the figures of each scope, the dev/test comparison
 * and the first-fault comparison with the baselines. A case that could not be analysed is in no
 * denominator.
 */
final class Scoring {
  private static final String DEV = "dev";
  private static final String TEST = "test";

  private final Map<String, CaseResult> byId = new HashMap<>();
  private final List<String> detectors;

  private Scoring(List<CaseResult> results, List<String> detectors) {
    for (CaseResult result : results) {
      byId.put(result.testCase().id(), result);
    }
    this.detectors = detectors;
  }

  static Evaluation.Result summarize(
      Manifest manifest,
      Evaluation.Selection selection,
      List<CaseResult> results,
      List<String> detectors) {
    Scoring scoring = new Scoring(results, detectors);
    List<Scope> scopes = new ArrayList<>();
    for (String split : splits(results)) {
      scopes.add(scoring.scope(split, results, r -> split.equals(r.testCase().split())));
    }
    if (selection.split() == null || scopes.isEmpty()) {
      scopes.add(scoring.scope(Scope.ALL, results, r -> true));
    }
    int errors = 0;
    for (CaseResult result : results) {
      errors += result.analysed() ? 0 : 1;
    }
    return new Evaluation.Result(
        manifest,
        selection,
        results,
        scopes,
        devVsTest(scopes),
        timeliness(results),
        detectors,
        errors);
  }

  /** The split names of the results: dev, test, then any other by name. */
  static List<String> splits(List<CaseResult> results) {
    TreeSet<String> others = new TreeSet<>();
    boolean dev = false;
    boolean test = false;
    for (CaseResult result : results) {
      String split = result.testCase().split();
      if (split == null) {
        continue;
      }
      dev |= split.equals(DEV);
      test |= split.equals(TEST);
      if (!split.equals(DEV) && !split.equals(TEST)) {
        others.add(split);
      }
    }
    List<String> splits = new ArrayList<>();
    if (dev) {
      splits.add(DEV);
    }
    if (test) {
      splits.add(TEST);
    }
    splits.addAll(others);
    return splits;
  }

  private Scope scope(String name, List<CaseResult> results, Predicate<CaseResult> member) {
    List<CaseResult> cases = new ArrayList<>();
    int errors = 0;
    for (CaseResult result : results) {
      if (member.test(result)) {
        if (result.analysed()) {
          cases.add(result);
        } else {
          errors++;
        }
      }
    }
    int buggy = count(cases, Role.BUGGY);
    int twins = count(cases, Role.FIXED_TWIN);
    int extra = count(cases, Role.EXTRA_HEALTHY);
    int pairs = 0;
    for (CaseResult result : cases) {
      pairs += twinOf(result) != null ? 1 : 0;
    }
    List<ToolFigures> tools = new ArrayList<>();
    List<Confusion> confusions = new ArrayList<>();
    for (Tool tool : Tool.values()) {
      tools.add(toolFigures(tool, cases));
      if (tool.localizes()) {
        confusions.add(confusion(tool, cases));
      }
    }
    return new Scope(
        name,
        buggy,
        twins,
        extra,
        pairs,
        errors,
        tools,
        confusions,
        groups(cases, r -> r.testCase().framework()),
        groups(cases, r -> r.testCase().architecture()),
        detectorFigures(cases));
  }

  private static int count(List<CaseResult> cases, Role role) {
    int n = 0;
    for (CaseResult result : cases) {
      n += result.role() == role ? 1 : 0;
    }
    return n;
  }

  /** The analysed fixed twin of an analysed buggy case, or {@code null} when it is not a pair. */
  private @Nullable CaseResult twinOf(CaseResult result) {
    return twinOf(result, byId);
  }

  /** As {@link #twinOf(CaseResult)}, looking the twin up in {@code byId}. */
  static @Nullable CaseResult twinOf(CaseResult result, Map<String, CaseResult> byId) {
    if (result.role() != Role.BUGGY || result.testCase().twin() == null) {
      return null;
    }
    CaseResult twin = byId.get(result.testCase().twin());
    return twin != null && twin.analysed() && !twin.testCase().buggy() ? twin : null;
  }

  /**
   * Whether the tool flagged the buggy run with the right symptom at the right place and left its
   * fixed twin quiet.
   */
  static boolean pairRight(CaseResult buggy, CaseResult twin, Tool tool) {
    Outcome outcome = buggy.outcome(tool);
    return outcome.detected()
        && Boolean.TRUE.equals(outcome.localized())
        && Boolean.TRUE.equals(outcome.symptomRight())
        && !twin.outcome(tool).detected();
  }

  private ToolFigures toolFigures(Tool tool, List<CaseResult> cases) {
    Proportion detected = Proportion.EMPTY;
    Proportion localized = Proportion.EMPTY;
    Proportion symptom = Proportion.EMPTY;
    Proportion twins = Proportion.EMPTY;
    Proportion extra = Proportion.EMPTY;
    for (CaseResult result : cases) {
      Outcome outcome = result.outcome(tool);
      switch (result.role()) {
        case BUGGY -> {
          detected = detected.add(outcome.detected());
          localized = localized.add(Boolean.TRUE.equals(outcome.localized()));
          symptom = symptom.add(Boolean.TRUE.equals(outcome.symptomRight()));
        }
        case FIXED_TWIN -> twins = twins.add(outcome.detected());
        case EXTRA_HEALTHY -> extra = extra.add(outcome.detected());
      }
    }
    Map<Figure, Proportion> values = new EnumMap<>(Figure.class);
    values.put(Figure.DETECTED, detected);
    values.put(Figure.LOCALIZED, localized);
    values.put(Figure.SYMPTOM_RIGHT, symptom);
    values.put(Figure.PAIRS_RIGHT, pairsRight(tool, cases));
    values.put(Figure.FALSE_ALARMS, twins.plus(extra));
    values.put(Figure.FALSE_ALARMS_FIXED_TWINS, twins);
    values.put(Figure.FALSE_ALARMS_EXTRA_HEALTHY, extra);
    values.keySet().removeIf(figure -> !figure.appliesTo(tool));
    return new ToolFigures(tool, values);
  }

  /**
   * Pairs whose buggy run the tool flagged with the right symptom at the right place and whose
   * fixed twin it left quiet.
   */
  private Proportion pairsRight(Tool tool, List<CaseResult> cases) {
    Proportion pairs = Proportion.EMPTY;
    for (CaseResult result : cases) {
      CaseResult twin = twinOf(result);
      if (twin != null) {
        pairs = pairs.add(pairRight(result, twin, tool));
      }
    }
    return pairs;
  }

  private static Confusion confusion(Tool tool, List<CaseResult> cases) {
    boolean[] expected = new boolean[Symptom.values().length];
    boolean[] reported = new boolean[Symptom.values().length];
    for (CaseResult result : cases) {
      if (result.role() == Role.BUGGY) {
        expected[result.testCase().expectedSymptom().ordinal()] = true;
        Symptom symptom = reported(result.outcome(tool));
        if (symptom != null) {
          reported[symptom.ordinal()] = true;
        }
      }
    }
    List<String> columns = new ArrayList<>();
    for (Symptom symptom : Symptom.values()) {
      if (reported[symptom.ordinal()]) {
        columns.add(symptom.wireName());
      }
    }
    columns.add(Confusion.NONE);
    List<ConfusionRow> rows = new ArrayList<>();
    for (Symptom row : Symptom.values()) {
      if (!expected[row.ordinal()]) {
        continue;
      }
      int[] counts = new int[columns.size()];
      int right = 0;
      for (CaseResult result : cases) {
        if (result.role() != Role.BUGGY || result.testCase().symptom() != row) {
          continue;
        }
        Symptom symptom = reported(result.outcome(tool));
        counts[columns.indexOf(symptom == null ? Confusion.NONE : symptom.wireName())]++;
        right += Boolean.TRUE.equals(result.outcome(tool).symptomRight()) ? 1 : 0;
      }
      rows.add(new ConfusionRow(row, Arrays.stream(counts).boxed().toList(), right));
    }
    return new Confusion(tool, columns, rows);
  }

  /** The symptom class the flagged run's root cause rests on; {@code null} when not flagged. */
  private static @Nullable Symptom reported(Outcome outcome) {
    return outcome.detected() && outcome.symptom() != null
        ? Symptom.fromWireName(outcome.symptom())
        : null;
  }

  /** Per label value (by name, cases without one last), when some case has one. */
  private List<Group> groups(List<CaseResult> cases, Function<CaseResult, String> label) {
    TreeSet<String> values = new TreeSet<>();
    boolean unlabelled = false;
    for (CaseResult result : cases) {
      String value = label.apply(result);
      if (value == null) {
        unlabelled = true;
      } else {
        values.add(value);
      }
    }
    List<Group> groups = new ArrayList<>();
    if (values.isEmpty()) {
      return groups;
    }
    List<String> order = new ArrayList<>(values);
    if (unlabelled) {
      order.add(null);
    }
    for (String value : order) {
      List<CaseResult> members = new ArrayList<>();
      for (CaseResult result : cases) {
        String own = label.apply(result);
        if (value == null ? own == null : value.equals(own)) {
          members.add(result);
        }
      }
      Map<Tool, Proportion> pairs = new EnumMap<>(Tool.class);
      Map<Tool, Proportion> alarms = new EnumMap<>(Tool.class);
      for (Tool tool : Tool.values()) {
        if (tool.localizes()) {
          ToolFigures figures = toolFigures(tool, members);
          pairs.put(tool, figures.get(Figure.PAIRS_RIGHT));
          alarms.put(tool, figures.get(Figure.FALSE_ALARMS));
        }
      }
      groups.add(new Group(value, pairs, alarms));
    }
    return groups;
  }

  private List<DetectorFigures> detectorFigures(List<CaseResult> cases) {
    List<String> ids = new ArrayList<>(detectors);
    for (CaseResult result : cases) {
      for (Firing firing : result.firings()) {
        if (!ids.contains(firing.detector())) {
          ids.add(firing.detector());
        }
      }
    }
    List<DetectorFigures> figures = new ArrayList<>();
    for (String id : ids) {
      Proportion healthyWarning = Proportion.EMPTY;
      Proportion healthyInfo = Proportion.EMPTY;
      Proportion buggyWarning = Proportion.EMPTY;
      Proportion buggyAtPlace = Proportion.EMPTY;
      for (CaseResult result : cases) {
        Firing firing = null;
        for (Firing f : result.firings()) {
          if (f.detector().equals(id)) {
            firing = f;
          }
        }
        boolean warning = firing != null && firing.severity().atLeast(Severity.WARNING);
        if (result.testCase().buggy()) {
          buggyWarning = buggyWarning.add(warning);
          buggyAtPlace =
              buggyAtPlace.add(firing != null && Boolean.TRUE.equals(firing.atExpectedPlace()));
        } else {
          healthyWarning = healthyWarning.add(warning);
          healthyInfo = healthyInfo.add(firing != null && !warning);
        }
      }
      figures.add(new DetectorFigures(id, healthyWarning, healthyInfo, buggyWarning, buggyAtPlace));
    }
    return figures;
  }

  private static List<Comparison> devVsTest(List<Scope> scopes) {
    Scope dev = null;
    Scope test = null;
    for (Scope scope : scopes) {
      if (scope.name().equals(DEV)) {
        dev = scope;
      } else if (scope.name().equals(TEST)) {
        test = scope;
      }
    }
    List<Comparison> comparisons = new ArrayList<>();
    if (dev == null || test == null) {
      return comparisons;
    }
    for (Tool tool : Tool.values()) {
      for (Figure figure : Figure.compared()) {
        if (figure.appliesTo(tool)) {
          Proportion d =
              requireNonNull(dev.tool(tool).get(figure), "the figure applies to the tool");
          Proportion t =
              requireNonNull(test.tool(tool).get(figure), "the figure applies to the tool");
          comparisons.add(new Comparison(tool, figure, d, t, d.minus(t)));
        }
      }
    }
    return comparisons;
  }

  private static List<Timeliness> timeliness(List<CaseResult> results) {
    List<Timeliness> timeliness = new ArrayList<>();
    for (Tool baseline : Tool.baselines()) {
      List<Long> deltas = new ArrayList<>();
      int earlier = 0;
      int same = 0;
      int later = 0;
      int onlyOurs = 0;
      int onlyTheirs = 0;
      for (CaseResult result : results) {
        if (!result.testCase().buggy() || !result.analysed()) {
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
    return timeliness;
  }

  static @Nullable Double median(List<Long> values) {
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
