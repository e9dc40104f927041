package io.dlanalyze.analyzer.report;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.TraceSummary;
import io.dlanalyze.trace.Printable;
import java.io.IOException;
import java.io.Writer;
import java.util.Map;

/** The report as GitHub-flavoured markdown: a summary, a findings table, details, baselines. */
final class MarkdownReportRenderer implements ReportRenderer {
  private final RenderOptions options;

  MarkdownReportRenderer(RenderOptions options) {
    this.options = options;
  }

  @Override
  public void render(Report report, Writer out) throws IOException {
    StringBuilder md = new StringBuilder();
    md.append("# dl-analyze report\n\n");
    md.append("- **Verdict:** ")
        .append(report.verdict().wireName())
        .append(" - ")
        .append(escape(report.verdictReason()))
        .append('\n');
    md.append("- **Mode:** ").append(report.mode().wireName()).append('\n');
    md.append("- **Trace:** ").append(escape(TextSupport.traceLine(report.trace()))).append('\n');
    RootCause root = report.rootCause();
    if (root != null) {
      String where =
          root.layerIndex() < 0
              ? "model"
              : format(ROOT, "%s (layer %d)", code(root.layerName()), root.layerIndex());
      md.append("- **Root cause:** ")
          .append(where)
          .append(": ")
          .append(escape(root.cause()))
          .append('\n');
      if (root.suggestedFix() != null) {
        md.append("- **Suggested fix:** ").append(escape(root.suggestedFix())).append('\n');
      }
      for (RootCause.Alternative alternative : root.alternatives()) {
        md.append("- **Alternative:** ").append(escape(alternative.cause()));
        if (alternative.suggestedFix() != null) {
          md.append(" - ").append(escape(alternative.suggestedFix()));
        }
        md.append('\n');
      }
    }
    md.append("\n## Findings\n\n");
    if (report.findings().isEmpty()) {
      md.append("None.\n");
    } else {
      ReportStory story = ReportStory.of(report);
      md.append(
          "The root cause's finding first, then the others by what they explain; #: rank in causal"
              + " order.\n\n");
      md.append(
          "| # | group | severity | detector | symptom | layer | phase | first step | epoch | batch"
              + " | last step | occurrences |\n");
      md.append("|---:|---|---|---|---|---|---|---:|---:|---:|---:|---:|\n");
      for (ReportStory.Group group : story.groups()) {
        for (int rank : group.ranks()) {
          Finding f = report.findings().get(rank - 1);
          String layer =
              f.isModelLevel()
                  ? "model"
                  : format(ROOT, "%s (%d)", code(f.resolvedLayerName()), f.layerIndex());
          md.append(
              format(
                      ROOT,
                      "| %d | %s | %s | `%s` | %s | %s | %s | %d | %s | %s | %d | %d |%n",
                      rank,
                      group.kind().title(),
                      f.severity().wireName(),
                      f.detector(),
                      f.symptom().wireName(),
                      layer,
                      f.phase().wireName(),
                      f.firstStep(),
                      TextSupport.orDash(f.epoch()),
                      TextSupport.orDash(f.batch()),
                      f.lastStep(),
                      f.occurrences())
                  .replace("\r\n", "\n"));
        }
      }
      for (ReportStory.Group group : story.groups()) {
        md.append("\n### ").append(group.kind().title()).append("\n\n");
        for (int rank : group.ranks()) {
          Finding f = report.findings().get(rank - 1);
          md.append(rank).append(". ").append(escape(f.message())).append('\n');
          if (!f.evidence().isEmpty()) {
            md.append("   - Evidence: ")
                .append(code(TextSupport.evidence(f.evidence())))
                .append('\n');
          }
          if (!f.consequences().isEmpty()) {
            md.append("   - Spread to: ")
                .append(escape(TextSupport.consequences(f.consequences())))
                .append('\n');
          }
        }
      }
    }
    md.append("\n## Keras baselines\n\n");
    md.append("| callback | checks per | outcome | detail |\n|---|---|---|---|\n");
    for (BaselineResult b : report.baselines()) {
      md.append("| `")
          .append(b.callback())
          .append("` | ")
          .append(b.level())
          .append(" | ")
          .append(escape(TextSupport.baselineOutcome(b)))
          .append(" | ")
          .append(escape(b.detail()))
          .append(" |\n");
    }
    TraceSummary trace = report.trace();
    md.append("\n## Trace\n\n");
    md.append(
        format(
                ROOT,
                "- Steps %s to %s, phases: %s%n",
                TextSupport.orDash(trace.firstStep()),
                TextSupport.orDash(trace.lastStep()),
                escape(String.join(", ", trace.phases())))
            .replace("\r\n", "\n"));
    for (Map.Entry<String, String> entry : trace.metadata().entrySet()) {
      md.append("- ")
          .append(code(entry.getKey()))
          .append(": ")
          .append(escape(entry.getValue()))
          .append('\n');
    }
    if (trace.truncated()) {
      md.append("- The file is truncated: only its complete batches were read.\n");
    }
    for (String warning : trace.warnings()) {
      md.append("- Warning: ").append(escape(warning)).append('\n');
    }
    if (options.timing() && report.timing() != null) {
      md.append("- Time: ").append(TextSupport.timing(report.timing())).append('\n');
    }
    out.write(md.toString());
  }

  /**
   * A code span that holds {@code text} whatever it contains: control characters made visible,
   * {@code |} escaped (a table cell would end there), and a fence one backtick longer than the
   * longest run of backticks inside, padded when the text starts or ends with one.
   */
  private static String code(String text) {
    String printable = Printable.escapeText(text).replace("|", "\\|");
    int longest = 0;
    int run = 0;
    for (int i = 0; i < printable.length(); i++) {
      run = printable.charAt(i) == '`' ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    String fence = "`".repeat(longest + 1);
    String pad = printable.startsWith("`") || printable.endsWith("`") ? " " : "";
    return fence + pad + printable + pad + fence;
  }

  /**
   * Control characters made visible ({@link Printable#escapeText}), then the characters that would
   * start Markdown or inline HTML escaped with a backslash.
   */
  private static String escape(String text) {
    String printable = Printable.escapeText(text);
    StringBuilder out = new StringBuilder(printable.length() + 8);
    for (int i = 0; i < printable.length(); i++) {
      char c = printable.charAt(i);
      if ("\\|*_`<[]".indexOf(c) >= 0) {
        out.append('\\');
      }
      out.append(c);
    }
    return out.toString();
  }
}
