package io.dlanalyze.analyzer.report;

/** The statistics the HTML report draws over steps for a finding's layer and its neighbours. */
enum ChartStat {
  MEAN("mean"),
  STD("std"),
  L2_NORM("l2_norm"),
  ZERO_FRACTION("zero_fraction"),
  /** nan_count + inf_count of the row. */
  NON_FINITE("nan_count + inf_count");

  private final String label;

  ChartStat(String label) {
    this.label = label;
  }

  /** The column name(s) as the trace spells them. */
  String label() {
    return label;
  }
}
