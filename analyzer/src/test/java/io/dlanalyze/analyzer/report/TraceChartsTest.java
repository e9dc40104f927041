package io.dlanalyze.analyzer.report;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.trace;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.util.List;
import org.junit.jupiter.api.Test;

class TraceChartsTest {
  private static TraceCharts collect(
      SyntheticTrace trace, Report report, TraceCharts.Options options) {
    try (TraceReader reader = trace.open(ReadOptions.all())) {
      return TraceCharts.collect(reader, report, options);
    }
  }

  @Test
  void collect_nanFinding_keepsItsLayerAndNeighboursInItsPhaseAndModelCurves() {
    SyntheticTrace trace = trace(Fault.nan(3, 400));
    Report report = analyze(trace);

    TraceCharts charts = collect(trace, report, TraceCharts.Options.defaults());

    for (int layer = 1; layer <= 5; layer++) {
      assertThat(charts.series(layer, Phase.FORWARD, ChartStat.MEAN))
          .as("layer %d", layer)
          .isNotNull();
    }
    assertThat(charts.series(0, Phase.FORWARD, ChartStat.MEAN)).isNull();
    assertThat(charts.series(3, Phase.GRADIENT, ChartStat.MEAN)).isNull();
    assertThat(charts.series(-1, Phase.LOSS, ChartStat.MEAN)).isNotNull();
    assertThat(charts.series(-1, Phase.ACCURACY, ChartStat.MEAN)).isNotNull();
    assertThat(charts.series(-1, Phase.VAL_LOSS, ChartStat.MEAN)).isNull();
  }

  @Test
  void collect_buckets_holdMinMaxAndLastOfTheirSteps() {
    SyntheticTrace trace = trace(Fault.nan(3, 400));
    Report report = analyze(trace);
    TraceCharts.Options options = new TraceCharts.Options(1, 1, 10, 1, 10, 10);

    TraceCharts charts = collect(trace, report, options);

    assertThat(charts.stepsPerBucket()).isEqualTo(100);
    assertThat(charts.buckets()).isEqualTo(10);
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    double last = Double.NaN;
    try (TraceReader reader = trace.open(ReadOptions.all())) {
      TraceBatch batch = reader.batch();
      while (reader.next()) {
        for (int r = 0; r < batch.size(); r++) {
          long step = batch.longs(Column.STEP)[r];
          if (step >= 100
              && step < 200
              && batch.ints(Column.LAYER_INDEX)[r] == 2
              && batch.ints(Column.PHASE)[r] == Phase.FORWARD.code()) {
            double value = batch.doubles(Column.L2_NORM)[r];
            min = Math.min(min, value);
            max = Math.max(max, value);
            last = value;
          }
        }
      }
    }
    BucketSeries series = charts.series(2, Phase.FORWARD, ChartStat.L2_NORM);
    assertThat(series.min(1)).isEqualTo(min);
    assertThat(series.max(1)).isEqualTo(max);
    assertThat(series.last(1)).isEqualTo(last);
    assertThat(min).isLessThan(max);
  }

  @Test
  void collect_nanFromStep400_flaggedInItsBucketOnly() {
    SyntheticTrace trace = trace(Fault.nan(3, 400));
    Report report = analyze(trace);

    TraceCharts charts = collect(trace, report, new TraceCharts.Options(1, 0, 10, 1, 10, 10));

    BucketSeries mean = charts.series(3, Phase.FORWARD, ChartStat.MEAN);
    BucketSeries counts = charts.series(3, Phase.FORWARD, ChartStat.NON_FINITE);
    for (int b = 0; b < 4; b++) {
      assertThat(mean.hasNonFinite(b)).as("bucket %d", b).isFalse();
      assertThat(counts.max(b)).isZero();
    }
    for (int b = 4; b < 10; b++) {
      assertThat(mean.hasNonFinite(b)).as("bucket %d", b).isTrue();
      assertThat(counts.max(b)).isPositive();
    }
  }

