package io.dlanalyze.analyzer.report;

import io.dlanalyze.analyzer.Symptom;
import java.util.ArrayList;
import java.util.List;

/** The statistics the HTML report keeps over steps for the streams it charts. */
enum ChartStat {
  MEAN(0, "mean"),
  STD(1, "std"),
  L2_NORM(2, "l2_norm"),
  ZERO_FRACTION(3, "zero_fraction"),
  /** nan_count + inf_count of the row. */
  NON_FINITE(4, "nan_count + inf_count"),
  /** Kept for the distribution charts only. */
  MIN(5, "min"),
  /** Kept for the distribution charts only. */
  MAX(6, "max");

  /** The statistics a finding's small charts draw, in their default order. */
  static final List<ChartStat> TIME_STATS = List.of(MEAN, STD, L2_NORM, ZERO_FRACTION, NON_FINITE);

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

  /** The statistic that shows a symptom best: charted first for a finding of that symptom. */
  static ChartStat forSymptom(Symptom symptom) {
    return switch (symptom) {
      case DEAD_OR_ZERO -> ZERO_FRACTION;
      case NUMERICAL_ERROR -> NON_FINITE;
      case EXPLODING_GRADIENT, VANISHING_GRADIENT -> L2_NORM;
      case SATURATION, UNCHANGED_VALUES -> STD;
      default -> MEAN;
    };
  }

  /** {@link #TIME_STATS} with the symptom's statistic first. */
  static List<ChartStat> orderFor(Symptom symptom) {
    List<ChartStat> order = new ArrayList<>();
    order.add(forSymptom(symptom));
    for (ChartStat stat : TIME_STATS) {
      if (!order.contains(stat)) {
        order.add(stat);
      }
    }
    return order;
  }
}
