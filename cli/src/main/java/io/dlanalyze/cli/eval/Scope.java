package io.dlanalyze.cli.eval;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.Symptom;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The figures of one set of cases: a split ({@code dev}, {@code test}) or the whole selection
 * ({@code all}).
 *
 * @param name the split's name, or {@link #ALL}
 * @param buggy buggy runs analysed
 * @param fixedTwins healthy runs analysed whose twin is a buggy case of the manifest
 * @param extraHealthy other healthy runs analysed (nobody's twin)
 * @param pairs buggy runs whose fixed twin was analysed too
 * @param errors cases that could not be analysed (in no denominator)
 * @param tools per tool, in {@link Tool} order
 * @param confusions the symptom confusion table of each analyzer mode, in {@link Tool} order
 * @param byFramework the pair figure and the false alarms per framework (empty when no case of the
 *     scope names one)
 * @param byArchitecture the same per architecture
 * @param detectors per detector of the default mode, in registry order
 */
public record Scope(
    String name,
    int buggy,
    int fixedTwins,
    int extraHealthy,
    int pairs,
    int errors,
    List<ToolFigures> tools,
    List<Confusion> confusions,
    List<Group> byFramework,
    List<Group> byArchitecture,
    List<DetectorFigures> detectors) {
  /** The name of the scope that holds every selected case, with a split or without. */
  public static final String ALL = "all";

  public Scope {
    requireNonNull(name, "name is null");
    tools = List.copyOf(tools);
    confusions = List.copyOf(confusions);
    byFramework = List.copyOf(byFramework);
    byArchitecture = List.copyOf(byArchitecture);
    detectors = List.copyOf(detectors);
  }

  public int healthy() {
    return fixedTwins + extraHealthy;
  }

  /** The figures of one tool. */
  public ToolFigures tool(Tool tool) {
    for (ToolFigures figures : tools) {
      if (figures.tool() == tool) {
        return figures;
      }
    }
    throw new IllegalArgumentException("no figures for " + tool.id());
  }

  /**
   * One tool's rates.
   *
   * @param tool the tool
   * @param values per figure that applies to the tool ({@link Figure#appliesTo}), in figure order
   */
  public record ToolFigures(Tool tool, Map<Figure, Proportion> values) {
    public ToolFigures {
      requireNonNull(tool, "tool is null");
      values = values.isEmpty() ? Map.of() : new EnumMap<>(values);
    }

    /** The figure, or {@code null} when it does not apply to this tool. */
    public @Nullable Proportion get(Figure figure) {
      return values.get(figure);
    }

    /** A figure that applies to this tool ({@link Figure#appliesTo}). */
    public Proportion required(Figure figure) {
      return requireNonNull(values.get(figure), "the figure applies to the tool");
    }
  }

  /**
   * Expected symptom class against the symptom class the root cause rests on, for the buggy runs.
   *
   * @param tool an analyzer mode
   * @param columns the reported classes that occur (symptom wire names in {@link Symptom} order),
   *     then {@link #NONE}
   * @param rows one per expected class that occurs, in {@link Symptom} order
   */
  public record Confusion(Tool tool, List<String> columns, List<ConfusionRow> rows) {
    /** The column of the buggy runs the tool did not flag. */
    public static final String NONE = "none";

    public Confusion {
      requireNonNull(tool, "tool is null");
      columns = List.copyOf(columns);
      rows = List.copyOf(rows);
    }
  }

  /**
   * One row of a {@link Confusion} table.
   *
   * @param expected the expected symptom class
   * @param counts per column of the table, in its order
   * @param right of these runs, those with the expected or an acceptable class
   */
  public record ConfusionRow(Symptom expected, List<Integer> counts, int right) {
    public ConfusionRow {
      requireNonNull(expected, "expected is null");
      counts = List.copyOf(counts);
    }

    /** The buggy runs that expect this class. */
    public int total() {
      int total = 0;
      for (int count : counts) {
        total += count;
      }
      return total;
    }
  }

  /**
   * The pair figure and the false alarms of the analyzer modes on the cases with one label value.
   *
   * @param value the framework or architecture, or {@code null} for cases without one
   * @param pairsRight per analyzer mode
   * @param falseAlarms per analyzer mode, on all healthy runs
   */
  public record Group(
      String value, Map<Tool, Proportion> pairsRight, Map<Tool, Proportion> falseAlarms) {
    public Group {
      pairsRight = pairsRight.isEmpty() ? Map.of() : new EnumMap<>(pairsRight);
      falseAlarms = falseAlarms.isEmpty() ? Map.of() : new EnumMap<>(falseAlarms);
    }
  }

  /**
   * How one detector of the default mode fires.
   *
   * @param id the detector id
   * @param healthyWarning healthy runs where it reported a finding of severity warning or more
   * @param healthyInfoOnly healthy runs where all it reported was at severity info
   * @param buggyWarning buggy runs where it reported a finding of severity warning or more
   * @param buggyAtExpectedPlace buggy runs where one of those findings is at the expected place
   *     (the expected layer, or a model-level finding when the model is expected)
   */
  public record DetectorFigures(
      String id,
      Proportion healthyWarning,
      Proportion healthyInfoOnly,
      Proportion buggyWarning,
      Proportion buggyAtExpectedPlace) {
    public DetectorFigures {
      requireNonNull(id, "id is null");
    }
  }

  /**
   * A figure of one tool on dev and on test, and their difference with its 95% interval.
   *
   * @param tool the tool
   * @param figure the figure
   * @param dev on the dev split
   * @param test on the test split
   * @param difference dev - test with Newcombe's interval, or {@code null} when a side has no runs
   */
  public record Comparison(
      Tool tool,
      Figure figure,
      Proportion dev,
      Proportion test,
      Proportion.@Nullable Difference difference) {
    /** True when the interval of the difference excludes 0. */
    public boolean differs() {
      return difference != null && difference.excludesZero();
    }
  }
}
