package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The named numbers and strings behind a finding, in insertion order: {@code zero_fraction=1.0,
 * run_steps=120}. Values are {@link Long}, {@link Double}, {@link Boolean} or {@link String}; names
 * are snake_case. Written and read through typed {@link EvidenceKey}s (the built-in ones are in
 * {@link EvidenceKeys}).
 */
public final class Evidence {
  private static final Evidence EMPTY = new Evidence(Map.of());

  private final Map<String, Object> values;

  private Evidence(Map<String, Object> values) {
    this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
  }

  public static Evidence empty() {
    return EMPTY;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The values in insertion order. */
  public Map<String, Object> asMap() {
    return values;
  }

  public boolean isEmpty() {
    return values.isEmpty();
  }

  /** The value stored under {@code name}, as the report shows it, or {@code null}. */
  public @Nullable Object get(String name) {
    return values.get(name);
  }

  /** The value of {@code key}, or {@code null} when it is absent (or of another type). */
  public <T> @Nullable T get(EvidenceKey<T> key) {
    Object stored = values.get(key.name());
    return stored == null ? null : key.cast(stored);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Evidence that && values.equals(that.values);
  }

  @Override
  public int hashCode() {
    return values.hashCode();
  }

  @Override
  public String toString() {
    return values.toString();
  }

  /** Collects evidence; a name may be set once. */
  public static final class Builder {
    private final Map<String, Object> values = new LinkedHashMap<>();

    private Builder() {}

    public Builder put(EvidenceKey<Double> key, double value) {
      return add(key, value);
    }

    public Builder put(EvidenceKey<Long> key, long value) {
      return add(key, value);
    }

    public Builder put(EvidenceKey<Boolean> key, boolean value) {
      return add(key, value);
    }

    public Builder put(EvidenceKey<String> key, String value) {
      return add(key, requireNonNull(value, "value is null"));
    }

    /** A value from a fixed set, stored as its wire name. */
    public <E extends Enum<E> & EvidenceKey.Choice> Builder put(EvidenceKey<E> key, E value) {
      return add(key, value.wireName());
    }

    public Evidence build() {
      return values.isEmpty() ? EMPTY : new Evidence(values);
    }

    private Builder add(EvidenceKey<?> key, Object value) {
      if (values.putIfAbsent(key.name(), value) != null) {
        throw new IllegalArgumentException(format(ROOT, "evidence %s is set twice", key.name()));
      }
      return this;
    }
  }
}
