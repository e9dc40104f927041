package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

/**
 * A named, range-checked number a detector reads from {@link AnalysisOptions}. The key is stable
 * kebab-case ({@code "window"}, {@code "unchanged-tolerance"}); it names the CLI flag and the
 * config-file entry.
 *
 * @param key stable kebab-case key
 * @param defaultValue the value when none is set
 * @param min smallest allowed value (inclusive)
 * @param max largest allowed value (inclusive)
 * @param integral true when the value must be a whole number
 * @param description one line in sentence case, no final period
 */
public record Threshold(
    String key, double defaultValue, double min, double max, boolean integral, String description) {
  public Threshold {
    requireNonNull(key, "key is null");
    requireNonNull(description, "description is null");
    if (!key.matches("[a-z][a-z0-9]*(-[a-z0-9]+)*")) {
      throw new IllegalArgumentException(format(ROOT, "threshold key must be kebab-case: %s", key));
    }
    if (!(min <= max)) {
      throw new IllegalArgumentException(
          format(ROOT, "min %s is above max %s for %s", min, max, key));
    }
    check(key, defaultValue, min, max, integral);
  }

  /** A whole-number threshold. */
  public static Threshold integer(
      String key, long defaultValue, long min, long max, String description) {
    return new Threshold(key, defaultValue, min, max, true, description);
  }

  /** A real-valued threshold. */
  public static Threshold real(
      String key, double defaultValue, double min, double max, String description) {
    return new Threshold(key, defaultValue, min, max, false, description);
  }

  /**
   * Returns {@code value} when it is allowed.
   *
   * @throws IllegalArgumentException naming the key, the value and the allowed range
   */
  public double validate(double value) {
    check(key, value, min, max, integral);
    return value;
  }

  private static void check(String key, double value, double min, double max, boolean integral) {
    if (Double.isNaN(value) || value < min || value > max) {
      throw new IllegalArgumentException(
          format(ROOT, "%s must be in [%s, %s]: %s", key, plain(min), plain(max), plain(value)));
    }
    if (integral && value != Math.rint(value)) {
      throw new IllegalArgumentException(
          format(ROOT, "%s must be a whole number: %s", key, plain(value)));
    }
  }

  private static String plain(double value) {
    return value == Math.rint(value) && Math.abs(value) < 1e15
        ? Long.toString((long) value)
        : Double.toString(value);
  }
}
