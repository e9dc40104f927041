package io.dlanalyze.trace.tensorboard;

import static io.dlanalyze.trace.tensorboard.TbRows.fixture;
import static io.dlanalyze.trace.tensorboard.TbRows.read;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.tensorboard.TbRows.Row;
import io.dlanalyze.trace.tensorboard.proto.Event;
import io.dlanalyze.trace.tensorboard.proto.Summary;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Crashed, damaged, empty and odd TensorBoard runs: what is recovered, what is an error. */
class TensorBoardDamageTest {
  @TempDir Path dir;

  private Path torchCopy() throws IOException {
    Path run = Files.createDirectories(dir.resolve("run"));
    Path source = TbRows.eventFiles(fixture("torch")).get(0);
    Files.copy(source, run.resolve(source.getFileName()));
    return run;
  }

  private static Path eventFile(Path run) {
    return TbRows.eventFiles(run).get(0);
  }

  private static List<Long> offsets(Path file) {
    List<Long> offsets = new ArrayList<>();
    try (TfRecordReader reader = TfRecordReader.open(file)) {
      while (reader.next()) {
        offsets.add(reader.recordOffset());
      }
    }
    return offsets;
  }

  @Test
  void runCutInsideItsLastRecord_recoversEveryEarlierRecordWithAWarning() throws IOException {
    Path run = torchCopy();
    Path file = eventFile(run);
    List<Row> full = read(run);
    List<Long> offsets = offsets(file);
    long last = offsets.get(offsets.size() - 1);
    long size = Files.size(file);
    for (long cut : new long[] {last + 1, last + 11, last + 12, last + 20, size - 1}) {
      byte[] bytes = Files.readAllBytes(fixture("torch").resolve(file.getFileName()));
      Files.write(file, Arrays.copyOf(bytes, (int) cut));
      try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
        List<Row> rows = TbRows.read(reader);
        assertThat(reader.truncated()).isTrue();
        assertThat(reader.warnings().get(0))
            .startsWith("truncated: " + file.getFileName() + ": the file ends inside a record")
            .contains("at byte " + last)
            .contains("recovered " + (offsets.size() - 1) + " records");
        // the last record was the final val_loss: the rest is intact
        assertThat(rows).isEqualTo(full.subList(0, full.size() - 1));
      }
    }
  }

  @Test
  void runCutInsideItsFirstRecord_isTruncatedWithNothingToRecover() throws IOException {
    Path run = torchCopy();
    Path file = eventFile(run);
    Files.write(file, Arrays.copyOf(Files.readAllBytes(file), 10));

    assertThatThrownBy(() -> TraceReaders.open(run, ReadOptions.all()))
        .isInstanceOfSatisfying(
            TraceFormatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TRUNCATED))
        .hasMessage(
            run
                + ": truncated before the end of the first record: the event files hold no"
                + " complete record");
  }

  @Test
  void damagedRecordInTheMiddle_isOneCorruptLineNamingTheEventFileAndOffset() throws IOException {
    Path run = torchCopy();
    Path file = eventFile(run);
    List<Long> offsets = offsets(file);
    long middle = offsets.get(offsets.size() / 2);
    byte[] bytes = Files.readAllBytes(file);
    bytes[(int) middle + 14] ^= 0x20;
    Files.write(file, bytes);

    assertThatThrownBy(() -> TraceReaders.open(run, ReadOptions.all()))
        .isInstanceOfSatisfying(
            TraceFormatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CORRUPT))
        .hasMessage(
            file
                + ": record at byte "
                + middle
                + ": the record data's checksum does not match: the record is damaged")
        .hasMessageNotContaining("\n");
  }

  @Test
  void zeroFilledTailOfACrashedRun_readsEveryRecord() throws IOException {
    Path run = torchCopy();
    Path file = eventFile(run);
    List<Row> full = read(run);
    Files.write(file, new byte[8192], StandardOpenOption.APPEND);

    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      assertThat(TbRows.read(reader)).isEqualTo(full);
      assertThat(reader.warnings().get(0)).contains("the rest of the file is zero bytes");
    }
  }

  @Test
  void tfRecordOfOtherData_isNotAnEventFile() throws IOException {
    Path file = dir.resolve("data.tfrecord");
    Files.write(
        file, TfRecordReaderTest.record("tf.Example bytes".getBytes(StandardCharsets.UTF_8)));

    assertThat(TraceReaders.detect(file)).isEqualTo(TraceFormat.TENSORBOARD);
    assertThatThrownBy(() -> TraceReaders.open(file, ReadOptions.all()))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("record at byte 0: not a")
        .hasMessageNotContaining("Exception");
  }

  @Test
  void emptyEventFile_isEmptyAndARunDirectoryWithoutEventFilesIsNotTensorBoard()
      throws IOException {
    Path empty = dir.resolve("events.out.tfevents.1.host");
    Files.write(empty, new byte[0]);
    assertThatThrownBy(() -> TraceReaders.open(empty, ReadOptions.all()))
        .isInstanceOfSatisfying(
            TraceFormatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.EMPTY));

    Path other = Files.createDirectories(dir.resolve("other"));
    Files.writeString(other.resolve("notes.txt"), "no events here");
    assertThat(TraceReaders.detect(other)).isEqualTo(TraceFormat.PARQUET);
  }

  @Test
  void emptyFileBesideAGoodOne_isAWarning() throws IOException {
    Path run = torchCopy();
    Files.write(run.resolve("events.out.tfevents.9.fixture"), new byte[0]);

    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      assertThat(TbRows.read(reader)).isNotEmpty();
      assertThat(reader.warnings())
          .contains("events.out.tfevents.9.fixture: the event file is empty (0 bytes)");
    }
  }

  @Test
  void renamedEventFile_isToldByItsFirstRecordHeader() throws IOException {
    Path renamed = dir.resolve("run.log");
    Files.copy(TbRows.eventFiles(fixture("torch")).get(0), renamed);

    assertThat(TraceReaders.detect(renamed)).isEqualTo(TraceFormat.TENSORBOARD);
    assertThat(read(renamed)).isEqualTo(read(fixture("torch")));
  }

  @Test
  void restartedRun_laterValuesAtTheSameStepReplaceEarlierOnesWithAWarning() throws IOException {
    Path run = Files.createDirectories(dir.resolve("restarted"));
    TestEventFiles.write(
        run.resolve("events.out.tfevents.1.host"),
        TestEventFiles.scalar(0, "loss", 2.0),
        TestEventFiles.scalar(1, "loss", 1.5));
    TestEventFiles.write(
        run.resolve("events.out.tfevents.2.host"),
        TestEventFiles.scalar(1, "loss", 1.25),
        TestEventFiles.scalar(2, "loss", 1.125));

    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      List<Row> rows = TbRows.read(reader);
      assertThat(rows).extracting(Row::step).containsExactly(0L, 1L, 2L);
      assertThat(rows).extracting(Row::mean).containsExactly(2.0, 1.25, 1.125);
      assertThat(reader.warnings())
          .contains(
              "1 values repeat a tag at a step already read (a restarted run?): the later one is"
                  + " used");
    }
  }

  @Test
  void histogramsOfSeveralWeightParameters_mergeIntoOneLayerRow() throws IOException {
    Path run = Files.createDirectories(dir.resolve("lstm"));
    TestEventFiles.write(
        run.resolve("events.out.tfevents.1.host"),
        TestEventFiles.histogram(0, "lstm.weight_ih_l0", -1, 2, 4, 2, 6),
        TestEventFiles.histogram(0, "lstm.weight_hh_l0", -3, 1, 2, -2, 10),
        TestEventFiles.histogram(0, "lstm.bias_ih_l0", 5, 5, 1, 5, 25));

    List<Row> rows = read(run);
    assertThat(rows).hasSize(1);
    Row lstm = rows.get(0);
    assertThat(lstm.layerName()).isEqualTo("lstm");
    assertThat(lstm.numel()).isEqualTo(6);
    assertThat(lstm.min()).isEqualTo(-3);
    assertThat(lstm.max()).isEqualTo(2);
    assertThat(lstm.mean()).isEqualTo(0.0);
    assertThat(lstm.l2()).isEqualTo(4.0);
    assertThat(lstm.std()).isEqualTo(Math.sqrt(16.0 / 6));
  }

  @Test
  void tagsFile_mapsUserTagsAndIsReadFromAParentDirectory() throws IOException {
    Path archive = Files.createDirectories(dir.resolve("archive"));
    Path run = Files.createDirectories(archive.resolve("run-7"));
    TestEventFiles.write(
        run.resolve("events.out.tfevents.1.host"),
        TestEventFiles.scalar(0, "objective", 3.0),
        TestEventFiles.scalar(0, "metrics/top1", 0.25),
        TestEventFiles.scalar(0, "noise_level", 0.5),
        TestEventFiles.histogram(0, "hist/encoder", -1, 1, 2, 0, 2));
    Files.writeString(
        archive.resolve(TensorBoardRun.TAGS_FILE),
        "{\"objective\": \"loss\", \"metrics/top1\": \"accuracy\", \"hist/*\": \"weight\","
            + " \"noise_*\": \"ignore\"}");

    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      List<Row> rows = TbRows.read(reader);
      assertThat(rows)
          .extracting(Row::phase, Row::layerName, Row::mean)
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple("loss", "model", 3.0),
              org.assertj.core.groups.Tuple.tuple("accuracy", "model", 0.25),
              org.assertj.core.groups.Tuple.tuple("weight", "encoder", 0.0));
      assertThat(String.join("\n", reader.warnings())).doesNotContain("no phase");
      assertThat(reader.metadata().get("dltrace.source.tags"))
          .contains(archive.resolve(TensorBoardRun.TAGS_FILE).toString());
    }
  }

  @Test
  void tagsFileWithAnUnknownTarget_isBadMetadataNamingItAndTheTargets() throws IOException {
    Path run = torchCopy();
    Files.writeString(run.resolve(TensorBoardRun.TAGS_FILE), "{\"x\": \"lossy\"}");

    assertThatThrownBy(() -> TraceReaders.open(run, ReadOptions.all()))
        .isInstanceOfSatisfying(
            TraceFormatException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_METADATA))
        .hasMessage(
            run.resolve(TensorBoardRun.TAGS_FILE)
                + ": tag pattern 'x': \"lossy\" is not a target (expected one of loss, accuracy,"
                + " learning_rate, val_loss, val_accuracy, epoch, episode_return, weight, gradient,"
                + " ignore)");
  }

  @Test
  void unmappedTagsAndImages_areListedInOneWarningEach() throws IOException {
    Path run = Files.createDirectories(dir.resolve("misc"));
    Event image =
        Event.newBuilder()
            .setStep(0)
            .setSummary(
                Summary.newBuilder()
                    .addValue(
                        Summary.Value.newBuilder()
                            .setTag("samples")
                            .setImage(Summary.Image.newBuilder().setHeight(1).setWidth(1))))
            .build();
    TestEventFiles.write(
        run.resolve("events.out.tfevents.1.host"),
        TestEventFiles.scalar(0, "loss", 1.0),
        TestEventFiles.scalar(0, "gpu_memory", 1e9),
        image,
        TestEventFiles.scalar(-1, "loss", 9.0));

    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      assertThat(TbRows.read(reader)).hasSize(1);
      assertThat(reader.warnings())
          .contains(
              "1 tag maps to no phase and was skipped (map them in dl-analyze-tags.json, see"
                  + " docs/trace-format.md): gpu_memory (scalar) x1",
              "values that are neither scalars nor histograms were skipped: images x1",
              "1 values at negative steps were skipped");
    }
  }
}
