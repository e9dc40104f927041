package io.dlanalyze.cli.eval;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.DetectorInfo;
import io.dlanalyze.analyzer.Threshold;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.cli.eval.Evaluation.CaseResult;
import io.dlanalyze.cli.eval.Evaluation.Role;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * How far the default mode's results move when one threshold at a time is halved and doubled: the
 * pairs fully right and the false alarms of each scope, and which cases changed. A threshold whose
 * halving or doubling changes many cases sits on a knife edge of the runs it was derived from, and
 * is the first to distrust on runs nobody tuned it on.
 *
 * <p>The two values tried for a threshold are {@code value / 2} and {@code value * 2}, except for a
 * share whose range ends at 1 and whose value is above 0.5 (zero-fraction 0.999, dying-relu-
 * fraction 0.95), where the distance to 1 is doubled and halved instead (0.998 and 0.9995); whole-
 * number thresholds are rounded, values outside the threshold's range are clamped to it, and a
 * value equal to the current one is not tried (a threshold at 0 has no variant).
 */
public final class Sensitivity {

  /**
   * One threshold set to one value, scored on one scope.
   *
   * @param threshold the threshold varied
   * @param value the value it was set to
   * @param scope the scope's name (dev, test, all)
   * @param pairsRight pairs fully right with this value
   * @param falseAlarms healthy runs called buggy with this value
   * @param pairsGained buggy cases of pairs that became fully right, by id
   * @param pairsLost buggy cases of pairs that stopped being fully right
   * @param alarmsRaised healthy cases that became false alarms
   * @param alarmsCleared healthy cases that stopped being false alarms
   */
  public record Row(
      Threshold threshold,
      double value,
      String scope,
      Proportion pairsRight,
      Proportion falseAlarms,
      List<String> pairsGained,
      List<String> pairsLost,
      List<String> alarmsRaised,
      List<String> alarmsCleared) {
    public Row {
      requireNonNull(threshold, "threshold is null");
      requireNonNull(scope, "scope is null");
      pairsGained = List.copyOf(pairsGained);
      pairsLost = List.copyOf(pairsLost);
      alarmsRaised = List.copyOf(alarmsRaised);
      alarmsCleared = List.copyOf(alarmsCleared);
    }

    /** Cases whose outcome changed against the base run. */
    public int changed() {
      return pairsGained.size() + pairsLost.size() + alarmsRaised.size() + alarmsCleared.size();
    }
  }

  /**
   * The base evaluation and one row per threshold, value and scope.
   *
   * @param base the evaluation with the thresholds as given (defaults, config file, --set)
   * @param options those thresholds
   * @param rows in threshold order (documentation order), then value, then scope
   */
  public record Result(Evaluation.Result base, AnalysisOptions options, List<Row> rows) {
    public Result {
      requireNonNull(base, "base is null");
      requireNonNull(options, "options is null");
      rows = List.copyOf(rows);
    }
  }

  private final Analyzer analyzer;
  private final AnalysisOptions options;

  /** Varies the thresholds of the default mode around {@code options}. */
  public Sensitivity(Analyzer analyzer, AnalysisOptions options) {
    this.analyzer = requireNonNull(analyzer, "analyzer is null");
    this.options = requireNonNull(options, "options is null");
  }

  /**
   * The thresholds the default mode's enabled detectors read, in documentation order, limited to
   * {@code keys} when it is not empty.
   *
   * @throws IllegalArgumentException naming a key that no enabled detector of the default mode
   *     reads, with the keys that are
   */
  public List<Threshold> thresholds(List<String> keys) {
    Set<Threshold> read = new LinkedHashSet<>();
    for (DetectorInfo info : analyzer.detectorsFor(options)) {
      read.addAll(info.thresholds());
    }
    List<Threshold> ordered = new ArrayList<>();
    for (Threshold threshold : Thresholds.all()) {
      if (read.contains(threshold) && (keys.isEmpty() || keys.contains(threshold.key()))) {
        ordered.add(threshold);
      }
    }
    for (String key : keys) {
      if (ordered.stream().noneMatch(t -> t.key().equals(key))) {
        TreeSet<String> known = new TreeSet<>();
        read.forEach(t -> known.add(t.key()));
        throw new IllegalArgumentException(
            format(
                ROOT,
                "--sensitivity %s: no detector of the default mode reads it (they read: %s)",
                key,
                String.join(", ", known)));
      }
    }
    return ordered;
  }

