package io.dlanalyze.cli.eval;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dlanalyze.analyzer.Threshold;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.cli.eval.Sensitivity.Row;
import java.util.ArrayList;
import java.util.List;

/** Lays out a {@link Sensitivity.Result} as a text table, Markdown or JSON. */
public final class SensitivityRenderer {
  /** Version of the JSON layout. */
  public static final int JSON_VERSION = 1;

  /** Case ids listed per row in text and Markdown; JSON lists them all. */
  private static final int SHOWN_CASES = 3;

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private SensitivityRenderer() {}

  /** The table in this format. */
  public static String render(Sensitivity.Result result, EvalFormat format) {
    return switch (format) {
      case TEXT -> table(result, false);
      case MARKDOWN -> table(result, true);
      case JSON -> json(result);
    };
  }

  private static String table(Sensitivity.Result result, boolean markdown) {
    StringBuilder out = new StringBuilder();
    out.append(markdown ? "## " : "")
        .append("Threshold sensitivity of the default mode")
        .append(markdown ? "\n\n" : "\n");
    out.append(
        "Each threshold halved and doubled, one at a time (a share near 1: its distance to 1),"
            + " against the base run:");
    for (Scope scope : result.base().scopes()) {
      Scope.ToolFigures figures = scope.tool(Tool.DEFAULT);
      out.append(
          format(
              ROOT,
              " %s %s pairs fully right, %s false alarms;",
              scope.name(),
              fraction(figures.required(Figure.PAIRS_RIGHT)),
              fraction(figures.required(Figure.FALSE_ALARMS))));
    }
    out.setLength(out.length() - 1);
    out.append(".\n\n");
    List<String[]> rows = new ArrayList<>();
    rows.add(
        new String[] {
          "threshold",
          "value",
          "base",
          "scope",
          "pairs right",
          "change",
          "false alarms",
          "change",
          "cases that changed"
        });
    for (Row row : result.rows()) {
      Scope base = result.base().scope(row.scope());
      Scope.ToolFigures before = base == null ? null : base.tool(Tool.DEFAULT);
      rows.add(
          new String[] {
            row.threshold().key(),
            value(row.threshold(), row.value()),
            value(row.threshold(), result.options().get(row.threshold())),
            row.scope(),
            fraction(row.pairsRight()),
            before == null ? "" : change(row.pairsRight(), before.required(Figure.PAIRS_RIGHT)),
            fraction(row.falseAlarms()),
            before == null ? "" : change(row.falseAlarms(), before.required(Figure.FALSE_ALARMS)),
            changedCases(row)
          });
    }
    if (rows.size() == 1) {
      out.append("No threshold has a value to try.\n");
      return out.toString();
    }
    TableLayout.append(out, rows, markdown);
    return out.toString();
  }

  private static String fraction(Proportion p) {
    return p.k() + "/" + p.n();
  }

  private static String change(Proportion after, Proportion before) {
    int delta = after.k() - before.k();
    return delta == 0 ? "0" : format(ROOT, "%+d", delta);
  }

  private static String value(Threshold threshold, double value) {
    return threshold.integral() ? Long.toString((long) value) : Numbers.format(value);
  }

  /** "lost: a, b; raised: c and 2 more" (at most {@link #SHOWN_CASES} ids in all). */
  private static String changedCases(Row row) {
    List<String> parts = new ArrayList<>();
    int[] shown = {0};
    int total = row.changed();
    part(parts, "lost", row.pairsLost(), shown);
    part(parts, "gained", row.pairsGained(), shown);
    part(parts, "raised", row.alarmsRaised(), shown);
    part(parts, "cleared", row.alarmsCleared(), shown);
    String text = String.join("; ", parts);
    return total > shown[0] ? text + format(ROOT, " and %d more", total - shown[0]) : text;
  }

  private static void part(List<String> parts, String label, List<String> ids, int[] shown) {
    if (ids.isEmpty() || shown[0] >= SHOWN_CASES) {
      return;
    }
    List<String> some = ids.subList(0, Math.min(ids.size(), SHOWN_CASES - shown[0]));
    shown[0] += some.size();
    parts.add(label + ": " + String.join(", ", some));
  }

  private static String json(Sensitivity.Result result) {
    ObjectNode root = JSON.createObjectNode();
    root.put("sensitivity_version", JSON_VERSION);
    root.put("manifest", result.base().manifest().path().toString());
    ObjectNode base = root.putObject("base");
    for (Scope scope : result.base().scopes()) {
      Scope.ToolFigures figures = scope.tool(Tool.DEFAULT);
      ObjectNode node = base.putObject(scope.name());
      EvalJson.proportion(node.putObject("pairs_right"), figures.required(Figure.PAIRS_RIGHT));
      EvalJson.proportion(node.putObject("false_alarms"), figures.required(Figure.FALSE_ALARMS));
    }
    ArrayNode rows = root.putArray("rows");
    for (Row row : result.rows()) {
      ObjectNode node = rows.addObject();
      node.put("threshold", row.threshold().key());
      node.put("value", row.value());
      node.put("base_value", result.options().get(row.threshold()));
      node.put("scope", row.scope());
      EvalJson.proportion(node.putObject("pairs_right"), row.pairsRight());
      EvalJson.proportion(node.putObject("false_alarms"), row.falseAlarms());
      ids(node.putArray("pairs_gained"), row.pairsGained());
      ids(node.putArray("pairs_lost"), row.pairsLost());
      ids(node.putArray("alarms_raised"), row.alarmsRaised());
      ids(node.putArray("alarms_cleared"), row.alarmsCleared());
    }
    try {
      return JSON.writeValueAsString(root) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the sensitivity table as JSON", e);
    }
  }

  private static void ids(ArrayNode array, List<String> ids) {
    ids.forEach(array::add);
  }
}
