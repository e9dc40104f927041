package io.dlanalyze.trace.csv;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;

/**
 * Number parsing straight from CSV bytes, and number formatting that round-trips.
 *
 * <p>Implementation notes: integers are parsed digit by digit. A decimal is read into a mantissa of
 * at most 19 significant digits and a power of ten, then converted by (1) Clinger's fast path when
 * the mantissa has at most 15 digits and the power is within +-22 (both are exact doubles, so one
 * multiplication or division rounds correctly), else (2) the Eisel-Lemire algorithm [1] (a 64 x
 * 128-bit product with a table of powers of ten, which gives up on the rare inputs it cannot round
 * with certainty), else (3) {@link Double#parseDouble}, which also takes every input of more than
 * 19 significant digits. Statistics written by {@code repr()} or {@code Double.toString} have up to
 * 17 digits, so (2) is the common case and (3) is rare. Non-finite values use Python's spelling
 * ({@code nan}, {@code inf}, {@code -inf}); {@code NaN} and {@code Infinity} are also read.
 *
 * <p>[1] D. Lemire, "Number Parsing at a Gigabyte per Second", Software: Practice and Experience
 * 51(8), 2021; this follows the formulation of Go's strconv.eiselLemire64, with the same table of
 * 128-bit powers of ten rounded down, here computed once at class initialization.
 */
final class CsvNumbers {
  private static final double[] POWERS_OF_TEN = new double[23];
  private static final int MIN_EXP10 = -348;
  private static final int MAX_EXP10 = 347;

  /** High and low 64 bits of 10^e normalized to 128 bits (top bit set), rounded down. */
  private static final long[] POW10_HIGH = new long[MAX_EXP10 - MIN_EXP10 + 1];

  private static final long[] POW10_LOW = new long[MAX_EXP10 - MIN_EXP10 + 1];

  static {
    double p = 1;
    for (int i = 0; i < POWERS_OF_TEN.length; i++) {
      POWERS_OF_TEN[i] = p;
      p *= 10;
    }
    for (int e = MIN_EXP10; e <= MAX_EXP10; e++) {
      BigInteger m;
      if (e >= 0) {
        BigInteger v = BigInteger.TEN.pow(e);
        int bits = v.bitLength();
        m = bits <= 128 ? v.shiftLeft(128 - bits) : v.shiftRight(bits - 128);
      } else {
        BigInteger d = BigInteger.TEN.pow(-e);
        m = BigInteger.ONE.shiftLeft(d.bitLength() + 127).divide(d);
      }
      POW10_HIGH[e - MIN_EXP10] = m.shiftRight(64).longValue();
      POW10_LOW[e - MIN_EXP10] = m.longValue();
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
        if (digits < 19) {
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
    if (digits <= 15 && power >= -22 && power <= 22) {
      double value =
          power >= 0 ? mantissa * POWERS_OF_TEN[power] : mantissa / POWERS_OF_TEN[-power];
      out.doubleValue = negative ? -value : value;
    } else if (digits > 19 || !eiselLemire(mantissa, power, negative, out)) {
      out.doubleValue = Double.parseDouble(new String(b, s, e - s, StandardCharsets.ISO_8859_1));
    }
    return Status.OK;
  }

  /**
   * Converts {@code mantissa * 10^exp10} (the mantissa an unsigned 64-bit integer) to the nearest
   * double, or returns false when the 128-bit approximation cannot decide the rounding.
   */
  static boolean eiselLemire(long mantissa, int exp10, boolean negative, Result out) {
    if (mantissa == 0) {
      out.doubleValue = negative ? -0.0 : 0.0;
      return true;
    }
    if (exp10 < MIN_EXP10 || exp10 > MAX_EXP10) {
      return false;
    }
    int leadingZeros = Long.numberOfLeadingZeros(mantissa);
    long man = mantissa << leadingZeros;
    long exp2 = ((217706L * exp10) >> 16) + 64 + 1023 - leadingZeros;
    long powHigh = POW10_HIGH[exp10 - MIN_EXP10];
    long powLow = POW10_LOW[exp10 - MIN_EXP10];
    long xHigh = unsignedMultiplyHigh(man, powHigh);
    long xLow = man * powHigh;
    if ((xHigh & 0x1FF) == 0x1FF && Long.compareUnsigned(xLow + man, man) < 0) {
      long yHigh = unsignedMultiplyHigh(man, powLow);
      long yLow = man * powLow;
      long mergedHigh = xHigh;
      long mergedLow = xLow + yHigh;
      if (Long.compareUnsigned(mergedLow, xLow) < 0) {
        mergedHigh++;
      }
      if ((mergedHigh & 0x1FF) == 0x1FF
          && mergedLow + 1 == 0
          && Long.compareUnsigned(yLow + man, man) < 0) {
        return false;
      }
      xHigh = mergedHigh;
      xLow = mergedLow;
    }
    long msb = xHigh >>> 63;
    long result = xHigh >>> (msb + 9);
    exp2 -= 1 ^ msb;
    if (xLow == 0 && (xHigh & 0x1FF) == 0 && (result & 3) == 1) {
      return false;
    }
    result += result & 1;
    result >>>= 1;
    if ((result >>> 53) > 0) {
      result >>>= 1;
      exp2 += 1;
    }
    if (exp2 <= 0 || exp2 >= 0x7FF) {
      return false;
    }
    long bits = exp2 << 52 | (result & 0x000FFFFFFFFFFFFFL);
    out.doubleValue = Double.longBitsToDouble(negative ? bits | 0x8000000000000000L : bits);
    return true;
  }

  private static long unsignedMultiplyHigh(long a, long b) {
    return Math.multiplyHigh(a, b) + ((a >> 63) & b) + ((b >> 63) & a);
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
