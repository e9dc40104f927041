package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code corpus/as_sparse.py}: the traces of a manifest thinned to what the recorder keeps with a
 * sparser {@code every=}: per-layer rows and input/target rows on every N-th step, the scalars on
 * every step, a non-finite loss's step and the 3 after it in full. docs/evaluation.md measures the
 * analyzer on the corpus so thinned.
 */
class CorpusAsSparseTest {
  private static final Set<String> SCALARS =
      Set.of("loss", "accuracy", "learning_rate", "episode_return", "val_loss", "val_accuracy");

  @TempDir Path dir;

  /** One row's step, phase name and loss value (NaN for other phases). */
  private record Row(long step, String phase, double mean) {}

  private static List<Row> rows(Path trace) throws IOException {
    List<Row> rows = new ArrayList<>();
    try (TraceReader reader = TraceReaders.open(trace, ReadOptions.all())) {
      while (reader.next()) {
        TraceBatch batch = reader.batch();
        long[] steps = batch.longs(Column.STEP);
        int[] phases = batch.ints(Column.PHASE);
        double[] means = batch.doubles(Column.MEAN);
        for (int i = 0; i < batch.size(); i++) {
          rows.add(new Row(steps[i], batch.dictionary().phaseName(phases[i]), means[i]));
        }
      }
    }
    return rows;
  }

  private static String recordEvery(Path trace) throws IOException {
    try (TraceReader reader = TraceReaders.open(trace, ReadOptions.all())) {
      return reader.metadata().asMap().get("dltrace.record_every");
    }
  }

  @Test
  void every8_keepsTheScalarsOfEveryStep_theRestOnEvery8thStep_andANonFiniteLossInFull()
      throws IOException {
    Path out = dir.resolve("sparse");
    Python.Result result =
        Python.run(
            List.of(
                Python.interpreter(),
                "corpus/as_sparse.py",
                "--manifest",
                "sample-traces/manifest.json",
                "--every",
                "8",
                "--out",
                out.toString()),
            Python.repoRoot(),
            300);
    assertThat(result.exitCode()).as(result.output()).isZero();

    Path sample = Python.repoRoot().resolve("sample-traces");
    JsonNode manifest = new ObjectMapper().readTree(out.resolve("manifest.json").toFile());
    assertThat(manifest.get("cases").size())
        .isEqualTo(
            new ObjectMapper()
                .readTree(sample.resolve("manifest.json").toFile())
                .get("cases")
                .size());
    boolean someNonFinite = false;
    for (JsonNode c : manifest.get("cases")) {
      String id = c.get("id").asText();
      List<Row> full = rows(sample.resolve(c.get("trace").asText()));
      List<Row> thin = rows(out.resolve(c.get("trace").asText()));
      Set<Long> kept = new TreeSet<>();
      for (Row r : full) {
        if (r.phase().equals("loss") && !Double.isFinite(r.mean())) {
          for (long s = r.step(); s <= r.step() + 3; s++) {
            kept.add(s);
          }
        }
      }
      someNonFinite |= !kept.isEmpty();
      List<Row> expected =
          full.stream()
              .filter(
                  r -> SCALARS.contains(r.phase()) || r.step() % 8 == 0 || kept.contains(r.step()))
              .toList();
      assertThat(thin).as(id).containsExactlyElementsOf(expected);
      assertThat(thin.size()).as(id).isLessThan(full.size());
      assertThat(recordEvery(out.resolve(c.get("trace").asText()))).as(id).isEqualTo("8");
    }
    assertThat(someNonFinite).as("a sample trace whose loss turns NaN").isTrue();
  }
}