  /** The values tried for a threshold whose current value is {@code current}. */
  static List<Double> variants(Threshold threshold, double current) {
    double low;
    double high;
    if (!threshold.integral() && threshold.max() == 1 && current > 0.5) {
      low = 1 - (1 - current) * 2;
      high = 1 - (1 - current) / 2;
    } else {
      low = current / 2;
      high = current * 2;
    }
    List<Double> values = new ArrayList<>();
    for (double value : new double[] {low, high}) {
      double v = threshold.integral() ? Math.round(value) : value;
      v = Math.max(threshold.min(), Math.min(threshold.max(), v));
      if (v != current && !values.contains(v)) {
        values.add(v);
      }
    }
    return values;
  }

  /**
   * Scores the manifest once as given and once per variant of each threshold.
   *
   * @param thresholds from {@link #thresholds}
   */
  public Result run(
      Manifest manifest, Evaluation.Selection selection, int jobs, List<Threshold> thresholds) {
    Evaluation.Result base = new Evaluation(analyzer, options).run(manifest, selection, jobs);
    Map<String, Map<String, Boolean>> baseOutcomes = outcomes(base);
    List<Row> rows = new ArrayList<>();
    for (Threshold threshold : thresholds) {
      for (double value : variants(threshold, options.get(threshold))) {
        AnalysisOptions varied = options.toBuilder().set(threshold, value).build();
        Evaluation.Result result = new Evaluation(analyzer, varied).run(manifest, selection, jobs);
        Map<String, Map<String, Boolean>> outcomes = outcomes(result);
        for (Scope scope : result.scopes()) {
          rows.add(
              row(
                  threshold,
                  value,
                  scope,
                  baseOutcomes.getOrDefault(scope.name(), Map.of()),
                  outcomes.getOrDefault(scope.name(), Map.of())));
        }
      }
    }
    return new Result(base, options, rows);
  }

  private static Row row(
      Threshold threshold,
      double value,
      Scope scope,
      Map<String, Boolean> before,
      Map<String, Boolean> after) {
    List<String> gained = new ArrayList<>();
    List<String> lost = new ArrayList<>();
    List<String> raised = new ArrayList<>();
    List<String> cleared = new ArrayList<>();
    for (Map.Entry<String, Boolean> entry : after.entrySet()) {
      String key = entry.getKey();
      Boolean was = before.get(key);
      if (was == null || was.equals(entry.getValue())) {
        continue;
      }
      boolean pair = key.startsWith(PAIR);
      String id = key.substring(PAIR.length());
      if (pair) {
        (entry.getValue() ? gained : lost).add(id);
      } else {
        (entry.getValue() ? raised : cleared).add(id);
      }
    }
    Scope.ToolFigures figures = scope.tool(Tool.DEFAULT);
    return new Row(
        threshold,
        value,
        scope.name(),
        figures.required(Figure.PAIRS_RIGHT),
        figures.required(Figure.FALSE_ALARMS),
        gained,
        lost,
        raised,
        cleared);
  }

  /** Both prefixes have one length, so that the id is what follows it. */
  private static final String PAIR = "p:";

  private static final String ALARM = "a:";

  /**
   * Per scope, in case order: for each pair's buggy case whether the pair is fully right ({@code
   * p:<id>}), for each analysed healthy case whether it raised a false alarm ({@code a:<id>}).
   */
  private static Map<String, Map<String, Boolean>> outcomes(Evaluation.Result result) {
    Map<String, CaseResult> byId = new HashMap<>();
    for (CaseResult r : result.cases()) {
      byId.put(r.testCase().id(), r);
    }
    Map<String, Map<String, Boolean>> perScope = new HashMap<>();
    for (Scope scope : result.scopes()) {
      Map<String, Boolean> outcomes = new LinkedHashMap<>();
      for (CaseResult r : result.cases()) {
        if (!r.analysed()
            || !(Scope.ALL.equals(scope.name()) || scope.name().equals(r.testCase().split()))) {
          continue;
        }
        if (r.role() == Role.BUGGY) {
          CaseResult twin = Scoring.twinOf(r, byId);
          if (twin != null) {
            outcomes.put(PAIR + r.testCase().id(), Scoring.pairRight(r, twin, Tool.DEFAULT));
          }
        } else {
          outcomes.put(ALARM + r.testCase().id(), r.outcome(Tool.DEFAULT).detected());
        }
      }
      perScope.put(scope.name(), outcomes);
    }
    return perScope;
  }
}
