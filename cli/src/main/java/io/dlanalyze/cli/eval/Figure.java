package io.dlanalyze.cli.eval;

/** The rates {@code eval} reports per tool, in table order. */
public enum Figure {
  /** Buggy runs flagged (verdict buggy; a baseline stopped training). */
  DETECTED("detected", "detected", false),
  /** Buggy runs whose root cause is the expected layer, or the model when that is expected. */
  LOCALIZED("localized", "localized", true),
  /** Buggy runs whose root cause rests on the expected or an acceptable symptom class. */
  SYMPTOM_RIGHT("symptom_right", "right symptom", true),
  /** Pairs whose buggy run is detected, localized, with the right symptom, and twin left quiet. */
  PAIRS_RIGHT("pairs_right", "pairs fully right", true),
  /** Healthy runs (fixed twins and extra healthy runs) flagged. */
  FALSE_ALARMS("false_alarms", "false alarms (all healthy)", false),
  /** Fixed twins flagged. */
  FALSE_ALARMS_FIXED_TWINS("false_alarms_fixed_twins", "on fixed twins", false),
  /** Healthy runs that are nobody's twin flagged. */
  FALSE_ALARMS_EXTRA_HEALTHY("false_alarms_extra_healthy", "on extra healthy", false);

  private final String id;
  private final String label;
  private final boolean needsLocation;

  Figure(String id, String label, boolean needsLocation) {
    this.id = id;
    this.label = label;
    this.needsLocation = needsLocation;
  }

  /** The JSON field name. */
  public String id() {
    return id;
  }

  /** The column header. */
  public String label() {
    return label;
  }

  /** True when only a tool that names a place and a symptom (an analyzer mode) has it. */
  public boolean appliesTo(Tool tool) {
    return !needsLocation || tool.localizes();
  }

  /** The figures compared between dev and test. */
  public static Figure[] compared() {
    return new Figure[] {DETECTED, LOCALIZED, SYMPTOM_RIGHT, PAIRS_RIGHT, FALSE_ALARMS};
  }
}
