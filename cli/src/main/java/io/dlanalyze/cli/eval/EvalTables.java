package io.dlanalyze.cli.eval;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.cli.eval.Evaluation.CaseResult;
import io.dlanalyze.cli.eval.Evaluation.Outcome;
import io.dlanalyze.cli.eval.Evaluation.Result;
import io.dlanalyze.cli.eval.Evaluation.Timeliness;
import io.dlanalyze.cli.eval.Scope.Comparison;
import io.dlanalyze.cli.eval.Scope.Confusion;
import io.dlanalyze.cli.eval.Scope.ConfusionRow;
import io.dlanalyze.cli.eval.Scope.DetectorFigures;
import io.dlanalyze.cli.eval.Scope.Group;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** The evaluation as aligned text tables or Markdown: per case, per scope, dev vs test, timing. */
final class EvalTables {
  static final String LEGEND =
      "Rates are k/n = percent [95% Wilson score interval, in percent]; n counts the runs"
          + " analysed.";

  private final Result result;
  private final boolean markdown;
  private final boolean perDetector;
  private final StringBuilder out = new StringBuilder();

  private EvalTables(Result result, boolean markdown, boolean perDetector) {
    this.result = result;
    this.markdown = markdown;
    this.perDetector = perDetector;
  }

  static String render(Result result, boolean markdown, boolean perDetector) {
    return new EvalTables(result, markdown, perDetector).render();
  }

  private String render() {
    if (markdown) {
      out.append("### Per case\n\n");
    } else {
      out.append(
          format(
              ROOT,
              "dl-analyze eval %s: %d cases%s%n%n",
              result.manifest().path(),
              result.cases().size(),
              selection().isEmpty() ? "" : " (" + selection() + ")"));
    }
    perCase();
    out.append('\n').append(LEGEND).append('\n');
    for (Scope scope : result.scopes()) {
      scope(scope);
    }
    if (!result.devVsTest().isEmpty()) {
      heading(3, "dev vs test: difference with its 95% Newcombe interval, in percentage points");
      devVsTest();
    }
    heading(3, "First fault: dl-analyze (default) vs each baseline, buggy cases");
    timing();
    if (result.errors() > 0) {
      out.append(
          format(
              ROOT,
              "%n%d case(s) could not be analysed (see \"error:\" rows).%n",
              result.errors()));
    }
    return out.toString();
  }

  private String selection() {
    List<String> parts = new ArrayList<>();
    if (result.selection().split() != null) {
      parts.add("split " + result.selection().split());
    }
    if (result.selection().framework() != null) {
      parts.add("framework " + result.selection().framework());
    }
    return String.join(", ", parts);
  }

  private void heading(int level, String title) {
    out.append('\n');
    if (markdown) {
      out.append("#".repeat(level)).append(' ').append(title).append("\n\n");
    } else {
      out.append(title).append('\n');
    }
  }

  private void table(List<String[]> rows) {
    TableLayout.append(out, rows, markdown);
  }

  // ------------------------------------------------------------------ per case

  private void perCase() {
    List<String[]> rows = new ArrayList<>();
    rows.add(
        new String[] {
          "case",
          "truth",
          "expected",
          "dl-analyze",
          "loc",
          "sym",
          "deeplocalize",
          "loc",
          "sym",
          "TerminateOnNaN",
          "ES(loss)",
          "ES(acc)",
          "earlier vs TON/ESL/ESA"
        });
    for (CaseResult r : result.cases()) {
      Manifest.Case c = r.testCase();
      String expected =
          c.buggy() ? c.expectedSymptom().wireName() + " @ " + c.expectedRootCause() : "healthy";
      if (r.error() != null) {
        rows.add(
            new String[] {
              c.id(), truth(r), expected, "error: " + r.error(), "", "", "", "", "", "", "", "", ""
            });
        continue;
      }
      rows.add(
          new String[] {
            c.id(),
            truth(r),
            expected,
            analyzerCell(r.outcome(Tool.DEFAULT)),
            mark(r.outcome(Tool.DEFAULT).localized()),
            mark(r.outcome(Tool.DEFAULT).symptomRight()),
            analyzerCell(r.outcome(Tool.DEEPLOCALIZE)),
            mark(r.outcome(Tool.DEEPLOCALIZE).localized()),
            mark(r.outcome(Tool.DEEPLOCALIZE).symptomRight()),
            baselineCell(r.outcome(Tool.TERMINATE_ON_NAN)),
            baselineCell(r.outcome(Tool.EARLY_STOPPING_LOSS)),
            baselineCell(r.outcome(Tool.EARLY_STOPPING_ACCURACY)),
            earlier(r)
          });
    }
    table(rows);
  }

