package io.dlanalyze.analyzer.report;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;

/** Test helpers: HTML reports of traces on disk and synthetic traces, with their charts. */
final class HtmlReports {
  private HtmlReports() {}

  /** Analyses a trace file and renders its HTML report with charts. */
  static String render(Path trace) {
    Report report = new Analyzer().analyze(trace, AnalysisOptions.defaults()).withoutTiming();
    TraceCharts charts = TraceCharts.collect(trace, report, TraceCharts.Options.defaults());
    return new HtmlReportRenderer(RenderOptions.plain(), charts).render(report);
  }

  /** Analyses a synthetic trace and renders its HTML report with charts. */
  static String render(SyntheticTrace trace) {
    return render(trace, TraceCharts.Options.defaults());
  }

  /** Analyses a synthetic trace and renders its HTML report with these chart options. */
  static String render(SyntheticTrace trace, TraceCharts.Options chartOptions) {
    Analyzer analyzer = new Analyzer();
    AnalysisOptions options = AnalysisOptions.defaults();
    Report report;
    try (TraceReader reader =
        trace.open(new ReadOptions(analyzer.projection(options), ReadOptions.DEFAULT_BATCH_ROWS))) {
      report = analyzer.analyze(reader, options).withoutTiming();
    }
    TraceCharts charts;
    try (TraceReader reader = trace.open(ReadOptions.columns(TraceCharts.COLUMNS))) {
      charts = TraceCharts.collect(reader, report, chartOptions);
    }
    return new HtmlReportRenderer(RenderOptions.plain(), charts).render(report);
  }

  /** The number of non-overlapping occurrences of {@code part} in {@code text}. */
  static int count(String text, String part) {
    int n = 0;
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + part.length())) {
      n++;
    }
    return n;
  }
}
