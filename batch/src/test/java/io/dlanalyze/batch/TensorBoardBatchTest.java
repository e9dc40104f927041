package io.dlanalyze.batch;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.tensorboard.TestEventFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TensorBoard runs in an archive: found like other traces, fingerprinted over all their files. */
class TensorBoardBatchTest {
  @TempDir Path dir;
  Path root;

  @BeforeEach
  void archive() throws IOException {
    root = dir.toAbsolutePath().resolve("runs");
    // Keras' layout: the run is the directory holding train/ and validation/
    TestEventFiles.write(
        root.resolve("keras/fit-1/train/events.out.tfevents.1.host.v2"),
        TestEventFiles.scalar(0, "epoch_loss", 1.0),
        TestEventFiles.scalar(1, "epoch_loss", 0.5));
    TestEventFiles.write(
        root.resolve("keras/fit-1/validation/events.out.tfevents.2.host.v2"),
        TestEventFiles.scalar(0, "epoch_loss", 1.1));
    // Lightning's: event files in version_0, beside other files
    TestEventFiles.write(
        root.resolve("lightning/version_0/events.out.tfevents.3.host"),
        TestEventFiles.scalar(0, "train_loss_step", 2.0));
    Files.writeString(root.resolve("lightning/version_0/hparams.yaml"), "lr: 0.1\n");
    TestTraces.write(root.resolve("lightning/version_0/export.arrows"), TestTraces.small(1));
    TestTraces.write(root.resolve("other.arrows"), TestTraces.small(2));
  }

  @Test
  void find_runDirectoriesAreOneTraceEachAndTheirRoleDirectoriesAreNot() {
    LocalDiscovery.Found found = LocalDiscovery.find(List.of(root.toString()), null);

    assertThat(found.traces())
        .containsExactly(
            root.resolve("keras/fit-1"),
            root.resolve("lightning/version_0"),
            root.resolve("lightning/version_0/export.arrows"),
            root.resolve("other.arrows"));
  }

  @Test
  void find_runDirectoryNamedOnTheCommandLine_isOneTrace() {
    LocalDiscovery.Found found =
        LocalDiscovery.find(List.of(root.resolve("keras/fit-1").toString()), null);

    assertThat(found.traces()).containsExactly(root.resolve("keras/fit-1"));
  }

  @Test
  void find_globOfEventFiles_makesEachMatchedFileATrace() {
    LocalDiscovery.Found found =
        LocalDiscovery.find(List.of(root + "/lightning/*/events.out.tfevents.*"), null);

    assertThat(found.traces())
        .containsExactly(root.resolve("lightning/version_0/events.out.tfevents.3.host"));
  }

  @Test
  void fingerprint_coversEveryEventFileOfTheRunAndItsTagsFile() throws IOException {
    Path run = root.resolve("keras/fit-1");
    Fingerprint before = Fingerprints.ofLocal(run);
    long files =
        Files.size(run.resolve("train/events.out.tfevents.1.host.v2"))
            + Files.size(run.resolve("validation/events.out.tfevents.2.host.v2"));
    assertThat(before.sizeBytes()).isEqualTo(files);
    assertThat(Fingerprints.ofLocal(run)).isEqualTo(before);

    // the validation file grows (the next epoch): a new fingerprint
    Path validation = run.resolve("validation/events.out.tfevents.2.host.v2");
    Files.write(
        validation,
        TestEventFiles.record(TestEventFiles.scalar(1, "epoch_loss", 0.9).toByteArray()),
        StandardOpenOption.APPEND);
    Fingerprint grown = Fingerprints.ofLocal(run);
    assertThat(grown.sameAs(before)).isFalse();
    assertThat(grown.sizeBytes()).isGreaterThan(before.sizeBytes());

    // a tags file above the run changes what it reads as: a new fingerprint
    Files.writeString(root.resolve("dl-analyze-tags.json"), "{\"epoch_loss\": \"ignore\"}");
    assertThat(Fingerprints.ofLocal(run).contentHash()).isNotEqualTo(grown.contentHash());
  }

  @Test
  void batch_analysesRunsLikeAnyOtherTrace() throws Exception {
    LocalDiscovery.Found found = LocalDiscovery.find(List.of(root.toString()), null);
    BatchResults results =
        new BatchRunner(AnalysisSettings.defaults(), 2, false)
            .run(found.traces(), PreviousResults.none(), new BatchListener() {});

    assertThat(results.runs())
        .extracting(RunRow::path, RunRow::format, RunRow::status)
        .contains(
            org.assertj.core.groups.Tuple.tuple(
                root.resolve("keras/fit-1").toString(), "tensorboard", RunStatus.OK),
            org.assertj.core.groups.Tuple.tuple(
                root.resolve("lightning/version_0").toString(), "tensorboard", RunStatus.OK));
  }
}
