package io.dlanalyze.analyzer.report;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Timing;
import io.dlanalyze.analyzer.TraceSummary;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.analyzer.text.Phrases;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Pieces of text the text and markdown renderers share. */
final class TextSupport {
  /** Consequences listed before "and N more". */
  static final int MAX_CONSEQUENCES = 8;

  private TextSupport() {}

  /**
   * The time line of {@code --timing}: {@code 412 ms, 2.1e+06 rows/s}, or for a run stopped at its
   * first fault {@code 338 ms for 90 rows (stopped at the first fault; no rate)}.
   */
  static String timing(Timing timing) {
    long ms = timing.elapsedNanos() / 1_000_000;
    if (timing.stoppedEarly()) {
      return format(
          ROOT, "%d ms for %d rows (stopped at the first fault; no rate)", ms, timing.rows());
    }
    return format(ROOT, "%d ms, %s rows/s", ms, Numbers.format(timing.rowsPerSecond()));
  }

  static String evidence(Evidence evidence) {
    List<String> parts = new ArrayList<>();
    for (Map.Entry<String, Object> entry : evidence.asMap().entrySet()) {
      Object value = entry.getValue();
      String text = value instanceof Double d ? Numbers.format(d) : String.valueOf(value);
      parts.add(entry.getKey() + "=" + text);
    }
    return String.join(", ", parts);
  }

  static String consequences(List<Consequence> consequences) {
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < consequences.size() && i < MAX_CONSEQUENCES; i++) {
      Consequence c = consequences.get(i);
      String where =
          c.layerIndex() < 0 ? c.phase().wireName() : c.layerName() + " " + c.phase().wireName();
      parts.add(format(ROOT, "%s from step %d", where, c.firstStep()));
    }
    String text = String.join("; ", parts);
    if (consequences.size() > MAX_CONSEQUENCES) {
      text += format(ROOT, "; and %d more", consequences.size() - MAX_CONSEQUENCES);
    }
    return text;
  }

  static String place(Finding finding) {
    return finding.isModelLevel()
        ? "model " + finding.phase().wireName()
        : format(
            ROOT,
            "%s (layer %d) %s",
            finding.layerName(),
            finding.layerIndex(),
            finding.phase().wireName());
  }

  static String steps(Finding finding) {
    String range =
        finding.firstStep() == finding.lastStep()
            ? format(ROOT, "step %d", finding.firstStep())
            : format(ROOT, "steps %d-%d", finding.firstStep(), finding.lastStep());
    return format(
        ROOT,
        "%s (epoch %s, batch %s), seen in %s",
        range,
        orDash(finding.epoch()),
        orDash(finding.batch()),
        Phrases.count(finding.occurrences(), "step", "steps"));
  }

  static String baselineOutcome(BaselineResult baseline) {
    return switch (baseline.status()) {
      case STOPPED -> {
        String when =
            format(
                ROOT,
                "stops after step %d (epoch %d, batch %d)",
                baseline.stopStep(),
                baseline.epoch(),
                baseline.batch());
        Long delta = baseline.stepsAfterFirstFinding();
        if (delta == null) {
          yield when;
        }
        if (delta == 0) {
          yield when + ", at the first finding's step";
        }
        yield when
            + format(
                ROOT,
                ", %d steps %s the first finding",
                Math.abs(delta),
                delta < 0 ? "before" : "after");
      }
      case NEVER -> "never stops";
      case NOT_APPLICABLE -> "not applicable";
    };
  }

  static String traceLine(TraceSummary trace) {
    return format(
        ROOT,
        "%s (%s): %d rows, %d steps, %d epochs, %d layers",
        trace.path(),
        trace.format(),
        trace.rows(),
        trace.steps(),
        trace.epochs(),
        trace.layers().size());
  }

  static String orDash(long value) {
    return value < 0 ? "-" : Long.toString(value);
  }
}
