package io.dlanalyze.analyzer.report;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.trace.Printable;
import java.io.IOException;
import java.io.Writer;

/**
 * The report for a terminal: short, aligned, coloured only when {@link RenderOptions#color()}.
 * Every string that comes from the trace (layer names, messages that quote them, paths, warnings)
 * goes through {@link Printable#escape}: a hostile layer name cannot emit escape sequences or forge
 * report lines.
 */
final class TextReportRenderer implements ReportRenderer {
  private static final String RESET = "\u001B[0m";
  private static final String BOLD = "\u001B[1m";
  private static final String RED = "\u001B[31m";
  private static final String GREEN = "\u001B[32m";
  private static final String YELLOW = "\u001B[33m";
  private static final String CYAN = "\u001B[36m";
  private static final String MAGENTA = "\u001B[35m";

  private final RenderOptions options;

  TextReportRenderer(RenderOptions options) {
    this.options = options;
  }

  @Override
  public void render(Report report, Writer out) throws IOException {
    StringBuilder text = new StringBuilder();
    text.append(paint(BOLD, "dl-analyze report"))
        .append(" (")
        .append(report.mode().wireName())
        .append(" mode)\n");
    text.append("Trace:   ").append(p(TextSupport.traceLine(report.trace()))).append('\n');
    text.append("Verdict: ")
        .append(
            paint(verdictColor(report.verdict()), report.verdict().wireName().toUpperCase(ROOT)))
        .append(" - ")
        .append(p(report.verdictReason()))
        .append('\n');
    RootCause root = report.rootCause();
    if (root != null) {
      String where =
          root.layerIndex() < 0
              ? "model"
              : format(ROOT, "%s (layer %d)", root.layerName(), root.layerIndex());
      text.append("Root cause: ")
          .append(paint(BOLD, p(where)))
          .append(": ")
          .append(p(root.cause()))
          .append('\n');
      if (root.suggestedFix() != null) {
        text.append("Suggested fix: ").append(p(root.suggestedFix())).append('\n');
      }
      for (RootCause.Alternative alternative : root.alternatives()) {
        text.append("  or: ").append(p(alternative.cause()));
        if (alternative.suggestedFix() != null) {
          text.append(" -> ").append(p(alternative.suggestedFix()));
        }
        text.append('\n');
      }
    }
    text.append('\n');
    if (report.findings().isEmpty()) {
      text.append("Findings: none\n");
    } else {
      ReportStory story = ReportStory.of(report);
      text.append(
          format(
                  ROOT,
                  "Findings (%d; the root cause's first, then by what they explain; #: rank in"
                      + " causal order):%n",
                  report.findings().size())
              .replace("\r\n", "\n"));
      for (ReportStory.Group group : story.groups()) {
        text.append("  ").append(group.kind().title()).append(":\n");
        for (int rank : group.ranks()) {
          Finding finding = report.findings().get(rank - 1);
          text.append(format(ROOT, "%3d. ", rank))
              .append(
                  paint(
                      severityColor(finding.severity()), "[" + finding.severity().wireName() + "]"))
              .append(' ')
              .append(finding.detector())
              .append(": ")
              .append(p(TextSupport.place(finding)))
              .append(", ")
              .append(TextSupport.steps(finding))
              .append('\n');
          text.append("     ").append(p(finding.message())).append('\n');
          if (!finding.evidence().isEmpty()) {
            text.append("     evidence: ")
                .append(p(TextSupport.evidence(finding.evidence())))
                .append('\n');
          }
          if (!finding.consequences().isEmpty()) {
            text.append("     spread to: ")
                .append(p(TextSupport.consequences(finding.consequences())))
                .append('\n');
          }
        }
      }
    }
    text.append('\n').append("Keras baselines (replayed on the same trace):\n");
    int width = 0;
    for (BaselineResult baseline : report.baselines()) {
      width = Math.max(width, baseline.callback().length());
    }
    for (BaselineResult baseline : report.baselines()) {
      text.append("  ").append(baseline.callback());
      text.append(" ".repeat(width - baseline.callback().length() + 2));
      text.append(p(TextSupport.baselineOutcome(baseline))).append('\n');
    }
    if (!report.trace().warnings().isEmpty()) {
      text.append('\n').append("Warnings:\n");
      for (String warning : report.trace().warnings()) {
        text.append("  - ").append(p(warning)).append('\n');
      }
    }
    if (options.timing() && report.timing() != null) {
      text.append('\n').append("Time: ").append(TextSupport.timing(report.timing())).append('\n');
    }
    out.write(text.toString());
  }

  /** A string from the trace or derived from it, with control characters made visible. */
  private static String p(String text) {
    return Printable.escapeText(text);
  }

  private String paint(String color, String text) {
    return options.color() ? color + text + RESET : text;
  }

  private static String verdictColor(Verdict verdict) {
    return switch (verdict) {
      case BUGGY -> BOLD + RED;
      case HEALTHY -> BOLD + GREEN;
      case INCONCLUSIVE -> BOLD + YELLOW;
    };
  }

  private static String severityColor(Severity severity) {
    return switch (severity) {
      case INFO -> CYAN;
      case WARNING -> YELLOW;
      case ERROR -> RED;
      case CRITICAL -> BOLD + MAGENTA;
    };
  }
}
