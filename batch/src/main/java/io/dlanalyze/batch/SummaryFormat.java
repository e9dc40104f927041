package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

/**
 * The formats of the batch summary, each written to the output directory as {@link #fileName()}. A
 * new format is one constant here and one method in {@link BatchSummaries}; the CLI's {@code
 * --format} and the output directory pick it up from this enum.
 */
public enum SummaryFormat {
  TEXT("text", "summary.txt"),
  JSON("json", "summary.json"),
  MARKDOWN("markdown", "summary.md"),
  /** One self-contained page (inline CSS, no script, no request). */
  HTML("html", "summary.html");

  private final String wireName;
  private final String fileName;

  SummaryFormat(String wireName, String fileName) {
    this.wireName = wireName;
    this.fileName = fileName;
  }

  public String wireName() {
    return wireName;
  }

  /** The file the summary is written to in the output directory. */
  public String fileName() {
    return fileName;
  }

  /** The summary in this format; {@code out} names the output directory. */
  public String render(BatchResults results, String out) {
    return switch (this) {
      case TEXT -> BatchSummaries.text(results, out);
      case JSON -> BatchSummaries.json(results, out);
      case MARKDOWN -> BatchSummaries.markdown(results, out);
      case HTML -> BatchSummaries.html(results, out);
    };
  }

  public static SummaryFormat fromWireName(String name) {
    for (SummaryFormat format : values()) {
      if (format.wireName.equalsIgnoreCase(name)) {
        return format;
      }
    }
    throw new IllegalArgumentException(
        format(ROOT, "unknown summary format: %s (expected text, json, markdown or html)", name));
  }

  @Override
  public String toString() {
    return wireName;
  }
}
