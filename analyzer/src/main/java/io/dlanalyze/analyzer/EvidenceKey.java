package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The name and type of one piece of {@link Evidence}: detectors write it and the root-cause
 * analysis reads it through the same constant ({@link EvidenceKeys}), so renaming a key or changing
 * its type is a compile error, not a root cause that changes silently. In the report (JSON, text)
 * the value appears under {@link #name()}.
 *
 * @param name snake_case, as in the report
 * @param type {@link Double}, {@link Long}, {@link Boolean}, {@link String}, or an enum that
 *     implements {@link Choice} (written as its wire name)
 * @param <T> the value's type
 */
public record EvidenceKey<T>(String name, Class<T> type) {
  private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]*");

  /** One of a fixed set of string values: an enum constant written as its {@link #wireName()}. */
  public interface Choice {
    /** The value as the report spells it: the constant's name in lower case. */
    default String wireName() {
      return ((Enum<?>) this).name().toLowerCase(ROOT);
    }
  }

  public EvidenceKey {
    requireNonNull(name, "name is null");
    requireNonNull(type, "type is null");
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          format(ROOT, "evidence name must be snake_case: %s", name));
    }
    if (type != Double.class
        && type != Long.class
        && type != Boolean.class
        && type != String.class
        && !(type.isEnum() && Choice.class.isAssignableFrom(type))) {
      throw new IllegalArgumentException(
          format(ROOT, "evidence %s has an unsupported type: %s", name, type.getSimpleName()));
    }
  }

  /** A floating-point value. */
  public static EvidenceKey<Double> real(String name) {
    return new EvidenceKey<>(name, Double.class);
  }

  /** A count, a step or another integer. */
  public static EvidenceKey<Long> count(String name) {
    return new EvidenceKey<>(name, Long.class);
  }

  /** A yes/no value. */
  public static EvidenceKey<Boolean> flag(String name) {
    return new EvidenceKey<>(name, Boolean.class);
  }

  /** Free text: a layer name, a loss function, a reason. */
  public static EvidenceKey<String> text(String name) {
    return new EvidenceKey<>(name, String.class);
  }

  /** One of the constants of {@code type}. */
  public static <E extends Enum<E> & Choice> EvidenceKey<E> choice(String name, Class<E> type) {
    return new EvidenceKey<>(name, type);
  }

  /** The typed value of a stored one, or {@code null} when it is of another type. */
  @Nullable T cast(Object stored) {
    if (type.isInstance(stored)) {
      return type.cast(stored);
    }
    if (stored instanceof String text && type.isEnum()) {
      for (T constant : type.getEnumConstants()) {
        if (((Choice) constant).wireName().equals(text)) {
          return constant;
        }
      }
    }
    return null;
  }
}
