package io.dlanalyze.analyzer.report;

/** The statistics the HTML report draws over steps for a finding's layer and its neighbours. */
enum ChartStat {
  MEAN(0, "mean"),
  STD(1, "std"),
  L2_NORM(2, "l2_norm"),
  ZERO_FRACTION(3, "zero_fraction"),
  /** nan_count + inf_count of the row. */
  NON_FINITE(4, "nan_count + inf_count");

  private final int index;
  private final String label;

  ChartStat(int index, String label) {
    this.index = index;
    this.label = label;
  }

  /** The statistic's position among the values(): the index of per-statistic arrays. */
  int index() {
    return index;
  }

  /** The column name(s) as the trace spells them. */
  String label() {
    return label;
  }
}
