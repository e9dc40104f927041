package io.dlanalyze.trace;

import java.util.Locale;
import java.util.Optional;

/**
 * The phases a trace row can describe. The first seven are the core phases of trace format v1, in
 * DeepLocalize's check order inside one step; the rest are the optional model-level phases.
 *
 * <p>In a {@link TraceBatch} the phase column holds {@link #code()} for a known phase. A phase name
 * this enum does not know is kept, not rejected: it gets a code of {@link #COUNT} or more, and
 * {@link TraceDictionary#phaseName(int)} gives its name back.
 */
public enum Phase {
  FORWARD(0, "forward", false),
  ACTIVATION(1, "activation", false),
  LOSS(2, "loss", true),
  ACCURACY(3, "accuracy", true),
  BACKWARD(4, "backward", false),
  GRADIENT(5, "gradient", false),
  WEIGHT(6, "weight", false),
  INPUT(7, "input", true),
  TARGET(8, "target", true),
  LEARNING_RATE(9, "learning_rate", true),
  VAL_LOSS(10, "val_loss", true),
  VAL_ACCURACY(11, "val_accuracy", true),
  EPISODE_RETURN(12, "episode_return", true);

  /** Number of known phases; phase codes at or above it are phases this version does not know. */
  public static final int COUNT = values().length;

  private static final Phase[] BY_CODE = values();

  static {
    for (Phase phase : BY_CODE) {
      if (BY_CODE[phase.code] != phase) {
        throw new AssertionError("phase codes must follow the declaration order: " + phase);
      }
    }
  }

  private final int code;
  private final String wireName;
  private final boolean modelLevel;

  Phase(int code, String wireName, boolean modelLevel) {
    this.code = code;
    this.wireName = wireName;
    this.modelLevel = modelLevel;
  }

  /** The name written in the trace's phase column, e.g. {@code "learning_rate"}. */
  public String wireName() {
    return wireName;
  }

  /** True for phases recorded once per step for the whole model (layer_index -1). */
  public boolean isModelLevel() {
    return modelLevel;
  }

  /** True for the seven phases of the v1 core contract. */
  public boolean isCore() {
    return code <= WEIGHT.code;
  }

  /** The integer stored in {@link TraceBatch}'s phase column for this phase. */
  public int code() {
    return code;
  }

  /** True when {@code code} is the code of a phase this enum knows. */
  public static boolean isKnown(int code) {
    return code >= 0 && code < COUNT;
  }

  /** The phase of a known code. */
  public static Phase ofCode(int code) {
    return BY_CODE[code];
  }

  /** The phase with this wire name (exact, lower case), if it is one we know. */
  public static Optional<Phase> fromWireName(String name) {
    for (Phase phase : BY_CODE) {
      if (phase.wireName.equals(name)) {
        return Optional.of(phase);
      }
    }
    return Optional.empty();
  }

  @Override
  public String toString() {
    return wireName.toLowerCase(Locale.ROOT);
  }
}
