package io.dlanalyze.analyzer.compare;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.compare.Comparison.Divergence;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceComparisonTest {
  @TempDir Path dir;

  static Path traces() {
    return Path.of(System.getProperty("repo.root", ".."))
        .toAbsolutePath()
        .normalize()
        .resolve("sample-traces/traces");
  }

  /** Every buggy/fixed pair: a first divergence, at or before the buggy run's first finding. */
  @Test
  void everySamplePair_divergesAtOrBeforeTheBuggyRunsFirstFinding() throws IOException {
    List<Path> buggy;
    try (Stream<Path> files = Files.list(traces())) {
      buggy = files.filter(p -> p.toString().endsWith("-buggy.parquet")).sorted().toList();
    }
    assertThat(buggy).hasSizeGreaterThanOrEqualTo(10);
    ObjectMapper mapper = new ObjectMapper();
    for (Path a : buggy) {
      Path b = a.resolveSibling(a.getFileName().toString().replace("-buggy", "-fixed"));
      Comparison c = TraceComparison.compare(a, b, 3, AnalysisOptions.defaults());
      long firstFinding = ComparisonJson.firstFindingStep(c.a());
      assertThat(firstFinding).as("%s has a finding", a.getFileName()).isGreaterThanOrEqualTo(0);
      Divergence first = c.firstDivergence();
      assertThat(first).as("%s vs its fixed twin diverges", a.getFileName()).isNotNull();
      assertThat(first.step())
          .as("%s: first divergence %s", a.getFileName(), ComparisonText.sentence(first))
          .isLessThanOrEqualTo(firstFinding);
      assertThat(c.findings()).anyMatch(f -> f.presence().equals("only a") || f.firstStepA() >= 0);
      JsonNode json = mapper.readTree(ComparisonJson.render(c));
      assertThat(json.path("first_divergence").path("step").asLong()).isEqualTo(first.step());
      assertThat(json.path("a").path("first_finding_step").asLong()).isEqualTo(firstFinding);
      assertThat(ComparisonText.render(c)).contains("First divergence: step " + first.step());
    }
  }

  /** A run compared with itself never diverges, whatever the band width. */
  @Test
  void aTraceAgainstItself_doesNotDiverge() {
    Path a = traces().resolve("exploding-gradient-buggy.parquet");
    Comparison c = TraceComparison.compare(a, a, 0.001, AnalysisOptions.defaults());
    assertThat(c.divergences()).isEmpty();
    assertThat(c.notes()).isEmpty();
    assertThat(c.findings()).allMatch(f -> f.presence().equals("both"));
    assertThat(ComparisonText.render(c)).contains("No divergence");
  }

  /**
   * The same run, cut short, without its activation rows and with fc1 renamed: no divergence, and
   * one note for each difference.
   */
  @Test
  void shorterRunWithoutAPhaseAndARenamedLayer_isNotedAndAligned() throws IOException {
    Path a = traces().resolve("so-48385830-fixed.parquet");
    Path b = dir.resolve("changed.csv");
    writeChanged(a, b, 100);
    Comparison c = TraceComparison.compare(a, b, 3, AnalysisOptions.defaults());
    assertThat(c.divergences()).isEmpty();
    assertThat(c.commonSteps()).isEqualTo(100);
    assertThat(c.notes())
        .anyMatch(n -> n.startsWith("different lengths: a holds 360 steps (0 to 359), b holds 100"))
        .anyMatch(n -> n.equals("phases recorded only in a, not compared: activation"))
        .anyMatch(n -> n.startsWith("layer fc1 of a is named dense_1 in b: paired by index (0)"));
    assertThat(c.layers())
        .anyMatch(m -> m.how() == Comparison.How.POSITION && m.label().equals("fc1 -> dense_1"));

    // a changed value in the renamed layer is found there, under both names
    Path c2 = dir.resolve("changed2.csv");
    writeChanged(a, c2, 100, 40);
    Comparison changed = TraceComparison.compare(a, c2, 3, AnalysisOptions.defaults());
    assertThat(changed.firstDivergence()).isNotNull();
    assertThat(changed.firstDivergence().step()).isEqualTo(40);
    assertThat(changed.firstDivergence().layer()).isEqualTo("fc1 -> dense_1");
    assertThat(changed.firstDivergence().phase()).isEqualTo(Phase.WEIGHT);
  }

  private static void writeChanged(Path from, Path to, long steps) throws IOException {
    writeChanged(from, to, steps, -1);
  }

  /**
   * As CSV: steps below {@code steps}, no activation rows, fc1 named dense_1 (its weight mean x3
   * from {@code bumpAt}).
   */
  private static void writeChanged(Path from, Path to, long steps, long bumpAt) throws IOException {
    List<String> lines = new ArrayList<>();
    lines.add("epoch,batch,step,layer_index,layer_name,layer_type,phase,mean,std,l2_norm");
    try (TraceReader reader = TraceReaders.open(from, ReadOptions.all())) {
      TraceBatch batch = reader.batch();
      while (reader.next()) {
        for (int r = 0; r < batch.size(); r++) {
          long step = batch.longs(Column.STEP)[r];
          String phase = reader.dictionary().phaseName(batch.ints(Column.PHASE)[r]);
          if (step >= steps || phase.equals("activation")) {
            continue;
          }
          String name = reader.dictionary().layerName(batch.ints(Column.LAYER_NAME)[r]);
          double mean = batch.doubles(Column.MEAN)[r];
          if (name.equals("fc1")) {
            name = "dense_1";
            if (bumpAt >= 0 && step >= bumpAt && phase.equals("weight")) {
              mean = mean * 3 + 1;
            }
          }
          String type =
              batch.isNull(Column.LAYER_TYPE, r)
                  ? ""
                  : reader.dictionary().layerType(batch.ints(Column.LAYER_TYPE)[r]);
          lines.add(
              String.format(
                  Locale.ROOT,
                  "%d,%d,%d,%d,%s,%s,%s,%s,%s,%s",
                  batch.ints(Column.EPOCH)[r],
                  batch.ints(Column.BATCH)[r],
                  step,
                  batch.ints(Column.LAYER_INDEX)[r],
                  name,
                  type,
                  phase,
                  num(mean),
                  batch.isNull(Column.STD, r) ? "" : num(batch.doubles(Column.STD)[r]),
                  batch.isNull(Column.L2_NORM, r) ? "" : num(batch.doubles(Column.L2_NORM)[r])));
        }
      }
    }
    Files.write(to, lines, StandardCharsets.UTF_8);
  }

  private static String num(double v) {
    return Double.isNaN(v)
        ? "nan"
        : Double.isInfinite(v) ? (v > 0 ? "inf" : "-inf") : Double.toString(v);
  }
}
