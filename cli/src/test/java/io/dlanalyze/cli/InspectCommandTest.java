package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {
  @TempDir Path dir;

  private Path generate(String name, String... options) {
    Path path = dir.resolve(name);
    String[] args = new String[options.length + 2];
    args[0] = "generate";
    args[1] = path.toString();
    System.arraycopy(options, 0, args, 2, options.length);
    assertThat(CliRun.of(args).code()).isZero();
    return path;
  }

  @Test
  void inspect_text_describesTheWholeTrace() {
    Path trace =
        generate(
            "small.arrows",
            "--layers",
            "2",
            "--steps",
            "3",
            "--steps-per-epoch",
            "2",
            "--classes",
            "4",
            "--optional-phases",
            "--fault",
            "nan:1:2");
    CliRun run = CliRun.of("inspect", trace.toString());
    assertThat(run.code()).isZero();
    assertThat(run.err()).isEmpty();
    assertThat(run.out().replace(System.lineSeparator(), "\n"))
        .isEqualTo(
            "file       "
                + trace
                + "\n"
                + "format     arrow-stream\n"
                + "rows       45\n"
                + "steps      3 (0 to 2)\n"
                + "epochs     2 (0 to 1)\n"
                + "columns    16 of 16\n"
                + "truncated  no\n"
                + "\n"
                + "layers (2 in the data, 2 in dltrace.layers; index -1 holds the model-level"
                + " rows)\n"
                + "  index  name   type    activation  params  trainable  rows\n"
                + "  -1     model  -       -           -       -          15\n"
                + "  0      fc0    Linear  relu        16640   yes        15\n"
                + "  1      fc1    Linear  softmax     1028    yes        15\n"
                + "\n"
                + "phases\n"
                + "  forward        6\n"
                + "  activation     6\n"
                + "  loss           3\n"
                + "  accuracy       3\n"
                + "  backward       6\n"
                + "  gradient       6\n"
                + "  weight         6\n"
                + "  input          3  optional\n"
                + "  target         3  optional\n"
                + "  learning_rate  3  optional\n"
                + "\n"
                + "metadata (14 keys)\n"
                + "  dltrace.version           1\n"
                + "  dltrace.run_id            synthetic-1\n"
                + "  dltrace.model             mlp-2-synthetic\n"
                + "  dltrace.framework         synthetic\n"
                + "  dltrace.optimizer         sgd\n"
                + "  dltrace.learning_rate     0.01\n"
                + "  dltrace.batch_size        32\n"
                + "  dltrace.task              classification\n"
                + "  dltrace.loss              cross_entropy\n"
                + "  dltrace.steps_per_epoch   2\n"
                + "  dltrace.num_classes       4\n"
                + "  dltrace.layers           "
                + " [{\"index\":0,\"name\":\"fc0\",\"type\":\"Linear\",\"activation\":\"relu\",\"params\":16640,\"trainable\":true},{\"i..."
                + " (189 characters)\n"
                + "  dltrace.synthetic.faults  nan layer=1 step=2\n"
                + "  dltrace.synthetic.seed    1\n"
                + "\n"
                + "warnings\n"
                + "  none\n"
                + "\n"
                + "validation: 0 errors, 0 warnings\n");
  }

  @Test
  void inspect_json_machineReadable() throws IOException {
    Path trace = generate("j.parquet", "--layers", "3", "--steps", "10");
    CliRun run = CliRun.of("inspect", "--format", "json", trace.toString());
    assertThat(run.code()).isZero();
    JsonNode json = new ObjectMapper().readTree(run.out());
    assertThat(json.get("format").asText()).isEqualTo("parquet");
    assertThat(json.get("rows").asLong()).isEqualTo(170);
    assertThat(json.get("steps").get("count").asLong()).isEqualTo(10);
    assertThat(json.get("steps").get("max").asLong()).isEqualTo(9);
    assertThat(json.get("columns")).hasSize(16);
    assertThat(json.get("truncated").asBoolean()).isFalse();
    assertThat(json.get("layers")).hasSize(4);
    assertThat(json.get("layers").get(1).get("name").asText()).isEqualTo("fc0");
    assertThat(json.get("layers").get(1).get("type").asText()).isEqualTo("Linear");
    assertThat(json.get("layers").get(1).get("listed").get("activation").asText())
        .isEqualTo("relu");
    assertThat(json.get("phases").get(0).get("name").asText()).isEqualTo("forward");
    assertThat(json.get("phases").get(0).get("rows").asLong()).isEqualTo(30);
    assertThat(json.get("metadata").get("dltrace.run_id").asText()).isEqualTo("synthetic-1");
    assertThat(json.get("validation").get("errors").asLong()).isZero();
  }

  @Test
  void inspect_truncatedFile_reportsTheRecoveredRows() throws IOException {
    Path full = generate("full.arrow", "--layers", "2", "--steps", "40", "--row-group-rows", "100");
    byte[] bytes = Files.readAllBytes(full);
    Path cut = dir.resolve("cut.arrow");
    Files.write(cut, Arrays.copyOf(bytes, bytes.length - 20));
    CliRun run = CliRun.of("inspect", cut.toString());
    assertThat(run.code()).isZero();
    assertThat(run.out())
        .contains("truncated  yes (see warnings)")
        .contains(
            "  truncated: the IPC file has no footer (the writer did not finish); read as a stream,"
                + " recovered 480 rows in 5 complete record batches; the rest of the file is lost");
  }

  @Test
  void inspect_contractViolations_listedAndExitFour() throws IOException {
    Path csv =
        Files.writeString(
            dir.resolve("bad.csv"),
            "epoch,batch,step,layer_index,layer_name,phase,mean,nan_count\n"
                + "0,0,0,0,fc1,forward,1.0,0\n"
                + "0,1,1,0,fc1,forward,1.0,-3\n"
                + "0,0,0,1,fc1,grad_norm,1.0,0\n");
    Files.writeString(dir.resolve("bad.csv.meta.json"), "{\"dltrace.version\": \"1\"}");
    CliRun run = CliRun.of("inspect", csv.toString());
    assertThat(run.code()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(run.out())
        .contains(
            "validation: 3 errors, 1 warning\n"
                + "  error    "
                + csv
                + ": row 1: nan_count -3 is negative\n"
                + "  error    "
                + csv
                + ": row 2: step 0 after step 1 (steps must not decrease)\n"
                + "  error    "
                + csv
                + ": row 2: layer 'fc1' has layer_index 1 here but 0 at row 0\n"
                + "  warning  "
                + csv
                + ": row 2: unknown phase 'grad_norm' (1 row from here on): the rows are kept, but"
                + " no detector reads them\n")
        .contains("  grad_norm  1  unknown")
        .contains("metadata (1 key)\n")
        .contains("warnings\n  none of the dltrace.* metadata the rules read (dltrace.layers,");
    assertThat(run.err())
        .isEqualTo(
            "dl-analyze: error: "
                + csv
                + ": 3 contract violations (see the validation section)"
                + System.lineSeparator());
  }

  @Test
  void inspect_csvWithoutSidecar_warns() throws IOException {
    Path csv =
        Files.writeString(
            dir.resolve("plain.csv"),
            "epoch,batch,step,layer_index,layer_name,phase,mean\n0,0,0,-1,model,loss,2.5\n");
    CliRun run = CliRun.of("inspect", csv.toString());
    assertThat(run.code()).isZero();
    assertThat(run.out())
        .contains(
            "columns    7 of 16 (absent: layer_type, std, min, max, l2_norm, zero_fraction,"
                + " nan_count, inf_count, numel)")
        .contains("metadata (0 keys)\n  none\n")
        .contains(
            "warnings\n"
                + "  no metadata: plain.csv.meta.json does not exist (nor plain.meta.json); the"
                + " metadata is empty\n");
  }

  @Test
  void inspect_phasesTheRecorderLeftOut_namedWithTheDetectorsThatCannotRun() throws IOException {
    Path csv =
        Files.writeString(
            dir.resolve("callback.csv"),
            "epoch,batch,step,layer_index,layer_name,phase,mean\n"
                + "0,0,0,-1,model,loss,2.5\n0,0,0,0,fc,weight,0.1\n");
    Files.writeString(
        dir.resolve("callback.csv.meta.json"),
        "{\"dltrace.record_phases\": \"loss,weight\", \"dltrace.record_mode\": \"callback\"}");
    CliRun run = CliRun.of("inspect", csv.toString());
    assertThat(run.code()).isZero();
    assertThat(run.out())
        .contains(
            "  not recorded: forward, activation, accuracy, backward, gradient, input, target,"
                + " learning_rate, val_loss and val_accuracy rows (the recorder recorded only"
                + " loss, weight: dltrace.record_phases; dltrace.record_mode callback: a model"
                + " with its own train step, read from a callback at each batch end):"
                + " dead-or-zero, exploding-gradient, vanishing-gradient, dying-relu,"
                + " saturation, effective-learning-rate, input-range, target-range,"
                + " gradient-accumulation and batch-order did not run, and the verdict says"
                + " nothing about what they check\n");
  }

  @Test
  void inspect_errors_oneLineAndExitFour() throws IOException {
    Path missing = dir.resolve("missing.parquet");
    CliRun.of("inspect", missing.toString())
        .failsWith(ExitCodes.BAD_INPUT, "dl-analyze: error: " + missing + ": no such file");
    Path empty = Files.createFile(dir.resolve("empty.arrows"));
    CliRun.of("inspect", empty.toString())
        .failsWith(
            ExitCodes.BAD_INPUT, "dl-analyze: error: " + empty + ": file is empty (0 bytes)");
    Path wrong = Files.writeString(dir.resolve("trace.arrows"), "epoch,batch\n");
    CliRun.of("inspect", wrong.toString())
        .failsWith(
            ExitCodes.BAD_INPUT,
            "dl-analyze: error: "
                + wrong
                + ": not a valid arrow-stream file: its first bytes are not the arrow-stream magic"
                + " number");
    Path full = generate("s.arrows", "--steps", "2");
    Path cut = dir.resolve("schema-cut.arrows");
    Files.write(cut, Arrays.copyOf(Files.readAllBytes(full), 64));
    CliRun.of("inspect", cut.toString())
        .failsWith(
            ExitCodes.BAD_INPUT,
            "dl-analyze: error: "
                + cut
                + ": truncated inside the schema (64 bytes): the file holds no complete record"
                + " batch");
    CliRun.of("inspect", "--format", "yaml", full.toString())
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: Invalid value for option '--format': expected one of [TEXT, JSON]"
                + " (case-insensitive) but was 'yaml'");
  }

  @Test
  void inspect_help_describesTheCommand() {
    CliRun run = CliRun.of("inspect", "--help");
    assertThat(run.code()).isZero();
    assertThat(run.out())
        .contains("Usage: dl-analyze inspect", "--format=FORMAT", "Exits with 4", "Exit codes:");
  }
}
