package io.dlanalyze.analyzer.report;

import java.io.IOException;
import java.io.Writer;

/**
 * Writes JSON into a {@code <script type="application/json">} element as it comes, escaped as
 * {@link Html#scriptJson} does, without the whitespace that ends it: the JSON report of a trace
 * with very many layers is not held in memory twice before it reaches the page.
 */
final class ScriptJsonWriter extends Writer {
  private final Writer out;
  private final StringBuilder buffer = new StringBuilder(8192);

  /** Whitespace not written yet: dropped if nothing but whitespace follows. */
  private final StringBuilder blank = new StringBuilder();

  private char high;

  ScriptJsonWriter(Writer out) {
    this.out = out;
  }

  @Override
  public void write(char[] chars, int offset, int length) throws IOException {
    for (int i = offset; i < offset + length; i++) {
      put(chars[i]);
    }
    if (buffer.length() >= 8192) {
      out.append(buffer);
      buffer.setLength(0);
    }
  }

  private void put(char c) {
    // JSON's own whitespace (U+2028 and U+2029 are escaped below, never held)
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      blank.append(c);
      return;
    }
    if (blank.length() > 0) {
      if (high != 0) {
        buffer.append("\\ufffd");
        high = 0;
      }
      buffer.append(blank);
      blank.setLength(0);
    }
    if (high != 0) {
      char pending = high;
      high = 0;
      if (Character.isLowSurrogate(c)) {
        buffer.append(pending).append(c);
        return;
      }
      buffer.append("\\ufffd");
    }
    switch (c) {
      case '<' -> buffer.append("\\u003c");
      case '>' -> buffer.append("\\u003e");
      case '&' -> buffer.append("\\u0026");
      case '\u2028' -> buffer.append("\\u2028");
      case '\u2029' -> buffer.append("\\u2029");
      default -> {
        if (Character.isHighSurrogate(c)) {
          high = c;
        } else if (Character.isSurrogate(c)) {
          buffer.append("\\ufffd");
        } else {
          buffer.append(c);
        }
      }
    }
  }

  /** Writes what is pending except trailing whitespace; the underlying writer stays open. */
  @Override
  public void flush() throws IOException {
    out.append(buffer);
    buffer.setLength(0);
  }

  /** Ends the JSON: a lone high surrogate at the end becomes U+FFFD, trailing whitespace goes. */
  @Override
  public void close() throws IOException {
    if (high != 0) {
      buffer.append("\\ufffd");
      high = 0;
    }
    blank.setLength(0);
    flush();
  }
}
