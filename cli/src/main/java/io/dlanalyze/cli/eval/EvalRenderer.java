package io.dlanalyze.cli.eval;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.cli.eval.Evaluation.CaseResult;
import io.dlanalyze.cli.eval.Evaluation.Outcome;
import io.dlanalyze.cli.eval.Evaluation.Result;
import io.dlanalyze.cli.eval.Evaluation.Timeliness;
import io.dlanalyze.cli.eval.Evaluation.ToolTotals;
import java.util.ArrayList;
import java.util.List;

/** Lays out an {@link Evaluation.Result} as the paper-style table: text, markdown or JSON. */
public final class EvalRenderer {
  /** Version of the JSON layout. */
  public static final int JSON_VERSION = 1;

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private EvalRenderer() {}

  public static String render(Result result, EvalFormat format) {
    return switch (format) {
      case TEXT -> tables(result, false);
      case MARKDOWN -> tables(result, true);
      case JSON -> json(result);
    };
  }

  // ------------------------------------------------------------------ text and markdown

  private static String tables(Result result, boolean markdown) {
    StringBuilder out = new StringBuilder();
    if (markdown) {
      out.append("### Per case\n\n");
    } else {
      out.append(
          format(
              ROOT,
              "dl-analyze eval %s: %d cases%n%n",
              result.manifest().path(),
              result.cases().size()));
    }
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
      String expected = c.buggy() ? c.symptom().wireName() + " @ " + c.rootCause() : "healthy";
      if (r.error() != null) {
        rows.add(
            new String[] {
              c.id(), truth(c), expected, "error: " + r.error(), "", "", "", "", "", "", "", "", ""
            });
        continue;
      }
      rows.add(
          new String[] {
            c.id(),
            truth(c),
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
    table(out, rows, markdown);

    out.append(markdown ? "\n### Totals\n\n" : "\nTotals\n");
    int buggy = result.totals().get(0).buggy();
    int fixed = result.totals().get(0).fixed();
    List<String[]> totals = new ArrayList<>();
    totals.add(
        new String[] {
          "approach",
          format(ROOT, "detected (of %d buggy)", buggy),
          "correctly localized",
          "right symptom",
          format(ROOT, "false alarms (of %d fixed)", fixed)
        });
    for (ToolTotals t : result.totals()) {
      totals.add(
          new String[] {
            t.tool().label(),
            String.valueOf(t.detected()),
            t.tool().localizes() ? String.valueOf(t.localized()) : "-",
            t.tool().localizes() ? String.valueOf(t.symptomRight()) : "-",
            String.valueOf(t.falseAlarms())
          });
    }
    table(out, totals, markdown);

    out.append(
        markdown
            ? "\n### First fault: dl-analyze (default) vs each baseline, buggy cases\n\n"
            : "\nFirst fault: dl-analyze (default) vs each baseline, buggy cases\n");
    List<String[]> timing = new ArrayList<>();
    timing.add(
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
      timing.add(
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
    table(out, timing, markdown);
    if (result.errors() > 0) {
      out.append(
          format(
              ROOT,
              "%n%d case(s) could not be analysed (see \"error:\" rows).%n",
              result.errors()));
    }
    return out.toString();
  }

  private static String truth(Manifest.Case c) {
    return c.buggy() ? "buggy" : "fixed";
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

  private static String mark(Boolean value) {
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
        parts.add(String.format(ROOT, "%+d", delta));
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

  private static String number(double value) {
    return value == Math.rint(value)
        ? String.valueOf((long) value)
        : String.format(ROOT, "%.1f", value);
  }

  private static void table(StringBuilder out, List<String[]> rows, boolean markdown) {
    int columns = rows.get(0).length;
    int[] widths = new int[columns];
    for (String[] row : rows) {
      for (int i = 0; i < columns; i++) {
        widths[i] = Math.max(widths[i], row[i].length());
      }
    }
    for (int r = 0; r < rows.size(); r++) {
      String[] row = rows.get(r);
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < columns; i++) {
        if (markdown) {
          line.append("| ").append(row[i].replace("|", "\\|")).append(' ');
        } else {
          line.append(row[i]);
          if (i < columns - 1) {
            line.append(" ".repeat(widths[i] - row[i].length() + 2));
          }
        }
      }
      if (markdown) {
        line.append('|');
      }
      out.append(stripTrailing(line)).append('\n');
      if (r == 0) {
        StringBuilder rule = new StringBuilder();
        for (int i = 0; i < columns; i++) {
          if (markdown) {
            rule.append("|---");
          } else {
            rule.append("-".repeat(widths[i]));
            if (i < columns - 1) {
              rule.append("  ");
            }
          }
        }
        out.append(markdown ? rule.append('|') : rule).append('\n');
      }
    }
  }

  private static String stripTrailing(StringBuilder line) {
    int end = line.length();
    while (end > 0 && line.charAt(end - 1) == ' ') {
      end--;
    }
    return line.substring(0, end);
  }

  // ------------------------------------------------------------------ JSON

  private static String json(Result result) {
    ObjectNode root = JSON.createObjectNode();
    root.put("eval_version", JSON_VERSION);
    root.put("manifest", result.manifest().path().toString());
    ArrayNode cases = root.putArray("cases");
    for (CaseResult r : result.cases()) {
      Manifest.Case c = r.testCase();
      ObjectNode node = cases.addObject();
      node.put("id", c.id());
      node.put("trace", relative(result, c));
      node.put("buggy", c.buggy());
      if (c.buggy()) {
        node.put("expected_symptom", c.symptom().wireName());
        ArrayNode acceptable = node.putArray("acceptable_symptoms");
        for (Symptom s : c.acceptableSymptoms()) {
          acceptable.add(s.wireName());
        }
        ObjectNode location = node.putObject("expected_root_cause");
        location.put("scope", c.rootCause().isModel() ? "model" : "layer");
        location.put("layer_index", c.rootCause().layerIndex());
        location.put("layer_name", c.rootCause().layerName());
      }
      node.put("twin", c.twin());
      if (r.error() != null) {
        node.put("error", r.error());
        continue;
      }
      node.put("steps", r.steps());
      ObjectNode tools = node.putObject("tools");
      for (Tool tool : Tool.values()) {
        Outcome o = r.outcome(tool);
        ObjectNode t = tools.putObject(tool.id());
        t.put("detected", o.detected());
        t.put("verdict", o.verdict());
        if (o.step() >= 0) {
          t.put("step", o.step());
        } else {
          t.putNull("step");
        }
        if (tool.localizes()) {
          t.put("symptom", o.symptom());
          t.put("location", o.location());
          putBoolean(t, "localized", o.localized());
          putBoolean(t, "symptom_right", o.symptomRight());
        }
      }
      if (c.buggy()) {
        ObjectNode earlier = node.putObject("steps_earlier_than");
        for (Tool baseline : Tool.baselines()) {
          Long delta = r.stepsEarlierThan(baseline);
          if (delta == null) {
            earlier.putNull(baseline.id());
          } else {
            earlier.put(baseline.id(), delta);
          }
        }
      }
    }
    ObjectNode totals = root.putObject("totals");
    for (ToolTotals t : result.totals()) {
      ObjectNode node = totals.putObject(t.tool().id());
      node.put("label", t.tool().label());
      node.put("buggy", t.buggy());
      node.put("detected", t.detected());
      if (t.tool().localizes()) {
        node.put("localized", t.localized());
        node.put("symptom_right", t.symptomRight());
      }
      node.put("fixed", t.fixed());
      node.put("false_alarms", t.falseAlarms());
    }
    ObjectNode timing = root.putObject("first_fault_vs_baselines");
    for (Timeliness t : result.timeliness()) {
      ObjectNode node = timing.putObject(t.baseline().id());
      node.put("both_fired", t.bothFired());
      node.put("dl_analyze_earlier", t.earlier());
      node.put("same_step", t.same());
      node.put("baseline_earlier", t.later());
      if (t.medianStepsEarlier() == null) {
        node.putNull("median_steps_earlier");
      } else {
        node.put("median_steps_earlier", t.medianStepsEarlier());
      }
      node.put("only_dl_analyze", t.onlyDlAnalyze());
      node.put("only_baseline", t.onlyBaseline());
    }
    root.put("errors", result.errors());
    try {
      return JSON.writeValueAsString(root) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize the evaluation", e);
    }
  }

  private static String relative(Result result, Manifest.Case c) {
    java.nio.file.Path base = result.manifest().path().toAbsolutePath().getParent();
    return base.relativize(c.trace()).toString().replace('\\', '/');
  }

  private static void putBoolean(ObjectNode node, String field, Boolean value) {
    if (value == null) {
      node.putNull(field);
    } else {
      node.put(field, value);
    }
  }
}
