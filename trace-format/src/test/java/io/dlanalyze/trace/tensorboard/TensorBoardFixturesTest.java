package io.dlanalyze.trace.tensorboard;

import static io.dlanalyze.trace.tensorboard.TbRows.expected;
import static io.dlanalyze.trace.tensorboard.TbRows.fixture;
import static io.dlanalyze.trace.tensorboard.TbRows.of;
import static io.dlanalyze.trace.tensorboard.TbRows.read;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.tensorboard.TbRows.Row;
import io.dlanalyze.trace.validate.Problem;
import io.dlanalyze.trace.validate.TraceValidator;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The committed event files of real runs (make_fixtures.py: Keras' TensorBoard callback,
 * tf.summary, PyTorch's SummaryWriter, Lightning's TensorBoardLogger) read as traces, each row
 * checked against what numpy computed on the same tensors and what the training loop saw.
 */
class TensorBoardFixturesTest {
  /** Float32 scalars read back as doubles. */
  private static final double FLOAT32 = 1e-6;

  @Test
  void everyFixture_tfRecordFramingMatchesTensorBoardsOwnLoader() {
    for (String name :
        List.of("keras-epoch", "keras-batch", "keras-buggy", "tf-summary", "torch", "lightning")) {
      Path run = fixture(name);
      JsonNode counts = expected(name).get("records");
      List<Path> files = TbRows.eventFiles(run);
      assertThat(files).as(name).hasSize(counts.size());
      for (Path file : files) {
        long records = 0;
        try (TfRecordReader reader = TfRecordReader.open(file)) {
          while (reader.next()) {
            records++;
          }
          assertThat(reader.truncation()).isNull();
        }
        String relative = run.relativize(file).toString();
        assertThat(records).as(relative).isEqualTo(counts.get(relative).asLong());
      }
    }
  }

