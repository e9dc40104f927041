package io.dlanalyze.analyzer.report;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

/** The output formats of a report. */
public enum ReportFormat {
  TEXT("text"),
  JSON("json"),
  MARKDOWN("markdown"),
  /** One self-contained HTML page; see {@link HtmlReportRenderer}. */
  HTML("html");

  private final String wireName;

  ReportFormat(String wireName) {
    this.wireName = wireName;
  }

  public String wireName() {
    return wireName;
  }

  /** The renderer of this format. */
  public ReportRenderer renderer(RenderOptions options) {
    return switch (this) {
      case TEXT -> new TextReportRenderer(options);
      case JSON -> new JsonReportRenderer(options);
      case MARKDOWN -> new MarkdownReportRenderer(options);
      case HTML -> new HtmlReportRenderer(options);
    };
  }

  public static ReportFormat fromWireName(String name) {
    for (ReportFormat format : values()) {
      if (format.wireName.equalsIgnoreCase(name)) {
        return format;
      }
    }
    throw new IllegalArgumentException(
        format(ROOT, "unknown report format: %s (expected text, json, markdown or html)", name));
  }

  @Override
  public String toString() {
    return wireName;
  }
}
