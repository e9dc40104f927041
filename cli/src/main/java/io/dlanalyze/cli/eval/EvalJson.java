package io.dlanalyze.cli.eval;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.cli.eval.Evaluation.CaseResult;
import io.dlanalyze.cli.eval.Evaluation.Firing;
import io.dlanalyze.cli.eval.Evaluation.Outcome;
import io.dlanalyze.cli.eval.Evaluation.Result;
import io.dlanalyze.cli.eval.Evaluation.Timeliness;
import io.dlanalyze.cli.eval.Scope.Comparison;
import io.dlanalyze.cli.eval.Scope.Confusion;
import io.dlanalyze.cli.eval.Scope.ConfusionRow;
import io.dlanalyze.cli.eval.Scope.DetectorFigures;
import io.dlanalyze.cli.eval.Scope.Group;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** The evaluation as JSON (docs/cli.md, "eval", documents every field). */
final class EvalJson {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private EvalJson() {}

  static String render(Result result) {
    ObjectNode root = JSON.createObjectNode();
    root.put("eval_version", EvalRenderer.JSON_VERSION);
    root.put("manifest", result.manifest().path().toString());
    ObjectNode selection = root.putObject("selection");
    selection.put("split", result.selection().split());
    selection.put("framework", result.selection().framework());
    ArrayNode cases = root.putArray("cases");
    for (CaseResult r : result.cases()) {
      caseNode(result, r, cases.addObject());
    }
    ObjectNode splits = root.putObject("splits");
    for (Scope scope : result.scopes()) {
      scopeNode(scope, splits.putObject(scope.name()));
    }
    if (result.devVsTest().isEmpty()) {
      root.putNull("dev_vs_test");
    } else {
      ArrayNode comparisons = root.putArray("dev_vs_test");
      for (Comparison c : result.devVsTest()) {
        comparison(c, comparisons.addObject());
      }
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

  private static void caseNode(Result result, CaseResult r, ObjectNode node) {
    Manifest.Case c = r.testCase();
    node.put("id", c.id());
    node.put("trace", relative(result.manifest().path(), c.trace()));
    node.put("buggy", c.buggy());
    node.put("role", r.role().id());
    node.put("family", c.family());
    node.put("split", c.split());
    node.put("framework", c.framework());
    node.put("architecture", c.architecture());
    if (c.buggy()) {
      node.put("expected_symptom", c.expectedSymptom().wireName());
      ArrayNode acceptable = node.putArray("acceptable_symptoms");
      for (Symptom s : c.acceptableSymptoms()) {
        acceptable.add(s.wireName());
      }
      ObjectNode location = node.putObject("expected_root_cause");
      location.put("scope", c.expectedRootCause().isModel() ? "model" : "layer");
      location.put("layer_index", c.expectedRootCause().layerIndex());
      location.put("layer_name", c.expectedRootCause().layerName());
    }
    node.put("twin", c.twin());
    if (r.error() != null) {
      node.put("error", r.error());
      return;
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
    ArrayNode firings = node.putArray("detectors");
    for (Firing firing : r.firings()) {
      ObjectNode f = firings.addObject();
      f.put("id", firing.detector());
      f.put("severity", firing.severity().wireName());
      putBoolean(f, "at_expected_place", firing.atExpectedPlace());
    }
  }

  private static void scopeNode(Scope scope, ObjectNode node) {
    node.put("buggy", scope.buggy());
    node.put("healthy", scope.healthy());
    node.put("fixed_twins", scope.fixedTwins());
    node.put("extra_healthy", scope.extraHealthy());
    node.put("pairs", scope.pairs());
    node.put("errors", scope.errors());
    ObjectNode tools = node.putObject("tools");
    for (Scope.ToolFigures figures : scope.tools()) {
      ObjectNode t = tools.putObject(figures.tool().id());
      t.put("label", figures.tool().label());
      for (Map.Entry<Figure, Proportion> e : figures.values().entrySet()) {
        proportion(t.putObject(e.getKey().id()), e.getValue());
      }
    }
    ObjectNode confusions = node.putObject("confusion");
    for (Confusion confusion : scope.confusions()) {
      ObjectNode c = confusions.putObject(confusion.tool().id());
      ArrayNode columns = c.putArray("columns");
      confusion.columns().forEach(columns::add);
      ArrayNode rows = c.putArray("rows");
      for (ConfusionRow row : confusion.rows()) {
        ObjectNode r = rows.addObject();
        r.put("expected", row.expected().wireName());
        ObjectNode counts = r.putObject("counts");
        for (int i = 0; i < confusion.columns().size(); i++) {
          counts.put(confusion.columns().get(i), row.counts().get(i));
        }
        r.put("n", row.total());
        r.put("right", row.right());
      }
    }
    groups(node.putArray("by_framework"), scope.byFramework());
    groups(node.putArray("by_architecture"), scope.byArchitecture());
    ArrayNode detectors = node.putArray("detectors");
    for (DetectorFigures d : scope.detectors()) {
      ObjectNode n = detectors.addObject();
      n.put("id", d.id());
      proportion(n.putObject("healthy_warning"), d.healthyWarning());
      proportion(n.putObject("healthy_info_only"), d.healthyInfoOnly());
      proportion(n.putObject("buggy_warning"), d.buggyWarning());
      proportion(n.putObject("buggy_at_expected_place"), d.buggyAtExpectedPlace());
    }
  }

  private static void groups(ArrayNode array, List<Group> groups) {
    for (Group group : groups) {
      ObjectNode g = array.addObject();
      g.put("value", group.value());
      ObjectNode pairs = g.putObject("pairs_right");
      for (Map.Entry<Tool, Proportion> e : group.pairsRight().entrySet()) {
        proportion(pairs.putObject(e.getKey().id()), e.getValue());
      }
      ObjectNode alarms = g.putObject("false_alarms");
      for (Map.Entry<Tool, Proportion> e : group.falseAlarms().entrySet()) {
        proportion(alarms.putObject(e.getKey().id()), e.getValue());
      }
    }
  }

  private static void comparison(Comparison c, ObjectNode node) {
    node.put("tool", c.tool().id());
    node.put("figure", c.figure().id());
    proportion(node.putObject("dev"), c.dev());
    proportion(node.putObject("test"), c.test());
    if (c.difference() == null) {
      node.putNull("difference");
      node.putNull("low");
      node.putNull("high");
    } else {
      node.put("difference", c.difference().value());
      node.put("low", c.difference().low());
      node.put("high", c.difference().high());
    }
    node.put("differs", c.differs());
  }

  /** {@code {"k", "n", "rate", "low", "high"}}; the last three null when n is 0. */
  /** k, n, the rate and its 95% Wilson interval (null when n is 0). */
  static void proportion(ObjectNode node, Proportion p) {
    node.put("k", p.k());
    node.put("n", p.n());
    if (p.n() == 0) {
      node.putNull("rate");
      node.putNull("low");
      node.putNull("high");
    } else {
      node.put("rate", p.rate());
      node.put("low", p.low());
      node.put("high", p.high());
    }
  }

  private static String relative(Path manifest, Path trace) {
    Path base = requireNonNull(manifest.toAbsolutePath().getParent(), "a file is in a directory");
    return base.relativize(trace).toString().replace('\\', '/');
  }

  private static void putBoolean(ObjectNode node, String field, @Nullable Boolean value) {
    if (value == null) {
      node.putNull(field);
    } else {
      node.put(field, value);
    }
  }
}