  @Test
  void kerasPerEpoch_scalarsAreTheHistoryAndWeightsMatchNumpyWithinABucket() {
    Path run = fixture("keras-epoch");
    JsonNode expected = expected("keras-epoch");
    assertThat(TraceReaders.detect(run)).isEqualTo(TraceFormat.TENSORBOARD);
    List<Row> rows = read(run);
    JsonNode history = expected.get("history");

    assertScalars(of(rows, "loss", null), history.get("loss"), 0, 1);
    assertScalars(of(rows, "accuracy", null), history.get("accuracy"), 0, 1);
    assertScalars(of(rows, "val_loss", null), history.get("val_loss"), 0, 1);
    assertScalars(of(rows, "val_accuracy", null), history.get("val_accuracy"), 0, 1);
    for (Row lr : of(rows, "learning_rate", null)) {
      assertThat(lr.mean()).isCloseTo(0.05, within(FLOAT32));
    }
    for (Row row : rows) {
      // one step per epoch
      assertThat(row.epoch()).isEqualTo((int) row.step());
      assertThat(row.batch()).isZero();
      assertThat(row.zeroFractionNull()).isTrue();
      assertThat(row.nanCountNull()).isTrue();
    }
    assertKernels(rows, expected.get("kernels"), 0, 1);
    assertThat(of(rows, "gradient", null)).isEmpty();

    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      TraceMetadata metadata = reader.metadata();
      assertThat(metadata.framework()).contains("keras");
      assertThat(metadata.optimizer()).contains("SGD");
      assertThat(metadata.learningRate().getAsDouble()).isCloseTo(0.05, within(FLOAT32));
      assertThat(metadata.loss()).contains("sparse_categorical_crossentropy");
      assertThat(metadata.task()).contains("classification");
      assertThat(metadata.numClasses().getAsInt()).isEqualTo(3);
      assertThat(metadata.stepsPerEpoch().getAsInt()).isEqualTo(1);
      assertThat(metadata.get(TensorBoardTraceReader.GRANULARITY)).contains("epoch");
      assertThat(metadata.layers())
          .extracting(LayerInfo::name, LayerInfo::type, LayerInfo::activation)
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple("dense1", "Dense", "relu"),
              org.assertj.core.groups.Tuple.tuple("dense2", "Dense", "relu"),
              org.assertj.core.groups.Tuple.tuple("out", "Dense", "softmax"));
      assertThat(reader.columnsInFile())
          .doesNotContain(Column.ZERO_FRACTION, Column.NAN_COUNT, Column.INF_COUNT)
          .contains(Column.STD, Column.L2_NORM, Column.NUMEL);
      assertThat(String.join("\n", reader.warnings()))
          .contains("no gradient histograms")
          .contains("exploding-gradient, vanishing-gradient and effective-learning-rate")
          .contains("one value per epoch")
          .contains("--window 6 or less")
          .contains("estimated from the bucket counts")
          .contains("biases and normalization statistics left out");
      assertThat(reader.truncated()).isFalse();
    }
  }

  @Test
  void kerasPerBatch_batchScalarsSetTheStepsAndEpochValuesLandOnEachEpochsLastBatch() {
    Path run = fixture("keras-batch");
    JsonNode expected = expected("keras-batch");
    int perEpoch = expected.get("steps_per_epoch").asInt();
    List<Row> rows = read(run);

    List<Row> loss = of(rows, "loss", null);
    assertThat(loss).hasSize(2 * perEpoch);
    for (int i = 0; i < loss.size(); i++) {
      Row row = loss.get(i);
      // Keras counts batches from 1
      assertThat(row.step()).isEqualTo(i + 1);
      assertThat(row.epoch()).isEqualTo(i / perEpoch);
      assertThat(row.batch()).isEqualTo(i % perEpoch);
    }
    // the last batch's running mean is the epoch's loss
    assertThat(loss.get(perEpoch - 1).mean())
        .isCloseTo(expected.at("/history/loss/0").asDouble(), within(FLOAT32));
    assertScalars(of(rows, "val_loss", null), expected.at("/history/val_loss"), perEpoch, perEpoch);
    assertKernels(rows, expected.get("kernels"), perEpoch, perEpoch);
    for (Row weight : of(rows, "weight", null)) {
      assertThat(weight.batch()).isEqualTo(perEpoch - 1);
    }
    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      assertThat(reader.metadata().stepsPerEpoch().getAsInt()).isEqualTo(perEpoch);
      assertThat(reader.metadata().get(TensorBoardTraceReader.GRANULARITY)).contains("step");
      assertThat(String.join("\n", reader.warnings()))
          .contains(
              "loss: read from batch_loss (20 values); also mapped there but not used:"
                  + " epoch_loss (2 values)")
          .contains("weights and gradients are logged at 2 of the 20 steps");
    }
  }

  @Test
  void tfSummary_scalarTensorsAndBucketHistogramsOfWeightsAndGradients() {
    JsonNode expected = expected("tf-summary");
    List<Row> rows = read(fixture("tf-summary"));
    List<Row> loss = of(rows, "loss", null);
    List<Row> accuracy = of(rows, "accuracy", null);
    assertThat(loss).hasSize(expected.get("steps").size());
    int logged = 0;
    for (JsonNode step : expected.get("steps")) {
      int s = step.get("step").asInt();
      assertThat(loss.get(s).step()).isEqualTo(s);
      assertThat(loss.get(s).mean()).isCloseTo(step.get("loss").asDouble(), within(FLOAT32));
      assertThat(accuracy.get(s).mean()).isEqualTo(step.get("accuracy").asDouble());
      if (step.has("weight")) {
        assertBuckets(only(rows, "weight", "dense", s), step.get("weight"));
        assertBuckets(only(rows, "gradient", "dense", s), step.get("gradient"));
        logged++;
      }
    }
    assertThat(of(rows, "weight", "dense")).hasSize(logged);
    assertThat(of(rows, "learning_rate", null))
        .allSatisfy(r -> assertThat(r.mean()).isCloseTo(0.1, within(FLOAT32)));
  }

  @Test
  void torchSummaryWriter_histogramProtosGiveExactStatisticsAndPercentAccuracyIsScaled() {
    JsonNode expected = expected("torch");
    List<Row> rows = read(fixture("torch"));
    List<Row> loss = of(rows, "loss", null);
    List<Row> accuracy = of(rows, "accuracy", null);
    int weights = 0;
    List<Long> valSteps = new ArrayList<>();
    for (JsonNode step : expected.get("steps")) {
      int s = step.get("step").asInt();
      assertThat(loss.get(s).mean()).isCloseTo(step.get("loss").asDouble(), within(FLOAT32));
      assertThat(accuracy.get(s).mean())
          .isCloseTo(step.get("accuracy_percent").asDouble() / 100, within(FLOAT32));
      if (step.has("val_loss")) {
        valSteps.add((long) s);
      }
      if (step.has("weight")) {
        for (String layer : List.of("fc1", "fc2")) {
          assertExact(only(rows, "weight", layer, s), step.at("/weight/" + layer));
          assertExact(only(rows, "gradient", layer, s), step.at("/gradient/" + layer));
        }
        weights++;
      }
    }
    assertThat(of(rows, "weight", "fc1")).hasSize(weights);
    assertThat(of(rows, "val_loss", null))
        .extracting(Row::step)
        .containsExactlyElementsOf(valSteps);
    assertThat(only(rows, "weight", "fc1", 0).layerIndex()).isZero();
    assertThat(only(rows, "weight", "fc2", 0).layerIndex()).isEqualTo(1);
    try (TraceReader reader = TraceReaders.open(fixture("torch"), ReadOptions.all())) {
      assertThat(String.join("\n", reader.warnings()))
          .contains("Accuracy/train holds values above 1 and at most 100: read as percent")
          .contains("fc1.bias, fc1.bias.grad, fc2.bias, fc2.bias.grad")
          .doesNotContain("no gradient histograms");
    }
  }

  @Test
  void lightning_epochCounterStepAndLearningRateMonitorTags() {
    JsonNode expected = expected("lightning");
    int epochs = expected.get("epochs").asInt();
    int perEpoch = expected.get("steps_per_epoch").asInt();
    List<Row> rows = read(fixture("lightning"));
    List<Row> loss = of(rows, "loss", null);
    assertThat(loss).hasSize(epochs * perEpoch);
    for (int i = 0; i < loss.size(); i++) {
      assertThat(loss.get(i).step()).isEqualTo(i);
      assertThat(loss.get(i).epoch()).isEqualTo(i / perEpoch);
      assertThat(loss.get(i).batch()).isEqualTo(i % perEpoch);
    }
    assertThat(of(rows, "learning_rate", null))
        .isNotEmpty()
        .allSatisfy(r -> assertThat(r.mean()).isCloseTo(0.1, within(FLOAT32)));
    assertThat(of(rows, "val_loss", null)).hasSize(epochs);
    try (TraceReader reader = TraceReaders.open(fixture("lightning"), ReadOptions.all())) {
      assertThat(String.join("\n", reader.warnings()))
          .contains(
              "loss: read from train_loss_step (12 values); also mapped there but not used:"
                  + " train_loss_epoch (3 values)")
          .contains("no weight histograms")
          .doesNotContain("repeat a tag");
    }
  }

  @Test
  void everyFixture_passesTheContractValidator() {
    for (String name :
        List.of("keras-epoch", "keras-batch", "keras-buggy", "tf-summary", "torch", "lightning")) {
      try (TraceReader reader = TraceReaders.open(fixture(name), ReadOptions.all())) {
        TraceValidator validator = new TraceValidator(reader.path(), reader.metadata());
        while (reader.next()) {
          validator.accept(reader.batch());
        }
        List<Problem> problems = validator.finish();
        assertThat(problems).as(name).isEmpty();
      }
    }
  }

  @Test
  void oneEventFile_isTheWholeRunAndAValidationDirectoryFileGivesValidationPhases() {
    Path train = TbRows.eventFiles(fixture("keras-epoch").resolve("train")).get(0);
    Path validation = TbRows.eventFiles(fixture("keras-epoch").resolve("validation")).get(0);
    assertThat(TraceReaders.detect(train)).isEqualTo(TraceFormat.TENSORBOARD);
    List<Row> trainRows = read(train);
    assertThat(of(trainRows, "val_loss", null)).isEmpty();
    assertThat(of(trainRows, "loss", null)).hasSize(6);
    List<Row> validationRows = read(validation);
    assertThat(of(validationRows, "loss", null)).isEmpty();
    assertThat(of(validationRows, "val_loss", null)).hasSize(6);
  }

  private static Row only(List<Row> rows, String phase, String layer, long step) {
    List<Row> found = new ArrayList<>();
    for (Row row : of(rows, phase, layer)) {
      if (row.step() == step) {
        found.add(row);
      }
    }
    assertThat(found).as("%s %s at step %d", phase, layer, step).hasSize(1);
    return found.get(0);
  }

  private static void assertScalars(List<Row> rows, JsonNode values, long firstStep, long every) {
    assertThat(rows).hasSize(values.size());
    for (int i = 0; i < values.size(); i++) {
      assertThat(rows.get(i).step()).isEqualTo(firstStep + i * every);
      assertThat(rows.get(i).mean()).isCloseTo(values.get(i).asDouble(), within(FLOAT32));
      assertThat(rows.get(i).layerIndex()).isEqualTo(-1);
      assertThat(rows.get(i).layerName()).isEqualTo("model");
    }
  }

  /** Keras' weights per epoch, at steps firstStep + epoch * every. */
  private static void assertKernels(List<Row> rows, JsonNode kernels, long firstStep, long every) {
    List<String> layers = List.of("dense1", "dense2", "out");
    for (int epoch = 0; epoch < kernels.size(); epoch++) {
      for (int layer = 0; layer < layers.size(); layer++) {
        Row row = only(rows, "weight", layers.get(layer), firstStep + epoch * every);
        assertThat(row.layerIndex()).isEqualTo(layer);
        assertThat(row.layerType()).isEqualTo("Dense");
        assertBuckets(row, kernels.get(epoch).get(layers.get(layer)));
      }
    }
  }

  /**
   * A bucket estimate: min, max and numel exact; mean, std and the RMS within one bucket width (30
   * buckets over [min, max]) of numpy's.
   */
  private static void assertBuckets(Row row, JsonNode truth) {
    double width = (truth.get("max").asDouble() - truth.get("min").asDouble()) / 30;
    long n = truth.get("numel").asLong();
    assertThat(row.numel()).isEqualTo(n);
    assertThat(row.min()).isEqualTo(truth.get("min").asDouble());
    assertThat(row.max()).isEqualTo(truth.get("max").asDouble());
    assertThat(row.mean()).isCloseTo(truth.get("mean").asDouble(), within(width / 2));
    assertThat(row.std()).isCloseTo(truth.get("std").asDouble(), within(width));
    assertThat(row.l2() / Math.sqrt(n))
        .isCloseTo(truth.get("l2_norm").asDouble() / Math.sqrt(n), within(width));
  }

  /** A HistogramProto's moments: the derived statistics equal numpy's up to rounding. */
  private static void assertExact(Row row, JsonNode truth) {
    double scale = Math.abs(truth.get("max").asDouble()) + Math.abs(truth.get("min").asDouble());
    double tolerance = 1e-9 * scale;
    assertThat(row.numel()).isEqualTo(truth.get("numel").asLong());
    for (Map.Entry<String, Double> stat :
        Map.of(
                "mean", row.mean(),
                "std", row.std(),
                "min", row.min(),
                "max", row.max(),
                "l2_norm", row.l2())
            .entrySet()) {
      assertThat(stat.getValue())
          .as(stat.getKey())
          .isCloseTo(truth.get(stat.getKey()).asDouble(), within(tolerance));
    }
  }
}
