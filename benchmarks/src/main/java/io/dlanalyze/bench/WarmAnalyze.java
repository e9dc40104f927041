package io.dlanalyze.bench;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Report;
import java.nio.file.Path;

/**
 * dl-analyze's analysis inside a warm JVM ({@link Analyzer#analyze(Path, AnalysisOptions)}, what
 * the analyze command runs, without JVM start, class loading and rendering): the figure to set
 * beside DuckDB's, which also runs warm, and the one that shows the engine's own cost apart from
 * JVM start-up.
 *
 * <pre>
 * java -cp ... io.dlanalyze.bench.WarmAnalyze TRACE [default|deeplocalize] [REPS] [--first-fault] [--no-read-ahead]
 * </pre>
 */
public final class WarmAnalyze {
  private WarmAnalyze() {}

  public static void main(String[] args) {
    if (args.length < 1) {
      System.err.println("usage: WarmAnalyze TRACE [default|deeplocalize] [REPS] [--first-fault]");
      System.exit(2);
    }
    Path trace = Path.of(args[0]);
    AnalysisMode mode = args.length > 1 ? AnalysisMode.fromWireName(args[1]) : AnalysisMode.DEFAULT;
    int reps = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    java.util.List<String> flags =
        java.util.Arrays.asList(args).subList(Math.min(3, args.length), args.length);
    boolean firstFault = flags.contains("--first-fault");
    boolean readAhead = !flags.contains("--no-read-ahead");
    AnalysisOptions options =
        AnalysisOptions.builder().mode(mode).firstFault(firstFault).readAhead(readAhead).build();
    Analyzer analyzer = new Analyzer();
    Report report = analyzer.analyze(trace, options); // warm-up
    String name =
        mode.wireName() + (firstFault ? "_first_fault" : "") + (readAhead ? "" : "_single_thread");
    Measure.Result[] results = new Measure.Result[reps];
    for (int i = 0; i < reps; i++) {
      Measure measure = Measure.start();
      report = analyzer.analyze(trace, options);
      results[i] = measure.stop();
      System.out.println(
          format(
              ROOT,
              "warm mode=%s rep=%d rows=%d %s",
              name,
              i,
              report.trace().rows(),
              results[i].format(report.trace().rows())));
    }
    Measure.Result[] bm = Measure.bestAndMedian(results);
    long rows = report.trace().rows();
    System.out.println(
        format(ROOT, "warm mode=%s stat=best rows=%d %s", name, rows, bm[0].format(rows)));
    System.out.println(
        format(ROOT, "warm mode=%s stat=median rows=%d %s", name, rows, bm[1].format(rows)));
    System.out.println(
        format(
            ROOT,
            "# %s verdict: %s, findings: %d, top: %s",
            name,
            report.verdict().wireName(),
            report.findings().size(),
            report.topFinding().map(f -> f.message()).orElse("none")));
  }
}
