package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import org.jspecify.annotations.Nullable;

/**
 * Strings from a trace (layer names, phase names, metadata, file names) made safe to print on a
 * terminal or in a one-line message: control characters become visible escapes, so a hostile name
 * can neither move the cursor, recolour or clear the screen (ANSI escape sequences), nor forge
 * report lines (newlines), nor reorder what is shown (Unicode bidirectional controls).
 *
 * <p>Escaped: {@code \n}, {@code \r}, {@code \t}, ESC as {@code \e}, every other C0 and C1 control
 * and DEL as {@code \}{@code uXXXX}, the bidirectional controls U+061C, U+200E, U+200F,
 * U+202A-U+202E and U+2066-U+2069 and the line and paragraph separators U+2028, U+2029 as {@code
 * \}{@code uXXXX}. Everything else (letters of any script, emoji, backslashes) is kept.
 */
public final class Printable {
  private Printable() {}

  /** {@link #escapeText}, or {@code null} for {@code null}. */
  public static @Nullable String escape(@Nullable String text) {
    return text == null ? null : escapeText(text);
  }

  /** How many characters of a value a one-line message quotes ({@link #excerpt}). */
  public static final int QUOTE = 60;

  /**
   * At most {@code max} characters of {@code text} with its control characters escaped, and its
   * length when it was cut: {@code "aaa... (100000 characters)"}. For quoting a value in a one-line
   * message: escaped first, then cut, so the escapes cannot grow the message past the bound.
   */
  public static String excerpt(String text, int max) {
    String printable = escapeText(text);
    if (printable.length() <= max) {
      return printable;
    }
    return printable.substring(0, max) + format(ROOT, "... (%d characters)", text.length());
  }

  /** {@code text} with its control characters escaped; the same instance when there are none. */
  public static String escapeText(String text) {
    int i = 0;
    while (i < text.length() && !needsEscape(text.charAt(i))) {
      i++;
    }
    if (i == text.length()) {
      return text;
    }
    StringBuilder out = new StringBuilder(text.length() + 16).append(text, 0, i);
    for (; i < text.length(); i++) {
      char c = text.charAt(i);
      if (!needsEscape(c)) {
        out.append(c);
        continue;
      }
      switch (c) {
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\u001b' -> out.append("\\e");
        default -> out.append(format(ROOT, "\\u%04x", (int) c));
      }
    }
    return out.toString();
  }

  /** True when {@code c} is escaped by {@link #escape}. */
  public static boolean needsEscape(char c) {
    if (c < 0x20 || c >= 0x7f && c <= 0x9f) {
      return true;
    }
    if (c < 0x61c) {
      return false;
    }
    return c == 0x61c
        || c == 0x200e
        || c == 0x200f
        || c >= 0x202a && c <= 0x202e
        || c >= 0x2066 && c <= 0x2069
        || c == 0x2028
        || c == 0x2029;
  }
}