  /** buggy, fixed (a fixed twin) or healthy (nobody's twin). */
  private static String truth(CaseResult r) {
    return switch (r.role()) {
      case BUGGY -> "buggy";
      case FIXED_TWIN -> "fixed";
      case EXTRA_HEALTHY -> "healthy";
    };
  }

  private static String analyzerCell(Outcome o) {
    if (!o.detected()) {
      return o.verdict();
    }
    StringBuilder cell = new StringBuilder(o.verdict());
    cell.append(" @").append(o.step());
    if (o.symptom() != null) {
      cell.append(' ').append(o.symptom());
    }
    if (o.location() != null) {
      cell.append(" in ").append(o.location());
    }
    return cell.toString();
  }

  private static String baselineCell(Outcome o) {
    return o.detected() ? "stop @" + o.step() : o.verdict();
  }

  /** The figure of an analyzer mode: a group has one for each. */
  private static String figure(Map<Tool, Proportion> values, Tool tool) {
    return requireNonNull(values.get(tool), "a group has a figure per analyzer mode").toString();
  }

  private static String mark(@Nullable Boolean value) {
    return value == null ? "" : value ? "yes" : "no";
  }

  private static String earlier(CaseResult r) {
    if (!r.testCase().buggy()) {
      return "";
    }
    List<String> parts = new ArrayList<>();
    for (Tool baseline : Tool.baselines()) {
      Long delta = r.stepsEarlierThan(baseline);
      if (delta != null) {
        parts.add(format(ROOT, "%+d", delta));
      } else if (r.outcome(Tool.DEFAULT).detected()) {
        parts.add("only us");
      } else if (r.outcome(baseline).detected()) {
        parts.add("only it");
      } else {
        parts.add("-");
      }
    }
    return String.join(" / ", parts);
  }

  // ------------------------------------------------------------------ per scope

  private void scope(Scope scope) {
    String name;
    if (scope.name().equals(Scope.ALL)) {
      name = selection().isEmpty() ? "All cases" : "All selected cases (" + selection() + ")";
    } else {
      name = "Split " + scope.name();
    }
    heading(
        3,
        format(
            ROOT,
            "%s: %d buggy, %d healthy (%d fixed twins, %d extra), %d pairs%s",
            name,
            scope.buggy(),
            scope.healthy(),
            scope.fixedTwins(),
            scope.extraHealthy(),
            scope.pairs(),
            scope.errors() == 0 ? "" : format(ROOT, ", %d not analysed", scope.errors())));
    rates(scope);
    for (Confusion confusion : scope.confusions()) {
      heading(4, "Symptoms (" + scope.name() + "): expected vs " + confusion.tool().label());
      confusion(confusion);
    }
    if (!scope.byFramework().isEmpty()) {
      heading(4, "Per framework (" + scope.name() + ")");
      groups("framework", scope.byFramework());
    }
    if (!scope.byArchitecture().isEmpty()) {
      heading(4, "Per architecture (" + scope.name() + ")");
      groups("architecture", scope.byArchitecture());
    }
    if (perDetector) {
      heading(4, "Per detector (" + scope.name() + "), dl-analyze default mode");
      detectors(scope);
    }
  }

  private void rates(Scope scope) {
    List<String[]> rows = new ArrayList<>();
    String[] header = new String[Tool.values().length + 1];
    header[0] = "figure";
    for (Tool tool : Tool.values()) {
      header[tool.ordinal() + 1] = tool.shortLabel();
    }
    rows.add(header);
    for (Figure figure : Figure.values()) {
      String[] row = new String[header.length];
      row[0] = figure.label();
      for (Tool tool : Tool.values()) {
        Proportion value = scope.tool(tool).get(figure);
        row[tool.ordinal() + 1] = value == null ? "-" : value.toString();
      }
      rows.add(row);
    }
    table(rows);
  }