  @Test
  void collect_40000Steps_boundedPointsPerSeries() {
    SyntheticTrace trace =
        SyntheticTrace.builder()
            .layers(4)
            .steps(40_000)
            .stepsPerEpoch(400)
            .seed(3)
            .fault(Fault.nan(1, 39_000))
            .build();
    Report report = analyze(trace);

    TraceCharts charts = collect(trace, report, TraceCharts.Options.defaults());

    assertThat(charts.stepsPerBucket()).isEqualTo(200);
    assertThat(charts.buckets()).isEqualTo(200);
    assertThat(charts.series(1, Phase.FORWARD, ChartStat.MEAN).buckets()).isEqualTo(200);
    assertThat(charts.heatmaps())
        .isNotEmpty()
        .allSatisfy(
            grid -> {
              assertThat(grid.columns()).isEqualTo(400);
              assertThat(grid.stepsPerColumn()).isEqualTo(100);
            });
  }

  @Test
  void heatmap_nanSpread_nonFiniteFromFaultColumnInLaterLayersOnly() {
    SyntheticTrace trace = trace(Fault.nan(3, 400));
    Report report = analyze(trace);

    TraceCharts charts = collect(trace, report, new TraceCharts.Options(1, 0, 10, 2, 100, 10));

    // the root cause's symptom picks the first map: NaN/Inf counts of its phase
    HeatmapGrid counts = charts.heatmaps().get(0);
    assertThat(counts.metric()).isEqualTo(HeatmapGrid.Metric.NON_FINITE);
    assertThat(counts.phase()).isEqualTo(Phase.FORWARD);
    assertThat(counts.cell(3, 39)).isEqualTo(HeatmapGrid.Cell.CLEAR);
    assertThat(counts.cell(3, 40)).isEqualTo(HeatmapGrid.Cell.VALUE);
    assertThat(counts.log(3, 40)).isPositive();
    HeatmapGrid forward = charts.heatmaps().get(1);
    assertThat(forward.metric()).isEqualTo(HeatmapGrid.Metric.LOG_MEAN);
    assertThat(forward.phase()).isEqualTo(Phase.FORWARD);
    assertThat(forward.stepsPerColumn()).isEqualTo(10);
    for (int layer = 0; layer < 6; layer++) {
      // the fault is born in layer 3 at step 400 (column 40); from step 401 every layer is NaN
      assertThat(forward.firstNonFiniteColumn(layer)).as("layer %d", layer).isEqualTo(40);
      assertThat(forward.cell(layer, 39)).isEqualTo(HeatmapGrid.Cell.VALUE);
    }
    assertThat(forward.cell(0, 40)).isEqualTo(HeatmapGrid.Cell.NON_FINITE);
  }

  @Test
  void heatmap_deadLayer_allZeroCellsAfterTheFault() {
    SyntheticTrace trace = trace(Fault.deadLayer(2, 500));
    Report report = analyze(trace);
    Report withActivationFinding =
        withFindings(
            report,
            List.of(
                Finding.builder("dead-or-zero", Symptom.DEAD_OR_ZERO, Severity.ERROR)
                    .at(2, Phase.ACTIVATION)
                    .layerName("fc2")
                    .steps(500, 999, 500)
                    .message("fc2 is dead")
                    .build()));

    TraceCharts charts =
        collect(trace, withActivationFinding, new TraceCharts.Options(1, 0, 10, 2, 100, 10));

    // the root cause's symptom picks the first map: zero_fraction of its phase
    HeatmapGrid zeros = charts.heatmaps().get(0);
    assertThat(zeros.metric()).isEqualTo(HeatmapGrid.Metric.ZERO_FRACTION);
    assertThat(zeros.phase()).isEqualTo(Phase.ACTIVATION);
    assertThat(zeros.log(2, 49)).isLessThan(1f);
    assertThat(zeros.log(2, 50)).isEqualTo(1f);
    HeatmapGrid grid = charts.heatmaps().get(1);
    assertThat(grid.metric()).isEqualTo(HeatmapGrid.Metric.LOG_MEAN);
    assertThat(grid.phase()).isEqualTo(Phase.ACTIVATION);
    assertThat(grid.cell(2, 49)).isEqualTo(HeatmapGrid.Cell.VALUE);
    assertThat(grid.cell(2, 50)).isEqualTo(HeatmapGrid.Cell.ALL_ZERO);
    assertThat(grid.cell(2, 99)).isEqualTo(HeatmapGrid.Cell.ALL_ZERO);
    assertThat(grid.cell(1, 99)).isEqualTo(HeatmapGrid.Cell.VALUE);
  }

