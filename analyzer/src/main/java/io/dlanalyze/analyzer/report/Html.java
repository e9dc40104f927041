package io.dlanalyze.analyzer.report;

/**
 * Escaping for the HTML report. Every string that comes from a trace (layer names and types,
 * metadata keys and values, phase names, the trace path, messages that quote any of them) is
 * untrusted and goes through one of these methods before it reaches the page.
 *
 * <p>Implementation notes: {@link #text} and {@link #attribute} escape the same five characters
 * ({@code & < > " '}), so a value is safe in element content and in a double- or single-quoted
 * attribute alike. C0 control characters other than tab, line feed and carriage return, and
 * unpaired surrogates, are replaced by U+FFFD: they are parse errors in HTML and cannot be encoded
 * in UTF-8. {@link #scriptJson} makes JSON safe inside a {@code <script>} element: {@code <},
 * {@code >} and {@code &} become their JSON escapes (backslash, u, and the code 003c, 003e or 0026:
 * so neither {@code </script>} nor {@code <!--} can appear), and U+2028/U+2029 are escaped too
 * (they end a line in older JavaScript parsers). Those characters can only occur inside JSON
 * strings, where the escapes mean the same characters, so the JSON parses to the same value.
 */
final class Html {
  private Html() {}

  /** Text for element content (also safe in a quoted attribute). */
  static String text(String value) {
    StringBuilder out = new StringBuilder(value.length() + 16);
    appendText(out, value);
    return out.toString();
  }

  /** Appends escaped text to {@code out}. */
  static void appendText(StringBuilder out, String value) {
    int n = value.length();
    for (int i = 0; i < n; i++) {
      char c = value.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        default -> {
          if (Character.isHighSurrogate(c)
              && i + 1 < n
              && Character.isLowSurrogate(value.charAt(i + 1))) {
            out.append(c).append(value.charAt(++i));
          } else if (Character.isSurrogate(c)
              || (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
              || c == 0x7F) {
            out.append('\uFFFD');
          } else {
            out.append(c);
          }
        }
      }
    }
  }

  /** A value for a quoted attribute. */
  static String attribute(String value) {
    return text(value);
  }

  /**
   * At most {@code max} characters of {@code value} (whole code points), with an ellipsis when cut;
   * not escaped.
   */
  static String shorten(String value, int max) {
    if (value.codePointCount(0, value.length()) <= max) {
      return value;
    }
    int end = value.offsetByCodePoints(0, max - 1);
    return value.substring(0, end) + "\u2026";
  }

  /** JSON text made safe to embed in a {@code <script type="application/json">} element. */
  static String scriptJson(String json) {
    StringBuilder out = new StringBuilder(json.length() + 64);
    int n = json.length();
    for (int i = 0; i < n; i++) {
      char c = json.charAt(i);
      switch (c) {
        case '<' -> out.append("\\u003c");
        case '>' -> out.append("\\u003e");
        case '&' -> out.append("\\u0026");
        case '\u2028' -> out.append("\\u2028");
        case '\u2029' -> out.append("\\u2029");
        default -> {
          if (Character.isHighSurrogate(c)
              && i + 1 < n
              && Character.isLowSurrogate(json.charAt(i + 1))) {
            out.append(c).append(json.charAt(++i));
          } else if (Character.isSurrogate(c)) {
            out.append("\\ufffd");
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.toString();
  }

  /** A name, escaped, cut to {@code max} characters with the full name in the title. */
  static String name(String name, int max) {
    String shown = shorten(name, max);
    if (shown.equals(name)) {
      return "<span class=\"name\">" + text(name) + "</span>";
    }
    return "<span class=\"name\" title=\""
        + attribute(shorten(name, 2000))
        + "\">"
        + text(shown)
        + "</span>";
  }
}