  private void confusion(Confusion confusion) {
    List<String[]> rows = new ArrayList<>();
    List<String> header = new ArrayList<>();
    header.add("expected / reported");
    header.addAll(confusion.columns());
    header.add("n");
    header.add("right");
    rows.add(header.toArray(String[]::new));
    for (ConfusionRow row : confusion.rows()) {
      List<String> cells = new ArrayList<>();
      cells.add(row.expected().wireName());
      for (int count : row.counts()) {
        cells.add(String.valueOf(count));
      }
      cells.add(String.valueOf(row.total()));
      cells.add(String.valueOf(row.right()));
      rows.add(cells.toArray(String[]::new));
    }
    if (confusion.rows().isEmpty()) {
      out.append("(no buggy run)\n");
      return;
    }
    table(rows);
  }

  private void groups(String label, List<Group> groups) {
    List<String[]> rows = new ArrayList<>();
    rows.add(
        new String[] {
          label,
          "pairs fully right: " + Tool.DEFAULT.shortLabel(),
          "false alarms: " + Tool.DEFAULT.shortLabel(),
          "pairs fully right: " + Tool.DEEPLOCALIZE.shortLabel(),
          "false alarms: " + Tool.DEEPLOCALIZE.shortLabel()
        });
    for (Group group : groups) {
      rows.add(
          new String[] {
            group.value() == null ? "(none)" : group.value(),
            figure(group.pairsRight(), Tool.DEFAULT),
            figure(group.falseAlarms(), Tool.DEFAULT),
            figure(group.pairsRight(), Tool.DEEPLOCALIZE),
            figure(group.falseAlarms(), Tool.DEEPLOCALIZE)
          });
    }
    table(rows);
  }

  private void detectors(Scope scope) {
    List<String[]> rows = new ArrayList<>();
    rows.add(
        new String[] {
          "detector",
          "healthy: warning+ (false alarm)",
          "healthy: info only",
          "buggy: warning+ (recall)",
          "buggy: warning+ at the expected place"
        });
    for (DetectorFigures d : scope.detectors()) {
      rows.add(
          new String[] {
            d.id(),
            d.healthyWarning().toString(),
            d.healthyInfoOnly().toString(),
            d.buggyWarning().toString(),
            d.buggyAtExpectedPlace().toString()
          });
    }
    table(rows);
  }

  // ------------------------------------------------------------------ dev vs test, timing

  private void devVsTest() {
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"approach", "figure", "dev", "test", "dev - test", "differs"});
    for (Comparison c : result.devVsTest()) {
      rows.add(
          new String[] {
            c.tool().shortLabel(),
            c.figure().label(),
            c.dev().toString(),
            c.test().toString(),
            c.difference() == null
                ? "-"
                : format(
                    ROOT,
                    "%+.1f [%+.1f, %+.1f]",
                    100 * c.difference().value(),
                    100 * c.difference().low(),
                    100 * c.difference().high()),
            c.difference() == null ? "-" : c.differs() ? "yes" : "no"
          });
    }
    table(rows);
  }

  private void timing() {
    List<String[]> rows = new ArrayList<>();
    rows.add(
        new String[] {
          "baseline",
          "both fired",
          "dl-analyze earlier",
          "same step",
          "baseline earlier",
          "median steps earlier",
          "only dl-analyze",
          "only baseline"
        });
    for (Timeliness t : result.timeliness()) {
      rows.add(
          new String[] {
            t.baseline().label(),
            String.valueOf(t.bothFired()),
            String.valueOf(t.earlier()),
            String.valueOf(t.same()),
            String.valueOf(t.later()),
            t.medianStepsEarlier() == null ? "-" : number(t.medianStepsEarlier()),
            String.valueOf(t.onlyDlAnalyze()),
            String.valueOf(t.onlyBaseline())
          });
    }
    table(rows);
  }

  private static String number(double value) {
    return value == Math.rint(value) ? String.valueOf((long) value) : format(ROOT, "%.1f", value);
  }
}
