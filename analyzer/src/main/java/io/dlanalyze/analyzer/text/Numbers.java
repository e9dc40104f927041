package io.dlanalyze.analyzer.text;

import static java.util.Locale.ROOT;

import java.math.BigDecimal;
import java.math.MathContext;

/**
 * Fixed-precision, locale-independent number formatting for messages and renderers, so reports are
 * byte-for-byte reproducible: plain notation between 1e-3 and 1e6, scientific outside, trailing
 * zeros dropped, {@code NaN}, {@code Inf} and {@code -Inf} spelled out.
 */
public final class Numbers {
  private Numbers() {}

  /** Four significant digits, for sentences and tables: {@code 0.1235}, {@code 1.5e-07}. */
  public static String format(double value) {
    return format(value, 4);
  }

  /** Six significant digits, for JSON evidence. */
  public static String precise(double value) {
    return format(value, 6);
  }

  /** {@code digits} significant digits. */
  public static String format(double value, int digits) {
    if (Double.isNaN(value)) {
      return "NaN";
    }
    if (Double.isInfinite(value)) {
      return value > 0 ? "Inf" : "-Inf";
    }
    if (value == 0) {
      return "0";
    }
    double abs = Math.abs(value);
    BigDecimal rounded = new BigDecimal(value).round(new MathContext(digits));
    if (abs >= 1e-3 && rounded.abs().compareTo(BigDecimal.valueOf(1_000_000)) < 0) {
      String plain = rounded.stripTrailingZeros().toPlainString();
      return plain;
    }
    String text = String.format(ROOT, "%." + (digits - 1) + "e", value);
    int e = text.indexOf('e');
    String mantissa = text.substring(0, e);
    if (mantissa.indexOf('.') >= 0) {
      mantissa = mantissa.replaceAll("0+$", "");
      if (mantissa.endsWith(".")) {
        mantissa = mantissa.substring(0, mantissa.length() - 1);
      }
    }
    return mantissa + text.substring(e);
  }

  /**
   * A growth factor: {@link #format} below 1e4, orders of magnitude from there ({@code 10^7}),
   * since 3.7e4 as "10^4.6" would be unreadable.
   */
  public static String magnitude(double factor) {
    if (factor >= 1e4 && Double.isFinite(factor)) {
      return "10^" + (long) Math.floor(Math.log10(factor));
    }
    return format(factor);
  }

  /** A percentage with one decimal: {@code 12.5%}. */
  public static String percent(double fraction) {
    return String.format(ROOT, "%.1f%%", fraction * 100);
  }
}
