package io.dlanalyze.trace.csv;

import java.nio.charset.StandardCharsets;

/**
 * Number parsing straight from CSV bytes, and number formatting that round-trips.
 *
 * <p>Implementation notes: integers are parsed digit by digit. Decimals with at most 15
 * significant digits and a decimal exponent within +-22 take Clinger's fast path (the mantissa
 * and the power of ten are exact doubles, so one multiplication or division rounds correctly);
 * everything else goes to {@link Double#parseDouble}. Non-finite values use Python's spelling
 * ({@code nan}, {@code inf}, {@code -inf}); {@code NaN} and {@code Infinity} are also read.
 */
final class CsvNumbers {
  private static final double[] POWERS_OF_TEN = new double[23];

  static {
    double p = 1;
    for (int i = 0; i < POWERS_OF_TEN.length; i++) {
      POWERS_OF_TEN[i] = p;
      p *= 10;
    }
  }

  private CsvNumbers() {}

  /** Outcome of a parse: a value or a reason it is not one. */
  enum Status {
    OK,
    /** A non-finite spelling (nan/inf) where an integer was expected. */
    NOT_FINITE,
    INVALID,
    OUT_OF_RANGE
  }

  /** The parsed value of the last successful {@link #parseLong} / {@link #parseDouble} call. */
  static final class Result {
    long longValue;
    double doubleValue;
  }

  /**
   * Parses an integer; also accepts a decimal with an integral value ({@code 3.0}, {@code 1e3}),
   * which pandas writes for integer columns that held a NaN.
   */
  static Status parseLong(byte[] b, int start, int end, Result out) {
    int s = trimStart(b, start, end);
    int e = trimEnd(b, s, end);
    if (s == e) {
      return Status.INVALID;
    }
    int p = s;
    boolean negative = false;
    if (b[p] == '-' || b[p] == '+') {
      negative = b[p] == '-';
      p++;
    }
    if (p == e || e - p > 19) {
      return parseIntegralDecimal(b, s, e, out);
    }
    // Accumulated negatively, as Long.parseLong does, so Long.MIN_VALUE parses too.
    long limit = negative ? Long.MIN_VALUE : -Long.MAX_VALUE;
    long multiplyMin = limit / 10;
    long value = 0;
    for (int i = p; i < e; i++) {
      int d = b[i] - '0';
      if (d < 0 || d > 9) {
        return parseIntegralDecimal(b, s, e, out);
      }
      if (value < multiplyMin) {
        return Status.OUT_OF_RANGE;
      }
      value *= 10;
      if (value < limit + d) {
        return Status.OUT_OF_RANGE;
      }
      value -= d;
    }
    out.longValue = negative ? value : -value;
    return Status.OK;
  }

  private static Status parseIntegralDecimal(byte[] b, int s, int e, Result out) {
    Status status = parseDouble(b, s, e, out);
    if (status != Status.OK) {
      return status;
    }
    double d = out.doubleValue;
    if (Double.isNaN(d) || Double.isInfinite(d)) {
      return Status.NOT_FINITE;
    }
    if (d != Math.rint(d)) {
      return Status.INVALID;
    }
    if (d < -0x1p63 || d >= 0x1p63) {
      return Status.OUT_OF_RANGE;
    }
    out.longValue = (long) d;
    return Status.OK;
  }

