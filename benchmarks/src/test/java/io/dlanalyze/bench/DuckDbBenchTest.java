package io.dlanalyze.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The DuckDB side of the comparison checks what {@code --mode deeplocalize} checks: on traces whose
 * first DeepLocalize hit comes from each rule, the SQL finds the hit the detector reports.
 */
class DuckDbBenchTest {
  @TempDir Path dir;

  static Stream<Arguments> traces() {
    return Stream.of(
        // The softmax output's mean is exactly 1/K: the forward unchanged rule at batch 4.
        Arguments.of("softmax", false, new Fault[0], 4L, 5, "activation", "unchanged"),
        Arguments.of("nan", true, new Fault[] {Fault.nan(2, 37)}, 37L, 2, "activation", "nan_inf"),
        // Zero means from step 12: five equal zeros in a block come before half of all batches.
        Arguments.of(
            "dead", true, new Fault[] {Fault.deadLayer(1, 12)}, -1L, 1, "activation", "unchanged"),
        Arguments.of(
            "dead-from-start",
            true,
            new Fault[] {Fault.deadLayer(1, 0)},
            0L,
            1,
            "activation",
            "zero_frequency"),
        Arguments.of(
            "frozen",
            true,
            new Fault[] {Fault.frozenWeights(3, 21)},
            -1L,
            3,
            "weight",
            "unchanged"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("traces")
  void deepLocalizeSql_faultyTrace_sameFirstHitAsTheDetector(
      String name,
      boolean jitterSoftmax,
      Fault[] faults,
      long step,
      int layer,
      String phase,
      String rule)
      throws Exception {
    SyntheticTrace.Builder builder =
        SyntheticTrace.builder().layers(6).steps(120).stepsPerEpoch(50).seed(11);
    for (Fault fault : faults) {
      builder.fault(fault);
    }
    Path file = write(builder.build(), jitterSoftmax);

    Report report =
        new Analyzer()
            .analyze(file, AnalysisOptions.builder().mode(AnalysisMode.DEEPLOCALIZE).build());
    Finding hit = report.findings().get(0);
    assertThat(hit.evidence().get("rule")).isEqualTo(rule);
    assertThat(hit.layerIndex()).isEqualTo(layer);
    assertThat(hit.phase().wireName()).isEqualTo(phase);
    if (step >= 0) {
      assertThat(hit.firstStep()).isEqualTo(step);
    }

    String sql = DuckDbBench.deepLocalizeSql("read_parquet('" + file + "')", 5, 0.5);
    try (Connection connection = DriverManager.getConnection("jdbc:duckdb:");
        Statement statement = connection.createStatement();
        ResultSet result = statement.executeQuery(sql)) {
      assertThat(result.next()).isTrue();
      assertThat(result.getLong("counter"))
          .isEqualTo(((Number) hit.evidence().get("counter")).longValue());
      assertThat(result.getInt("batch")).isEqualTo(hit.batch());
      assertThat(result.getInt("layer_index")).isEqualTo(layer);
      assertThat(stream(result.getInt("stream")))
          .isEqualTo(phase.equals("activation") ? "forward" : phase);
      assertThat(result.getString("rule")).isEqualTo(rule);
    }
  }

  private static String stream(int code) {
    return switch (code) {
      case 0 -> "forward";
      case 1 -> "weight";
      case 2 -> "loss";
      case 3 -> "accuracy";
      case 4 -> "gradient";
      case 5 -> "backward";
      default -> throw new IllegalArgumentException("stream " + code);
    };
  }

  /**
   * Writes the trace; with {@code jitterSoftmax}, the softmax output's mean moves in its last bits.
   */
  private Path write(SyntheticTrace trace, boolean jitterSoftmax) {
    MemoryTrace rows = MemoryTrace.of(trace);
    if (jitterSoftmax) {
      TraceBatch all = rows.columns();
      int[] layers = all.ints(Column.LAYER_INDEX);
      int[] phases = all.ints(Column.PHASE);
      double[] means = all.doubles(Column.MEAN);
      for (int r = 0; r < all.size(); r++) {
        if (layers[r] == trace.layers() - 1 && phases[r] == Phase.ACTIVATION.code()) {
          means[r] += 1e-9 * (r % 7 + 1);
        }
      }
    }
    return rows.write(
        dir.resolve(String.format(Locale.ROOT, "trace-%d.parquet", System.nanoTime())),
        WriteOptions.defaults());
  }
}
