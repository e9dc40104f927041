package io.dlanalyze.analyzer.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Analyses;
import io.dlanalyze.analyzer.AnalysisListener;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.report.JsonReportRenderer;
import io.dlanalyze.analyzer.report.RenderOptions;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The findings an analysis announces while it reads, over the sample traces of real runs: the
 * report is the one of an offline analysis, byte for byte; every finding announced is in the final
 * report at the severity announced (conclusive means final); and the detectors that can decide
 * early announce before the end, at the step their evidence is complete.
 */
class LiveFindingsTest {
  private static final JsonReportRenderer JSON =
      new JsonReportRenderer(new RenderOptions(false, false));

  record Announcement(long step, Finding finding) {}

  static Path traces() {
    return Path.of(System.getProperty("repo.root", ".."))
        .toAbsolutePath()
        .normalize()
        .resolve("sample-traces/traces");
  }

  static List<Announcement> follow(Path trace, List<Report> reports) {
    List<Announcement> announced = new ArrayList<>();
    Analyzer analyzer = new Analyzer();
    AnalysisOptions options = AnalysisOptions.defaults();
    try (TraceReader reader =
        TraceReaders.open(trace, new ReadOptions(analyzer.projection(options), 1 << 16))) {
      reports.add(
          analyzer.analyze(
              reader,
              options,
              new AnalysisListener() {
                @Override
                public void findings(long step, List<Finding> findings) {
                  for (Finding f : findings) {
                    announced.add(new Announcement(step, f));
                  }
                }

                @Override
                public boolean stepCompleted(long step, int epoch, double loss) {
                  return true;
                }
              }));
    }
    return announced;
  }

  @Test
  void everySampleTrace_announcesOnlyConclusiveFindingsAndReportsAsOffline() throws IOException {
    List<Path> all;
    try (Stream<Path> files = Files.list(traces())) {
      all = files.filter(p -> p.toString().endsWith(".parquet")).sorted().toList();
    }
    assertThat(all).hasSizeGreaterThanOrEqualTo(30);
    TreeMap<String, Integer> early = new TreeMap<>();
    for (Path trace : all) {
      List<Report> reports = new ArrayList<>();
      List<Announcement> announced = follow(trace, reports);
      Report offline = new Analyzer().analyze(trace, AnalysisOptions.defaults());
      assertThat(JSON.render(reports.get(0).withoutTiming()))
          .as("%s: the followed analysis reports as the offline one", trace.getFileName())
          .isEqualTo(JSON.render(offline.withoutTiming()));
      MemoryTrace rows = null;
      for (Announcement a : announced) {
        Finding f = a.finding();
        String what =
            String.format(
                Locale.ROOT,
                "%s: %s %s in %s %s announced at step %d",
                trace.getFileName(),
                f.severity(),
                f.detector(),
                f.layerName(),
                f.phase(),
                a.step());
        assertThat(a.step()).as(what).isBetween(f.firstStep(), offline.trace().lastStep());
        assertThat(inReport(offline, f)).as("%s is in the final report", what).isTrue();
        // conclusive at that step: the run cut right there reports it too
        if (rows == null) {
          try (TraceReader reader = TraceReaders.open(trace, ReadOptions.all())) {
            rows = MemoryTrace.copyOf(reader);
          }
        }
        Report cut = Analyses.analyze(rows.steps(0, a.step() + 1), AnalysisOptions.defaults());
        assertThat(inReport(cut, f)).as("%s is in the report of the run cut there", what).isTrue();
        if (a.step() < offline.trace().lastStep()) {
          early.merge(f.detector(), 1, Integer::sum);
        }
      }
    }
    // the detectors that can decide during the run did, on these real runs
    assertThat(early.keySet())
        .as("detectors announced before the end: %s", early)
        .contains(
            "numerical-error",
            "dead-or-zero",
            "unchanged-values",
            "dying-relu",
            "weight-variance",
            "oscillating-loss",
            "exploding-gradient",
            "initial-loss",
            "missing-activation",
            "loss-definition",
            "target-range");
  }

  /**
   * True when the report holds the finding: same detector, layer, phase and severity, or the layer
   * and phase as a consequence of the detector's finding (the root may move to a layer whose fault
   * started earlier).
   */
  private static boolean inReport(Report report, Finding f) {
    for (Finding g : report.findings()) {
      if (!g.detector().equals(f.detector())) {
        continue;
      }
      if (g.layerIndex() == f.layerIndex() && g.phase() == f.phase()) {
        if (g.severity() == f.severity()) {
          return true;
        }
        continue;
      }
      for (Consequence c : g.consequences()) {
        if (c.layerIndex() == f.layerIndex() && c.phase() == f.phase()) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Each early detector announces the step its evidence became complete: dying-relu at the end of
   * its window of dead steps, oscillating-loss when the swing that reaches the count is confirmed
   * by the block after it, initial-loss at the second loss, missing-activation at the first step.
   */
  @Test
  void announcements_comeTheStepTheEvidenceIsComplete() {
    int window = AnalysisOptions.defaults().getInt(Thresholds.WINDOW);
    List<Announcement> dying =
        of(follow(traces().resolve("dying-relu-buggy.parquet"), new ArrayList<>()), "dying-relu");
    assertThat(dying).hasSize(1);
    assertThat(dying.get(0).step()).isEqualTo(dying.get(0).finding().firstStep() + window - 1);

    List<Announcement> initial =
        of(
            follow(traces().resolve("exploding-gradient-buggy.parquet"), new ArrayList<>()),
            "initial-loss");
    assertThat(initial).hasSize(1);
    assertThat(initial.get(0).step()).isEqualTo(1);

    List<Announcement> linear =
        of(
            follow(traces().resolve("so-48385830-buggy.parquet"), new ArrayList<>()),
            "missing-activation");
    assertThat(linear).hasSize(1);
    assertThat(linear.get(0).step()).isZero();

    List<Report> reports = new ArrayList<>();
    List<Announcement> swings =
        of(follow(traces().resolve("oscillating-loss-buggy.parquet"), reports), "oscillating-loss");
    assertThat(swings).hasSize(1);
    int block = AnalysisOptions.defaults().getInt(Thresholds.OSCILLATION_BLOCK);
    assertThat(swings.get(0).step())
        .as("announced at the end of a block, before the run's end")
        .isLessThan(reports.get(0).trace().lastStep())
        .matches(step -> (step + 1) % block == 0);
  }

  private static List<Announcement> of(List<Announcement> all, String detector) {
    List<Announcement> kept = new ArrayList<>();
    for (Announcement a : all) {
      if (a.finding().detector().equals(detector)) {
        kept.add(a);
      }
    }
    return kept;
  }
}
