package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.trace.Printable;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The batch summary in text, JSON, Markdown and HTML: the counts, then the buggy runs (most severe
 * first) and the traces that could not be read. Text, Markdown and HTML list at most {@link
 * #LIST_LIMIT} of each and say how many more the runs table holds; JSON lists them all. Line ends
 * are {@code \n}.
 */
public final class BatchSummaries {
  /** Entries per list in the text and Markdown summaries. */
  public static final int LIST_LIMIT = 50;

  /** The version of the JSON summary; bumped on incompatible changes. */
  public static final int JSON_VERSION = 1;

  private static final JsonFactory JSON = new JsonFactory();

  private BatchSummaries() {}

  static String text(BatchResults results, String out) {
    BatchResults.Counts c = results.counts();
    StringBuilder text = new StringBuilder();
    text.append(
        format(
            ROOT,
            "dl-analyze batch: %d %s -> %s%n",
            c.traces(),
            plural(c.traces(), "trace"),
            Printable.escape(out)));
    text.append(thisRun(c)).append('\n');
    text.append(format(ROOT, "results:  %s%n", totals(c)));
    List<RunRow> buggy = buggy(results);
    if (!buggy.isEmpty()) {
      text.append(format(ROOT, "%nbuggy (%d), most severe first:%n", buggy.size()));
      for (RunRow run : buggy.subList(0, Math.min(LIST_LIMIT, buggy.size()))) {
        text.append("  ").append(Printable.escape(run.path())).append('\n');
        text.append("    ").append(Printable.escape(topFinding(run))).append('\n');
        if (run.rootCause() != null) {
          text.append("    ").append(Printable.escape(run.rootCause())).append('\n');
        }
      }
      more(text, buggy.size(), "  ");
    }
    List<RunRow> errors = errors(results);
    if (!errors.isEmpty()) {
      text.append(format(ROOT, "%nunreadable (%d):%n", errors.size()));
      for (RunRow run : errors.subList(0, Math.min(LIST_LIMIT, errors.size()))) {
        text.append("  ").append(Printable.escape(run.path())).append('\n');
        text.append("    ")
            .append(run.errorCode())
            .append(": ")
            .append(Printable.escape(run.error()))
            .append('\n');
      }
      more(text, errors.size(), "  ");
    }
    return text.toString().replace("\r\n", "\n");
  }

  static String markdown(BatchResults results, String out) {
    BatchResults.Counts c = results.counts();
    StringBuilder md = new StringBuilder();
    md.append("# dl-analyze batch summary\n\n");
    md.append(
        format(
            ROOT,
            "%d %s, results in `%s`.%n%n",
            c.traces(),
            plural(c.traces(), "trace"),
            Printable.escape(out)));
    md.append("| | traces |\n|---|---:|\n");
    md.append(
        format(
            ROOT,
            "| healthy | %d |%n| buggy | %d |%n| inconclusive | %d |%n| unreadable | %d |%n%n",
            c.healthy(),
            c.buggy(),
            c.inconclusive(),
            c.errors()));
    md.append(thisRun(c)).append("\n\n");
    List<RunRow> buggy = buggy(results);
    if (!buggy.isEmpty()) {
      md.append(format(ROOT, "## Buggy runs (%d)%n%n", buggy.size()));
      md.append("| trace | severity | symptom | where | from step | root cause |\n");
      md.append("|---|---|---|---|---:|---|\n");
      for (RunRow run : buggy.subList(0, Math.min(LIST_LIMIT, buggy.size()))) {
        md.append(
            format(
                ROOT,
                "| %s | %s | %s | %s | %s | %s |%n",
                cell(run.path()),
                cell(run.topSeverity()),
                cell(run.topSymptom()),
                cell(where(run)),
                run.topFirstStep() == null ? "" : run.topFirstStep(),
                cell(run.rootCause())));
      }
      more(md, buggy.size(), "\n");
      md.append('\n');
    }
    List<RunRow> errors = errors(results);
    if (!errors.isEmpty()) {
      md.append(format(ROOT, "## Unreadable traces (%d)%n%n", errors.size()));
      md.append("| trace | error | message |\n|---|---|---|\n");
      for (RunRow run : errors.subList(0, Math.min(LIST_LIMIT, errors.size()))) {
        md.append(
            format(
                ROOT,
                "| %s | %s | %s |%n",
                cell(run.path()),
                cell(run.errorCode()),
                cell(run.error())));
      }
      more(md, errors.size(), "\n");
    }
    return md.toString().replace("\r\n", "\n");
  }

  static String json(BatchResults results, String out) {
    BatchResults.Counts c = results.counts();
    StringWriter text = new StringWriter();
    try (JsonGenerator json = JSON.createGenerator(text)) {
      json.useDefaultPrettyPrinter();
      json.writeStartObject();
      json.writeNumberField("summary_version", JSON_VERSION);
      json.writeStringField("dl_analyze_version", BatchVersion.get());
      json.writeStringField("config", results.config());
      json.writeStringField("out", out);
      json.writeStringField("health", results.health().name().toLowerCase(ROOT));
      json.writeNumberField("traces", c.traces());
      json.writeObjectFieldStart("this_run");
      json.writeNumberField("analyzed", c.analyzed());
      json.writeNumberField("skipped", c.skipped());
      json.writeNumberField("removed", c.removed());
      json.writeNumberField("errors", c.newErrors());
      json.writeNumberField("analysis_ms", c.analysisMillis());
      json.writeNumberField("elapsed_ms", c.elapsedMillis());
      json.writeEndObject();
      json.writeObjectFieldStart("results");
      json.writeNumberField("healthy", c.healthy());
      json.writeNumberField("buggy", c.buggy());
      json.writeNumberField("inconclusive", c.inconclusive());
      json.writeNumberField("error", c.errors());
      json.writeNumberField("findings", c.findings());
      json.writeEndObject();
      json.writeArrayFieldStart("buggy");
      for (RunRow run : buggy(results)) {
        json.writeStartObject();
        json.writeStringField("path", run.path());
        json.writeStringField("top_severity", run.topSeverity());
        json.writeStringField("top_symptom", run.topSymptom());
        json.writeStringField("top_detector", run.topDetector());
        json.writeStringField("top_layer", run.topLayer());
        json.writeStringField("top_phase", run.topPhase());
        if (run.topFirstStep() != null) {
          json.writeNumberField("top_first_step", run.topFirstStep());
        }
        json.writeStringField("root_cause", run.rootCause());
        json.writeNumberField("findings", run.findings());
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeArrayFieldStart("errors");
      for (RunRow run : errors(results)) {
        json.writeStartObject();
        json.writeStringField("path", run.path());
        json.writeStringField("error_code", run.errorCode());
        json.writeStringField("error", run.error());
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return text.toString().replace("\r\n", "\n") + "\n";
  }

  static String html(BatchResults results, String out) {
    BatchResults.Counts c = results.counts();
    StringBuilder page = new StringBuilder(8_192);
    page.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        .append(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src"
                + " 'unsafe-inline'\">\n")
        .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        .append("<title>dl-analyze batch: ")
        .append(c.traces())
        .append(' ')
        .append(plural(c.traces(), "trace"))
        .append("</title>\n<style>\n")
        .append(
            "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0"
                + " 16px;color:#1d2330}\n")
        .append("h1{font-size:22px}h2{font-size:17px;margin-top:28px}code{font-size:13px}\n")
        .append(
            ".counts{display:flex;gap:12px;flex-wrap:wrap}.count{border-radius:6px;padding:10px"
                + " 16px;background:#eef1f5}\n")
        .append(
            ".count"
                + " b{display:block;font-size:22px}.buggy{background:#fde8e8}.error{background:#fff2d6}.healthy{background:#e5f5ea}\n")
        .append(
            "table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid"
                + " #dde2ea;padding:5px 8px;text-align:left;vertical-align:top}\n")
        .append(
            "th{background:#f4f6f9}td.num{text-align:right}td.path{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}\n")
        .append(
            ".critical{color:#b3261e;font-weight:600}.error-sev{color:#c2410c;font-weight:600}.warning{color:#a16207}\n")
        .append("</style>\n</head>\n<body>\n");
    page.append("<h1>dl-analyze batch summary</h1>\n<p>")
        .append(c.traces())
        .append(' ')
        .append(plural(c.traces(), "trace"))
        .append(", results in <code>")
        .append(escape(out))
        .append("</code>.</p>\n");
    page.append("<div class=\"counts\">\n");
    count(page, "healthy", c.healthy(), "healthy");
    count(page, "buggy", c.buggy(), "buggy");
    count(page, "", c.inconclusive(), "inconclusive");
    count(page, "error", c.errors(), "unreadable");
    page.append("</div>\n<p>").append(escape(thisRun(c))).append("</p>\n");
    List<RunRow> buggy = buggy(results);
    if (!buggy.isEmpty()) {
      page.append("<h2>Buggy runs (")
          .append(buggy.size())
          .append(")</h2>\n<table>\n")
          .append(
              "<tr><th>trace</th><th>severity</th><th>symptom</th><th>where</th><th>from"
                  + " step</th><th>root cause</th></tr>\n");
      for (RunRow run : buggy.subList(0, Math.min(LIST_LIMIT, buggy.size()))) {
        String severity = run.topSeverity() == null ? "" : run.topSeverity();
        String css = severity.equals("error") ? "error-sev" : severity;
        page.append("<tr><td class=\"path\">")
            .append(escape(run.path()))
            .append("</td><td class=\"")
            .append(escape(css))
            .append("\">")
            .append(escape(severity))
            .append("</td><td>")
            .append(escape(run.topSymptom()))
            .append("</td><td>")
            .append(escape(where(run)))
            .append("</td><td class=\"num\">")
            .append(run.topFirstStep() == null ? "" : run.topFirstStep())
            .append("</td><td>")
            .append(escape(run.rootCause()))
            .append("</td></tr>\n");
      }
      page.append("</table>\n");
      moreHtml(page, buggy.size());
    }
    List<RunRow> errors = errors(results);
    if (!errors.isEmpty()) {
      page.append("<h2>Unreadable traces (")
          .append(errors.size())
          .append(")</h2>\n<table>\n")
          .append("<tr><th>trace</th><th>error</th><th>message</th></tr>\n");
      for (RunRow run : errors.subList(0, Math.min(LIST_LIMIT, errors.size()))) {
        page.append("<tr><td class=\"path\">")
            .append(escape(run.path()))
            .append("</td><td>")
            .append(escape(run.errorCode()))
            .append("</td><td>")
            .append(escape(run.error()))
            .append("</td></tr>\n");
      }
      page.append("</table>\n");
      moreHtml(page, errors.size());
    }
    page.append("<p>Every trace and finding: <code>")
        .append(ResultsTables.RUNS_FILE)
        .append("</code> and <code>")
        .append(ResultsTables.FINDINGS_FILE)
        .append("</code>. One trace's full report with charts: <code>")
        .append("dl-analyze analyze TRACE --format html</code>.</p>\n");
    page.append("<p><small>")
        .append(escape(results.config()))
        .append("</small></p>\n</body>\n</html>\n");
    return page.toString();
  }

  private static void count(StringBuilder page, String css, int n, String label) {
    page.append("<div class=\"count")
        .append(css.isEmpty() ? "" : " " + css)
        .append("\"><b>")
        .append(n)
        .append("</b>")
        .append(label)
        .append("</div>\n");
  }

  private static void moreHtml(StringBuilder page, int size) {
    if (size > LIST_LIMIT) {
      page.append("<p>... and ")
          .append(size - LIST_LIMIT)
          .append(" more in <code>")
          .append(ResultsTables.RUNS_FILE)
          .append("</code>.</p>\n");
    }
  }

  /**
   * Text for HTML element content or a quoted attribute: {@code & < > " '} escaped, control
   * characters and lone surrogates replaced (trace paths and messages are untrusted).
   */
  static String escape(@Nullable String value) {
    if (value == null) {
      return "";
    }
    StringBuilder out = new StringBuilder(value.length() + 16);
    for (int i = 0; i < value.length(); i++) {
      char ch = value.charAt(i);
      switch (ch) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        default -> {
          if (Character.isHighSurrogate(ch)
              && i + 1 < value.length()
              && Character.isLowSurrogate(value.charAt(i + 1))) {
            out.append(ch).append(value.charAt(++i));
          } else if (Character.isSurrogate(ch)
              || ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r'
              || ch == 0x7F) {
            out.append('\uFFFD');
          } else {
            out.append(ch);
          }
        }
      }
    }
    return out.toString();
  }

  private static String thisRun(BatchResults.Counts c) {
    return format(
        ROOT,
        "this run: %d analyzed, %d unchanged and skipped, %d removed, %d new %s; %s",
        c.analyzed(),
        c.skipped(),
        c.removed(),
        c.newErrors(),
        plural(c.newErrors(), "error"),
        seconds(c.elapsedMillis()));
  }

  private static String totals(BatchResults.Counts c) {
    return format(
        ROOT,
        "%d healthy, %d buggy, %d inconclusive, %d unreadable",
        c.healthy(),
        c.buggy(),
        c.inconclusive(),
        c.errors());
  }

  /** Buggy rows, most severe top finding first, then by path. */
  private static List<RunRow> buggy(BatchResults results) {
    List<RunRow> rows = new ArrayList<>();
    for (RunRow run : results.runs()) {
      if (run.isBuggy()) {
        rows.add(run);
      }
    }
    rows.sort(
        Comparator.comparing(BatchSummaries::severityRank).reversed().thenComparing(RunRow::path));
    return rows;
  }

  private static int severityRank(RunRow run) {
    return run.topSeverity() == null ? -1 : Severity.fromWireName(run.topSeverity()).ordinal();
  }

  private static List<RunRow> errors(BatchResults results) {
    List<RunRow> rows = new ArrayList<>();
    for (RunRow run : results.runs()) {
      if (run.status() == RunStatus.ERROR) {
        rows.add(run);
      }
    }
    return rows;
  }

  private static String topFinding(RunRow run) {
    if (run.topSymptom() == null) {
      return "no finding";
    }
    return format(
        ROOT,
        "%s %s at %s from step %d",
        run.topSeverity(),
        run.topSymptom(),
        where(run),
        run.topFirstStep());
  }

  private static String where(RunRow run) {
    if (run.topLayer() == null) {
      return run.topPhase() == null ? "" : run.topPhase();
    }
    return run.topLayer() + " (" + run.topPhase() + ")";
  }

  private static void more(StringBuilder out, int size, String indent) {
    if (size > LIST_LIMIT) {
      out.append(indent)
          .append(
              format(ROOT, "... and %d more in %s%n", size - LIST_LIMIT, ResultsTables.RUNS_FILE));
    }
  }

  private static String cell(@Nullable String value) {
    if (value == null) {
      return "";
    }
    return Printable.escapeText(value)
        .replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "\\<");
  }

  private static String seconds(long millis) {
    return format(ROOT, "%.1f s", millis / 1000.0);
  }

  private static String plural(long n, String word) {
    return n == 1 ? word : word + "s";
  }
}