  @Test
  void heatmap_manyLayers_groupedIntoBoundedRows() {
    SyntheticTrace trace = SyntheticTrace.builder().layers(45).steps(50).seed(2).build();
    Report report = analyze(trace);

    TraceCharts charts = collect(trace, report, new TraceCharts.Options(1, 0, 10, 1, 10, 10));

    HeatmapGrid grid = charts.heatmaps().get(0);
    assertThat(grid.layersPerRow()).isEqualTo(5);
    assertThat(grid.rows()).isEqualTo(9);
  }

  @Test
  void collect_reportStoppedAtFirstFault_ignoresLaterRows() {
    SyntheticTrace trace = trace(Fault.nan(3, 400));
    Report report = analyze(trace, AnalysisOptions.builder().firstFault(true).build());

    TraceCharts charts = collect(trace, report, TraceCharts.Options.defaults());

    assertThat(report.trace().lastStep()).isEqualTo(400);
    assertThat(charts.lastStep()).isEqualTo(400);
    assertThat(charts.stepsPerBucket()).isEqualTo(2);
    assertThat(charts.buckets()).isEqualTo(201);
    BucketSeries mean = charts.series(3, Phase.FORWARD, ChartStat.MEAN);
    assertThat(mean.hasNonFinite(200)).isTrue();
    assertThat(mean.hasNonFinite(199)).isFalse();
  }

  @Test
  void keys_modelLevelFinding_ownPhaseOnceWithoutNeighbours() {
    Report report =
        withFindings(
            analyze(trace()),
            List.of(
                Finding.builder("not-learning", Symptom.NOT_LEARNING, Severity.ERROR)
                    .at(-1, Phase.LOSS)
                    .layerName("model")
                    .steps(100, 999, 900)
                    .message("the loss does not decrease")
                    .build()));

    List<TraceCharts.Key> keys = TraceCharts.keys(report, TraceCharts.Options.defaults(), 6);

    assertThat(keys)
        .containsExactly(
            new TraceCharts.Key(-1, Phase.LOSS), new TraceCharts.Key(-1, Phase.ACCURACY));
    assertThat(TraceCharts.heatmapPhases(report, TraceCharts.Options.defaults()))
        .containsExactly(Phase.FORWARD, Phase.GRADIENT);
  }

  @Test
  void heatmapPhases_modelLevelTopFinding_phaseOfTheNextLayerFindingFirst() {
    Report report =
        withFindings(
            analyze(trace()),
            List.of(
                Finding.builder("not-learning", Symptom.NOT_LEARNING, Severity.ERROR)
                    .at(-1, Phase.LOSS)
                    .layerName("model")
                    .steps(100, 999, 900)
                    .message("the loss does not decrease")
                    .build(),
                Finding.builder("dead-or-zero", Symptom.DEAD_OR_ZERO, Severity.ERROR)
                    .at(2, Phase.ACTIVATION)
                    .layerName("fc2")
                    .steps(500, 999, 500)
                    .message("fc2 is dead")
                    .build()));

    assertThat(TraceCharts.heatmapPhases(report, TraceCharts.Options.defaults()))
        .containsExactly(Phase.ACTIVATION, Phase.FORWARD);
    assertThat(HtmlChartSections.heatmapMark(report, Phase.ACTIVATION)).isEqualTo(1);
    assertThat(HtmlChartSections.heatmapMark(report, Phase.FORWARD)).isEqualTo(1);
    assertThat(
            HtmlChartSections.heatmapMark(
                withFindings(report, List.of(report.findings().get(0))), Phase.FORWARD))
        .isZero();
    assertThat(HtmlChartSections.heatmapMark(withFindings(report, List.of()), Phase.FORWARD))
        .isEqualTo(-1);
  }

