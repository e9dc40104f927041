package io.dlanalyze.analyzer.compare;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.compare.Comparison.Curve;
import io.dlanalyze.analyzer.compare.Comparison.Divergence;
import io.dlanalyze.analyzer.compare.Comparison.FindingMatch;
import io.dlanalyze.analyzer.compare.Comparison.Run;
import io.dlanalyze.analyzer.text.Numbers;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** A comparison as plain text: the first divergence first, then the details. */
public final class ComparisonText {
  /** Divergences listed in text; JSON lists them all. */
  static final int MAX_DIVERGENCES = 20;

  /** Rows of the loss and accuracy table, evenly spread over the steps. */
  static final int CURVE_ROWS = 12;

  private ComparisonText() {}

  public static String render(Comparison c) {
    StringBuilder out = new StringBuilder();
    out.append(format(ROOT, "a: %s%n", describe(c.a())));
    out.append(format(ROOT, "b: %s%n", describe(c.b())));
    out.append(
        format(
            ROOT,
            "Compared over %d common steps; a band is %s typical step-to-step changes wide.%n%n",
            c.commonSteps(),
            Numbers.format(c.bandWidth())));
    Divergence first = c.firstDivergence();
    if (first == null) {
      out.append(
          format(
              ROOT,
              "No divergence: every statistic of every paired layer and phase stays within the"
                  + " other run's band.%n"));
    } else {
      out.append(format(ROOT, "First divergence: %s%n", sentence(first)));
    }
    if (c.divergences().size() > 1) {
      out.append(format(ROOT, "%nFirst divergence per layer and phase (earliest first):%n"));
      out.append(
          format(
              ROOT,
              "  %6s  %-24s %-13s %-22s %12s %12s  %s%n",
              "step",
              "layer",
              "phase",
              "statistic",
              "a",
              "b",
              "band left"));
      List<Divergence> list = c.divergences();
      for (int i = 0; i < Math.min(list.size(), MAX_DIVERGENCES); i++) {
        Divergence d = list.get(i);
        out.append(
            format(
                ROOT,
                "  %6d  %-24s %-13s %-22s %12s %12s  %s%n",
                d.step(),
                d.layer(),
                d.phase().wireName(),
                d.statistic(),
                Numbers.format(d.valueA()),
                Numbers.format(d.valueB()),
                band(d)));
      }
      if (list.size() > MAX_DIVERGENCES) {
        out.append(
            format(
                ROOT,
                "  ... and %d more (--format json lists them all)%n",
                list.size() - MAX_DIVERGENCES));
      }
    }
    curves(c, out);
    findings(c, out);
    if (!c.notes().isEmpty()) {
      out.append(format(ROOT, "%nNotes:%n"));
      for (String note : c.notes()) {
        out.append("  - ").append(note).append(System.lineSeparator());
      }
    }
    return out.toString();
  }

  private static String describe(Run run) {
    return format(
        ROOT,
        "%s (%s, %d findings; %s)",
        run.path(),
        run.report().verdict().wireName(),
        run.report().findings().size(),
        run.steps() == 0
            ? "no step"
            : format(ROOT, "%d steps, %d to %d", run.steps(), run.firstStep(), run.lastStep()));
  }

  /** One sentence: where, which statistic, both values and the band. */
  public static String sentence(Divergence d) {
    return format(
        ROOT,
        "step %d, %s %s, %s: a %s, b %s (%s %s)",
        d.step(),
        d.layer(),
        d.phase().wireName(),
        d.statistic(),
        Numbers.format(d.valueA()),
        Numbers.format(d.valueB()),
        d.left(),
        band(d));
  }

  private static String band(Divergence d) {
    if (d.statistic().startsWith("nan_count")) {
      return "[0]";
    }
    return "[" + Numbers.format(d.low()) + ", " + Numbers.format(d.high()) + "]";
  }

  private static void curves(Comparison c, StringBuilder out) {
    Curve loss = curve(c, "loss");
    Curve accuracy = curve(c, "accuracy");
    Curve base = loss != null ? loss : accuracy;
    if (base == null) {
      return;
    }
    out.append(format(ROOT, "%nLoss and accuracy side by side:%n"));
    out.append(
        format(
            ROOT,
            "  %6s  %12s %12s  %12s %12s%n",
            "step",
            "loss a",
            "loss b",
            "accuracy a",
            "accuracy b"));
    int n = base.steps().length;
    int rows = Math.min(n, CURVE_ROWS);
    for (int r = 0; r < rows; r++) {
      int i = rows == 1 ? 0 : (int) ((long) r * (n - 1) / (rows - 1));
      long step = base.steps()[i];
      out.append(
          format(
              ROOT,
              "  %6d  %12s %12s  %12s %12s%n",
              step,
              value(loss, step, true),
              value(loss, step, false),
              value(accuracy, step, true),
              value(accuracy, step, false)));
    }
  }

  private static @Nullable Curve curve(Comparison c, String name) {
    for (Curve curve : c.curves()) {
      if (curve.name().equals(name)) {
        return curve;
      }
    }
    return null;
  }

  private static String value(@Nullable Curve curve, long step, boolean a) {
    if (curve == null) {
      return "-";
    }
    int i = java.util.Arrays.binarySearch(curve.steps(), step);
    if (i < 0) {
      return "-";
    }
    if (a) {
      return curve.hasA()[i] ? Numbers.format(curve.a()[i]) : "-";
    }
    return curve.hasB()[i] ? Numbers.format(curve.b()[i]) : "-";
  }

  private static void findings(Comparison c, StringBuilder out) {
    if (c.findings().isEmpty()) {
      out.append(format(ROOT, "%nFindings: none in either run.%n"));
      return;
    }
    out.append(format(ROOT, "%nFindings (by presence):%n"));
    for (String presence : new String[] {"only a", "only b", "both"}) {
      for (FindingMatch f : c.findings()) {
        if (!f.presence().equals(presence)) {
          continue;
        }
        String steps =
            switch (presence) {
              case "only a" -> format(ROOT, "from step %d", f.firstStepA());
              case "only b" -> format(ROOT, "from step %d", f.firstStepB());
              default -> format(ROOT, "from step %d in a, %d in b", f.firstStepA(), f.firstStepB());
            };
        out.append(
            format(
                ROOT,
                "  %-7s %-8s %-24s %-22s %-13s %s%n",
                presence,
                f.severity(),
                f.detector(),
                f.layer(),
                f.phase().wireName(),
                steps));
      }
    }
  }
}