  /** Parses a decimal number or a NaN/infinity spelling. */
  static Status parseDouble(byte[] b, int start, int end, Result out) {
    int s = trimStart(b, start, end);
    int e = trimEnd(b, s, end);
    if (s == e) {
      return Status.INVALID;
    }
    int p = s;
    boolean negative = false;
    if (b[p] == '-' || b[p] == '+') {
      negative = b[p] == '-';
      p++;
    }
    if (p < e && (b[p] == 'n' || b[p] == 'N' || b[p] == 'i' || b[p] == 'I')) {
      return parseSpecial(b, p, e, negative, out);
    }
    long mantissa = 0;
    int digits = 0;
    int scale = 0;
    boolean seenDigit = false;
    boolean seenDot = false;
    for (; p < e; p++) {
      byte c = b[p];
      if (c >= '0' && c <= '9') {
        seenDigit = true;
        if (mantissa == 0 && c == '0') {
          if (seenDot) {
            scale--;
          }
          continue;
        }
        if (digits < 18) {
          mantissa = mantissa * 10 + (c - '0');
          if (seenDot) {
            scale--;
          }
        } else if (!seenDot) {
          scale++;
        }
        digits++;
      } else if (c == '.' && !seenDot) {
        seenDot = true;
      } else {
        break;
      }
    }
    if (!seenDigit) {
      return Status.INVALID;
    }
    int exponent = 0;
    if (p < e) {
      if (b[p] != 'e' && b[p] != 'E') {
        return Status.INVALID;
      }
      p++;
      boolean negativeExponent = false;
      if (p < e && (b[p] == '-' || b[p] == '+')) {
        negativeExponent = b[p] == '-';
        p++;
      }
      if (p == e) {
        return Status.INVALID;
      }
      for (; p < e; p++) {
        int d = b[p] - '0';
        if (d < 0 || d > 9) {
          return Status.INVALID;
        }
        if (exponent < 100_000) {
          exponent = exponent * 10 + d;
        }
      }
      if (negativeExponent) {
        exponent = -exponent;
      }
    }
    int power = scale + exponent;
    double value;
    if (digits <= 15 && power >= -22 && power <= 22) {
      value = power >= 0 ? mantissa * POWERS_OF_TEN[power] : mantissa / POWERS_OF_TEN[-power];
      out.doubleValue = negative ? -value : value;
    } else {
      out.doubleValue = Double.parseDouble(new String(b, s, e - s, StandardCharsets.ISO_8859_1));
    }
    return Status.OK;
  }

  private static Status parseSpecial(byte[] b, int p, int e, boolean negative, Result out) {
    int n = e - p;
    if (equalsIgnoreCase(b, p, n, "nan")) {
      out.doubleValue = Double.NaN;
      return Status.OK;
    }
    if (equalsIgnoreCase(b, p, n, "inf") || equalsIgnoreCase(b, p, n, "infinity")) {
      out.doubleValue = negative ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
      return Status.OK;
    }
    return Status.INVALID;
  }

  /** True for an integer column cell that spells NaN (pandas' float-converted integer columns). */
  static boolean isNanSpelling(byte[] b, int start, int end) {
    int s = trimStart(b, start, end);
    int e = trimEnd(b, s, end);
    return equalsIgnoreCase(b, s, e - s, "nan");
  }

  private static boolean equalsIgnoreCase(byte[] b, int p, int n, String word) {
    if (n != word.length()) {
      return false;
    }
    for (int i = 0; i < n; i++) {
      int c = b[p + i] | 0x20;
      if (c != word.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  private static int trimStart(byte[] b, int start, int end) {
    int s = start;
    while (s < end && (b[s] == ' ' || b[s] == '\t')) {
      s++;
    }
    return s;
  }

  private static int trimEnd(byte[] b, int start, int end) {
    int e = end;
    while (e > start && (b[e - 1] == ' ' || b[e - 1] == '\t')) {
      e--;
    }
    return e;
  }

  /** A double as the CSV form writes it: Python's nan/inf/-inf, otherwise an exact round trip. */
  static String format(double value) {
    return append(new StringBuilder(24), value).toString();
  }

  /** Appends {@link #format(double)} without making a String. */
  static StringBuilder append(StringBuilder out, double value) {
    if (Double.isNaN(value)) {
      return out.append("nan");
    }
    if (Double.isInfinite(value)) {
      return out.append(value > 0 ? "inf" : "-inf");
    }
    return out.append(value);
  }
}