  @Test
  void heatmapPhases_nanFinding_findingPhaseThenWhereItSpread() {
    Report report = analyze(trace(Fault.nan(3, 400)));

    assertThat(TraceCharts.heatmapPhases(report, new TraceCharts.Options(3, 2, 400, 3, 400, 200)))
        .containsExactly(Phase.FORWARD, Phase.ACTIVATION);
  }

  @Test
  void heatmapSpecs_nanFinding_countsFirstThenMeansThenTheOtherStatistics() {
    Report report = analyze(trace(Fault.nan(3, 400)));

    List<TraceCharts.HeatmapSpec> specs =
        TraceCharts.heatmapSpecs(
            report, TraceCharts.Options.defaults(), java.util.EnumSet.allOf(Column.class));

    assertThat(specs.get(0))
        .isEqualTo(new TraceCharts.HeatmapSpec(Phase.FORWARD, HeatmapGrid.Metric.NON_FINITE));
    assertThat(specs)
        .contains(
            new TraceCharts.HeatmapSpec(Phase.FORWARD, HeatmapGrid.Metric.LOG_MEAN),
            new TraceCharts.HeatmapSpec(Phase.GRADIENT, HeatmapGrid.Metric.ZERO_FRACTION),
            new TraceCharts.HeatmapSpec(Phase.GRADIENT, HeatmapGrid.Metric.LOG_L2))
        .doesNotHaveDuplicates()
        .hasSizeLessThanOrEqualTo(TraceCharts.Options.defaults().heatmaps());
    // a statistic the trace lacks gets no map
    assertThat(
            TraceCharts.heatmapSpecs(
                report,
                TraceCharts.Options.defaults(),
                java.util.EnumSet.complementOf(java.util.EnumSet.of(Column.L2_NORM))))
        .noneMatch(spec -> spec.metric() == HeatmapGrid.Metric.LOG_L2);
  }

  @Test
  void collect_emptyReportRange_noBuckets() {
    SyntheticTrace trace = SyntheticTrace.builder().layers(3).steps(0).build();
    Report report = analyze(trace);

    TraceCharts charts = collect(trace, report, TraceCharts.Options.defaults());

    assertThat(charts.buckets()).isZero();
    assertThat(charts.heatmaps()).isEmpty();
  }

  @Test
  void bucketWidth_span_smallestRoundWidthWithinTheLimit() {
    assertThat(TraceCharts.bucketWidth(0, 999, 300)).isEqualTo(5);
    assertThat(TraceCharts.bucketWidth(0, 299, 300)).isEqualTo(1);
    assertThat(TraceCharts.bucketWidth(0, 300, 300)).isEqualTo(2);
    assertThat(TraceCharts.bucketWidth(10, 40_009, 300)).isEqualTo(200);
    assertThat(TraceCharts.bucketWidth(0, 39_999, 400)).isEqualTo(100);
    assertThat(TraceCharts.bucketWidth(0, 1_000_000, 300)).isEqualTo(5_000);
    assertThat(TraceCharts.bucketCount(0, 1_000_000, 5_000)).isEqualTo(201);
  }

  @Test
  void bucketWidth_stepsUpToLongMax_noOverflow() {
    long width = TraceCharts.bucketWidth(0, Long.MAX_VALUE, 300);
    int buckets = TraceCharts.bucketCount(0, Long.MAX_VALUE, width);

    assertThat(width).isEqualTo(50_000_000_000_000_000L);
    assertThat(buckets).isBetween(1, 300);
    assertThat(TraceCharts.bucketWidth(0, Long.MAX_VALUE, 10)).isPositive();
    assertThat(TraceCharts.bucketCount(Long.MAX_VALUE, Long.MAX_VALUE, 1)).isEqualTo(1);
  }

  @Test
  void options_outOfRange_rejectedWithValue() {
    assertThatThrownBy(() -> new TraceCharts.Options(3, 2, 5, 2, 400, 200))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxPoints must be in [10, 5000]: 5");
  }

  static Report withFindings(Report r, List<Finding> findings) {
    return new Report(
        r.reportVersion(),
        r.mode(),
        r.verdict(),
        r.verdictReason(),
        r.rootCause(),
        findings,
        r.baselines(),
        r.trace(),
        r.thresholds(),
        r.detectors(),
        r.timing());
  }
}
