package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The named numbers and strings behind a finding, in insertion order: {@code zero_fraction=1.0,
 * run_steps=120}. Values are {@link Long}, {@link Double}, {@link Boolean} or {@link String}; names
 * are snake_case.
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

  public Object get(String name) {
    return values.get(name);
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

    public Builder put(String name, double value) {
      return add(name, value);
    }

    public Builder put(String name, long value) {
      return add(name, value);
    }

    public Builder put(String name, boolean value) {
      return add(name, value);
    }

    public Builder put(String name, String value) {
      return add(name, requireNonNull(value, "value is null"));
    }

    public Evidence build() {
      return values.isEmpty() ? EMPTY : new Evidence(values);
    }

    private Builder add(String name, Object value) {
      requireNonNull(name, "name is null");
      if (!name.matches("[a-z][a-z0-9_]*")) {
        throw new IllegalArgumentException(
            format(ROOT, "evidence name must be snake_case: %s", name));
      }
      if (values.putIfAbsent(name, value) != null) {
        throw new IllegalArgumentException(format(ROOT, "evidence %s is set twice", name));
      }
      return this;
    }
  }
}
