package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code corpus/as_v1.py}: the traces of a manifest cut down to format v1's metadata keys (and,
 * with {@code --drop-optional}, to the seven phases every v1 trace has), as a recorder that follows
 * only the v1 contract writes them; docs/evaluation.md measures the analyzer on the corpus so cut.
 */
class CorpusAsV1Test {
  private static final Set<String> V1_KEYS =
      Set.of(
          "dltrace.version",
          "dltrace.run_id",
          "dltrace.model",
          "dltrace.framework",
          "dltrace.optimizer",
          "dltrace.learning_rate",
          "dltrace.batch_size",
          "dltrace.task",
          "dltrace.loss",
          "dltrace.layers");

  private static final Set<String> V1_LAYER_FIELDS =
      Set.of("index", "name", "type", "activation", "params", "trainable");

  @TempDir Path dir;

  private static Path cutDown(Path out, String... extra) {
    List<String> command =
        new ArrayList<>(
            List.of(
                Python.interpreter(),
                "corpus/as_v1.py",
                "--manifest",
                "sample-traces/manifest.json",
                "--out",
                out.toString()));
    command.addAll(List.of(extra));
    Python.Result result = Python.run(command, Python.repoRoot(), 300);
    assertThat(result.exitCode()).as(result.output()).isZero();
    return out;
  }

  private static JsonNode analyze(Path trace) throws IOException {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    DlAnalyze.run(
        new PrintWriter(out),
        new PrintWriter(err),
        "analyze",
        trace.toString(),
        "--format",
        "json");
    return new ObjectMapper().readTree(out.toString());
  }

  private static long rows(Path trace) throws IOException {
    try (TraceReader reader = TraceReaders.open(trace, ReadOptions.all())) {
      return reader.totalRows();
    }
  }

  @Test
  void v1Keys_everyTraceKeepsItsRowsAndOnlyTheV1MetadataKeysAndLayerFields() throws IOException {
    Path out = cutDown(dir.resolve("v1"));
    Path sample = Python.repoRoot().resolve("sample-traces");
    JsonNode manifest = new ObjectMapper().readTree(out.resolve("manifest.json").toFile());
    JsonNode original = new ObjectMapper().readTree(sample.resolve("manifest.json").toFile());

    assertThat(manifest.get("cases").size()).isEqualTo(original.get("cases").size());
    boolean someKeyDropped = false;
    for (JsonNode c : manifest.get("cases")) {
      Path cut = out.resolve(c.get("trace").asText());
      Path full = sample.resolve(c.get("trace").asText());
      assertThat(rows(cut)).as(c.get("id").asText()).isEqualTo(rows(full));
      try (TraceReader reader = TraceReaders.open(cut, ReadOptions.all());
          TraceReader before = TraceReaders.open(full, ReadOptions.all())) {
        assertThat(reader.metadata().asMap().keySet()).isSubsetOf(V1_KEYS);
        someKeyDropped |= reader.metadata().asMap().size() < before.metadata().asMap().size();
        String layers = reader.metadata().asMap().get("dltrace.layers");
        if (layers != null) {
          for (JsonNode layer : new ObjectMapper().readTree(layers)) {
            for (Iterator<String> it = layer.fieldNames(); it.hasNext(); ) {
              assertThat(it.next()).isIn(V1_LAYER_FIELDS);
            }
          }
        }
      }
    }
    assertThat(someKeyDropped).as("the sample traces carry extension keys to drop").isTrue();
  }

  @Test
  void dropOptional_leavesOnlyTheSevenV1Phases() throws IOException {
    Path out = cutDown(dir.resolve("bare"), "--drop-optional");
    JsonNode manifest = new ObjectMapper().readTree(out.resolve("manifest.json").toFile());

    for (JsonNode c : manifest.get("cases")) {
      JsonNode report = analyze(out.resolve(c.get("trace").asText()));
      List<String> phases = new ArrayList<>();
      report.at("/trace/phases").forEach(p -> phases.add(p.asText()));
      assertThat(phases)
          .as(c.get("id").asText())
          .isNotEmpty()
          .isSubsetOf(
              "forward", "activation", "loss", "accuracy", "backward", "gradient", "weight");
    }
  }
}
