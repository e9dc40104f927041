package io.dlanalyze.analyzer.report;

/**
 * How a report is laid out.
 *
 * @param color use ANSI colours (text renderer only; the CLI decides from {@code --color} and
 *     whether stdout is a terminal)
 * @param timing include the elapsed time and rows/s; off by default so output is reproducible
 */
public record RenderOptions(boolean color, boolean timing) {
  /** No colour, no timing. */
  public static RenderOptions plain() {
    return new RenderOptions(false, false);
  }
}
