package io.dlanalyze.cli.eval;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

/** Output formats of {@code dl-analyze eval}. */
public enum EvalFormat {
  TEXT("text"),
  JSON("json"),
  MARKDOWN("markdown");

  private final String wireName;

  EvalFormat(String wireName) {
    this.wireName = wireName;
  }

  public String wireName() {
    return wireName;
  }

  public static EvalFormat fromWireName(String name) {
    for (EvalFormat value : values()) {
      if (value.wireName.equalsIgnoreCase(name)) {
        return value;
      }
    }
    throw new IllegalArgumentException(
        format(ROOT, "unknown format: %s (expected text, json or markdown)", name));
  }

  @Override
  public String toString() {
    return wireName;
  }
}
