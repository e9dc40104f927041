package io.dlanalyze.analyzer.report;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.report.HtmlReports.count;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.util.function.IntToDoubleFunction;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LineChartTest {
  /** 100 steps, one point per step. */
  private static TraceCharts charts;

  @BeforeAll
  static void charts() {
    SyntheticTrace trace = SyntheticTrace.builder().layers(2).steps(100).seed(4).build();
    Report report = analyze(trace);
    try (TraceReader reader = trace.open(ReadOptions.all())) {
      charts = TraceCharts.collect(reader, report, TraceCharts.Options.defaults());
    }
  }

  private static BucketSeries series(IntToDoubleFunction value) {
    BucketSeries series = new BucketSeries(charts.buckets());
    for (int b = 0; b < charts.buckets(); b++) {
      series.add(b, value.applyAsDouble(b));
    }
    return series;
  }

  private static String render(LineChart chart) {
    StringBuilder svg = new StringBuilder();
    chart.render(svg);
    return svg.toString();
  }

  @Test
  void render_ordinaryValues_linearAxis() {
    LineChart chart =
        new LineChart(charts, LineChart.SMALL, "mean")
            .line(new LineChart.Line("fc0", series(b -> Math.sin(b / 10.0)), "#000", true));

    String svg = render(chart);

    assertThat(chart.scale()).isEqualTo(LineChart.Scale.LINEAR);
    assertThat(svg)
        .startsWith("<svg class=\"chart\"")
        .endsWith("</svg>")
        .contains(">0.5</text>", ">-0.5</text>");
  }

  @Test
  void render_positiveValuesOverDecades_logAxis() {
    LineChart chart =
        new LineChart(charts, LineChart.SMALL, "l2_norm")
            .line(new LineChart.Line("fc0", series(b -> Math.pow(10, b / 10.0)), "#000", true));

    String svg = render(chart);

    assertThat(chart.scale()).isEqualTo(LineChart.Scale.LOG);
    assertThat(svg).contains(">1e0</text>", ">1e10</text>");
  }

  @Test
  void render_valuesOfBothSignsThatExplode_symmetricLogAxis() {
    LineChart chart =
        new LineChart(charts, LineChart.SMALL, "mean")
            .line(
                new LineChart.Line(
                    "fc0",
                    series(b -> b < 90 ? 0.01 * Math.sin(b) : -Math.pow(10, b - 70)),
                    "#000",
                    true));

    String svg = render(chart);

    assertThat(chart.scale()).isEqualTo(LineChart.Scale.SYMLOG);
    assertThat(svg).contains(">0</text>", ">-1e9</text>", ">-1e20</text>");
    // -1e-2 sits within 10 px of 0: its label would overlap, so it is left out
    assertThat(svg).doesNotContain(">-1e-2</text>");
  }

  @Test
  void render_noFiniteValueAfterAnEarlyStep_axisClippedAndStripsToTheEdge() {
    LineChart chart =
        new LineChart(charts, LineChart.SMALL, "mean")
            .line(new LineChart.Line("fc0", series(b -> b <= 10 ? b : Double.NaN), "#000", true))
            .marker(new LineChart.Marker(10, "first fault", "#f00"));

    String svg = render(chart);

    // last finite step 10: the axis ends at 10 + 1.5 + 1 + 1, rounded up
    assertThat(chart.clippedAt()).isEqualTo(14);
    assertThat(svg).contains("<path class=\"nonfinite\"", "first fault");
    assertThat(count(svg, "<path class=\"nonfinite\"")).isEqualTo(1);
  }

  @Test
  void render_finiteValuesToTheEnd_notClipped() {
    LineChart chart =
        new LineChart(charts, LineChart.SMALL, "mean")
            .line(new LineChart.Line("fc0", series(b -> b), "#000", true));

    render(chart);

    assertThat(chart.clippedAt()).isEqualTo(-1);
  }

  @Test
  void constantValue_sameValueEverywhere_thatValue() {
    LineChart constant =
        new LineChart(charts, LineChart.SMALL, "nan_count")
            .line(new LineChart.Line("fc0", series(b -> 0), "#000", true))
            .line(new LineChart.Line("fc1", series(b -> 0), "#111", false));
    LineChart varying =
        new LineChart(charts, LineChart.SMALL, "nan_count")
            .line(new LineChart.Line("fc0", series(b -> 0), "#000", true))
            .line(new LineChart.Line("fc1", series(b -> b == 50 ? 1 : 0), "#111", false));

    assertThat(constant.constantValue()).isZero();
    assertThat(varying.constantValue()).isNaN();
  }
}
