package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code corpus/stale_layers.py}: runs a PyTorch case's program up to the recorder's first step (a
 * Keras case's up to the end of the recorder's first recorded step) and compares the layers'
 * activations, and its reading of the loss's pairing with the output ({@code
 * dltrace.loss_from_logits}; whether {@code dltrace.output_layer} is {@code none}), with the
 * committed trace's metadata. A trace that says what the recorder now writes passes; one whose
 * metadata an older recorder wrote differently is named, with the layer and both activations, and
 * the exit code is 1.
 */
class CorpusStaleLayersTest {
  private static final String CASE = "healthy-pixcnn-pt-features48-blocks3-lr2e-3-seed3";

  /** A small Keras case (a regression MLP in {@code fit}), a few seconds to its first step. */
  private static final String KERAS_CASE =
      "kdiabfac-scaler-output-unused-keras-adafactor-lr0.01-buggy";

  @TempDir Path dir;

  private static Python.Result check(Path manifest) {
    return check(manifest, CASE);
  }

  private static Python.Result check(Path manifest, String id, String... options) {
    List<String> command =
        new ArrayList<>(
            List.of(
                Python.interpreter(),
                "corpus/stale_layers.py",
                "--manifest",
                manifest.toString(),
                "--only",
                id));
    command.addAll(List.of(options));
    return Python.run(command, Python.repoRoot(), 600);
  }

  /**
   * A manifest of the one case whose trace is {@code trace}, with the first layer's activation in
   * its metadata replaced by {@code activation} ({@code -}: the committed trace as it is; {@code
   * rows}: the mean of the first layer's forward row at the first step raised by 1, as an older
   * recorder that took the row from another call would have written it; {@code logits-false}:
   * {@code dltrace.loss_from_logits} set to {@code false}, as a recorder that did not tell a loss
   * function of the program's own from Keras' wrote it).
   */
  private Path manifest(String activation) {
    return manifest(activation, CASE);
  }

  /** As {@link #manifest(String)}, for the case {@code id}. */
  private Path manifest(String activation, String id) {
    String script =
        String.join(
            "\n",
            "import json, sys, pyarrow.parquet as pq",
            "corpus, out, activation = sys.argv[1], sys.argv[2], sys.argv[3]",
            "case = next(c for c in json.load(open(corpus + '/manifest.json'))['cases']",
            "            if c['id'] == '" + id + "')",
            "table = pq.read_table(corpus + '/traces/dev/" + id + ".parquet')",
            "meta = dict(table.schema.metadata)",
            "layers = json.loads(meta[b'dltrace.layers'])",
            "if activation == 'rows':",
            "    rows = table.to_pylist()",
            "    first = min(r['step'] for r in rows)",
            "    for r in rows:",
            "        if r['step'] == first and r['layer_index'] == 0 and r['phase'] == 'forward':",
            "            r['mean'] += 1",
            "    table = table.from_pylist(rows, schema=table.schema)",
            "elif activation == 'logits-false':",
            "    meta[b'dltrace.loss_from_logits'] = b'false'",
            "elif activation != '-':",
            "    layers[0]['activation'] = activation",
            "meta[b'dltrace.layers'] = json.dumps(layers).encode()",
            "pq.write_table(table.replace_schema_metadata(meta), out + '/trace.parquet')",
            "case['trace'] = 'trace.parquet'",
            "json.dump({'cases': [case]}, open(out + '/manifest.json', 'w'))");
    Python.Result made =
        Python.run(
            List.of(
                Python.interpreter(),
                "-c",
                script,
                Python.repoRoot().resolve("corpus").toString(),
                dir.toString(),
                activation),
            Python.repoRoot(),
            120);
    assertThat(made.exitCode()).as(made.output()).isZero();
    return dir.resolve("manifest.json");
  }

  @Test
  void traceAsTheRecorderNowWritesIt_passes() {
    Python.Result result = check(manifest("-"));

    assertThat(result.exitCode()).as(result.output()).isZero();
    assertThat(result.output()).contains("1 case(s) checked, 0 differ");
  }

  @Test
  void traceWrittenByAnOlderRecorder_namesTheLayerAndBothActivations() throws Exception {
    Path manifest = manifest("tanh");

    Python.Result result = check(manifest);

    assertThat(result.exitCode()).as(result.output()).isEqualTo(1);
    assertThat(result.output()).containsPattern(CASE + ": \\S+ tanh -> \\S+");
    assertThat(result.output()).contains("1 case(s) checked, 1 differ");
    assertThat(Files.exists(dir.resolve("trace.parquet"))).isTrue();
  }

  @Test
  void kerasTrace_passesAsCommitted_andIsNamedWhenAnOlderRecorderWroteItDifferently() {
    Python.Result current = check(manifest("-", KERAS_CASE), KERAS_CASE);

    assertThat(current.exitCode()).as(current.output()).isZero();
    assertThat(current.output()).contains("1 case(s) checked, 0 differ");

    Python.Result older = check(manifest("tanh", KERAS_CASE), KERAS_CASE);

    assertThat(older.exitCode()).as(older.output()).isEqualTo(1);
    assertThat(older.output()).contains(KERAS_CASE + ": hidden_1 tanh -> relu");
    assertThat(older.output()).contains("1 case(s) checked, 1 differ");
  }

  /**
   * The Keras case's loss is a function of the program's own, whose {@code from_logits} the
   * recorder cannot see: its trace has no {@code dltrace.loss_from_logits}, and one that says
   * {@code false} is named.
   */
  @Test
  void kerasTrace_aLossPairingWrittenDifferentlyIsNamed() {
    Python.Result older = check(manifest("logits-false", KERAS_CASE), KERAS_CASE);

    assertThat(older.exitCode()).as(older.output()).isEqualTo(1);
    assertThat(older.output()).contains(KERAS_CASE + ": dltrace.loss_from_logits false -> None");
    assertThat(older.output()).contains("1 case(s) checked, 1 differ");
  }

  @Test
  void rows_theCommittedTracePasses_andAFirstStepRowWrittenDifferentlyIsNamed() {
    Python.Result current = check(manifest("-"), CASE, "--rows");

    assertThat(current.exitCode()).as(current.output()).isZero();
    assertThat(current.output()).contains("1 case(s) checked, 0 differ");

    Python.Result older = check(manifest("rows"), CASE, "--rows");

    assertThat(older.exitCode()).as(older.output()).isEqualTo(1);
    assertThat(older.output()).containsPattern(CASE + ": \\S+ forward \\[");
    assertThat(older.output()).contains("1 case(s) checked, 1 differ");
  }
}
