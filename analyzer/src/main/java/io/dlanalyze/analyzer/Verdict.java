package io.dlanalyze.analyzer;

/** The one-word outcome of an analysis. */
public enum Verdict {
  /** At least one finding of severity warning or more. */
  BUGGY("buggy"),
  /** No finding of severity warning or more, and enough of the trace to judge. */
  HEALTHY("healthy"),
  /** No finding of severity warning or more, but too little data to call the run healthy. */
  INCONCLUSIVE("inconclusive");

  private final String wireName;

  Verdict(String wireName) {
    this.wireName = wireName;
  }

  public String wireName() {
    return wireName;
  }

  @Override
  public String toString() {
    return wireName;
  }
}
