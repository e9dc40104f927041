package io.dlanalyze.cli.eval;

/** The debugging approaches the evaluation compares, in table order. */
public enum Tool {
  DEFAULT("default", "dl-analyze", "dl-analyze", true),
  DEEPLOCALIZE("deeplocalize", "dl-analyze --mode deeplocalize", "deeplocalize", true),
  TERMINATE_ON_NAN("terminate_on_nan", "TerminateOnNaN()", "TerminateOnNaN", false),
  EARLY_STOPPING_LOSS(
      "early_stopping_loss", "EarlyStopping(monitor='loss', patience=1)", "ES(loss)", false),
  EARLY_STOPPING_ACCURACY(
      "early_stopping_accuracy", "EarlyStopping(monitor='accuracy', patience=1)", "ES(acc)", false);

  private final String id;
  private final String label;
  private final String shortLabel;
  private final boolean localizes;

  Tool(String id, String label, String shortLabel, boolean localizes) {
    this.id = id;
    this.label = label;
    this.shortLabel = shortLabel;
    this.localizes = localizes;
  }

  /** Stable snake_case id used in JSON; for the baselines, the analyzer's baseline name. */
  public String id() {
    return id;
  }

  /** How a user would write it. */
  public String label() {
    return label;
  }

  /** The column header of the tables. */
  public String shortLabel() {
    return shortLabel;
  }

  /**
   * True for the analyzer's modes, which name a layer and a symptom; the Keras callbacks do not.
   */
  public boolean localizes() {
    return localizes;
  }

  /** The Keras baselines, in table order. */
  public static Tool[] baselines() {
    return new Tool[] {TERMINATE_ON_NAN, EARLY_STOPPING_LOSS, EARLY_STOPPING_ACCURACY};
  }
}
