package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.dlanalyze.analyzer.Severity;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The batch summary in text, JSON and Markdown: the counts, then the buggy runs (most severe
 * first) and the traces that could not be read. Text and Markdown list at most {@link
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
    text.append(format(ROOT, "dl-analyze batch: %d %s -> %s%n", c.traces(), plural(c.traces(), "trace"), out));
    text.append(thisRun(c)).append('\n');
    text.append(format(ROOT, "results:  %s%n", totals(c)));
    List<RunRow> buggy = buggy(results);
    if (!buggy.isEmpty()) {
      text.append(format(ROOT, "%nbuggy (%d), most severe first:%n", buggy.size()));
      for (RunRow run : buggy.subList(0, Math.min(LIST_LIMIT, buggy.size()))) {
        text.append("  ").append(run.path()).append('\n');
        text.append("    ").append(topFinding(run)).append('\n');
        if (run.rootCause() != null) {
          text.append("    ").append(run.rootCause()).append('\n');
        }
      }
      more(text, buggy.size(), "  ");
    }
    List<RunRow> errors = errors(results);
    if (!errors.isEmpty()) {
      text.append(format(ROOT, "%nunreadable (%d):%n", errors.size()));
      for (RunRow run : errors.subList(0, Math.min(LIST_LIMIT, errors.size()))) {
        text.append("  ").append(run.path()).append('\n');
        text.append("    ").append(run.errorCode()).append(": ").append(run.error()).append('\n');
      }
      more(text, errors.size(), "  ");
    }
    return text.toString().replace("\r\n", "\n");
  }

  static String markdown(BatchResults results, String out) {
    BatchResults.Counts c = results.counts();
    StringBuilder md = new StringBuilder();
    md.append("# dl-analyze batch summary\n\n");
    md.append(format(ROOT, "%d %s, results in `%s`.%n%n", c.traces(), plural(c.traces(), "trace"), out));
    md.append("| | traces |\n|---|---:|\n");
    md.append(format(ROOT, "| healthy | %d |%n| buggy | %d |%n| inconclusive | %d |%n| unreadable | %d |%n%n",
        c.healthy(), c.buggy(), c.inconclusive(), c.errors()));
    md.append(thisRun(c)).append("\n\n");
    List<RunRow> buggy = buggy(results);
    if (!buggy.isEmpty()) {
      md.append(format(ROOT, "## Buggy runs (%d)%n%n", buggy.size()));
      md.append("| trace | severity | symptom | where | from step | root cause |\n");
      md.append("|---|---|---|---|---:|---|\n");
      for (RunRow run : buggy.subList(0, Math.min(LIST_LIMIT, buggy.size()))) {
        md.append(format(ROOT, "| %s | %s | %s | %s | %s | %s |%n",
            cell(run.path()), cell(run.topSeverity()), cell(run.topSymptom()), cell(where(run)),
            run.topFirstStep() == null ? "" : run.topFirstStep(), cell(run.rootCause())));
      }
      more(md, buggy.size(), "\n");
      md.append('\n');
    }
    List<RunRow> errors = errors(results);
    if (!errors.isEmpty()) {
      md.append(format(ROOT, "## Unreadable traces (%d)%n%n", errors.size()));
      md.append("| trace | error | message |\n|---|---|---|\n");
      for (RunRow run : errors.subList(0, Math.min(LIST_LIMIT, errors.size()))) {
        md.append(format(ROOT, "| %s | %s | %s |%n", cell(run.path()), cell(run.errorCode()), cell(run.error())));
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

  private static String thisRun(BatchResults.Counts c) {
    return format(
        ROOT,
        "this run: %d analyzed, %d unchanged and skipped, %d removed, %d new %s; %s",
        c.analyzed(), c.skipped(), c.removed(), c.newErrors(), plural(c.newErrors(), "error"), seconds(c.elapsedMillis()));
  }

  private static String totals(BatchResults.Counts c) {
    return format(ROOT, "%d healthy, %d buggy, %d inconclusive, %d unreadable",
        c.healthy(), c.buggy(), c.inconclusive(), c.errors());
  }

  /** Buggy rows, most severe top finding first, then by path. */
  private static List<RunRow> buggy(BatchResults results) {
    List<RunRow> rows = new ArrayList<>();
    for (RunRow run : results.runs()) {
      if (run.isBuggy()) {
        rows.add(run);
      }
    }
    rows.sort(Comparator.comparing(BatchSummaries::severityRank).reversed().thenComparing(RunRow::path));
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
    return format(ROOT, "%s %s at %s from step %d", run.topSeverity(), run.topSymptom(), where(run), run.topFirstStep());
  }

  private static String where(RunRow run) {
    if (run.topLayer() == null) {
      return run.topPhase() == null ? "" : run.topPhase();
    }
    return run.topLayer() + " (" + run.topPhase() + ")";
  }

  private static void more(StringBuilder out, int size, String indent) {
    if (size > LIST_LIMIT) {
      out.append(indent).append(format(ROOT, "... and %d more in %s%n", size - LIST_LIMIT, ResultsTables.RUNS_FILE));
    }
  }

  private static String cell(String value) {
    if (value == null) {
      return "";
    }
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ");
  }

  private static String seconds(long millis) {
    return format(ROOT, "%.1f s", millis / 1000.0);
  }

  private static String plural(long n, String word) {
    return n == 1 ? word : word + "s";
  }
}
